"""Reductions over axes: the reduced axes are moved last, then each output element is one
row, reduced by a block with a shared-memory tree in the input's dtype."""
import builtins  # this module defines sum, max and min
import functools

import numpy as np
from numba import cuda, from_dtype

from .device import THREADS, contiguous, grid, launch, to_device, xp

__all__ = ["sum", "max", "min", "prod", "argmax", "argmin"]

_BLOCK = THREADS  # threads per row, a power of two

_COMBINE = {"sum": lambda a, b: a + b,  # one a line: kernels are named by their lines
            "prod": lambda a, b: a * b,
            # a nan (a != a) wins, as in torch
            "max": lambda a, b: a if a >= b or a != a else b,
            "min": lambda a, b: a if a <= b or a != a else b}


@functools.lru_cache(maxsize=None)
def _row_reduction(op, dtype):
    """A kernel reducing each row of a matrix of `dtype` with `op`, starting from identity[0]
    (a typed start: float32 rows add up in float32, int64 rows exactly)."""
    combine = cuda.jit(device=True)(_COMBINE[op])
    element = from_dtype(dtype)  # a global of the kernel: a GPU compile cannot call from_dtype

    @cuda.jit
    def kernel(x, identity, out):
        shared = cuda.shared.array(_BLOCK, dtype=element)
        t = cuda.threadIdx.x
        row = cuda.blockIdx.x
        while row < x.shape[0]:
            acc = identity[0]
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


# made at import for the common dtypes, so that the compile check finds them (others on demand)
for _op in _COMBINE:
    for _dtype in (np.float32, np.float64, np.int32, np.int64, np.uint8):
        _row_reduction(_op, np.dtype(_dtype))


def _identity(op, dtype):
    if op in ("sum", "prod"):
        return 0 if op == "sum" else 1
    if dtype.kind == "f":
        return -np.inf if op == "max" else np.inf
    return np.iinfo(dtype).min if op == "max" else np.iinfo(dtype).max


def rows(x, axes):
    """x as a contiguous (kept, reduced) matrix with `axes` last, and the kept shape."""
    axes = tuple(range(x.ndim)) if axes is None else tuple(axes)
    kept = tuple(a for a in range(x.ndim) if a not in axes)
    moved = contiguous(xp.transpose(x, kept + axes))
    count = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
    kept_shape = tuple(x.shape[a] for a in kept)
    return moved.reshape(int(np.prod(kept_shape, dtype=np.int64)), count), kept_shape


def _reduce(op, x, axes, keepdims):
    if x.dtype.kind == "b":  # max and min of bools stay bools; sums and products count
        return _reduce(op, x.view(np.uint8), axes, keepdims).astype(
            np.bool_ if op in ("max", "min") else np.int64)
    matrix, kept_shape = rows(x, axes)
    out = xp.empty(matrix.shape[0], x.dtype)
    identity = to_device(np.array([_identity(op, x.dtype)], x.dtype))
    blocks, _ = grid(matrix.shape[0] * _BLOCK)
    blocks = builtins.max(1, builtins.min(blocks, matrix.shape[0]))
    launch(_row_reduction(op, x.dtype), (blocks, _BLOCK), matrix, identity, out)
    if keepdims:
        axes = range(x.ndim) if axes is None else axes
        return out.reshape(tuple(1 if i in axes else n for i, n in enumerate(x.shape)))
    return out.reshape(kept_shape)


def sum(x, axis, keepdims):
    return _reduce("sum", x, axis, keepdims)


def max(x, axis, keepdims):
    return _reduce("max", x, axis, keepdims)


def min(x, axis, keepdims):
    return _reduce("min", x, axis, keepdims)


def prod(x, axis, keepdims):
    return _reduce("prod", x, axis, keepdims)


def _arg_rows(better):
    @cuda.jit
    def kernel(x, out):
        row = cuda.grid(1)
        while row < x.shape[0]:
            best, where = x[row, 0], 0
            for j in range(1, x.shape[1]):
                if better(x[row, j], best):
                    best, where = x[row, j], j
            out[row] = where
            row += cuda.gridsize(1)
    return kernel


_argmax_rows = _arg_rows(cuda.jit(device=True)(lambda a, b: a > b))
_argmin_rows = _arg_rows(cuda.jit(device=True)(lambda a, b: a < b))


def _arg(kernel, x, axis):
    """Index of the first extremum, over all elements (axis None) or along one axis."""
    if x.dtype.kind == "b":
        x = x.view(np.uint8)
    matrix, kept_shape = rows(x, None if axis is None else (axis,))
    out = xp.empty(matrix.shape[0], np.int64)
    launch(kernel, grid(matrix.shape[0]), matrix, out)
    return out.reshape(kept_shape)


def argmax(x, axis):
    return _arg(_argmax_rows, x, axis)


def argmin(x, axis):
    return _arg(_argmin_rows, x, axis)
