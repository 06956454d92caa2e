"""Elementwise arithmetic with numpy broadcasting; the engine sums gradients back to shape."""
import math
import numbers

from .. import backend

from ..autograd import Function
from ._checks import broadcast_shapes, floating, shape_of


class _Binary(Function):
    saves_inputs = True  # whether backward needs a and b

    def forward(self, a, b):
        broadcast_shapes(self.op_name(), shape_of(a), shape_of(b))
        if self.saves_inputs:
            self.save(a, b)
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
    def forward(self, a, b):
        k = self.kernels
        return super().forward(*(x if isinstance(x, numbers.Number) else floating(k, x)
                                 for x in (a, b)))

    def backward(self, gy):
        a, b = self.saved
        k, (need_a, need_b) = self.kernels, self.needs_input_grad
        ga = k.div(gy, b)
        return ga if need_a else None, k.neg(k.div(k.mul(ga, a), b)) if need_b else None


class Pow(_Binary):
    def forward(self, a, b):
        y = super().forward(a, b)
        self.save(a, b, y)
        return y

    def backward(self, gy):
        """As torch: d/da = b a^(b-1), but 0 where b == 0 (so x ** 0 has gradient 0 even at 0);
        d/db = a^b log(a), but 0 where a == 0 and b >= 0 (no 0 * -inf). A negative base has
        no real logarithm: its exponent gradient is nan, as in torch."""
        a, b, y = self.saved
        k, (need_a, need_b) = self.kernels, self.needs_input_grad
        ga = gb = None
        if need_a:
            # Python scalars stay Python scalars so that they keep their weak dtype.
            b_minus_1 = b - 1 if isinstance(b, numbers.Number) else k.sub(b, 1)
            ga = k.mul(k.mul(gy, b), k.pow(a, b_minus_1))
            if not isinstance(b, numbers.Number):  # only 0 ** 0 needs it (0 * inf): elsewhere
                # the formula is already 0 and keeps its own derivative
                ga = k.where(k.compare("eq", b, 0), k.where(k.compare("eq", a, 0), 0, ga), ga)
            elif b == 0:
                ga = k.zeros(ga.shape, ga.dtype)
        if need_b:
            if isinstance(a, numbers.Number):
                log_a = math.log(a) if a > 0 else (-math.inf if a == 0 else math.nan)
                gb = k.mul(k.mul(gy, y), log_a)
                if a == 0:
                    gb = k.where(k.compare("ge", b, 0), 0, gb)
            else:
                gb = k.mul(k.mul(gy, y), k.log(a))
                gb = k.where(k.compare("eq", a, 0), k.where(k.compare("ge", b, 0), 0, gb), gb)
        return ga, gb


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


def _is_operand(x):
    from ..tensor import Tensor
    return isinstance(x, (Tensor, numbers.Number))


def _binary(function):
    def op(a, b):
        if not (_is_operand(a) and _is_operand(b)):
            return NotImplemented
        return function.apply(a, b)
    op.__name__ = function.op_name()
    return op


add, sub, mul, div, pow = (_binary(f) for f in (Add, Sub, Mul, Div, Pow))
neg, exp, log, sqrt, abs = (f.apply for f in (Neg, Exp, Log, Sqrt, Abs))


def compare(op, a, b):
    """a <op> b elementwise as a bool tensor, outside the graph."""
    from ..tensor import Tensor
    if not (_is_operand(a) and _is_operand(b)):
        return NotImplemented
    device = backend.common_device(op, [x for x in (a, b) if isinstance(x, Tensor)])
    raw = [x.data if isinstance(x, Tensor) else x for x in (a, b)]
    broadcast_shapes(op, *map(shape_of, raw))
    return Tensor._from_array(backend.table(device).compare(op, *raw), device)


__all__ = ["add", "sub", "mul", "div", "pow", "neg", "exp", "log", "sqrt", "abs"]
METHODS = ("add", "sub", "mul", "div", "pow", "neg", "exp", "log", "sqrt", "abs")
