"""The references of the patches family: padding modes, pixel shuffles, unfold and fold,
embeddings."""
import numpy as np

from .core import im2col

__all__ = ["pad_mode", "pixel_shuffle", "pixel_unshuffle", "unfold_patches", "fold_patches",
           "embedding"]


def _source(mode, i, n):
    """The input position that position i (counted from the input's start) of a padded axis
    of size n reads, or None for a constant."""
    if mode == "constant":
        return i if 0 <= i < n else None
    if mode == "replicate":
        return min(max(i, 0), n - 1)
    if mode == "circular":
        return i % n
    i = abs(i)  # reflect
    return 2 * (n - 1) - i if i >= n else i


def pad_mode(x, widths, mode, value=0.0):
    """x padded (negative widths crop): (left, right) of the last axis, then of the one before."""
    x = np.asarray(x)
    pairs = [(widths[i], widths[i + 1]) for i in range(0, len(widths), 2)][::-1]
    pairs = [(0, 0)] * (x.ndim - len(pairs)) + pairs
    out = np.empty([n + a + b for n, (a, b) in zip(x.shape, pairs)], x.dtype)
    for index in np.ndindex(out.shape):
        source = [_source(mode, i - a, n) for i, n, (a, _) in zip(index, x.shape, pairs)]
        out[index] = value if None in source else x[tuple(source)]
    return out


def pixel_shuffle(x, upscale_factor):
    r = upscale_factor
    *batch, c, h, w = x.shape
    out = np.empty((*batch, c // (r * r), h * r, w * r), x.dtype)
    for index in np.ndindex(out.shape):
        *b, k, i, j = index
        out[index] = x[(*b, k * r * r + (i % r) * r + j % r, i // r, j // r)]
    return out


def pixel_unshuffle(x, downscale_factor):
    r = downscale_factor
    *batch, c, h, w = x.shape
    out = np.empty((*batch, c * r * r, h // r, w // r), x.dtype)
    for index in np.ndindex(out.shape):
        *b, k, i, j = index
        offset = k % (r * r)
        out[index] = x[(*b, k // (r * r), i * r + offset // r, j * r + offset % r)]
    return out


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _blocks(size, kernel, dilation, padding, stride):
    return [(s + 2 * p - d * (k - 1) - 1) // t + 1
            for s, k, d, p, t in zip(size, kernel, dilation, padding, stride)]


def unfold_patches(x, kernel_size, dilation=1, padding=0, stride=1):
    """F.unfold with its argument order: im2col, (N, C, H, W) -> (N, C*kh*kw, L)."""
    return im2col(x, *_pair(kernel_size), stride, padding, dilation)


def fold_patches(x, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """F.fold, the adjoint of unfold_patches: each column element added where it was read."""
    kernel, dilation, padding, stride = map(_pair, (kernel_size, dilation, padding, stride))
    h, w = _pair(output_size)
    n, ck, _ = x.shape
    c = ck // (kernel[0] * kernel[1])
    bh, bw = _blocks((h, w), kernel, dilation, padding, stride)
    out = np.zeros((n, c, h, w), x.dtype)
    for b, ch, ki, kj, bi, bj in np.ndindex(n, c, kernel[0], kernel[1], bh, bw):
        i = bi * stride[0] + ki * dilation[0] - padding[0]
        j = bj * stride[1] + kj * dilation[1] - padding[1]
        if 0 <= i < h and 0 <= j < w:
            out[b, ch, i, j] += x[b, (ch * kernel[0] + ki) * kernel[1] + kj, bi * bw + bj]
    return out


def embedding(weight, indices):
    """Row indices[...] of weight for every index: indices.shape + (embedding_dim,)."""
    out = np.empty(np.shape(indices) + weight.shape[1:], weight.dtype)
    for index in np.ndindex(np.shape(indices)):
        out[index] = weight[indices[index]]
    return out
