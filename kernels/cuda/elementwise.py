"""Elementwise kernels with numpy broadcasting: one launch per op, grid-stride loops, and no
host-to-device copy (shapes, strides and Python scalars travel as kernel arguments).

Each op is a scalar device function f(operands..., p); p is 1 in the operands' common dtype, from
which f derives any constant it needs (a Python float literal would promote float32 maths to
float64, up to 64x slower on a GPU). A kernel factory wraps f in a loop over the output's flat
index i that reads each operand through a loader chosen on the host:

- _load_item, x[i]: an array of the output's shape, C-contiguous (the common case: no index
  arithmetic at all);
- _load_strided, x at the offset of i under the output's shape and x's element strides (0 along
  broadcast axes): real broadcasts and non-contiguous views, in one kernel with the others;
- _load_value, x itself: a Python scalar, passed by value, cast on the host to the operands'
  common dtype (numpy's weak typing: it takes the array operand's dtype).

Every op has a kernel for each way of reading its operands (_variants), made when this module
loads so that the compile check (compile_check.py) finds them all.
"""
import itertools
import math
import numbers

import numpy as np
from numba import cuda

from .device import SIMULATED, contiguous, flat, grid, launch, to_device, xp

__all__ = ["add", "sub", "mul", "div", "pow", "neg", "exp", "log", "log1p", "sqrt", "abs", "sign",
           "tanh", "sigmoid", "relu", "where", "compare", "unary_op", "binary_op", "accumulate"]


@cuda.jit(device=True, inline=True)
def _split(i, shape):
    """(outer, inner): the output's flat index i split at its last axis, once for every operand
    (the axes are few, see _coalesce: most broadcasts have two, which this one division decodes)."""
    if len(shape) == 1:
        return i - i, i
    outer = i // shape[-1]
    return outer, i - outer * shape[-1]


# The loaders: operand x (its element strides, the output's flat index i, i split by _split, the
# output's shape) -> its value at i.

@cuda.jit(device=True, inline=True)
def _load_item(x, strides, i, at, shape):
    return x[i]


@cuda.jit(device=True, inline=True)
def _load_strided(x, strides, i, at, shape):
    outer, offset = at[0], at[1] * strides[-1]
    for d in range(len(shape) - 2, 0, -1):  # the axes between the first and the last
        q = outer // shape[d]
        offset += (outer - q * shape[d]) * strides[d]
        outer = q
    if len(shape) > 1:
        offset += outer * strides[0]
    return x[offset]


@cuda.jit(device=True, inline=True)
def _load_value(x, strides, i, at, shape):
    return x


def _kernel(f, loads):
    """The kernel applying f(operands..., p) at each index of the 1-D output, operand k read by
    loads[k]; shape is the output's (coalesced) shape, each operand comes with its strides."""
    if len(loads) == 1:
        (load_a,) = loads

        @cuda.jit
        def kernel(out, shape, p, a, sa):
            i = cuda.grid(1)
            while i < out.size:
                at = _split(i, shape)
                out[i] = f(load_a(a, sa, i, at, shape), p)
                i += cuda.gridsize(1)
    elif len(loads) == 2:
        load_a, load_b = loads

        @cuda.jit
        def kernel(out, shape, p, a, sa, b, sb):
            i = cuda.grid(1)
            while i < out.size:
                at = _split(i, shape)
                out[i] = f(load_a(a, sa, i, at, shape), load_b(b, sb, i, at, shape), p)
                i += cuda.gridsize(1)
    else:
        load_a, load_b, load_c = loads

        @cuda.jit
        def kernel(out, shape, p, a, sa, b, sb, c, sc):
            i = cuda.grid(1)
            while i < out.size:
                at = _split(i, shape)
                out[i] = f(load_a(a, sa, i, at, shape), load_b(b, sb, i, at, shape),
                           load_c(c, sc, i, at, shape), p)
                i += cuda.gridsize(1)
    return kernel


def _variants(arity, f):
    """{(strided, scalars): kernel} for the scalar device function f: strided says whether the
    array operands are read by offset (else by flat index), scalars which operands are Python
    scalars (not all of them: an op has an array operand)."""
    kernels = {}
    for strided in (False, True):
        array = _load_strided if strided else _load_item
        for scalars in itertools.product((False, True), repeat=arity):
            if not all(scalars):
                loads = tuple(_load_value if s else array for s in scalars)
                kernels[strided, scalars] = _kernel(f, loads)
    return kernels


def _is_scalar(x):
    return isinstance(x, (numbers.Number, np.generic))


