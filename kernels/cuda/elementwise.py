"""Elementwise kernels with numpy broadcasting: one launch per op, grid-stride loops.

Each op is a scalar device function; a kernel factory wraps it in a loop that turns the
output's flat index into each operand's offset (stride 0 along broadcast axes).
Python scalars keep numpy's weak typing: they take the array operand's dtype.
"""
import math
import numbers

import numpy as np
from numba import cuda

from .device import SIMULATED, flat, grid, host, launch, to_device, xp

__all__ = ["add", "sub", "mul", "div", "pow", "neg", "exp", "log", "log1p", "sqrt", "abs", "sign",
           "tanh", "sigmoid", "relu", "where", "compare", "unary_op", "binary_op"]


@cuda.jit(device=True, inline=True)
def _offset(i, shape, strides, ndim):
    offset = 0
    for d in range(ndim - 1, -1, -1):
        offset += (i % shape[d]) * strides[d]
        i //= shape[d]
    return offset


def _kernel(arity, f):
    """A broadcasting kernel applying f(operands..., p) elementwise, p a scalar parameter."""
    if arity == 1:
        @cuda.jit
        def kernel(out, shape, ndim, p, a, sa):
            i = cuda.grid(1)
            while i < out.size:
                out[i] = f(a[_offset(i, shape, sa, ndim)], p)
                i += cuda.gridsize(1)
    elif arity == 2:
        @cuda.jit
        def kernel(out, shape, ndim, p, a, sa, b, sb):
            i = cuda.grid(1)
            while i < out.size:
                out[i] = f(a[_offset(i, shape, sa, ndim)], b[_offset(i, shape, sb, ndim)], p)
                i += cuda.gridsize(1)
    else:
        @cuda.jit
        def kernel(out, shape, ndim, p, a, sa, b, sb, c, sc):
            i = cuda.grid(1)
            while i < out.size:
                out[i] = f(a[_offset(i, shape, sa, ndim)], b[_offset(i, shape, sb, ndim)],
                           c[_offset(i, shape, sc, ndim)], p)
                i += cuda.gridsize(1)
    return kernel


def _operand(x, dtype):
    """A device array for an operand (a Python scalar becomes a 0-d array of `dtype`)."""
    return to_device(np.asarray(x, dtype)) if isinstance(x, numbers.Number) else x


def _broadcast_strides(shape, out_shape):
    """Element strides of a contiguous array of `shape` read at out_shape's indices."""
    shape = (1,) * (len(out_shape) - len(shape)) + tuple(shape)
    strides, step = [0] * len(shape), 1
    for d in range(len(shape) - 1, -1, -1):
        strides[d] = step if shape[d] != 1 else 0
        step *= shape[d]
    return strides


def map_arrays(kernel, operands, out_dtype, p=0.0):
    """Launch a broadcasting kernel over device operands; returns the output array."""
    out_shape = tuple(np.broadcast_shapes(*(tuple(o.shape) for o in operands)))
    out = xp.empty(out_shape, out_dtype)
    if out.size == 0:
        return out
    shape = host(out_shape or (1,))
    args = []
    for o in operands:
        args += [flat(o), host(_broadcast_strides(o.shape, out_shape) or (0,))]
    launch(kernel, grid(out.size), out.reshape(-1), shape, max(1, len(out_shape)), p, *args)
    return out


def _result_dtype(*xs):
    return np.result_type(*(x if isinstance(x, numbers.Number) else x.dtype for x in xs))


def _launcher(arity, scalar, dtype_of=_result_dtype):
    """run(*operands, p=0.0): the broadcasting kernel of `scalar` on arrays or Python scalars."""
    kernel = _kernel(arity, cuda.jit(device=True)(scalar))

    def run(*xs, p=0.0):
        dtype = dtype_of(*xs)
        operands = [_operand(x, dtype) for x in xs]
        return map_arrays(kernel, operands, dtype, p)
    return run


def _unary(scalar, dtype_of=_result_dtype):
    run = _launcher(1, scalar, dtype_of)

    def op(x):
        return run(x)
    return op


def _binary(scalar, dtype_of=_result_dtype):
    run = _launcher(2, scalar, dtype_of)

    def op(a, b):
        return run(a, b)
    return op


def _float_dtype(*xs):
    dtype = _result_dtype(*xs)
    return dtype if dtype.kind == "f" else np.dtype(np.float64)


