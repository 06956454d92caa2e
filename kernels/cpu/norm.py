"""Batch normalization over every axis but the channel axis (1), fused forward and backward."""
import numpy as np

from ..geometry import channel_reduction_axes, per_channel

__all__ = ["batch_norm_forward", "batch_norm_backward"]


def batch_norm_forward(x, weight, bias, eps):
    """Normalize with the batch statistics; returns y, the batch mean and biased variance, 1/std."""
    axes = channel_reduction_axes(x.ndim)
    mean = x.mean(axis=axes)
    var = x.var(axis=axes)
    invstd = 1 / np.sqrt(var + eps)
    y = (x - per_channel(mean, x.ndim)) * per_channel(invstd if weight is None else invstd * weight,
                                                         x.ndim)
    if bias is not None:
        y += per_channel(bias, x.ndim)
    return y, mean, var, invstd


def batch_norm_backward(x, gy, mean, invstd, weight):
    """Gradients with respect to x, weight and bias of the training-mode normalization."""
    axes, shape = channel_reduction_axes(x.ndim), x.ndim
    count = x.size // x.shape[1]
    xhat = (x - per_channel(mean, shape)) * per_channel(invstd, shape)
    gbias = gy.sum(axis=axes)
    gweight = (gy * xhat).sum(axis=axes)
    scale = invstd if weight is None else invstd * weight
    # d/dx of w * (x - mean) / std with the batch's mean and std depending on x.
    gx = per_channel(scale, shape) * (gy - per_channel(gbias / count, shape)
                                       - xhat * per_channel(gweight / count, shape))
    return gx, gweight, gbias
