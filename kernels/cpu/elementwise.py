"""Elementwise kernels: numpy's ufuncs, with its broadcasting and weak Python scalars (NEP 50)."""
import math

import numpy as np

from . import _cpp, fused

__all__ = ["add", "accumulate", "sub", "mul", "div", "pow", "neg", "exp", "log", "log1p", "sqrt", "abs", "sign",
           "tanh", "sigmoid", "relu", "where", "compare", "unary_op", "binary_op"]


def add(a, b):
    return np.add(a, b)


def accumulate(dst, src):
    """dst += src: on the extension's threads where src is a float array of dst's shape and
    dtype (a broadcast view too), else numpy's one-threaded add, which broadcasts and casts."""
    if (dst.size >= fused.SMALL and isinstance(src, np.ndarray) and src.dtype == dst.dtype
            and src.shape == dst.shape and dst.dtype in (np.float32, np.float64)
            and dst.flags.c_contiguous and src.flags.aligned and src.dtype.isnative
            and not np.may_share_memory(dst, src)):
        _cpp.accumulate(dst, src)
    else:
        np.add(dst, src, out=dst, casting="same_kind")


def sub(a, b):
    return np.subtract(a, b)


def mul(a, b):
    return np.multiply(a, b)


def div(a, b):
    return np.divide(a, b)


def pow(a, b):
    return np.power(a, b)


def neg(x):
    return np.negative(x)


def exp(x):
    return np.exp(x)


def log(x):
    return np.log(x)


def log1p(x):
    return np.log1p(x)


def sqrt(x):
    return np.sqrt(x)


def abs(x):
    return np.abs(x)


def sign(x):
    return np.sign(x)


def tanh(x):
    return np.tanh(x)


def sigmoid(x):
    ready = fused.floats(x)
    if ready is not None:  # one C++ pass with a vectorized exp: 2^22 float32 3.6 -> 1.3 ms
        return _cpp.sigmoid(ready[0])
    # sigmoid(x) = (1 + tanh(x / 2)) / 2: never overflows, and numpy's SIMD tanh makes it
    # 8x faster than the two-branch exp formula (measured on 2^22 float32).
    y = np.empty(x.shape, np.result_type(x.dtype, np.float16))
    np.multiply(x, 0.5, out=y)
    np.tanh(y, out=y)
    y *= 0.5
    y += 0.5
    return y


def relu(x):
    ready = fused.floats(x)
    if ready is not None:
        return _cpp.relu(*ready)  # one pass on the extension's threads
    return np.maximum(x, 0).astype(x.dtype, copy=False)


def where(condition, a, b):
    return np.where(condition, a, b)


_comparisons = {"eq": np.equal, "ne": np.not_equal, "lt": np.less,
                "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal}


def compare(op, a, b):
    return _comparisons[op](a, b)


def _scalar_ufunc(f):
    """f of the math module elementwise, in x's dtype (numpy has no erf)."""
    ufunc = np.frompyfunc(f, 1, 1)
    return lambda x: np.asarray(ufunc(x), x.dtype)


_ROUNDING = ("floor", "ceil", "round", "trunc")
_UNARY = {"sin": np.sin, "cos": np.cos, "tan": np.tan, "asin": np.arcsin, "acos": np.arccos,
          "atan": np.arctan, "sinh": np.sinh, "cosh": np.cosh, "asinh": np.arcsinh,
          "acosh": np.arccosh, "atanh": np.arctanh, "log2": np.log2, "log10": np.log10,
          "expm1": np.expm1, "erf": _scalar_ufunc(math.erf), "erfc": _scalar_ufunc(math.erfc),
          "floor": np.floor, "ceil": np.ceil, "round": np.rint, "trunc": np.trunc,
          "bitwise_not": np.invert, "logical_not": np.logical_not}


def unary_op(op, x):
    if op in _ROUNDING and x.dtype.kind in "iub":
        return x.copy()  # integers are already whole
    return _UNARY[op](x)


# numpy's remainder and floor_divide follow fmod's sign rules exactly as torch's do
_BINARY = {"atan2": np.arctan2, "copysign": np.copysign, "fmod": np.fmod,
           "remainder": np.remainder, "floor_divide": np.floor_divide,
           "maximum": np.maximum, "minimum": np.minimum, "fmax": np.fmax, "fmin": np.fmin,
           "bitwise_and": np.bitwise_and, "bitwise_or": np.bitwise_or,
           "bitwise_xor": np.bitwise_xor, "logical_and": np.logical_and,
           "logical_or": np.logical_or, "logical_xor": np.logical_xor}


def binary_op(op, a, b):
    return _BINARY[op](a, b)
