"""The catalogue cases of the elementwise family."""
import numpy as np

import kernels.reference as ref

from ...ops import elementwise as ops
from .drawing import Case, away_from_zero, binary, broadcast_pair, unary


def _away_from_steps(d, shape):
    """Values at least 0.1 from every integer and half-integer: the jumps of floor, ceil,
    round and trunc."""
    whole = np.floor(d.uniform(shape, -3.0, 3.0))
    return whole + d.uniform(shape, 0.1, 0.4) + 0.5 * d.booleans(shape)


def _stepped(name):
    return Case(name, getattr(ops, name), getattr(ref, name),
                lambda d: ([_away_from_steps(d, d.shape())], {}))


def _distinct_values(d, *shapes):
    """Arrays of the given shapes whose values are distinct across all of them, at least
    0.004 apart: no ties between maximum's operands or clamp's bounds."""
    sizes = [int(np.prod(s, dtype=np.int64)) for s in shapes]
    values = np.asarray(d.distinct_integers(sum(sizes), -1000, 1000), np.float64) / 250
    pieces = np.split(values, np.cumsum(sizes)[:-1])
    return [p.reshape(s) for p, s in zip(pieces, shapes)]


def _draw_distinct_pair(d):
    return _distinct_values(d, *broadcast_pair(d)), {}


def _draw_both_away_from_zero(d):
    sa, sb = broadcast_pair(d)
    return [away_from_zero(d, sa), away_from_zero(d, sb)], {}


def _draw_division(d):
    """a / b at least 0.1 from an integer: the quotient's jumps (fmod, remainder)."""
    sa, sb = broadcast_pair(d)
    b = away_from_zero(d, sb, 0.5, 2.0)
    shape = np.broadcast_shapes(sa, sb)
    quotient = np.floor(d.uniform(shape, -3.0, 3.0)) + d.uniform(shape, 0.1, 0.9)
    return [quotient * b, b], {}


def _draw_clamp(d):
    # distinct values are multiples of 0.004, the bounds lie halfway between two of them
    (x,) = _distinct_values(d, d.shape())
    bounds = d.choice([(-0.502, 0.498), (None, 0.498), (-0.502, None), (0.498, -0.502)])
    return [x], dict(zip(("min", "max"), bounds))


def _draw_clamp_tensors(d):
    shape = d.shape(1, 3)
    bounds_shape = d.choice([shape, shape[1:], ()])
    return _distinct_values(d, shape, bounds_shape, bounds_shape), {}


def _draw_lerp(d):
    sa, sb = broadcast_pair(d)
    return [d.uniform(sa), d.uniform(sb), d.uniform(d.choice([sa, sb, ()]), -0.5, 1.5)], {}


def _draw_lerp_scalar(d):
    sa, sb = broadcast_pair(d)
    return [d.uniform(sa), d.uniform(sb)], {"weight": d.uniform((), -0.5, 1.5).item()}


CASES = [
    unary("sin", ops.sin, ref.sin, -3.0, 3.0),
    unary("cos", ops.cos, ref.cos, -3.0, 3.0),
    unary("tan", ops.tan, ref.tan, -1.2, 1.2),
    unary("asin", ops.asin, ref.asin, -0.9, 0.9),
    unary("acos", ops.acos, ref.acos, -0.9, 0.9),
    unary("atan", ops.atan, ref.atan, -3.0, 3.0),
    unary("sinh", ops.sinh, ref.sinh),
    unary("cosh", ops.cosh, ref.cosh),
    unary("asinh", ops.asinh, ref.asinh, -3.0, 3.0),
    unary("acosh", ops.acosh, ref.acosh, 1.2, 3.0),
    unary("atanh", ops.atanh, ref.atanh, -0.9, 0.9),
    unary("log2", ops.log2, ref.log2, 0.2, 3.0),
    unary("log10", ops.log10, ref.log10, 0.2, 3.0),
    unary("log1p", ops.log1p, ref.log1p, -0.8, 3.0),
    unary("exp2", ops.exp2, ref.exp2),
    unary("expm1", ops.expm1, ref.expm1),
    unary("rsqrt", ops.rsqrt, ref.rsqrt, 0.2, 3.0),
    unary("reciprocal", ops.reciprocal, ref.reciprocal, kink_free=True),
    unary("square", ops.square, ref.square),
    unary("erf", ops.erf, ref.erf),
    unary("erfc", ops.erfc, ref.erfc),
    *(_stepped(name) for name in ("floor", "ceil", "round", "trunc", "frac")),
    unary("sign", ops.sign, ref.sign, kink_free=True),
    Case("atan2", ops.atan2, ref.atan2, _draw_both_away_from_zero),
    Case("copysign", ops.copysign, ref.copysign, _draw_both_away_from_zero),
    Case("fmod", ops.fmod, ref.fmod, _draw_division),
    Case("remainder", ops.remainder, ref.remainder, _draw_division),
    *(Case(name, getattr(ops, name), getattr(ref, name), _draw_distinct_pair)
      for name in ("maximum", "minimum", "fmax", "fmin")),
    Case("clamp", ops.clamp, ref.clamp, _draw_clamp),
    Case("clamp_tensors", ops.clamp, ref.clamp, _draw_clamp_tensors),
    Case("lerp", ops.lerp, ref.lerp, _draw_lerp),
    Case("lerp_scalar", ops.lerp, ref.lerp, _draw_lerp_scalar),
    binary("logaddexp", ops.logaddexp, ref.logaddexp, -3.0, 3.0, -3.0, 3.0),
]
