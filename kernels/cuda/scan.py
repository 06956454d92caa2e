"""Scans along one axis: the axis is moved last, and one thread scans each row in order, in the
row's dtype (a float32 row accumulates in float32)."""
import math

import numpy as np
from numba import cuda

from .device import contiguous, grid, launch, xp

__all__ = ["cumsum", "cumprod", "cummax", "cummin", "logcumsumexp"]


def _scan_kernel(combine):
    @cuda.jit
    def kernel(x, out):
        row = cuda.grid(1)
        while row < x.shape[0]:
            if x.shape[1] > 0:
                acc = x[row, 0]
                out[row, 0] = acc
                for j in range(1, x.shape[1]):
                    acc = combine(acc, x[row, j])
                    out[row, j] = acc
            row += cuda.gridsize(1)
    return kernel


@cuda.jit(device=True)
def _log_add_exp(a, b):
    """log(e^a + e^b) without overflow; -inf with -inf stays -inf."""
    big, small = (a, b) if a >= b else (b, a)
    if small == -math.inf:
        return big
    return big + math.log1p(math.exp(small - big))


_cumsum = _scan_kernel(cuda.jit(device=True)(lambda a, b: a + b))
_cumprod = _scan_kernel(cuda.jit(device=True)(lambda a, b: a * b))
_logcumsumexp = _scan_kernel(_log_add_exp)


def _extremum_kernel(better):
    """Running extrema and the index of each: the latest x that is at least as good (or nan)."""
    @cuda.jit
    def kernel(x, out, indices):
        row = cuda.grid(1)
        while row < x.shape[0]:
            if x.shape[1] > 0:
                best, where = x[row, 0], 0
                for j in range(x.shape[1]):
                    v = x[row, j]
                    if v != v or (best == best and better(v, best)):
                        best, where = v, j
                    out[row, j] = best
                    indices[row, j] = where
            row += cuda.gridsize(1)
    return kernel


_cummax = _extremum_kernel(cuda.jit(device=True)(lambda a, b: a >= b))
_cummin = _extremum_kernel(cuda.jit(device=True)(lambda a, b: a <= b))


def _rows_along(x, axis):
    """x as a contiguous (rows, n) matrix with `axis` last, and how to put a result back."""
    moved = contiguous(xp.moveaxis(x, axis, -1))
    shape = moved.shape

    def back(matrix):
        return xp.moveaxis(matrix.reshape(shape), -1, axis)
    return moved.reshape(int(np.prod(shape[:-1], dtype=np.int64)), shape[-1]), back


def _scan(kernel, x, axis, dtype=None):
    matrix, back = _rows_along(x, axis)
    out = xp.empty(matrix.shape, dtype or x.dtype)
    launch(kernel, grid(matrix.shape[0]), matrix, out)
    return back(out)


def cumsum(x, axis):
    return _scan(_cumsum, x.astype(np.int64) if x.dtype.kind == "b" else x, axis)


def cumprod(x, axis):
    return _scan(_cumprod, x, axis)


def logcumsumexp(x, axis):
    return _scan(_logcumsumexp, x, axis)


def _scan_with_indices(kernel, x, axis):
    matrix, back = _rows_along(x.view(np.uint8) if x.dtype.kind == "b" else x, axis)
    out, indices = xp.empty(matrix.shape, matrix.dtype), xp.empty(matrix.shape, np.int64)
    launch(kernel, grid(matrix.shape[0]), matrix, out, indices)
    return back(out).astype(x.dtype, copy=False), back(indices)


def cummax(x, axis):
    return _scan_with_indices(_cummax, x, axis)


def cummin(x, axis):
    return _scan_with_indices(_cummin, x, axis)
