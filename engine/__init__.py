"""A graph-based reverse-mode autodiff engine on hand-written kernels."""
from . import cuda  # noqa: F401
from .autograd import Function, enable_grad, is_grad_enabled, no_grad  # noqa: F401
from .backend import use_variant  # noqa: F401
from .errors import (ArgumentError, CheckpointError, DeviceError, DistributedError,  # noqa: F401
                     DTypeError, EngineError, GradcheckError, GraphError, IndexOutOfRangeError,
                     ShapeError, VariantError)
from .profiler import profile  # noqa: F401
from .random import manual_seed  # noqa: F401
from .tensor import (Tensor, bool_, float16, float32, float64,  # noqa: F401
                     int8, int16, int32, int64, uint8)
from .tensor import bool_ as bool  # noqa: F401,A001  (eg.bool is np.bool_, as torch.bool)
from .ops import *  # noqa: F401,F403  (eg.<name> as torch.<name>: each op family's __all__)

from .creation import *  # noqa: F401,F403  (eg.zeros, eg.from_numpy, ...)
from .check import GradcheckResult, gradcheck, gradgradcheck  # noqa: F401
from .serialization import load, save  # noqa: F401
from . import nn, optim  # noqa: F401
from .autograd import functional as _functional  # noqa: F401  (eg.autograd.functional)

__version__ = "0.1.0"


def __getattr__(name):
    # eg.distributed on first use only: importing the engine never touches MPI
    if name == "distributed":
        import importlib
        return importlib.import_module(".distributed", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def set_num_threads(n):
    """Run the CPU kernels (the C++ extension's loops and the matrix products inside them) on n
    threads; one setting for the whole process, as torch.set_num_threads. The default is every
    core (or OMP_NUM_THREADS)."""
    from kernels.cpu import threads
    threads.set_num_threads(n)


def get_num_threads():
    """The threads the CPU kernels run on (see set_num_threads)."""
    from kernels.cpu import threads
    return threads.get_num_threads()


def empty_cache():
    """Free the scratch buffers that the CPU kernels keep for reuse, in every thread (each
    thread's cache is bounded, see kernels.cpu.workspace.MAX_BYTES); the CUDA backend keeps none."""
    from kernels.cpu import workspace
    workspace.clear_all()
