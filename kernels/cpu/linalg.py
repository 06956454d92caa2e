"""Matrix products on BLAS: the C++ extension's threaded batched product where numpy's BLAS
could be handed to it (kernels/cpu/threads.py), numpy's matmul elsewhere."""
import numpy as np

from . import _cpp, threads

__all__ = ["matmul", "batched_matmul"]

# Multiply-adds below which numpy's own call (on one thread) is quicker than ours (64^3).
SMALL = 2**18


def _blas_ready(x):
    """x, or a C-contiguous copy where its matrices are neither row- nor column-major."""
    it, s = x.itemsize, x.strides
    matrices = s[-1] == it or s[-2] == it or 1 in x.shape[-2:]
    if x.dtype.isnative and x.flags.aligned and matrices and all(v >= 0 and v % it == 0 for v in s):
        return x
    return np.ascontiguousarray(x)


def batched_matmul(a, b, out=None):
    """a (B or 1, m, k) @ b (B or 1, k, n) -> (B, m, n) of float32/float64 arrays, into out (a
    view of row-major matrices) when given."""
    if not threads.BLAS_IN_EXTENSION:
        return np.matmul(a, b, out=out)
    return _cpp.matmul(_blas_ready(a), _blas_ready(b), out)


def matmul(a, b):
    """numpy's matmul, as the threaded product for float32/float64 operands of up to 3
    dimensions whose batches are equal or absent, unless the product is small."""
    if (not threads.BLAS_IN_EXTENSION or a.dtype != b.dtype or a.dtype.kind != "f"
            or a.dtype.itemsize not in (4, 8) or not 1 <= a.ndim <= 3 or not 1 <= b.ndim <= 3
            or (a.ndim == 3 and b.ndim == 3 and a.shape[0] != b.shape[0])
            or a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]
            or a.size * b.shape[-1] < SMALL):
        return np.matmul(a, b)
    a3 = a.reshape((1,) * (3 - a.ndim) + a.shape)
    b3 = b[:, None] if b.ndim == 1 else b
    b3 = b3.reshape((1,) * (3 - b3.ndim) + b3.shape)
    out = _cpp.matmul(_blas_ready(a3), _blas_ready(b3), None)
    shape = np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + a.shape[-2:-1] * (a.ndim > 1) \
        + b.shape[-1:] * (b.ndim > 1)
    return out.reshape(shape)
