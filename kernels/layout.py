"""Allocation, casts, copies and layout primitives, written once for any array library with
numpy's interface (numpy on the cpu backend, CuPy on the cuda one): memory work only, no
arithmetic, so one definition serves every backend that has such a library."""
import numpy as np


def primitives(xp):
    """The layout primitives of kernels/contract.py on the array library `xp`, by name."""

    def zeros(shape, dtype):
        return xp.zeros(shape, dtype)

    def full(shape, value, dtype):
        return xp.full(shape, value, dtype)

    def astype(a, dtype):
        return a.astype(dtype, copy=False)

    def copy(a):
        return xp.array(a, copy=True, order="C")

    def assign(dst, src):
        xp.copyto(dst, src, casting="same_kind")

    # the methods rather than xp's functions, and no broadcast to the same shape: a walk through
    # a small graph calls these on every node, and numpy's functions cost several times more
    def broadcast_to(x, shape):
        return x if x.shape == tuple(shape) else xp.broadcast_to(x, shape)

    def reshape(x, shape):
        return x.reshape(shape)

    def transpose(x, axes):
        return x.transpose(axes)

    def concatenate(xs, axis):
        return xp.concatenate(xs, axis=axis)

    def split(x, sizes, axis):
        return xp.split(x, np.cumsum(sizes)[:-1].tolist(), axis=axis)

    def stack(xs, axis):
        return xp.stack(xs, axis=axis)

    def pad(x, widths):
        """Zero padding; widths holds a (before, after) pair for every axis."""
        return xp.pad(x, widths)

    return {f.__name__: f for f in (zeros, full, astype, copy, assign, broadcast_to, reshape, transpose,
                                    concatenate, split, stack, pad)}
