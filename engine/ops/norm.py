"""Batch normalization and dropout."""
from .. import backend

from ..autograd import Function
from ..arguments import number
from ..errors import ArgumentError, ShapeError
from ..random import generator
from ..tensor import Tensor
from ._checks import require_float


class BatchNorm(Function):
    name = "batch_norm"

    def forward(self, x, weight, bias, eps, running, momentum):
        k = self.kernels
        y, mean, var, invstd = k.batch_norm_forward(x, weight, bias, eps)
        self.save(x, mean, invstd, weight)
        self.eps = eps
        count = x.size // x.shape[1]
        for stat, batch in zip(running, (mean, k.mul(var, count / (count - 1)))):
            if stat is not None:  # updated in place, as torch's buffers; variance unbiased
                stat.data = k.add(k.mul(stat.data, 1 - momentum), k.mul(batch, momentum))
        return y

    def backward(self, gy):
        x, mean, invstd, weight = self.saved
        k = self.kernels
        if k.differentiable:  # recording: the statistics again, as functions of x
            _, mean, _, invstd = k.batch_norm_forward(x, None, None, self.eps)
        gx, gw, gb = k.batch_norm_backward(x, gy, mean, invstd, weight)
        need = self.needs_input_grad
        return gx, gw if need[1] else None, gb if need[2] else None, None, None, None


def _per_channel(t, ndim):
    return None if t is None else t.reshape(*((1, -1) + (1,) * (ndim - 2)))


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Normalize each channel (axis 1) of x (N, C) or (N, C, H, W), as torch.

    In training, the batch statistics normalize and the running statistics are updated in
    place with the unbiased variance; in evaluation, the running statistics normalize.
    """
    op = "batch_norm"
    require_float(op, x.dtype)
    if x.ndim < 2:
        raise ShapeError(f"{op}: expected input (N, C, ...), got shape {x.shape}")
    channels = x.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and t.shape != (channels,):
            raise ShapeError(f"{op}: {name} has shape {t.shape}; expected ({channels},) "
                             f"for input {x.shape}")
    if not training:
        if running_mean is None or running_var is None:
            raise ArgumentError(f"{op}: evaluation needs running_mean and running_var")
        scale = (running_var + eps) ** -0.5
        y = (x - _per_channel(running_mean, x.ndim)) * _per_channel(scale, x.ndim)
        y = y if weight is None else y * _per_channel(weight, x.ndim)
        return y if bias is None else y + _per_channel(bias, x.ndim)
    if x.numel() // channels < 2:
        raise ShapeError(f"{op}: training needs more than one value per channel, got input {x.shape}")
    return BatchNorm.apply(x, weight, bias, eps, (running_mean, running_var), momentum)


def dropout(x, p=0.5, training=True):
    """Zero each element with probability p and scale the rest by 1/(1-p) (identity in eval)."""
    p = number("dropout", "dropout probability", p, high=1.0)
    if not training or p == 0:
        return x
    if p == 1:
        return x * 0
    seed = int(generator().integers(2 ** 31))
    mask = backend.table(x.device).dropout_mask(x.shape, p, seed, x.dtype)
    return x * Tensor._from_array(mask, x.device)


__all__ = []  # torch.<name>: none of these (they are torch.nn.functional's)
METHODS = ()
FUNCTIONAL = ()  # F.<name>