def _stable_sigmoid(a, p):
    # exp of -|a| never overflows
    if a >= 0:
        return 1 / (1 + math.exp(-a))
    e = math.exp(a)
    return e / (1 + e)


add = _binary(lambda a, b, p: a + b)
sub = _binary(lambda a, b, p: a - b)
mul = _binary(lambda a, b, p: a * b)
div = _binary(lambda a, b, p: a / b, _float_dtype)
pow = _binary(lambda a, b, p: a ** b)
neg = _unary(lambda a, p: -a)


def _math(f):
    """The device function of the math function f. On a GPU, CUDA's math library returns nan or
    ±inf outside f's domain (log(0) = -inf); Python's math, which the simulator runs, raises
    there instead: in the simulator, numpy's function of the same name stands in, as the GPU."""
    g = f
    if SIMULATED and hasattr(np, f.__name__):
        ieee = getattr(np, f.__name__)

        def g(a):
            with np.errstate(all="ignore"):
                return ieee(a)

    def apply(a, p):
        return g(a)
    apply.__qualname__ = f"_math({f.__name__})"  # the kernel's name, the same in the simulator
    return apply


exp = _unary(_math(math.exp), _float_dtype)
log = _unary(_math(math.log), _float_dtype)
log1p = _unary(_math(math.log1p), _float_dtype)
sqrt = _unary(_math(math.sqrt), _float_dtype)
abs = _unary(lambda a, p: a if a >= 0 else -a)
sign = _unary(lambda a, p: 1 if a > 0 else (-1 if a < 0 else 0))
tanh = _unary(lambda a, p: math.tanh(a), _float_dtype)
sigmoid = _unary(_stable_sigmoid, _float_dtype)
relu = _unary(lambda a, p: a if a > 0 else 0)
_where = _launcher(3, lambda c, a, b, p: a if c else b, lambda c, a, b: _result_dtype(a, b))

# one function a line: kernels are named by their lines (compile_check.kernel_key)
_comparisons = {op: _launcher(2, scalar, lambda *xs: np.dtype(np.bool_)) for op, scalar in (
    ("eq", lambda a, b, p: a == b),
    ("ne", lambda a, b, p: a != b),
    ("lt", lambda a, b, p: a < b),
    ("le", lambda a, b, p: a <= b),
    ("gt", lambda a, b, p: a > b),
    ("ge", lambda a, b, p: a >= b))}


def compare(op, a, b):
    dtype = _result_dtype(a, b)  # compare in the common dtype, as numpy does
    return _comparisons[op](_operand(a, dtype), _operand(b, dtype))


def where(condition, a, b):
    dtype = _result_dtype(a, b)
    return _where(condition, _operand(a, dtype), _operand(b, dtype))


# --- unary_op and binary_op ------------------------------------------------------------------
# On a GPU math.floor(float32) is a float32; in the simulator it is Python's int, which has no
# inf or nan, and Python's math raises where the GPU gives nan: the guards below keep both
# agreeing with numpy (they cost a compare on the GPU).

@cuda.jit(device=True, inline=True)
def _whole(a):
    """Whether float a has no fractional part to round: inf, nan, or beyond 2**52."""
    return not math.fabs(a) < 4503599627370496.0  # (abs is the kernel of that name)


def _rounding(whole_part):
    # the result has a's sign even when it is zero (floor(-0.0), ceil(-0.5) give -0.0)
    def rounded(a, p):
        return a if _whole(a) else math.copysign(whole_part(a), a)
    rounded.__qualname__ = f"_rounding({whole_part.__name__})"  # the kernel's name
    return rounded


@cuda.jit(device=True)
def _round_half_even(a):
    below = math.floor(a)
    fraction = a - below  # exact
    if fraction > 0.5 or (fraction == 0.5 and math.fmod(below, 2.0) != 0):
        return math.ceil(a)
    return below


@cuda.jit(device=True)
def _trunc(a):
    return math.floor(a) if a >= 0 else math.ceil(a)  # (numpy's float32 has no __trunc__)


_UNARY = {name: _unary(_math(f)) for name, f in (
    ("sin", math.sin), ("cos", math.cos), ("tan", math.tan), ("asin", math.asin),
    ("acos", math.acos), ("atan", math.atan), ("sinh", math.sinh), ("cosh", math.cosh),
    ("asinh", math.asinh), ("acosh", math.acosh), ("atanh", math.atanh), ("log2", math.log2),
    ("log10", math.log10), ("expm1", math.expm1), ("erf", math.erf), ("erfc", math.erfc))}
