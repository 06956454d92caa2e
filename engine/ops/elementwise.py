"""Elementwise ops with PyTorch's type promotion; the engine sums gradients back to shape.

Every public function first brings its operands to one dtype (`promote`, torch's rules), so the
kernels see operands of that dtype and Python numbers (weak scalars, which take it).
"""
import math
import numbers

import numpy as np

from .. import backend

from ..autograd import Function
from ..errors import ArgumentError, DTypeError
from ..tensor import Tensor
from ._checks import broadcast_shapes, floating, shape_of

# --- type promotion ----------------------------------------------------------------------------

_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2}  # bool < integer < floating
_DEFAULT = {0: np.dtype(np.bool_), 1: np.dtype(np.int64), 2: np.dtype(np.float32)}  # of numbers


def _category(dtype):
    return _CATEGORY[np.dtype(dtype).kind]


def _promote_types(a, b):
    """torch.promote_types: the higher category wins whole (int64 with float32 is float32);
    within a category numpy's rule is torch's (uint8 with int8 is int16)."""
    if _category(a) != _category(b):
        return a if _category(a) > _category(b) else b
    return np.promote_types(a, b)


def result_type(*operands):
    """torch.result_type of Tensors and Python numbers. Dimensioned tensors outrank 0-d ones,
    which outrank numbers; a lower rank counts only with a higher category (bool < integer <
    floating), bringing its own dtype (a 0-d tensor) or the default one (float32 for a float
    number, int64 for an int)."""
    by_rank = {}
    for x in operands:
        if isinstance(x, Tensor):
            rank, dtype = min(x.ndim, 1) + 1, np.dtype(x.dtype)
        else:
            rank = 0
            dtype = _DEFAULT[2 if not isinstance(x, numbers.Integral) else
                             0 if isinstance(x, bool) else 1]
        by_rank[rank] = dtype if rank not in by_rank else _promote_types(by_rank[rank], dtype)
    result = None
    for rank in sorted(by_rank, reverse=True):
        if result is None or _category(by_rank[rank]) > _category(result):
            result = by_rank[rank]
    return result


