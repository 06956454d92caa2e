"""The references of the elementwise family: the math module's scalar functions, in float64."""
import builtins
import math

from .core import scalar_map


def _unary(f):
    return lambda x: scalar_map(f, x)


def _binary(f):
    return lambda a, b: scalar_map(f, a, b)


sin, cos, tan, asin, acos, atan, sinh, cosh, asinh, acosh, atanh, log2, log10, log1p, expm1, \
    erf, erfc, floor, ceil, trunc = (_unary(f) for f in (
        math.sin, math.cos, math.tan, math.asin, math.acos, math.atan, math.sinh, math.cosh,
        math.asinh, math.acosh, math.atanh, math.log2, math.log10, math.log1p, math.expm1,
        math.erf, math.erfc, math.floor, math.ceil, math.trunc))
exp2 = _unary(lambda u: 2.0 ** u)
rsqrt = _unary(lambda u: 1 / math.sqrt(u))
reciprocal = _unary(lambda u: 1 / u)
square = _unary(lambda u: u * u)
round = _unary(lambda u: float(builtins.round(u)))  # Python's round halves to even
sign = _unary(lambda u: (u > 0) - (u < 0))
frac = _unary(lambda u: u - math.trunc(u))
atan2 = _binary(math.atan2)
copysign = _binary(math.copysign)
fmod = _binary(math.fmod)
remainder = _binary(lambda u, v: u - v * math.floor(u / v))
maximum = fmax = _binary(lambda u, v: u if u > v else v)
minimum = fmin = _binary(lambda u, v: u if u < v else v)
logaddexp = _binary(lambda u, v: math.log(math.exp(u) + math.exp(v)))


def clamp(x, min=None, max=None):
    def one(u, lo, hi):
        u = lo if u < lo else u
        return hi if u > hi else u
    lo = -math.inf if min is None else min
    hi = math.inf if max is None else max
    return scalar_map(one, x, lo, hi)


def lerp(start, end, weight):
    return scalar_map(lambda s, e, w: s + w * (e - s), start, end, weight)