_UNARY.update({name: _unary(_rounding(f)) for name, f in (
    ("floor", math.floor), ("ceil", math.ceil), ("trunc", _trunc),
    ("round", _round_half_even))})
_bool = lambda *xs: np.dtype(np.bool_)  # noqa: E731
_logical_not = _unary(lambda a, p: a == 0, _bool)
_bitwise_not = {True: _unary(lambda a, p: not a),  # by is-bool
                False: _unary(lambda a, p: ~a)}


def unary_op(op, x):
    if op == "logical_not":
        return _logical_not(x)
    if op == "bitwise_not":
        return _bitwise_not[x.dtype == np.bool_](x)
    if op in ("floor", "ceil", "round", "trunc") and x.dtype.kind in "iub":
        return x.copy()  # integers are already whole
    return _UNARY[op](x)


@cuda.jit(device=True)
def _fmod_float(a, b):
    if b == 0 or math.isinf(a):  # nan, as in C
        return math.nan
    return math.fmod(a, b)


def _remainder_float(a, b, p):
    r = _fmod_float(a, b)
    if r == 0:
        return math.copysign(r, b)  # numpy's zero has b's sign
    return r + b if (r < 0) != (b < 0) else r


def _floor_divide_float(a, b, p):
    """torch's (and numpy's) div_floor: (a - fmod(a, b)) / b, corrected to an integer toward
    -inf; p is 1 in the operands' dtype, so that a float32 quotient stays float32."""
    if b == 0:
        return a / b
    if not math.isfinite(a) or b != b:
        return math.nan
    r = math.fmod(a, b)
    q = (a - r) / b
    if r != 0 and (b < 0) != (r < 0):
        q -= p
    if q == 0:
        return math.copysign(q, a / b)
    whole = math.floor(q)
    return whole + p if q - whole > 0.5 else whole


# integer division by zero gives 0 (numpy's result; torch raises on the cpu)
def _fmod_int(a, b, p):
    if b == 0:
        return 0
    r = a % b  # Python's sign, that of b
    return r - b if r != 0 and (r < 0) != (a < 0) else r


def _maximum(a, b, p):
    return a + b if a != a or b != b else (a if a > b else b)  # a + b: the nan


def _minimum(a, b, p):
    return a + b if a != a or b != b else (a if a < b else b)


def _fmax(a, b, p):
    return b if a != a else (a if b != b or a > b else b)


def _fmin(a, b, p):
    return b if a != a else (a if b != b or a < b else b)


_SHARED = {
    "maximum": _binary(_maximum), "minimum": _binary(_minimum),
    "fmax": _binary(_fmax), "fmin": _binary(_fmin),
    "bitwise_and": _binary(lambda a, b, p: a & b),
    "bitwise_or": _binary(lambda a, b, p: a | b),
    "bitwise_xor": _binary(lambda a, b, p: a ^ b),
    "logical_and": _binary(lambda a, b, p: a != 0 and b != 0, _bool),
    "logical_or": _binary(lambda a, b, p: a != 0 or b != 0, _bool),
    "logical_xor": _binary(lambda a, b, p: (a != 0) != (b != 0), _bool)}
_FLOAT = {"atan2": _binary(lambda a, b, p: math.atan2(a, b)),
          "copysign": _binary(lambda a, b, p: math.copysign(a, b)),
          "fmod": _binary(lambda a, b, p: _fmod_float(a, b)),
          "remainder": _binary(_remainder_float),
          "floor_divide": _launcher(2, _floor_divide_float)}
_INT = {"fmod": _binary(_fmod_int),
        "remainder": _binary(lambda a, b, p: a % b if b != 0 else 0),
        "floor_divide": _binary(lambda a, b, p: a // b if b != 0 else 0)}


def binary_op(op, a, b):
    if op in _SHARED:
        return _SHARED[op](a, b)
    if _result_dtype(a, b).kind == "f":
        if op == "floor_divide":
            return _FLOAT[op](a, b, p=_result_dtype(a, b).type(1))
        return _FLOAT[op](a, b)
    return _INT[op](a, b)
