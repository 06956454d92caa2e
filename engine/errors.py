"""The engine's errors. Each subclasses the builtin a Python user would expect to catch."""


class EngineError(Exception):
    """Base of every error the engine raises on purpose."""


class ShapeError(EngineError, ValueError):
    """Shapes that do not fit the operation."""


class DTypeError(EngineError, TypeError):
    """A dtype the operation cannot take."""


class DeviceError(EngineError, RuntimeError):
    """A device that is missing, or tensors on different devices."""


class GraphError(EngineError, RuntimeError):
    """Misuse of the autograd graph, such as a second backward through a freed graph."""


class GradcheckError(EngineError, RuntimeError):
    """An analytic gradient that disagrees with numerical differentiation."""


class CheckpointError(EngineError, ValueError):
    """A file that is not a readable checkpoint (corrupt, truncated or of another format)."""
