"""Matrix products: 2-D, batched with broadcasting, and the vector cases, as numpy.matmul."""
import numpy as np

from ..autograd import Function
from ..errors import ShapeError
from ._checks import broadcast_shapes


def _swap_last(k, x):
    axes = tuple(range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2)
    return k.transpose(x, axes)


class MatMul(Function):
    backward_cost = 2

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ShapeError(f"matmul: both operands need at least one dimension, "
                             f"got shapes {tuple(a.shape)} and {tuple(b.shape)}")
        inner_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
        if a.shape[-1] != inner_b:
            raise ShapeError(f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} do not align "
                             f"({a.shape[-1]} != {inner_b})")
        broadcast_shapes(self.op_name(), tuple(a.shape[:-2]), tuple(b.shape[:-2]))
        self.save(a, b)
        y = self.kernel("matmul")(a, b)
        self.flops = 2.0 * a.shape[-1] * max(1, int(np.prod(y.shape)))
        return y

    def backward(self, gy):
        a, b = self.saved
        k, (need_a, need_b) = self.kernels, self.needs_input_grad
        matmul = self.kernel("matmul", self.variant)
        # Vectors become matrices (a: a row, b: a column) and gy gains the dropped axis.
        a2 = k.reshape(a, (1, -1)) if a.ndim == 1 else a
        b2 = k.reshape(b, (-1, 1)) if b.ndim == 1 else b
        gy2 = gy
        if a.ndim == 1:
            gy2 = k.reshape(gy2, gy2.shape[:-1] + (1,) + gy2.shape[-1:])
        if b.ndim == 1:
            gy2 = k.reshape(gy2, gy2.shape + (1,))
        ga = gb = None
        if need_a:
            ga = matmul(gy2, _swap_last(k, b2))
            ga = k.reshape(k.sum_to_shape(ga, a2.shape), a.shape)
        if need_b:
            if b2.ndim == 2 and a2.ndim > 2:
                # One GEMM over the flattened batch instead of a batch of GEMMs and a sum.
                gb = matmul(_swap_last(k, k.reshape(a2, (-1, a2.shape[-1]))),
                            k.reshape(gy2, (-1, gy2.shape[-1])))
            else:
                gb = matmul(_swap_last(k, a2), gy2)
            gb = k.reshape(k.sum_to_shape(gb, b2.shape), b.shape)
        return ga, gb


matmul = MatMul.apply


class Linear(Function):
    """x @ w.T + b as one node: the weight gradient comes out in w's own (out, in) layout."""

    backward_cost = 2

    def forward(self, x, w, b):
        self.save(x, w)
        y = self.kernel("matmul")(x, self.kernels.transpose(w, (1, 0)))
        self.flops = 2.0 * w.shape[1] * int(np.prod(y.shape))
        return y if b is None else self.kernels.add(y, b)

    def backward(self, gy):
        x, w = self.saved
        k, (need_x, need_w, need_b) = self.kernels, self.needs_input_grad
        gy2 = k.reshape(gy, (-1, gy.shape[-1]))
        matmul = self.kernel("matmul", self.variant)
        gx = matmul(gy, w) if need_x else None
        gw = matmul(k.transpose(gy2, (1, 0)), k.reshape(x, (-1, x.shape[-1]))) if need_w else None
        gb = k.sum(gy2, (0,), False) if need_b else None
        return gx, gw, gb


def linear(x, weight, bias=None):
    """x @ weight.T + bias, with weight of shape (out_features, in_features), as torch."""
    if weight.ndim != 2 or x.ndim < 1 or x.shape[-1] != weight.shape[1]:
        raise ShapeError(f"linear: input of shape {x.shape} and weight of shape {weight.shape} "
                         f"do not fit; expected input (..., in_features) and weight "
                         f"(out_features, in_features)")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ShapeError(f"linear: bias has shape {bias.shape}; expected ({weight.shape[0]},)")
    return Linear.apply(x, weight, bias)


__all__ = ["matmul"]
METHODS = ("matmul",)
