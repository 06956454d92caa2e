"""Fused optimizer updates: one elementwise kernel over parameter, gradient and state, in place.
They override the composites of kernels/composite.py as the variant "fused".

The hyperparameters reach the kernels as scalars of the parameter's dtype, with the constants
derived from them (1 - dampening, 1 - beta1, ...) computed on the host, and the tests of them
(momentum != 0, ...) as flags: a float32 parameter is updated in float32 on the GPU, as the
composites update it on the cpu, without a float64 literal or argument promoting its maths."""
import math

from numba import cuda

from .device import flat, grid, launch, xp


@cuda.jit
def _sgd(p, g, buffer, first, lr, momentum, keep, weight_decay, decay, use_momentum, nesterov):
    """keep = 1 - dampening; decay and use_momentum: weight_decay and momentum are not 0."""
    i = cuda.grid(1)
    while i < p.size:
        d = g[i]
        if decay:
            d += weight_decay * p[i]
        step = d
        if use_momentum:
            b = d if first else momentum * buffer[i] + keep * d
            buffer[i] = b
            step = d + momentum * b if nesterov else b
        p[i] -= lr * step
        i += cuda.gridsize(1)


@cuda.jit
def _adam(p, g, m, v, step_size, root_correction, beta1, keep1, beta2, keep2, eps, weight_decay,
          decay):
    """keep1, keep2 = 1 - beta1, 1 - beta2; decay: weight_decay is not 0."""
    i = cuda.grid(1)
    while i < p.size:
        d = g[i]
        if decay:
            d += weight_decay * p[i]
        first = beta1 * m[i] + keep1 * d
        second = beta2 * v[i] + keep2 * (d * d)
        m[i], v[i] = first, second
        p[i] -= first / (math.sqrt(second) / root_correction + eps) * step_size
        i += cuda.gridsize(1)


def sgd_step(p, g, buffer, lr, momentum, dampening, weight_decay, nesterov):
    first = buffer is None
    if first:
        # without momentum the kernel never reads a buffer: an empty one, not p itself (the
        # simulator copies each argument back after a launch, and a stale p would win)
        buffer = xp.empty_like(p) if momentum else xp.empty(0, p.dtype)
    typed = p.dtype.type
    launch(_sgd, grid(p.size), p.reshape(-1), flat(g.astype(p.dtype, copy=False)),
           buffer.reshape(-1), first, typed(lr), typed(momentum), typed(1 - dampening),
           typed(weight_decay), bool(weight_decay), bool(momentum), bool(nesterov))
    return buffer if momentum else None


def adam_step(p, g, exp_avg, exp_avg_sq, step, lr, beta1, beta2, eps, weight_decay):
    if exp_avg is None:
        exp_avg, exp_avg_sq = xp.zeros_like(p), xp.zeros_like(p)
    typed = p.dtype.type
    launch(_adam, grid(p.size), p.reshape(-1), flat(g.astype(p.dtype, copy=False)),
           exp_avg.reshape(-1), exp_avg_sq.reshape(-1), typed(lr / (1 - beta1 ** step)),
           typed(math.sqrt(1 - beta2 ** step)), typed(beta1), typed(1 - beta1), typed(beta2),
           typed(1 - beta2), typed(eps), typed(weight_decay), bool(weight_decay))
    return exp_avg, exp_avg_sq