def _operand(x, device):
    """A Tensor or a Python number: a numpy array becomes a Tensor on `device`, a numpy scalar
    a Python number; None for anything else."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.ndarray) and x.dtype.kind in "biuf":
        return Tensor(x, device=device)
    if isinstance(x, np.generic) and x.dtype.kind in "biuf":
        return x.item()
    if isinstance(x, numbers.Real):
        return x
    return None


def operands(*xs):
    """xs as Tensors and Python numbers (see _operand), or None where one is neither."""
    device = next((x.device for x in xs if isinstance(x, Tensor)), backend.HOST)
    xs = [_operand(x, device) for x in xs]
    return None if any(x is None for x in xs) else xs


def cast(x, dtype):
    """A Tensor in dtype (differentiably); a number as it is (it takes the tensors' dtype)."""
    return x.astype(dtype) if isinstance(x, Tensor) and x.dtype != dtype else x


def _already_promoted(a, b):
    """Whether a and b need no type promotion: Tensors of one floating dtype, or a floating
    Tensor and a Python int or float (a weak scalar, which takes its dtype). The common cases,
    checked before the general rules."""
    if isinstance(a, Tensor):
        if isinstance(b, Tensor):
            return a._data.dtype == b._data.dtype and a._data.dtype.kind == "f"
        return type(b) in (int, float) and a._data.dtype.kind == "f"
    return type(a) in (int, float) and isinstance(b, Tensor) and b._data.dtype.kind == "f"


def promote(op, *xs, to_float=False):
    """The operands (Tensors, numpy arrays and scalars, numbers) cast to their result dtype
    (float32 for an integer one when to_float), with that dtype."""
    if all(isinstance(x, Tensor) and x.dtype == xs[0].dtype for x in xs):  # the common case
        dtype = np.dtype(xs[0].dtype)
        if not to_float or dtype.kind == "f":
            return list(xs), dtype
    converted = operands(*xs)
    if converted is None:
        raise DTypeError(f"{op}: expected tensors or numbers, got "
                         f"{', '.join(type(x).__name__ for x in xs)}")
    dtype = result_type(*converted)
    if to_float and dtype.kind != "f":
        dtype = _DEFAULT[2]
    return [cast(x, dtype) for x in converted], dtype


def _tensor(op, x):
    if not isinstance(x, Tensor):
        converted = operands(x)
        if converted is None or not isinstance(converted[0], Tensor):
            raise DTypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
        x = converted[0]
    return x


def _constant(array, device):
    return Tensor._from_array(array, device)


def _device_of(xs):
    return next(x.device for x in xs if isinstance(x, Tensor))


def _data(x):
    return x.data if isinstance(x, Tensor) else x


# --- the arithmetic Functions --------------------------------------------------------------------


class _Binary(Function):
    saves_inputs = True  # whether backward needs a and b

    def forward(self, a, b):
        shapes = shape_of(a), shape_of(b)
        if shapes[0] != shapes[1]:  # equal shapes: nothing to check, on every op
            broadcast_shapes(self.op_name(), *shapes)
        if self.saves_inputs:
            self.save(a, b)
        return self.compute(a, b)

    def compute(self, a, b):
        return getattr(self.kernels, self.op_name())(a, b)


class Add(_Binary):
    saves_inputs = False

    def backward(self, gy):
        return gy, gy


class Sub(_Binary):
    saves_inputs = False

    def backward(self, gy):
        return gy, self.kernels.neg(gy) if self.needs_input_grad[1] else None


class Mul(_Binary):
    def backward(self, gy):
        a, b = self.saved
        k, (need_a, need_b) = self.kernels, self.needs_input_grad
        return k.mul(gy, b) if need_a else None, k.mul(gy, a) if need_b else None


class Div(_Binary):
    def backward(self, gy):
        a, b = self.saved
        k, (need_a, need_b) = self.kernels, self.needs_input_grad
        ga = k.div(gy, b)
        return ga if need_a else None, k.neg(k.div(k.mul(ga, a), b)) if need_b else None


def _scalar_log(a):
    """log of a Python number as torch's Scalar.log: -inf at 0, nan below."""
    return math.log(a) if a > 0 else (-math.inf if a == 0 else math.nan)


class Pow(_Binary):
    def forward(self, a, b):
        y = super().forward(a, b)
        self.save(a, b, y)
        return y

    def backward(self, gy):
        """torch's pow_backward, pow_backward_self and pow_backward_exponent: d/da = b a^(b-1),
        but 0 where b == 0 (x ** 0 has gradient 0 even at 0); d/db = a^b log(a), but 0 where
        a == 0 and b >= 0; a negative base has no real logarithm, so nan."""
        a, b, y = self.saved
        k, (need_a, need_b) = self.kernels, self.needs_input_grad
        ga = gb = None
        if need_a:
            if isinstance(b, numbers.Number):  # it stays a number: it keeps its weak dtype
                ga = k.zeros(gy.shape, gy.dtype) if b == 0 else \
                    k.mul(k.mul(gy, b), k.pow(a, b - 1))
            else:
                # torch zeroes it wherever b == 0; where a != 0 the formula is 0 there anyway,
                # and keeps its own derivative in b
                zero_to_zero = k.binary_op("logical_and", k.compare("eq", b, 0),
                                           k.compare("eq", a, 0))
                ga = k.where(zero_to_zero, 0, k.mul(k.mul(gy, b), k.pow(a, k.sub(b, 1))))
        if need_b:
            if isinstance(a, numbers.Number):
                gb = k.mul(gy, k.mul(y, _scalar_log(a)))
                if a == 0:
                    gb = k.where(k.compare("ge", b, 0), 0, gb)
            else:
                gb = k.mul(gy, k.where(k.binary_op("logical_and", k.compare("eq", a, 0),
                                                   k.compare("ge", b, 0)),
                                       0, k.mul(y, _log_or_nan(k, a))))
        return ga, gb


def _log_or_nan(k, a):
    """log(a), -inf at 0 and nan below, with the kernel's log only on positive values (on the
    cuda simulator Python's math.log raises below; its derivative there is 0, as torch's)."""
    positive = k.compare("gt", a, 0)
    return k.where(positive, k.log(k.where(positive, a, 1)),
                   k.where(k.compare("eq", a, 0), -math.inf, math.nan))


class Atan2(_Binary):
    def compute(self, a, b):
        return self.kernels.binary_op("atan2", a, b)

    def backward(self, gy):
        a, b = self.saved
        k = self.kernels
        scale = k.div(gy, k.add(k.mul(a, a), k.mul(b, b)))
        return k.mul(scale, b), k.neg(k.mul(scale, a))


class Copysign(_Binary):
    def forward(self, a, b):
        y = super().forward(a, b)
        self.save(a, y)
        return y

    def compute(self, a, b):
        return self.kernels.binary_op("copysign", a, b)

    def backward(self, gy):
        a, y = self.saved  # torch: y / a (the sign flip), 0 where a == 0 (y is 0 there)
        k = self.kernels
        return k.mul(gy, k.div(y, k.where(k.compare("eq", a, 0), 1, a))), None


class Fmod(_Binary):
    def compute(self, a, b):
        return self.kernels.binary_op("fmod", a, b)

    def backward(self, gy):
        a, b = self.saved  # torch: -gy * trunc(a / b) for b
        k = self.kernels
        return gy, k.neg(k.mul(gy, k.unary_op("trunc", k.div(a, b))))


class Remainder(_Binary):
    def compute(self, a, b):
        return self.kernels.binary_op("remainder", a, b)

    def backward(self, gy):
        a, b = self.saved  # torch: -gy * floor(a / b) for b
        k = self.kernels
        return gy, k.neg(k.mul(gy, k.binary_op("floor_divide", a, b)))


class _Extremum(_Binary):
    """maximum/minimum (nan propagates; a tie splits the gradient) and fmax/fmin (nan loses;
    a tie goes to a), with torch's masks: under `wins` a alone takes the gradient, under
    `loses` b alone; under `wins_or_ties` (or a nan b) a takes it, else b."""
    wins = loses = wins_or_ties = None

    def compute(self, a, b):
        return self.kernels.binary_op(self.op_name(), a, b)

    def backward(self, gy):
        a, b = self.saved
        k = self.kernels
        if self.wins_or_ties is None:
            shared = k.where(k.compare("eq", a, b), k.mul(gy, 0.5), gy)
            return (k.where(k.compare(self.loses, a, b), 0, shared),
                    k.where(k.compare(self.wins, a, b), 0, shared))
        a_takes = k.binary_op("logical_or", k.compare(self.wins_or_ties, a, b),
                              k.compare("ne", b, b))
        return k.where(a_takes, gy, 0), k.where(a_takes, 0, gy)


class Maximum(_Extremum):
    wins, loses = "gt", "lt"


class Minimum(_Extremum):
    wins, loses = "lt", "gt"


class Fmax(_Extremum):
    wins_or_ties = "ge"


class Fmin(_Extremum):
    wins_or_ties = "le"


class Logaddexp(_Binary):
    def compute(self, a, b):
        """max(a, b) + log1p(exp(-|a - b|)): nothing overflows; equal infinities give
        themselves (their difference is nan)."""
        k = self.kernels
        m = k.binary_op("maximum", a, b)
        y = k.add(m, k.log1p(k.exp(k.neg(k.abs(k.sub(a, b))))))
        equal_infinities = k.binary_op("logical_and", k.compare("eq", a, b),
                                       k.compare("eq", k.abs(m), math.inf))
        return k.where(equal_infinities, m, y)

    def backward(self, gy):
        a, b = self.saved  # torch: gy / (1 + exp(b - a)), written without overflow
        k = self.kernels
        return k.mul(gy, k.sigmoid(k.sub(a, b))), k.mul(gy, k.sigmoid(k.sub(b, a)))


class RoundedDiv(_Binary):
    """a / b rounded ("trunc" or "floor"), in the operands' dtype; its gradient is 0 as
    torch's."""
    name = "div"
    saves_inputs = False

    def forward(self, a, b, rounding_mode):
        self.rounding_mode = rounding_mode
        return super().forward(a, b)

    def compute(self, a, b):
        k = self.kernels
        if self.rounding_mode == "floor":
            return k.binary_op("floor_divide", a, b)
        if _result_kind(a, b) == "f":
            return k.unary_op("trunc", k.div(a, b))
        # an integer a - fmod(a, b) is an exact multiple of b: flooring its quotient truncates
        return k.binary_op("floor_divide", k.sub(a, k.binary_op("fmod", a, b)), b)

    def backward(self, gy):
        return tuple(self.kernels.zeros(gy.shape, gy.dtype) if need else None
                     for need in self.needs_input_grad)


def _result_kind(*xs):
    return next(x.dtype.kind for x in xs if hasattr(x, "dtype"))


class Clamp(Function):
    def forward(self, x, min, max):
        k = self.kernels
        self.save(x, min, max)
        y = x
        if min is not None:
            y = k.where(k.compare("lt", y, min), min, y)
        if max is not None:
            y = k.where(k.compare("gt", y, max), max, y)
        return k.copy(y) if y is x else y

    def backward(self, gy):
        """torch's clamp_backward_min_max: x passes gy where min <= x <= max; a tensor min takes
        it where x < min (and min < max), a tensor max where x > max (or max < min)."""
        x, lo, hi = self.saved
        k, (_, need_lo, need_hi) = self.kernels, self.needs_input_grad
        inside = [k.compare("ge", x, lo) if lo is not None else None,
                  k.compare("le", x, hi) if hi is not None else None]
        inside = [m for m in inside if m is not None]
        passes = inside[0] if len(inside) == 1 else k.binary_op("logical_and", *inside)
        g_lo = g_hi = None
        if need_lo:
            below = k.compare("lt", x, lo)
            if hi is not None:
                below = k.binary_op("logical_and", below, k.compare("lt", lo, hi))
            g_lo = k.where(below, gy, 0)
        if need_hi:
            above = k.compare("gt", x, hi)
            if lo is not None:
                above = k.binary_op("logical_or", above, k.compare("lt", hi, lo))
            g_hi = k.where(above, gy, 0)
        return k.where(passes, gy, 0), g_lo, g_hi


# --- unary Functions -----------------------------------------------------------------------------


class Neg(Function):
    def forward(self, x):
        return self.kernels.neg(x)

    def backward(self, gy):
        return (self.kernels.neg(gy),)


class Exp(Function):
    def forward(self, x):
        y = self.kernels.exp(floating(self.kernels, x))
        self.save(y)
        return y

    def backward(self, gy):
        return (self.kernels.mul(gy, self.saved[0]),)


class Log(Function):
    def forward(self, x):
        x = floating(self.kernels, x)
        self.save(x)
        return self.kernels.log(x)

    def backward(self, gy):
        return (self.kernels.div(gy, self.saved[0]),)


class Log1p(Function):
    def forward(self, x):
        x = floating(self.kernels, x)
        self.save(x)
        return self.kernels.log1p(x)

    def backward(self, gy):
        return (self.kernels.div(gy, self.kernels.add(self.saved[0], 1)),)


class Sqrt(Function):
    def forward(self, x):
        y = self.kernels.sqrt(floating(self.kernels, x))
        self.save(y)
        return y

    def backward(self, gy):
        return (self.kernels.div(gy, self.kernels.mul(self.saved[0], 2)),)


class Abs(Function):
    def forward(self, x):
        self.save(x)
        return self.kernels.abs(x)

    def backward(self, gy):
        return (self.kernels.mul(gy, self.kernels.sign(self.saved[0])),)


class Cast(Function):
    def forward(self, x, dtype):
        self.source_dtype = x.dtype
        return self.kernels.astype(x, dtype)

    def backward(self, gy):
        return (self.kernels.astype(gy, self.source_dtype),)


class _Math(Function):
    """unary_op(op, x) of a floating x (integers become float32), with dy/dx =
    derivative(kernels, x, y)."""
    op = derivative = None

    def forward(self, x):
        x = floating(self.kernels, x)
        y = self.kernels.unary_op(self.op, x)
        self.save(x, y)
        return y

    def backward(self, gy):
        x, y = self.saved
        return (self.kernels.mul(gy, self.derivative(self.kernels, x, y)),)


def _reciprocal_sqrt(k, v):
    return k.div(1, k.sqrt(v))


_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)
_DERIVATIVES = {  # torch's derivatives.yaml
    "sin": lambda k, x, y: k.unary_op("cos", x),
    "cos": lambda k, x, y: k.neg(k.unary_op("sin", x)),
    "tan": lambda k, x, y: k.add(k.mul(y, y), 1),
    "asin": lambda k, x, y: _reciprocal_sqrt(k, k.sub(1, k.mul(x, x))),
    "acos": lambda k, x, y: k.neg(_reciprocal_sqrt(k, k.sub(1, k.mul(x, x)))),
    "atan": lambda k, x, y: k.div(1, k.add(k.mul(x, x), 1)),
    "sinh": lambda k, x, y: k.unary_op("cosh", x),
    "cosh": lambda k, x, y: k.unary_op("sinh", x),
    "asinh": lambda k, x, y: _reciprocal_sqrt(k, k.add(k.mul(x, x), 1)),
    "acosh": lambda k, x, y: _reciprocal_sqrt(k, k.sub(k.mul(x, x), 1)),
    "atanh": lambda k, x, y: k.div(1, k.sub(1, k.mul(x, x))),
    "log2": lambda k, x, y: k.div(1, k.mul(x, math.log(2))),
    "log10": lambda k, x, y: k.div(1, k.mul(x, math.log(10))),
    "expm1": lambda k, x, y: k.add(y, 1),
    "erf": lambda k, x, y: k.mul(k.exp(k.neg(k.mul(x, x))), _TWO_OVER_SQRT_PI),
    "erfc": lambda k, x, y: k.mul(k.exp(k.neg(k.mul(x, x))), -_TWO_OVER_SQRT_PI),
}
MATH = {op: type(op.capitalize(), (_Math,), {"op": op, "name": op,
                                              "derivative": staticmethod(derivative)})
        for op, derivative in _DERIVATIVES.items()}


