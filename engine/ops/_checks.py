"""Argument checks shared by the ops; each error names the op, what it got and what it expected."""
import numbers

import numpy as np

from ..errors import DTypeError, ShapeError


def shape_of(x):
    return tuple(getattr(x, "shape", ()))


def broadcast_shapes(op, *shapes):
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        raise ShapeError(f"{op}: shapes {', '.join(map(str, shapes))} do not broadcast") from None


def normalize_axis(op, axis, ndim):
    """An axis (negative allowed) as a non-negative int, or ShapeError."""
    if not isinstance(axis, numbers.Integral) or isinstance(axis, bool):
        raise DTypeError(f"{op}: axis must be an int, got {axis!r}")
    if not -max(ndim, 1) <= axis < max(ndim, 1):
        raise ShapeError(f"{op}: axis {axis} is out of range for a tensor of {ndim} dimensions")
    return int(axis) % max(ndim, 1)


def normalize_axes(op, axis, ndim):
    """None (every axis) or a sorted tuple of distinct non-negative axes. A 0-d tensor takes
    axis 0 or -1, as in torch, meaning its one element."""
    if axis is None:
        return None
    if ndim == 0:
        for a in (tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)):
            normalize_axis(op, a, ndim)
        return None
    axes = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    axes = tuple(sorted(normalize_axis(op, a, ndim) for a in axes))
    if len(set(axes)) != len(axes):
        raise ShapeError(f"{op}: axis {axis} repeats an axis")
    return axes


def kept_shape(shape, axes):
    """The shape of a reduction over `axes` with keepdims=True."""
    return tuple(1 if axes is None or i in axes else n for i, n in enumerate(shape))


def floating(k, x):
    """x as the default float dtype (float32) when it holds integers or bools, as torch gives
    float32 for exp, sigmoid or true division of integers (numpy would give float16 or 64)."""
    return k.astype(x, np.float32) if x.dtype.kind in "iub" else x


def require_float(op, dtype):
    if np.dtype(dtype).kind != "f":
        raise DTypeError(f"{op}: expected a floating-point tensor, got dtype {np.dtype(dtype)}")
