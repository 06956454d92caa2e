"""The errors kernels raise on bad input. Each subclasses the builtin a Python user would expect
to catch; the engine re-exports them (eg.ShapeError is kernels.errors.ShapeError)."""


class EngineError(Exception):
    """Base of every error the engine raises on purpose."""


class ShapeError(EngineError, ValueError):
    """Shapes that do not fit the operation."""


class IndexOutOfRangeError(ShapeError, IndexError):
    """An index past the end of a dimension (an IndexError too: iterating a tensor stops on it)."""


class DTypeError(EngineError, TypeError):
    """A dtype the operation cannot take."""


class DeviceError(EngineError, RuntimeError):
    """A device that is missing, or tensors on different devices."""


class ArgumentError(EngineError, ValueError):
    """An argument whose value the operation cannot take: a nan learning rate, a negative size."""


class VariantError(EngineError, ValueError):
    """A kernel variant that does not exist on the device, or does not apply to the input."""
