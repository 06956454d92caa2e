"""Elementwise arithmetic with numpy broadcasting; the engine sums gradients back to shape."""
import math
import numbers

from .. import backend

from ..autograd import Function
from ._checks import broadcast_shapes, shape_of


class _Binary(Function):
    def forward(self, a, b):
        broadcast_shapes(self.op_name(), shape_of(a), shape_of(b))
        self.save(a, b)
        return getattr(self.kernels, self.op_name())(a, b)


class Add(_Binary):
    def backward(self, gy):
        return gy, gy


class Sub(_Binary):
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


class Pow(_Binary):
    def forward(self, a, b):
        y = super().forward(a, b)
        self.save(a, b, y)
        return y

    def backward(self, gy):
        a, b, y = self.saved
        k, (need_a, need_b) = self.kernels, self.needs_input_grad
        # Python scalars stay Python scalars so that they keep their weak dtype.
        b_minus_1 = b - 1 if isinstance(b, numbers.Number) else k.sub(b, 1)
        log_a = math.log(a) if isinstance(a, numbers.Number) and need_b else None
        ga = k.mul(k.mul(gy, b), k.pow(a, b_minus_1)) if need_a else None
        gb = k.mul(k.mul(gy, y), log_a if log_a is not None else k.log(a)) if need_b else None
        return ga, gb


class Neg(Function):
    def forward(self, x):
        return self.kernels.neg(x)

    def backward(self, gy):
        return (self.kernels.neg(gy),)


class Exp(Function):
    def forward(self, x):
        y = self.kernels.exp(x)
        self.save(y)
        return y

    def backward(self, gy):
        return (self.kernels.mul(gy, self.saved[0]),)


class Log(Function):
    def forward(self, x):
        self.save(x)
        return self.kernels.log(x)

    def backward(self, gy):
        return (self.kernels.div(gy, self.saved[0]),)


class Sqrt(Function):
    def forward(self, x):
        y = self.kernels.sqrt(x)
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
