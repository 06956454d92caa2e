"""The first ops' references: arithmetic, reductions, shapes, losses, convolution."""
import itertools
import math

import numpy as np


def scalar_map(fn, *arrays):
    """Apply a scalar function elementwise with numpy broadcasting, in float64."""
    arrays = np.broadcast_arrays(*(np.asarray(a, np.float64) for a in arrays))
    out = np.empty(arrays[0].shape)
    for index in np.ndindex(out.shape):
        out[index] = fn(*(float(a[index]) for a in arrays))
    return out


def add(a, b): return scalar_map(lambda u, v: u + v, a, b)
def sub(a, b): return scalar_map(lambda u, v: u - v, a, b)
def mul(a, b): return scalar_map(lambda u, v: u * v, a, b)
def div(a, b): return scalar_map(lambda u, v: u / v, a, b)
def pow(a, b): return scalar_map(lambda u, v: u ** v, a, b)
def neg(x): return scalar_map(lambda u: -u, x)
def exp(x): return scalar_map(math.exp, x)
def log(x): return scalar_map(math.log, x)
def sqrt(x): return scalar_map(math.sqrt, x)
def abs(x): return scalar_map(math.fabs, x)
def tanh(x): return scalar_map(math.tanh, x)
def relu(x): return scalar_map(lambda u: u if u > 0 else 0.0, x)
def leaky_relu(x, slope): return scalar_map(lambda u: u if u > 0 else slope * u, x)


def _sigmoid(u):
    if u >= 0:
        return 1 / (1 + math.exp(-u))
    return math.exp(u) / (1 + math.exp(u))


def sigmoid(x): return scalar_map(_sigmoid, x)


def fold(x, axis, keepdims, start, combine):
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
    return fold(x, axis, keepdims, 0.0, lambda acc, v: acc + v)


def max(x, axis=None, keepdims=False):
    return fold(x, axis, keepdims, -math.inf, lambda acc, v: v if v > acc else acc)


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


# --- convolution, resampling, normalization -------------------------------------------------
def _pair(v):
    return (v, v) if np.isscalar(v) else tuple(v)


def im2col(x, kh, kw, stride=1, padding=0, dilation=1):
    """cols[n, (c, ki, kj), (oy, ox)] = padded x[n, c, oy*sh + ki*dh, ox*sw + kj*dw]."""
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    n, c, h, w = x.shape
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    cols = np.zeros((n, c, kh, kw, oh, ow), x.dtype)
    for b, ch, ki, kj, oy, ox in itertools.product(*map(range, (n, c, kh, kw, oh, ow))):
        iy, ix = oy * sh - ph + ki * dh, ox * sw - pw + kj * dw
        if 0 <= iy < h and 0 <= ix < w:
            cols[b, ch, ki, kj, oy, ox] = x[b, ch, iy, ix]
    return cols.reshape(n, c * kh * kw, oh * ow)


def conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """Each output pixel as the sum of its window times the filter, group by group."""
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    n, c, h, wd = x.shape
    cout, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    y = np.zeros((n, cout, oh, ow))
    per_group = cout // groups
    for b_, o, oy, ox in itertools.product(range(n), range(cout), range(oh), range(ow)):
        g = o // per_group
        window = xp[b_, g * cg:(g + 1) * cg, oy * sh:oy * sh + dh * (kh - 1) + 1:dh,
                    ox * sw:ox * sw + dw * (kw - 1) + 1:dw]
        y[b_, o, oy, ox] = np.sum(window * w[o])
    return y if b is None else y + np.asarray(b).reshape(1, -1, 1, 1)


def conv_transpose2d(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Every input pixel scatters its value times the filter into the (cropped) output."""
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    (oph, opw) = _pair(output_padding)
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    n, cin, h, wd = x.shape
    _, og, kh, kw = w.shape
    oh = (h - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1
    ow = (wd - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1
    full = np.zeros((n, og * groups, oh + 2 * ph + sh, ow + 2 * pw + sw))
    per_group = cin // groups
    for b_, ci, iy, ix, ki, kj in itertools.product(*map(range, (n, cin, h, wd, kh, kw))):
        g = ci // per_group
        full[b_, g * og:(g + 1) * og, iy * sh + ki * dh, ix * sw + kj * dw] += \
            x[b_, ci, iy, ix] * w[ci, :, ki, kj]
    y = full[:, :, ph:ph + oh, pw:pw + ow]
    return y if b is None else y + np.asarray(b).reshape(1, -1, 1, 1)


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False, eps=1e-5):
    """(x - mean) / sqrt(var + eps) * weight + bias per channel (axis 1), mean and biased var
    of the batch in training, the running ones otherwise."""
    x = np.asarray(x, np.float64)
    y = np.empty_like(x)
    for ch in range(x.shape[1]):
        values = x[:, ch]
        if training:
            mean = math.fsum(values.ravel()) / values.size
            var = math.fsum(((values - mean) ** 2).ravel()) / values.size
        else:
            mean, var = running_mean[ch], running_var[ch]
        y[:, ch] = (values - mean) / math.sqrt(var + eps)
        y[:, ch] = y[:, ch] * (1.0 if weight is None else weight[ch]) + (0.0 if bias is None else bias[ch])
    return y


def pad(x, widths):
    """Zeros around x: (left, right) of the last axis, then (top, bottom) of the one before."""
    x = np.asarray(x)
    pairs = [(widths[i], widths[i + 1]) for i in range(0, len(widths), 2)][::-1]
    pairs = [(0, 0)] * (x.ndim - len(pairs)) + pairs
    out = np.zeros([n + a + b for n, (a, b) in zip(x.shape, pairs)], x.dtype)
    for index in np.ndindex(x.shape):
        out[tuple(i + a for i, (a, _) in zip(index, pairs))] = x[index]
    return out


def dropout(x, p, seed):
    """x * mask / (1 - p), the mask drawn as the engine draws it after manual_seed(seed): a
    kernel seed from the engine's generator, then kernels/random_bits.py element by element."""
    from ..random_bits import MASK, lowbias32
    kernel_seed = int(np.random.default_rng(seed).integers(2 ** 31))
    x = np.asarray(x, np.float64)
    out = np.empty_like(x)
    for i, index in enumerate(np.ndindex(x.shape)):
        uniform = lowbias32((i + lowbias32(kernel_seed)) & MASK) / 2 ** 32
        out[index] = x[index] / (1 - p) if uniform >= p else 0.0
    return out
