"""Batch normalization over every axis but the channel axis (1), from our reduction and
elementwise kernels."""
from ..geometry import channel_reduction_axes, per_channel
from .elementwise import add, mul, sqrt, sub, div
from .reduce import sum

__all__ = ["batch_norm_forward", "batch_norm_backward"]


def batch_norm_forward(x, weight, bias, eps):
    axes, count = channel_reduction_axes(x.ndim), x.size // x.shape[1]
    mean = div(sum(x, axes, False), count)
    centered = sub(x, per_channel(mean, x.ndim))
    var = div(sum(mul(centered, centered), axes, False), count)
    invstd = div(1.0, sqrt(add(var, eps)))
    scale = invstd if weight is None else mul(invstd, weight)
    y = mul(centered, per_channel(scale, x.ndim))
    if bias is not None:
        y = add(y, per_channel(bias, x.ndim))
    return y, mean, var, invstd


def batch_norm_backward(x, gy, mean, invstd, weight):
    axes, ndim, count = channel_reduction_axes(x.ndim), x.ndim, x.size // x.shape[1]
    xhat = mul(sub(x, per_channel(mean, ndim)), per_channel(invstd, ndim))
    gbias = sum(gy, axes, False)
    gweight = sum(mul(gy, xhat), axes, False)
    scale = invstd if weight is None else mul(invstd, weight)
    inner = sub(sub(gy, per_channel(div(gbias, count), ndim)),
                mul(xhat, per_channel(div(gweight, count), ndim)))
    return mul(per_channel(scale, ndim), inner), gweight, gbias
