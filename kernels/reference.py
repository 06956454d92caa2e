"""Naive, obviously correct versions of the kernels: the oracle every backend is tested against.

Speed is no concern here. Each function loops over elements (or applies the scalar formula
from the math module) so that its correctness can be read off the code. All work in float64
and return the input's dtype where the kernel would.
"""
import itertools
import math

import numpy as np


def _scalar_map(fn, *arrays):
    """Apply a scalar function elementwise with numpy broadcasting, in float64."""
    arrays = np.broadcast_arrays(*(np.asarray(a, np.float64) for a in arrays))
    out = np.empty(arrays[0].shape)
    for index in np.ndindex(out.shape):
        out[index] = fn(*(float(a[index]) for a in arrays))
    return out


def add(a, b): return _scalar_map(lambda u, v: u + v, a, b)
def sub(a, b): return _scalar_map(lambda u, v: u - v, a, b)
def mul(a, b): return _scalar_map(lambda u, v: u * v, a, b)
def div(a, b): return _scalar_map(lambda u, v: u / v, a, b)
def pow(a, b): return _scalar_map(lambda u, v: u ** v, a, b)
def neg(x): return _scalar_map(lambda u: -u, x)
def exp(x): return _scalar_map(math.exp, x)
def log(x): return _scalar_map(math.log, x)
def sqrt(x): return _scalar_map(math.sqrt, x)
def abs(x): return _scalar_map(math.fabs, x)
def tanh(x): return _scalar_map(math.tanh, x)
def relu(x): return _scalar_map(lambda u: u if u > 0 else 0.0, x)
def leaky_relu(x, slope): return _scalar_map(lambda u: u if u > 0 else slope * u, x)


def _sigmoid(u):
    if u >= 0:
        return 1 / (1 + math.exp(-u))
    return math.exp(u) / (1 + math.exp(u))


def sigmoid(x): return _scalar_map(_sigmoid, x)


def _reduce(x, axis, keepdims, start, combine):
    """Fold every element into its output cell, for axis None, an int or a tuple."""
    x = np.asarray(x, np.float64)
    axes = range(x.ndim) if axis is None else [a % x.ndim for a in np.atleast_1d(axis)]
    kept = tuple(1 if i in axes else n for i, n in enumerate(x.shape))
    out = np.full(kept, start)
    for index in np.ndindex(x.shape):
        cell = tuple(0 if i in axes else j for i, j in enumerate(index))
        out[cell] = combine(out[cell], x[index])
    return out if keepdims else out.reshape([n for i, n in enumerate(x.shape) if i not in axes])


def sum(x, axis=None, keepdims=False):
    return _reduce(x, axis, keepdims, 0.0, lambda acc, v: acc + v)


def max(x, axis=None, keepdims=False):
    return _reduce(x, axis, keepdims, -math.inf, lambda acc, v: v if v > acc else acc)


def mean(x, axis=None, keepdims=False):
    total = sum(x, axis, keepdims)
    return total * total.size / np.asarray(x).size


def matmul(a, b):
    """numpy.matmul by the textbook triple loop over every broadcast batch."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
    a2 = np.broadcast_to(a2, batch + a2.shape[-2:])
    b2 = np.broadcast_to(b2, batch + b2.shape[-2:])
    n, k, m = a2.shape[-2], a2.shape[-1], b2.shape[-1]
    out = np.zeros(batch + (n, m))
    for index in np.ndindex(batch):
        for i, j in itertools.product(range(n), range(m)):
            out[index + (i, j)] = math.fsum(a2[index + (i, p)] * b2[index + (p, j)] for p in range(k))
    if a.ndim == 1:
        out = out[..., 0, :]
    if b.ndim == 1:
        out = out[..., 0]
    return out


def _rows(x, axis):
    """x with `axis` moved last, and a function that moves it back."""
    moved = np.moveaxis(np.asarray(x, np.float64), axis, -1)
    return moved, lambda y: np.moveaxis(y, -1, axis)


def log_softmax(x, axis):
    moved, back = _rows(x, axis)
    out = np.empty(moved.shape)
    for index in np.ndindex(moved.shape[:-1]):
        row = moved[index]
        top = row.max()
        log_total = top + math.log(math.fsum(math.exp(v - top) for v in row))
        out[index] = row - log_total
    return back(out)


def softmax(x, axis):
    return np.exp(log_softmax(x, axis))


def cross_entropy(logits, target, reduction="mean"):
    """-log softmax(logits)[target] for logits (N, C, ...) and integer target (N, ...)."""
    logp = log_softmax(logits, 1)
    loss = np.empty(np.asarray(target).shape)
    for index in np.ndindex(loss.shape):
        loss[index] = -logp[(index[0], int(target[index])) + index[1:]]
    return _reduction(loss, reduction)


def _bce(u, t):
    # -(t log s(u) + (1 - t) log(1 - s(u))), written so that exp never overflows.
    if u >= 0:
        return (1 - t) * u + math.log1p(math.exp(-u))
    return -t * u + math.log1p(math.exp(u))


def binary_cross_entropy_with_logits(x, target, reduction="mean"):
    return _reduction(_scalar_map(_bce, x, target), reduction)


def mse_loss(y, target, reduction="mean"):
    return _reduction(_scalar_map(lambda u, v: (u - v) ** 2, y, target), reduction)


def _reduction(loss, reduction):
    return {"mean": lambda: np.float64(loss.mean()), "sum": lambda: np.float64(loss.sum()),
            "none": lambda: loss}[reduction]()


def permute(x, axes):
    x = np.asarray(x)
    out = np.empty(tuple(x.shape[a] for a in axes), x.dtype)
    for index in np.ndindex(out.shape):
        source = [0] * x.ndim
        for position, a in enumerate(axes):
            source[a] = index[position]
        out[index] = x[tuple(source)]
    return out


def cat(xs, axis):
    """Concatenation by copying each block to its offset along `axis`."""
    xs = [np.asarray(x) for x in xs]
    shape = list(xs[0].shape)
    shape[axis] = math.fsum(x.shape[axis] for x in xs)
    out = np.empty([int(n) for n in shape], np.result_type(*xs))
    offset = 0
    for x in xs:
        for index in np.ndindex(x.shape):
            target = list(index)
            target[axis] += offset
            out[tuple(target)] = x[index]
        offset += x.shape[axis]
    return out


def stack(xs, axis):
    return cat([np.expand_dims(x, axis) for x in xs], axis)


def where(condition, a, b):
    condition, a, b = np.broadcast_arrays(condition, a, b)
    out = np.empty(a.shape, np.result_type(a, b))
    for index in np.ndindex(out.shape):
        out[index] = a[index] if condition[index] else b[index]
    return out
