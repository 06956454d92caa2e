"""Argument checks shared by the ops; each error names the op, what it got and what it expected."""
import functools
import numbers

import numpy as np

from ..errors import ArgumentError, DTypeError, ShapeError

NUMPY_NAMES = {"axis": "dim", "keepdims": "keepdim"}  # numpy's keyword -> PyTorch's


def torch_dims(function):
    """Let an op declared with PyTorch's `dim=` and `keepdim=` also take numpy's `axis=` and
    `keepdims=` (the API promises both); giving both spellings of one is an ArgumentError."""
    @functools.wraps(function)
    def call(*args, **kwargs):
        for numpy_name, torch_name in NUMPY_NAMES.items():
            if numpy_name in kwargs:
                if torch_name in kwargs:
                    raise ArgumentError(f"{function.__name__}: got both {torch_name}= and "
                                        f"{numpy_name}=; give one")
                kwargs[torch_name] = kwargs.pop(numpy_name)
        return function(*args, **kwargs)
    return call


def shape_of(x):
    return tuple(getattr(x, "shape", ()))


def broadcast_shapes(op, *shapes):
    if all(s == shapes[0] for s in shapes):  # the common case, without numpy's machinery
        return tuple(shapes[0])
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


# --- sizes and arrays of the windowed ops (conv, pooling, resampling, pad) -------------------------
# They run on kernels that index raw memory (the C++ extension, the CUDA kernels), so every size
# is checked here first, with Python's unbounded ints: no call reaches a kernel with a value it
# cannot handle. Read on every call, so they may be changed at run time.
MAX_SIZE = 2**31 - 1        # a kernel size, stride, padding, dilation, padded or output extent
MAX_ELEMENTS = 2**31        # the elements of an op's result (8 GiB of float32)
MAX_BYTES = 8 * 2**30       # the memory of a result and its helper arrays together
MAX_WINDOW_STEPS = 2**40    # pooling: window positions visited per (n, c) plane


def size_pair(op, name, value, minimum, maximum=None):
    """An int or a pair of ints as a pair of Python ints in [minimum, maximum] (MAX_SIZE by
    default), else ShapeError naming the op, the argument and what it got."""
    maximum = MAX_SIZE if maximum is None else maximum
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, numbers.Integral):
        values = (value, value)
    elif isinstance(value, (tuple, list)) or (isinstance(value, np.ndarray) and value.ndim == 1):
        values = tuple(value)
    else:
        values = ()
    if len(values) != 2 or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool)
                                   for v in values):
        raise ShapeError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    if any(v < minimum for v in values):
        raise ShapeError(f"{op}: {name} must be at least {minimum}, got {value!r}")
    if any(v > maximum for v in values):
        raise ShapeError(f"{op}: {name} must be at most {maximum}, got {value!r}")
    return tuple(int(v) for v in values)


def require_float32_or_64(op, name, dtype):
    """The dtypes the C++ and CUDA kernels of the windowed ops take."""
    dtype = np.dtype(dtype)
    if dtype.kind != "f" or dtype.itemsize not in (4, 8):
        raise DTypeError(f"{op}: {name} has dtype {dtype}; expected a floating-point tensor "
                         "of float32 or float64")


def native_byte_order(x):
    """x itself, or x cast (differentiably) to its dtype in native byte order. A big-endian
    tensor (from a FITS or IDX file) is converted rather than refused: the kernels that read raw
    memory would misread it, and numpy gives the cast's gradient back in the original order."""
    dtype = np.dtype(x.dtype)
    return x if dtype.isnative else x.astype(np.dtype(dtype.newbyteorder("=").str))


def require_tensor(op, name, x, optional=False):
    from ..tensor import Tensor
    if not (isinstance(x, Tensor) or (optional and x is None)):
        raise DTypeError(f"{op}: {name} must be a Tensor{' or None' if optional else ''}, "
                         f"got {type(x).__name__}")


def require_nonempty(op, x, what="(N, C, H, W)"):
    """Every dimension but the batch (dimension 0) must be non-zero, as in torch."""
    if any(n == 0 for n in x.shape[1:]):
        raise ShapeError(f"{op}: input {what} has shape {tuple(x.shape)}; only the batch "
                         "dimension may be 0")


def require_output(op, shape, what="the output", input_size=0):
    """A result shape whose every extent is at most MAX_SIZE and whose size is at most
    MAX_ELEMENTS, or 64 times the input's size (`input_size` elements) where that is more: a
    result out of proportion to both comes from an absurd argument (a padding of 2**20), and
    would be refused by the kernels or exhaust the memory."""
    shape = tuple(int(n) for n in shape)
    if any(n > MAX_SIZE for n in shape):
        raise ShapeError(f"{op}: {what} would have shape {shape}, an extent above {MAX_SIZE}")
    size = int(np.prod(shape, dtype=object)) if shape else 1
    limit = max(MAX_ELEMENTS, 64 * int(input_size))
    if size > limit:
        raise ShapeError(f"{op}: {what} would have shape {shape}, {size} elements; expected at "
                         f"most {limit}")
    return shape
