"""A graph-based reverse-mode autodiff engine on hand-written kernels."""
import os

# OpenBLAS's idle threads spin for about 2^28 cycles after each product and take the cores from
# the C++ kernels (im2col, Winograd) that run between products: 2^16 halves those kernels'
# time and costs small products nothing measurable. Read when OpenBLAS loads, so it takes
# effect only when the engine is imported before numpy.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "16")

from . import cuda  # noqa: F401,E402
from .autograd import Function, enable_grad, is_grad_enabled, no_grad  # noqa: F401,E402
from .backend import use_variant  # noqa: F401,E402
from .errors import (ArgumentError, CheckpointError, DeviceError, DTypeError,  # noqa: F401,E402
                     EngineError, GradcheckError, GraphError, IndexOutOfRangeError, ShapeError,
                     VariantError)
from .profiler import profile  # noqa: F401,E402
from .random import manual_seed  # noqa: F401,E402
from .tensor import (Tensor, bool_, float16, float32, float64,  # noqa: F401,E402
                     int8, int16, int32, int64, uint8)
from .tensor import bool_ as bool  # noqa: F401,E402,A001  (eg.bool is np.bool_, as torch.bool)
from .ops import *  # noqa: F401,F403,E402  (eg.<name> as torch.<name>: each op family's __all__)

from .creation import *  # noqa: F401,F403,E402  (eg.zeros, eg.from_numpy, ...)
from .check import GradcheckResult, gradcheck, gradgradcheck  # noqa: F401,E402
from .serialization import load, save  # noqa: F401,E402
from . import nn, optim  # noqa: F401,E402
from .autograd import functional as _functional  # noqa: F401,E402  (eg.autograd.functional)

__version__ = "0.1.0"


def empty_cache():
    """Free the scratch buffers that the CPU kernels keep for reuse, in every thread (each
    thread's cache is bounded, see kernels.cpu.workspace.MAX_BYTES); the CUDA backend keeps none."""
    from kernels.cpu import workspace
    workspace.clear_all()
