"""Elementwise kernels with numpy broadcasting: one launch per op, grid-stride loops.

Each op is a scalar device function; a kernel factory wraps it in a loop that turns the
output's flat index into each operand's offset (stride 0 along broadcast axes).
Python scalars keep numpy's weak typing: they take the array operand's dtype.
"""
import math
import numbers

import numpy as np
from numba import cuda

from .device import flat, grid, host, xp

__all__ = ["add", "sub", "mul", "div", "pow", "neg", "exp", "log", "log1p", "sqrt", "abs", "sign",
           "tanh", "sigmoid", "relu", "where", "compare"]


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
    return xp.asarray(np.asarray(x, dtype)) if isinstance(x, numbers.Number) else x


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
    kernel[grid(out.size)](out.reshape(-1), shape, max(1, len(out_shape)), p, *args)
    return out


def _result_dtype(*xs):
    return np.result_type(*(x if isinstance(x, numbers.Number) else x.dtype for x in xs))


def _launcher(arity, scalar, dtype_of=_result_dtype):
    """launch(*operands, p=0.0): the broadcasting kernel of `scalar` on arrays or Python scalars."""
    kernel = _kernel(arity, cuda.jit(device=True)(scalar))

    def launch(*xs, p=0.0):
        dtype = dtype_of(*xs)
        operands = [_operand(x, dtype) for x in xs]
        return map_arrays(kernel, operands, dtype, p)
    return launch


def _unary(scalar, dtype_of=_result_dtype):
    launch = _launcher(1, scalar, dtype_of)

    def op(x):
        return launch(x)
    return op


def _binary(scalar, dtype_of=_result_dtype):
    launch = _launcher(2, scalar, dtype_of)

    def op(a, b):
        return launch(a, b)
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
exp = _unary(lambda a, p: math.exp(a), _float_dtype)
log = _unary(lambda a, p: math.log(a), _float_dtype)
log1p = _unary(lambda a, p: math.log1p(a), _float_dtype)
sqrt = _unary(lambda a, p: math.sqrt(a), _float_dtype)
abs = _unary(lambda a, p: a if a >= 0 else -a)
sign = _unary(lambda a, p: 1 if a > 0 else (-1 if a < 0 else 0))
tanh = _unary(lambda a, p: math.tanh(a), _float_dtype)
sigmoid = _unary(_stable_sigmoid, _float_dtype)
relu = _unary(lambda a, p: a if a > 0 else 0)
_where = _launcher(3, lambda c, a, b, p: a if c else b, lambda c, a, b: _result_dtype(a, b))

_comparisons = {op: _launcher(2, scalar, lambda *xs: np.dtype(np.bool_)) for op, scalar in (
    ("eq", lambda a, b, p: a == b), ("ne", lambda a, b, p: a != b), ("lt", lambda a, b, p: a < b),
    ("le", lambda a, b, p: a <= b), ("gt", lambda a, b, p: a > b), ("ge", lambda a, b, p: a >= b))}


def compare(op, a, b):
    dtype = _result_dtype(a, b)  # compare in the common dtype, as numpy does
    return _comparisons[op](_operand(a, dtype), _operand(b, dtype))


def where(condition, a, b):
    dtype = _result_dtype(a, b)
    return _where(condition, _operand(a, dtype), _operand(b, dtype))
