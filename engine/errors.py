"""The engine's errors: the kernels' own (shapes, dtypes, devices, variants) and the graph's,
the checker's and the checkpoints'. Each subclasses the builtin a Python user would expect."""
from kernels.errors import (ArgumentError, DeviceError, DTypeError, EngineError,  # noqa: F401
                            IndexOutOfRangeError, ShapeError, VariantError)


class GraphError(EngineError, RuntimeError):
    """Misuse of the autograd graph, such as a second backward through a freed graph."""


class GradcheckError(EngineError, RuntimeError):
    """An analytic gradient that disagrees with numerical differentiation."""


class CheckpointError(EngineError, ValueError):
    """A file that is not a readable checkpoint (corrupt, truncated or of another format)."""


class DistributedError(EngineError, RuntimeError):
    """Distributed training that cannot run: mpi4py missing under mpiexec, models that differ
    across ranks, a gradient dtype MPI cannot reduce."""