def _broadcast_strides(shape, out_shape):
    """Element strides of a contiguous array of `shape` read at out_shape's indices."""
    shape = (1,) * (len(out_shape) - len(shape)) + tuple(shape)
    strides, step = [0] * len(shape), 1
    for d in range(len(shape) - 1, -1, -1):
        strides[d] = step if shape[d] != 1 else 0
        step *= shape[d]
    return strides


def _elements(a, ndim):
    """(a 1-D array over a's elements, a's element strides at the last axes of an ndim-axis
    output, 0 along broadcast axes). A view is read in place; one with negative or unaligned
    strides is copied first, as is a read-only one in the simulator (see contiguous)."""
    itemsize = a.dtype.itemsize
    if any(s < 0 or s % itemsize for s in a.strides):
        a = contiguous(a)
    strides = tuple(s // itemsize if n != 1 else 0 for s, n in zip(a.strides, a.shape))
    extent = 1 + sum((n - 1) * s for n, s in zip(a.shape, strides))
    elements = xp.lib.stride_tricks.as_strided(a, (extent,), (itemsize,))
    if not getattr(elements.flags, "writeable", True):
        elements = elements.copy()  # a broadcast's few distinct elements
    return elements, (0,) * (ndim - a.ndim) + strides


def _coalesce(shape, strides):
    """shape and each operand's strides without the size-1 axes, neighbouring axes merged where
    every operand steps through them as through one: fewer axes, fewer divisions per element."""
    merged_shape, merged = [], [[] for _ in strides]
    for d, n in enumerate(shape):
        if n == 1:
            continue
        if merged_shape and all(s[d] * n == m[-1] for s, m in zip(strides, merged)):
            merged_shape[-1] *= n
            for s, m in zip(strides, merged):
                m[-1] = s[d]
        else:
            merged_shape.append(n)
            for s, m in zip(strides, merged):
                m.append(s[d])
    if not merged_shape:
        return (1,), [(0,)] * len(strides)
    return tuple(merged_shape), [tuple(m) for m in merged]


def _apply(kernels, xs, out_dtype):
    """Launch the op's kernel that fits operands xs (device arrays or Python scalars); returns
    the output, of out_dtype and the operands' broadcast shape."""
    common = _result_dtype(*xs)
    if all(_is_scalar(x) for x in xs):  # no op of the engine does this: a copy is fine
        xs = (to_device(np.asarray(xs[0], common)),) + tuple(xs[1:])
    scalars = tuple(_is_scalar(x) for x in xs)
    arrays = [x for x, scalar in zip(xs, scalars) if not scalar]
    out_shape = tuple(np.broadcast_shapes(*(tuple(a.shape) for a in arrays)))
    out = xp.empty(out_shape, out_dtype)
    if out.size == 0:
        return out
    strided = not all(tuple(a.shape) == out_shape and a.flags.c_contiguous for a in arrays)
    if strided:
        views, strides = zip(*(_elements(a, len(out_shape)) for a in arrays))
        shape, strides = _coalesce(out_shape, strides)
    else:  # every array operand has the output's layout: one flat index serves them all
        views, shape = [flat(a) for a in arrays], (out.size,)
        strides = [(1,)] * len(arrays)
    views, strides = iter(views), iter(strides)
    args = []
    for x, scalar in zip(xs, scalars):
        args += [common.type(x), (0,) * len(shape)] if scalar else [next(views), next(strides)]
    launch(kernels[strided, scalars], grid(out.size), out.reshape(-1), shape, common.type(1),
           *args)
    return out


def _result_dtype(*xs):
    return np.result_type(*(x if isinstance(x, numbers.Number) else x.dtype for x in xs))


def _launcher(arity, scalar, dtype_of=_result_dtype):
    """run(*operands): the kernels of `scalar` on arrays or Python scalars."""
    kernels = _variants(arity, cuda.jit(device=True)(scalar))

    def run(*xs):
        return _apply(kernels, xs, dtype_of(*xs))
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
    # exp of -|a| never overflows; p is 1 in a's dtype
    if a >= 0:
        return p / (p + math.exp(-a))
    e = math.exp(a)
    return e / (p + e)


add = _binary(lambda a, b, p: a + b)
sub = _binary(lambda a, b, p: a - b)
mul = _binary(lambda a, b, p: a * b)
div = _binary(lambda a, b, p: a / b, _float_dtype)
pow = _binary(lambda a, b, p: a ** b)
neg = _unary(lambda a, p: -a)


def _ieee(f):
    """The device function of the math function f. On a GPU, CUDA's math library returns nan or
    ±inf outside f's domain (log(0) = -inf, fmod(1, 0) = nan); Python's math, which the simulator
    runs, raises there instead: in the simulator, numpy's function of the same name stands in,
    as the GPU."""
    if not SIMULATED or not hasattr(np, f.__name__):
        return f
    ieee = getattr(np, f.__name__)

    def g(*args):
        with np.errstate(all="ignore"):
            return ieee(*args)
    return g


def _math(f):
    """The scalar function of the math function f (see _ieee)."""
    g = _ieee(f)

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
    return _comparisons[op](a, b)  # in the operands' common dtype, as numpy


def where(condition, a, b):
    return _where(condition, a, b)


# --- unary_op and binary_op ------------------------------------------------------------------
# On a GPU math.floor(float32) is a float32; in the simulator it is Python's int, which has no
# inf or nan, and Python's math raises where the GPU gives nan: the guards below keep both
# agreeing with numpy (they cost a compare on the GPU). p is 1 in the operands' dtype.

@cuda.jit(device=True, inline=True)
def _whole(a):
    """Whether float a has no fractional part to round: inf, nan, or beyond 2**52."""
    return not math.fabs(a) < 4503599627370496.0  # (abs is the kernel of that name)


def _rounding(whole_part):
    # the result has a's sign even when it is zero (floor(-0.0), ceil(-0.5) give -0.0)
    def rounded(a, p):
        return a if _whole(a) else math.copysign(whole_part(a, p), a)
    rounded.__qualname__ = f"_rounding({whole_part.__name__})"  # the kernel's name
    return rounded


@cuda.jit(device=True)
def _floor(a, p):
    return math.floor(a)


@cuda.jit(device=True)
def _ceil(a, p):
    return math.ceil(a)


@cuda.jit(device=True)
def _trunc(a, p):
    return math.floor(a) if a >= 0 else math.ceil(a)  # (numpy's float32 has no __trunc__)


@cuda.jit(device=True)
def _round_half_even(a, p):
    below = math.floor(a)
    twice = (a - below) * (p + p)  # twice the fraction, exactly
    if twice > p or (twice == p and math.fmod(below, p + p) != 0):
        return math.ceil(a)
    return below


_UNARY = {name: _unary(_math(f)) for name, f in (
    ("sin", math.sin), ("cos", math.cos), ("tan", math.tan), ("asin", math.asin),
    ("acos", math.acos), ("atan", math.atan), ("sinh", math.sinh), ("cosh", math.cosh),
    ("asinh", math.asinh), ("acosh", math.acosh), ("atanh", math.atanh), ("log2", math.log2),
    ("log10", math.log10), ("expm1", math.expm1), ("erf", math.erf), ("erfc", math.erfc))}
_UNARY.update({name: _unary(_rounding(f)) for name, f in (
    ("floor", _floor), ("ceil", _ceil), ("trunc", _trunc), ("round", _round_half_even))})
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


# C's fmod, which is nan where b is 0 or a infinite (no nan literal: it would be a float64)
_fmod = _ieee(math.fmod)


def _fmod_float(a, b, p):
    return _fmod(a, b)


def _remainder_float(a, b, p):
    r = _fmod(a, b)
    if r == 0:
        return math.copysign(r, b)  # numpy's zero has b's sign
    return r + b if (r < 0) != (b < 0) else r


def _floor_divide_float(a, b, p):
    """torch's (and numpy's) div_floor: (a - fmod(a, b)) / b, corrected to an integer toward
    -inf, in the operands' dtype (p is 1 in it)."""
    if b == 0:
        return a / b
    r = _fmod(a, b)
    if r != r:  # a infinite or nan, or b nan
        return r
    q = (a - r) / b
    if r != 0 and (b < 0) != (r < 0):
        q -= p
    if q == 0:
        return math.copysign(q, a / b)
    if _whole(q):  # (an infinite quotient)
        return q
    whole = math.floor(q)
    excess = q - whole
    return whole + p if excess + excess > p else whole


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
          "fmod": _binary(_fmod_float),
          "remainder": _binary(_remainder_float),
          "floor_divide": _binary(_floor_divide_float)}
_INT = {"fmod": _binary(_fmod_int),
        "remainder": _binary(lambda a, b, p: a % b if b != 0 else 0),
        "floor_divide": _binary(lambda a, b, p: a // b if b != 0 else 0)}


def binary_op(op, a, b):
    if op in _SHARED:
        return _SHARED[op](a, b)
    return (_FLOAT if _result_dtype(a, b).kind == "f" else _INT)[op](a, b)


# last in the file: the compile check's kernel names carry the line numbers of the kernels above
def accumulate(dst, src):
    # the sum by our add kernel, then copied over dst (a layout copy: no arithmetic)
    xp.copyto(dst, add(dst, src), casting="same_kind")