class _Stepped(Function):
    """A piecewise-constant op (floor, ceil, round, trunc, sign) in x's dtype: its gradient is
    0, as torch's."""

    op = None

    def forward(self, x, decimals=0):
        k = self.kernels
        if self.op == "sign":
            return k.copy(x) if x.dtype == np.bool_ else k.sign(x)
        if decimals == 0 or x.dtype.kind != "f":
            return k.unary_op(self.op, x)
        # torch's round(decimals=): x scaled by 10 ** decimals, rounded, scaled back
        if decimals > 0:
            return k.div(k.unary_op("round", k.mul(x, 10.0 ** decimals)), 10.0 ** decimals)
        return k.mul(k.unary_op("round", k.div(x, 10.0 ** -decimals)), 10.0 ** -decimals)

    def backward(self, gy):
        return (self.kernels.zeros(gy.shape, gy.dtype),)


STEPPED = {op: type(op.capitalize(), (_Stepped,), {"op": op, "name": op})
           for op in ("floor", "ceil", "round", "trunc", "sign")}


# --- the public functions ------------------------------------------------------------------------


def _binary_function(name, apply, to_float=False):
    def function(input, other):
        if _already_promoted(input, other):
            return apply(input, other)
        xs = operands(input, other)
        if xs is None:
            return NotImplemented
        (a, b), _ = promote(name, *xs, to_float=to_float)
        return apply(a, b)
    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"torch.{name}, with torch's type promotion."
    return function


