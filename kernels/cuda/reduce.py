"""Reductions over axes: the reduced axes are moved last, then each output element is one
row, reduced by a block with a shared-memory tree."""
import builtins  # this module defines sum and max
import math

import numpy as np
from numba import cuda

from .device import THREADS, contiguous, grid, xp

__all__ = ["sum", "max", "argmax"]

_BLOCK = THREADS  # threads per row, a power of two


def _row_reduction(combine, start):
    @cuda.jit
    def kernel(x, out):
        shared = cuda.shared.array(_BLOCK, dtype=np.float64)
        t = cuda.threadIdx.x
        row = cuda.blockIdx.x
        while row < x.shape[0]:
            acc = start
            j = t
            while j < x.shape[1]:
                acc = combine(acc, x[row, j])
                j += cuda.blockDim.x
            shared[t] = acc
            cuda.syncthreads()
            step = cuda.blockDim.x // 2
            while step > 0:
                if t < step:
                    shared[t] = combine(shared[t], shared[t + step])
                cuda.syncthreads()
                step //= 2
            if t == 0:
                out[row] = shared[0]
            cuda.syncthreads()
            row += cuda.gridDim.x
    return kernel


_sum_rows = _row_reduction(cuda.jit(device=True)(lambda a, b: a + b), 0.0)
_max_rows = _row_reduction(cuda.jit(device=True)(lambda a, b: a if a >= b else b), -math.inf)


def rows(x, axes):
    """x as a contiguous (kept, reduced) matrix with `axes` last, and the kept shape."""
    axes = tuple(range(x.ndim)) if axes is None else tuple(axes)
    kept = tuple(a for a in range(x.ndim) if a not in axes)
    moved = contiguous(xp.transpose(x, kept + axes))
    count = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
    return moved.reshape(-1, count), tuple(x.shape[a] for a in kept)


def _reduce(kernel, x, axes, keepdims):
    matrix, kept_shape = rows(x, axes)
    out = xp.empty(matrix.shape[0], x.dtype)
    blocks, _ = grid(matrix.shape[0] * _BLOCK)
    kernel[builtins.max(1, builtins.min(blocks, matrix.shape[0])), _BLOCK](matrix, out)
    if keepdims:
        axes = range(x.ndim) if axes is None else axes
        return out.reshape(tuple(1 if i in axes else n for i, n in enumerate(x.shape)))
    return out.reshape(kept_shape)


def sum(x, axis, keepdims):
    if x.dtype.kind == "b":
        x = x.astype(np.int64)
    return _reduce(_sum_rows, x, axis, keepdims)


def max(x, axis, keepdims):
    return _reduce(_max_rows, x, axis, keepdims)


@cuda.jit
def _argmax_rows(x, out):
    row = cuda.grid(1)
    while row < x.shape[0]:
        best, where = x[row, 0], 0
        for j in range(1, x.shape[1]):
            if x[row, j] > best:
                best, where = x[row, j], j
        out[row] = where
        row += cuda.gridsize(1)


def argmax(x, axis):
    """Index of the first maximum, over all elements (axis None) or along one axis."""
    matrix, kept_shape = rows(x, None if axis is None else (axis,))
    out = xp.empty(matrix.shape[0], np.int64)
    _argmax_rows[grid(matrix.shape[0])](matrix, out)
    return out.reshape(kept_shape)

