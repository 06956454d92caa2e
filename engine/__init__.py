"""A graph-based reverse-mode autodiff engine on hand-written kernels."""
import os

# OpenBLAS's idle threads spin for about 2^28 cycles after each product and take the cores from
# the C++ kernels (im2col, Winograd) that run between products: 2^16 halves those kernels'
# time and costs small products nothing measurable. Read when OpenBLAS loads, so it takes
# effect only when the engine is imported before numpy.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "16")

import numpy as np  # noqa: E402

from . import cuda  # noqa: F401
from .autograd import Function, enable_grad, is_grad_enabled, no_grad  # noqa: F401
from .backend import use_variant  # noqa: F401
from .errors import (ArgumentError, CheckpointError, DeviceError, DTypeError,  # noqa: F401
                     EngineError, GradcheckError, GraphError, ShapeError, VariantError)
from .profiler import profile  # noqa: F401
from .random import manual_seed  # noqa: F401
from .tensor import Tensor, bool_, float32, float64, int32, int64  # noqa: F401
from .ops import *  # noqa: F401,F403,E402  (eg.<name> as torch.<name>)
from .check import GradcheckResult, gradcheck, gradgradcheck  # noqa: F401,E402
from .serialization import load, save  # noqa: F401,E402
from . import nn, optim  # noqa: F401,E402
from .autograd import functional as _functional  # noqa: F401,E402  (eg.autograd.functional)

__version__ = "0.1.0"


def tensor(data, dtype=None, device="cpu", requires_grad=False):
    """A new tensor holding a copy of `data` (see Tensor for the dtype rules)."""
    return Tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)


def _shape(shape):
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape


def zeros(*shape, dtype=float32, device="cpu", requires_grad=False):
    return tensor(np.zeros(_shape(shape), dtype), device=device, requires_grad=requires_grad)


def ones(*shape, dtype=float32, device="cpu", requires_grad=False):
    return tensor(np.ones(_shape(shape), dtype), device=device, requires_grad=requires_grad)


def randn(*shape, dtype=float32, device="cpu", requires_grad=False):
    """Standard normal samples from the engine's generator (see manual_seed)."""
    from .random import generator
    values = generator().standard_normal(_shape(shape)).astype(dtype)
    return tensor(values, device=device, requires_grad=requires_grad)


def arange(start, stop=None, step=1, dtype=None, device="cpu"):
    """As torch.arange: integers stay int64, a float bound gives float32."""
    if stop is None:
        start, stop = 0, start
    values = np.arange(start, stop, step)
    return tensor(values if dtype is not None or values.dtype.kind != "f" else values.astype(float32),
                  dtype=dtype, device=device)


def empty_cache():
    """Free the scratch buffers that the CPU kernels keep for reuse, in every thread (each
    thread's cache is bounded, see kernels.cpu.workspace.MAX_BYTES); the CUDA backend keeps none."""
    from kernels.cpu import workspace
    workspace.clear_all()