def _scaled(b, alpha):
    if alpha == 1:
        return b
    return b * alpha if isinstance(b, numbers.Number) else mul(b, alpha)


def add(input, other, *, alpha=1):
    """input + alpha * other, with torch's type promotion."""
    if alpha == 1 and _already_promoted(input, other):
        return Add.apply(input, other)
    xs = operands(input, other)
    if xs is None:
        return NotImplemented
    (a, b), _ = promote("add", *xs)
    return Add.apply(a, _scaled(b, alpha))


def sub(input, other, *, alpha=1):
    """input - alpha * other, with torch's type promotion (two bools refused, as torch)."""
    if alpha == 1 and _already_promoted(input, other):
        return Sub.apply(input, other)
    xs = operands(input, other)
    if xs is None:
        return NotImplemented
    (a, b), dtype = promote("sub", *xs)
    if dtype == np.bool_:
        raise DTypeError("sub: subtraction of two bool operands is not supported; use "
                         "logical_xor or ^ instead")
    return Sub.apply(a, _scaled(b, alpha))


def div(input, other, *, rounding_mode=None):
    """input / other: true division (integers give float32), or rounded toward zero
    ("trunc") or -inf ("floor") in the operands' dtype."""
    if rounding_mode not in (None, "trunc", "floor"):
        raise ArgumentError(f"div: rounding_mode must be None, 'trunc' or 'floor', got "
                            f"{rounding_mode!r}")
    if rounding_mode is None and _already_promoted(input, other):
        return Div.apply(input, other)
    xs = operands(input, other)
    if xs is None:
        return NotImplemented
    if rounding_mode is None:
        (a, b), _ = promote("div", *xs, to_float=True)
        return Div.apply(a, b)
    (a, b), dtype = promote("div", *xs)
    if dtype == np.bool_:
        raise DTypeError(f"div: rounding_mode={rounding_mode!r} does not take bool operands")
    return RoundedDiv.apply(a, b, rounding_mode=rounding_mode)


