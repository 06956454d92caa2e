"""Fused optimizer updates in C++: one pass over parameter, gradient and state, in place. They
override the composites of kernels/composite.py as the variant "fused"."""
import numpy as np

from . import _cpp


def sgd_step(p, g, buffer, lr, momentum, dampening, weight_decay, nesterov):
    """torch.optim.SGD's update of p in place; returns the momentum buffer (None without)."""
    first = buffer is None
    if first:
        buffer = np.empty_like(p) if momentum else p  # without momentum the buffer is unused
    _cpp.sgd_update(p, np.ascontiguousarray(g, dtype=p.dtype), buffer, first, lr, momentum, dampening,
                    weight_decay, nesterov)
    return buffer if momentum else None


def adam_step(p, g, exp_avg, exp_avg_sq, step, lr, beta1, beta2, eps, weight_decay):
    """torch.optim.Adam's update of p in place (step counts from 1); returns the two moments."""
    if exp_avg is None:
        exp_avg, exp_avg_sq = np.zeros_like(p), np.zeros_like(p)
    _cpp.adam_update(p, np.ascontiguousarray(g, dtype=p.dtype), exp_avg, exp_avg_sq, step, lr,
                     beta1, beta2, eps, weight_decay)
    return exp_avg, exp_avg_sq
