"""Fused optimizer updates in C++: one pass over parameter, gradient and state, in place. They
override the composites of kernels/composite.py as the variant "fused"."""
import numpy as np

from . import _cpp


def sgd_step(p, g, buffer, lr, momentum, dampening, weight_decay, nesterov):
    """torch.optim.SGD's update of p in place; returns the momentum buffer (None without)."""
    work = np.ascontiguousarray(p)  # a transposed or sliced parameter goes through a copy
    first = buffer is None
    if first:
        buffer = np.empty(p.shape, p.dtype) if momentum else work  # unused without momentum
    _cpp.sgd_update(work, np.ascontiguousarray(g, dtype=p.dtype), buffer, first, lr, momentum,
                    dampening, weight_decay, nesterov)
    if work is not p:
        p[...] = work
    return buffer if momentum else None


def adam_step(p, g, exp_avg, exp_avg_sq, step, lr, beta1, beta2, eps, weight_decay):
    """torch.optim.Adam's update of p in place (step counts from 1); returns the two moments."""
    work = np.ascontiguousarray(p)  # a transposed or sliced parameter goes through a copy
    if exp_avg is None:
        exp_avg, exp_avg_sq = np.zeros(p.shape, p.dtype), np.zeros(p.shape, p.dtype)
    _cpp.adam_update(work, np.ascontiguousarray(g, dtype=p.dtype), exp_avg, exp_avg_sq, step, lr,
                     beta1, beta2, eps, weight_decay)
    if work is not p:
        p[...] = work
    return exp_avg, exp_avg_sq