def true_divide(input, other):
    return div(input, other)


def floor_divide(input, other):
    """input // other rounded toward -inf (torch's floor_divide), in the promoted dtype."""
    return div(input, other, rounding_mode="floor")


mul = _binary_function("mul", Mul.apply)
pow = _binary_function("pow", Pow.apply)
atan2 = _binary_function("atan2", Atan2.apply, to_float=True)
copysign = _binary_function("copysign", Copysign.apply, to_float=True)
maximum, minimum, fmax, fmin = (_binary_function(f.op_name(), f.apply)
                                for f in (Maximum, Minimum, Fmax, Fmin))


def _no_bools(function):
    def checked(input, other):
        xs = operands(input, other)
        if xs is not None and result_type(*xs) == np.bool_:
            raise DTypeError(f"{function.op_name()}: expected integer or floating operands, got "
                             "two bools")
        return _binary_function(function.op_name(), function.apply)(input, other)
    checked.__name__ = function.op_name()
    return checked


fmod, remainder = _no_bools(Fmod), _no_bools(Remainder)


def _unary_function(name, apply):
    def function(input):
        return apply(_tensor(name, input))
    function.__name__ = function.__qualname__ = name
    return function


exp, log, log1p, sqrt, abs = (_unary_function(f.op_name(), f.apply)
                              for f in (Exp, Log, Log1p, Sqrt, Abs))
