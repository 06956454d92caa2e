"""Fused, numerically stable softmax, log-softmax and cross-entropy (one thread per row), which
override the composites of kernels/composite.py as the variant "fused"; dropout masks."""
import math

from numba import cuda

from ..random_bits import MASK, lowbias32
from .device import contiguous, grid, launch, xp
from .elementwise import exp

__all__ = ["dropout_mask"]


@cuda.jit
def _log_softmax_rows(x, out):
    r = cuda.grid(1)
    while r < x.shape[0]:
        top = x[r, 0]
        for j in range(1, x.shape[1]):
            top = max(top, x[r, j])
        total = 0.0
        for j in range(x.shape[1]):
            total += math.exp(x[r, j] - top)
        shift = top + math.log(total)
        for j in range(x.shape[1]):
            out[r, j] = x[r, j] - shift
        r += cuda.gridsize(1)


@cuda.jit
def _softmax_backward_rows(y, gy, out, from_log):
    """softmax: y (gy - sum(gy y)); log-softmax: gy - exp(y) sum(gy)."""
    r = cuda.grid(1)
    while r < y.shape[0]:
        total = 0.0
        for j in range(y.shape[1]):
            total += gy[r, j] if from_log else gy[r, j] * y[r, j]
        for j in range(y.shape[1]):
            if from_log:
                out[r, j] = gy[r, j] - math.exp(y[r, j]) * total
            else:
                out[r, j] = y[r, j] * (gy[r, j] - total)
        r += cuda.gridsize(1)


def _last(x, axis):
    """x with `axis` moved last, as a contiguous (rows, n) matrix, and how to move it back."""
    moved = contiguous(xp.moveaxis(x, axis, -1))
    shape = moved.shape

    def back(matrix):
        return contiguous(xp.moveaxis(matrix.reshape(shape), -1, axis))
    return moved.reshape(-1, shape[-1]), back


def log_softmax(x, axis):
    rows, back = _last(x, axis)
    out = xp.empty_like(rows)
    launch(_log_softmax_rows, grid(rows.shape[0]), rows, out)
    return back(out)


def softmax(x, axis):
    return exp(log_softmax(x, axis))


def _backward(y, gy, axis, from_log):
    rows, back = _last(y, axis)
    grads, _ = _last(gy, axis)
    out = xp.empty_like(rows)
    launch(_softmax_backward_rows, grid(rows.shape[0]), rows, grads, out, from_log)
    return back(out)


def softmax_backward(y, gy, axis):
    return _backward(y, gy, axis, False)


def log_softmax_backward(y, gy, axis):
    return _backward(y, gy, axis, True)


@cuda.jit
def _pick(logp, target, out):
    r = cuda.grid(1)
    while r < logp.shape[0]:
        out[r] = -logp[r, target[r]]
        r += cuda.gridsize(1)


@cuda.jit
def _cross_entropy_grad(logp, target, gy, out):
    r = cuda.grid(1)
    while r < logp.shape[0]:
        for j in range(logp.shape[1]):
            p = math.exp(logp[r, j])
            out[r, j] = (p - 1 if j == target[r] else p) * gy[r]
        r += cuda.gridsize(1)


def cross_entropy(logits, target):
    """Per-sample -log softmax(logits)[target] over axis 1, and the log-probabilities."""
    logp = log_softmax(logits, 1)
    rows, _ = _last(logp, 1)
    loss = xp.empty(rows.shape[0], logits.dtype)
    launch(_pick, grid(rows.shape[0]), rows, contiguous(target).reshape(-1), loss)
    return loss.reshape(target.shape), logp


def cross_entropy_backward(logp, target, gy):
    rows, back = _last(logp, 1)
    out = xp.empty_like(rows)
    launch(_cross_entropy_grad, grid(rows.shape[0]), rows, contiguous(target).reshape(-1),
           contiguous(gy).reshape(-1).astype(logp.dtype),
           out)
    return back(out)


_lowbias32 = cuda.jit(device=True)(lowbias32)  # the very hash the cpu backend runs in numpy


@cuda.jit
def _dropout_mask(out, p, offset, scale):
    i = cuda.grid(1)
    while i < out.size:
        uniform = _lowbias32((i + offset) & MASK) / 4294967296.0
        out[i] = scale if uniform >= p else 0.0
        i += cuda.gridsize(1)


def dropout_mask(shape, p, seed, dtype):
    """1/(1-p) where the element's counter-based uniform number is >= p (see random_bits)."""
    out = xp.empty(shape, dtype)
    if out.size:
        launch(_dropout_mask, grid(out.size), out.reshape(-1), p, lowbias32(seed), 1.0 / (1 - p))
    return out
