"""Fused, numerically stable softmax and losses (the class axis is an argument)."""
import numpy as np

from .elementwise import sigmoid

__all__ = ["softmax", "softmax_backward", "log_softmax", "log_softmax_backward",
           "cross_entropy", "cross_entropy_backward", "bce_with_logits", "bce_with_logits_backward",
           "dropout_mask"]


def softmax(x, axis):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def softmax_backward(y, gy, axis):
    return y * (gy - np.sum(gy * y, axis=axis, keepdims=True))


def log_softmax(x, axis):
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def log_softmax_backward(y, gy, axis):
    return gy - np.exp(y) * np.sum(gy, axis=axis, keepdims=True)


def cross_entropy(logits, target):
    """Per-sample loss -log softmax(logits)[target] over axis 1, and the log-probabilities."""
    logp = log_softmax(logits, 1)
    loss = -np.take_along_axis(logp, np.expand_dims(target, 1), axis=1).squeeze(1)
    return loss, logp


def cross_entropy_backward(logp, target, gy):
    """d loss / d logits = (softmax - onehot(target)) * gy, broadcast over the class axis."""
    g = np.exp(logp)
    np.put_along_axis(g, np.expand_dims(target, 1),
                      np.take_along_axis(g, np.expand_dims(target, 1), axis=1) - 1, axis=1)
    return g * np.expand_dims(gy, 1)


def bce_with_logits(x, t):
    # max(x, 0) - x t + log(1 + e^-|x|) never overflows.
    return np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x)))


def bce_with_logits_backward(x, t, gy):
    """Gradients with respect to the logits and the targets."""
    return (sigmoid(x) - t) * gy, -x * gy


def dropout_mask(shape, p, seed, dtype):
    """1/(1-p) where the element's counter-based uniform number is >= p, else 0."""
    from ..random_bits import MASK, lowbias32
    counters = np.arange(int(np.prod(shape)), dtype=np.int64)
    uniform = lowbias32((counters + lowbias32(seed)) & MASK) / 2.0 ** 32
    return ((uniform >= p) / (1 - p)).astype(dtype).reshape(shape)