(sin, cos, tan, asin, acos, atan, sinh, cosh, asinh, acosh, atanh, log2, log10, expm1, erf,
 erfc) = (_unary_function(op, f.apply) for op, f in MATH.items())


def neg(input):
    """-input; a bool tensor is refused, as in torch."""
    x = _tensor("neg", input)
    if x.dtype == np.bool_:
        raise DTypeError("neg: negation of a bool tensor is not supported; use logical_not "
                         "or ~ instead")
    return Neg.apply(x)


def _float(x):
    return x if x.dtype.kind == "f" else x.astype(np.float32)


def exp2(input):
    return pow(2.0, _float(_tensor("exp2", input)))


def reciprocal(input):
    return div(1.0, _tensor("reciprocal", input))


def rsqrt(input):
    return reciprocal(sqrt(input))


def square(input):
    x = _tensor("square", input)
    return mul(x, x)


floor, ceil, trunc, sign = (_unary_function(op, STEPPED[op].apply)
                            for op in ("floor", "ceil", "trunc", "sign"))


def round(input, *, decimals=0):
    """Rounded half to even (as torch and numpy), to `decimals` decimal places."""
    return STEPPED["round"].apply(_tensor("round", input), decimals=decimals)


def frac(input):
    x = _tensor("frac", input)
    return sub(x, trunc(x))


