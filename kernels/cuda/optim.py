"""Fused optimizer updates: one elementwise kernel over parameter, gradient and state, in place.
They override the composites of kernels/composite.py as the variant "fused"."""
import math

from numba import cuda

from .device import flat, grid, launch, xp

@cuda.jit
def _sgd(p, g, buffer, first, lr, momentum, dampening, weight_decay, nesterov):
    i = cuda.grid(1)
    while i < p.size:
        d = g[i] + weight_decay * p[i]
        step = d
        if momentum != 0:
            b = d if first else momentum * buffer[i] + (1 - dampening) * d
            buffer[i] = b
            step = d + momentum * b if nesterov else b
        p[i] -= lr * step
        i += cuda.gridsize(1)


@cuda.jit
def _adam(p, g, m, v, step_size, root_correction, beta1, beta2, eps, weight_decay):
    i = cuda.grid(1)
    while i < p.size:
        d = g[i] + weight_decay * p[i]
        m[i] = beta1 * m[i] + (1 - beta1) * d
        v[i] = beta2 * v[i] + (1 - beta2) * d * d
        p[i] -= step_size * m[i] / (math.sqrt(v[i]) / root_correction + eps)
        i += cuda.gridsize(1)


def sgd_step(p, g, buffer, lr, momentum, dampening, weight_decay, nesterov):
    first = buffer is None
    if first:
        buffer = xp.empty_like(p) if momentum else p
    launch(_sgd, grid(p.size), p.reshape(-1), flat(g.astype(p.dtype, copy=False)),
           buffer.reshape(-1), first, lr, momentum, dampening, weight_decay, nesterov)
    return buffer if momentum else None


def adam_step(p, g, exp_avg, exp_avg_sq, step, lr, beta1, beta2, eps, weight_decay):
    if exp_avg is None:
        exp_avg, exp_avg_sq = xp.zeros_like(p), xp.zeros_like(p)
    launch(_adam, grid(p.size), p.reshape(-1), flat(g.astype(p.dtype, copy=False)),
           exp_avg.reshape(-1), exp_avg_sq.reshape(-1), lr / (1 - beta1 ** step),
           math.sqrt(1 - beta2 ** step), beta1, beta2, eps, weight_decay)
    return exp_avg, exp_avg_sq
