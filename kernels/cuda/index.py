"""Gathering, scattering and sorting along one axis.

Every kernel gives one thread one output element (or one row), so no two threads write the same
place: no atomics, and results that do not depend on the launch (repeated indices combine in
index order, as on the cpu). The arrays are C-contiguous and flat; a thread turns its flat index
into coordinates with the shapes, which arrive as tuple arguments (no host-to-device copy).
"""
import math

import numpy as np
from numba import cuda

from .device import contiguous, flat, grid, launch, xp
from .elementwise import _broadcast_strides
from .reduce import rows

__all__ = ["take_along_axis", "scatter", "sort"]


@cuda.jit
def _take(out, x, indices, shape, x_strides, ndim, axis):
    """out (of indices' shape) = x at each element's coordinates, with indices[i] along axis."""
    i = cuda.grid(1)
    while i < out.size:
        rest, offset = i, 0
        for d in range(ndim - 1, -1, -1):
            c = rest % shape[d]
            rest //= shape[d]
            offset += (indices[i] if d == axis else c) * x_strides[d]
        out[i] = x[offset]
        i += cuda.gridsize(1)


def _ints(values):
    return tuple(int(v) for v in values)


def take_along_axis(x, indices, axis):
    out = xp.empty(indices.shape, x.dtype)
    if out.size:
        launch(_take, grid(out.size), out.reshape(-1), flat(x), flat(indices),
               _ints(indices.shape), _ints(_broadcast_strides(x.shape, x.shape)), x.ndim, axis)
    return out


def _scatter_kernel(combine):
    """One thread per element of x: it combines, in index order, every src element whose index
    points at it (those of the index fiber through its coordinates)."""
    @cuda.jit
    def kernel(out, x, indices, src, x_shape, shape, ndim, axis, axis_stride):
        i = cuda.grid(1)
        while i < out.size:
            rest, fiber, step, position, inside = i, 0, 1, 0, True
            for d in range(ndim - 1, -1, -1):
                c = rest % x_shape[d]
                rest //= x_shape[d]
                if d == axis:
                    position = c
                elif c < shape[d]:
                    fiber += c * step
                else:  # indices are shorter than x along d: nothing lands here
                    inside = False
                step *= shape[d]
            acc = x[i]
            if inside:
                for t in range(shape[axis]):
                    j = fiber + t * axis_stride
                    if indices[j] == position:
                        acc = combine(acc, src[j])
            out[i] = acc
            i += cuda.gridsize(1)
    return kernel


def _device(f):
    return cuda.jit(device=True)(f)


# a != a holds only for nan, which amax and amin propagate
_SCATTER = {
    None: _scatter_kernel(_device(lambda acc, v: v)),
    "sum": _scatter_kernel(_device(lambda acc, v: acc + v)),
    "prod": _scatter_kernel(_device(lambda acc, v: acc * v)),
    "amax": _scatter_kernel(_device(lambda acc, v: v if v > acc or v != v else acc)),
    "amin": _scatter_kernel(_device(lambda acc, v: v if v < acc or v != v else acc)),
}


def scatter(x, indices, src, axis, reduce):
    if x.size == 0 or indices.size == 0:
        return xp.array(x, copy=True, order="C")
    out = xp.empty(x.shape, x.dtype)
    axis_stride = math.prod(indices.shape[axis + 1:])
    launch(_SCATTER[reduce], grid(out.size), out.reshape(-1), flat(x), flat(indices), flat(src),
           _ints(x.shape), _ints(indices.shape), x.ndim, axis, axis_stride)
    return out


@cuda.jit(device=True)
def _before(a, b, descending):
    """Whether a sorts strictly before b; nan (the only a != a) counts as the largest value."""
    if descending:
        return a > b or (a != a and b == b)
    return a < b or (b != b and a == a)


@cuda.jit(device=True)
def _merge(keys, source, target, row, lo, mid, hi, descending):
    """Merge the sorted runs source[lo:mid] and source[mid:hi] (positions into keys' row) into
    target[lo:hi]; on equal keys the left run goes first, which keeps the sort stable."""
    i, j = lo, mid
    for k in range(lo, hi):
        if j < hi and (i >= mid or _before(keys[row, source[row, j]],
                                           keys[row, source[row, i]], descending)):
            target[row, k] = source[row, j]
            j += 1
        else:
            target[row, k] = source[row, i]
            i += 1


@cuda.jit
def _sort_rows(keys, order, scratch, values, descending):
    """A bottom-up merge sort of each row of keys, one thread per row: the positions end in
    order, the sorted keys in values."""
    row = cuda.grid(1)
    n = keys.shape[1]
    while row < keys.shape[0]:
        for j in range(n):
            order[row, j] = j
        width, in_order = 1, True  # whether the runs are in order (else in scratch)
        while width < n:
            for lo in range(0, n, 2 * width):
                mid, hi = min(lo + width, n), min(lo + 2 * width, n)
                if in_order:
                    _merge(keys, order, scratch, row, lo, mid, hi, descending)
                else:
                    _merge(keys, scratch, order, row, lo, mid, hi, descending)
            in_order = not in_order
            width *= 2
        for j in range(n):
            if not in_order:
                order[row, j] = scratch[row, j]
            values[row, j] = keys[row, order[row, j]]
        row += cuda.gridsize(1)


def sort(x, axis, descending):
    if x.size == 0:
        return xp.array(x, copy=True, order="C"), xp.zeros(x.shape, np.int64)
    keys, kept_shape = rows(x, (axis,))
    order, scratch = xp.empty(keys.shape, np.int64), xp.empty(keys.shape, np.int64)
    values = xp.empty(keys.shape, x.dtype)
    launch(_sort_rows, grid(keys.shape[0]), keys, order, scratch, values, bool(descending))

    def back(a):  # (kept, n) rows to x's layout, the sorted axis where it was
        return contiguous(xp.moveaxis(a.reshape(kept_shape + (x.shape[axis],)), -1, axis))
    return back(values), back(order)