def clamp(input, min=None, max=None):
    """input limited to [min, max] (numbers or tensors, either may be None); where min > max
    the result is max, as torch's."""
    if min is None and max is None:
        raise ArgumentError("clamp: at least one of min and max must be given")
    xs = [v for v in (input, min, max) if v is not None]
    promoted, _ = promote("clamp", *xs)
    x = promoted.pop(0)
    lo = promoted.pop(0) if min is not None else None
    hi = promoted.pop(0) if max is not None else None
    return Clamp.apply(x, lo, hi)


def lerp(input, end, weight):
    """input + weight * (end - input)."""
    return add(input, mul(weight, sub(end, input)))


def logaddexp(input, other):
    """log(exp(input) + exp(other)) without overflow."""
    (a, b), _ = promote("logaddexp", input, other, to_float=True)
    return Logaddexp.apply(a, b)


# --- tests and comparisons: no gradient -----------------------------------------------------------


def _tested(op, *xs, promote_to_float=False):
    """(kernel table, raw operands, device) of promoted operands, outside the graph."""
    converted, _ = promote(op, *xs, to_float=promote_to_float)
    device = backend.common_device(op, [x for x in converted if isinstance(x, Tensor)])
    broadcast_shapes(op, *(shape_of(_data(x)) for x in converted))
    return backend.table(device), [_data(x) for x in converted], device


def compare(op, a, b):
    """a <op> b elementwise as a bool tensor, outside the graph; op is eq, ne, lt, le, gt or
    ge."""
    if operands(a, b) is None:
        return NotImplemented
    k, (a, b), device = _tested(op, a, b)
    return _constant(k.compare(op, a, b), device)


def _comparison(op):
    def function(input, other):
        result = compare(op, input, other)
        if result is NotImplemented:
            raise DTypeError(f"{op}: expected tensors or numbers, got {type(input).__name__} "
                             f"and {type(other).__name__}")
        return result
    function.__name__ = op
    return function


eq, ne, lt, le, gt, ge = (_comparison(op) for op in ("eq", "ne", "lt", "le", "gt", "ge"))


def isnan(input):
    x = _tensor("isnan", input)
    return _constant(backend.table(x.device).compare("ne", x.data, x.data), x.device)


def _infinity_test(op, comparison, otherwise):
    def function(input):
        x = _tensor(op, input)
        k = backend.table(x.device)
        if x.dtype.kind != "f":  # integers are finite
            return _constant(k.compare(otherwise, x.data, x.data), x.device)
        return _constant(k.compare(comparison, k.abs(x.data), math.inf), x.device)
    function.__name__ = op
    return function


isinf = _infinity_test("isinf", "eq", "ne")
isfinite = _infinity_test("isfinite", "lt", "eq")


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """|input - other| <= atol + rtol * |other| (torch's formula), or equal (infinities
    included); nan is close to nan only with equal_nan."""
    k, (a, b), device = _tested("isclose", input, other, promote_to_float=True)
    close = k.compare("eq", a, b)
    if equal_nan:
        close = k.binary_op("logical_or", close, k.binary_op(
            "logical_and", k.compare("ne", a, a), k.compare("ne", b, b)))
    error = k.abs(k.sub(a, b))
    within = k.binary_op("logical_and", k.compare("lt", error, math.inf),
                         k.compare("le", error, k.add(k.abs(k.mul(b, rtol)), atol)))
    return _constant(k.binary_op("logical_or", close, within), device)


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Whether every element is close (see isclose), as a Python bool."""
    close = isclose(input, other, rtol, atol, equal_nan)
    return bool(np.all(backend.table(close.device).to_host(close.data)))


def _bitwise(op):
    def function(input, other):
        xs = operands(input, other)
        if xs is None:
            return NotImplemented
        if result_type(*xs).kind not in "biu":
            raise DTypeError(f"{op}: expected integer or bool operands, got "
                             f"{', '.join(str(getattr(x, 'dtype', type(x).__name__)) for x in xs)}")
        k, (a, b), device = _tested(op, *xs)
        return _constant(k.binary_op(op, a, b), device)
    function.__name__ = op
    return function


bitwise_and, bitwise_or, bitwise_xor = (_bitwise(op) for op in
                                        ("bitwise_and", "bitwise_or", "bitwise_xor"))


def bitwise_not(input):
    x = _tensor("bitwise_not", input)
    if x.dtype.kind not in "biu":
        raise DTypeError(f"bitwise_not: expected an integer or bool tensor, got dtype {x.dtype}")
    return _constant(backend.table(x.device).unary_op("bitwise_not", x.data), x.device)


def _logical(op):
    def function(input, other):
        k, (a, b), device = _tested(op, input, other)
        return _constant(k.binary_op(op, a, b), device)
    function.__name__ = op
    return function


logical_and, logical_or, logical_xor = (_logical(op) for op in
                                        ("logical_and", "logical_or", "logical_xor"))


def logical_not(input):
    x = _tensor("logical_not", input)
    return _constant(backend.table(x.device).unary_op("logical_not", x.data), x.device)


# --- torch's aliases ------------------------------------------------------------------------------
negative, multiply, subtract, divide, clip, fix, absolute = (
    neg, mul, sub, div, clamp, trunc, abs)
arcsin, arccos, arctan, arcsinh, arccosh, arctanh, arctan2 = (
    asin, acos, atan, asinh, acosh, atanh, atan2)


# --- the differentiable twins of the new primitives (see table.py) --------------------------------
_BINARY_FUNCTIONS = {"atan2": Atan2, "copysign": Copysign, "fmod": Fmod, "remainder": Remainder,
                     "maximum": Maximum, "minimum": Minimum, "fmax": Fmax, "fmin": Fmin}


def _unary_op_twin(op, x):
    if op in MATH:
        return MATH[op].apply(x)
    return _constant(backend.table(x.device).unary_op(op, x.data), x.device)  # steps: 0 slope


def _binary_op_twin(op, a, b):
    if op in _BINARY_FUNCTIONS:
        return _BINARY_FUNCTIONS[op].apply(a, b)
    device = _device_of((a, b))
    return _constant(backend.table(device).binary_op(op, _data(a), _data(b)), device)


TWINS = {"unary_op": _unary_op_twin, "binary_op": _binary_op_twin}

_UNARY_NAMES = ["neg", "negative", "exp", "exp2", "expm1", "log", "log1p", "log2", "log10",
                "sqrt", "rsqrt", "abs", "absolute", "reciprocal", "square", "sin", "cos", "tan",
                "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh", "arcsin",
                "arccos", "arctan", "arcsinh", "arccosh", "arctanh", "erf", "erfc", "sign",
                "floor", "ceil", "round", "trunc", "fix", "frac", "isnan", "isinf", "isfinite",
                "bitwise_not", "logical_not"]
_BINARY_NAMES = ["add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide",
                 "floor_divide", "remainder", "fmod", "pow", "atan2", "arctan2", "copysign",
                 "maximum", "minimum", "fmax", "fmin", "logaddexp", "lerp", "clamp", "clip",
                 "eq", "ne", "lt", "le", "gt", "ge", "isclose", "allclose", "bitwise_and",
                 "bitwise_or", "bitwise_xor", "logical_and", "logical_or", "logical_xor"]
__all__ = _UNARY_NAMES + _BINARY_NAMES + ["result_type"]
METHODS = tuple(_UNARY_NAMES + _BINARY_NAMES)
