"""Max and average pooling over (N, C, D, H, W) volumes: one thread per output in the forward,
reading only the taps of its window that fall inside the input, and a gather in the backward
(one thread per input element, summing the windows that cover it: no atomics). kernel, stride,
padding and dilation arrive as (d, h, w) tuples."""
import math

import numpy as np
from numba import cuda

from .device import contiguous, grid, launch, xp

__all__ = ["max_pool3d_forward", "max_pool3d_backward", "avg_pool3d_forward", "avg_pool3d_backward"]


@cuda.jit(device=True)
def _split(i, shape):
    """(n, c, z, y, x) of flat index i into a C-contiguous array of shape (N, C, D, H, W)."""
    x = i % shape[4]
    i //= shape[4]
    y = i % shape[3]
    i //= shape[3]
    z = i % shape[2]
    i //= shape[2]
    return i // shape[1], i % shape[1], z, y, x


@cuda.jit(device=True)
def _taps(o, size, k, s, p, d):
    """Window o's first position and the taps [j0, j1) of it that fall inside the input."""
    start = o * s - p
    j0 = (-start + d - 1) // d if start < 0 else 0
    return start, j0, max(j0, min(k, (size - start + d - 1) // d))


@cuda.jit(device=True)
def _covering(i, k, s, p, d, out):
    """The outputs [lo, hi) whose windows span input position i."""
    first = i + p - (k - 1) * d
    lo = 0 if first <= 0 else (first + s - 1) // s
    hi = min(out, (i + p) // s + 1)
    return min(lo, hi), hi


@cuda.jit
def _max_forward(x, y, argmax, kernel, stride, padding, dilation):
    d, h, w = x.shape[2], x.shape[3], x.shape[4]
    i = cuda.grid(1)
    while i < y.size:
        b, c, od, oh, ow = _split(i, y.shape)
        zd, d0, d1 = _taps(od, d, kernel[0], stride[0], padding[0], dilation[0])
        zh, h0, h1 = _taps(oh, h, kernel[1], stride[1], padding[1], dilation[1])
        zw, w0, w1 = _taps(ow, w, kernel[2], stride[2], padding[2], dilation[2])
        best, where, found_nan = -math.inf, -1, False
        for jd in range(d0, d1):
            iz = zd + jd * dilation[0]
            for jh in range(h0, h1):
                iy = zh + jh * dilation[1]
                for jw in range(w0, w1):
                    ix = zw + jw * dilation[2]
                    v = x[b, c, iz, iy, ix]
                    # the first of tied maxima wins, and NaN wins, as in torch
                    if not found_nan and (where < 0 or v > best or math.isnan(v)):
                        best, where, found_nan = v, (iz * h + iy) * w + ix, math.isnan(v)
        y[b, c, od, oh, ow] = best
        argmax[b, c, od, oh, ow] = where
        i += cuda.gridsize(1)


@cuda.jit
def _max_backward(gy, argmax, gx, kernel, stride, padding, dilation):
    h, w = gx.shape[3], gx.shape[4]
    i = cuda.grid(1)
    while i < gx.size:
        b, c, iz, iy, ix = _split(i, gx.shape)
        d0, d1 = _covering(iz, kernel[0], stride[0], padding[0], dilation[0], gy.shape[2])
        h0, h1 = _covering(iy, kernel[1], stride[1], padding[1], dilation[1], gy.shape[3])
        w0, w1 = _covering(ix, kernel[2], stride[2], padding[2], dilation[2], gy.shape[4])
        here = (iz * h + iy) * w + ix
        total = 0.0
        for od in range(d0, d1):
            for oh in range(h0, h1):
                for ow in range(w0, w1):
                    if argmax[b, c, od, oh, ow] == here:
                        total += gy[b, c, od, oh, ow]
        gx[b, c, iz, iy, ix] = total
        i += cuda.gridsize(1)


@cuda.jit(device=True)
def _share(o, size, k, s, p, include_pad):
    """torch's divisor along one axis: the window clipped to the padded input, or to it."""
    start = o * s - p
    if include_pad:
        return min(k, size + p - start)
    return min(k, size - start) - max(-start, 0)


@cuda.jit(device=True)
def _divisor(od, oh, ow, size, kernel, stride, padding, include_pad, override):
    if override != 0:
        return override
    return (_share(od, size[0], kernel[0], stride[0], padding[0], include_pad)
            * _share(oh, size[1], kernel[1], stride[1], padding[1], include_pad)
            * _share(ow, size[2], kernel[2], stride[2], padding[2], include_pad))


@cuda.jit
def _avg_forward(x, y, kernel, stride, padding, include_pad, override):
    size = (x.shape[2], x.shape[3], x.shape[4])
    i = cuda.grid(1)
    while i < y.size:
        b, c, od, oh, ow = _split(i, y.shape)
        zd, d0, d1 = _taps(od, size[0], kernel[0], stride[0], padding[0], 1)
        zh, h0, h1 = _taps(oh, size[1], kernel[1], stride[1], padding[1], 1)
        zw, w0, w1 = _taps(ow, size[2], kernel[2], stride[2], padding[2], 1)
        total = 0.0
        for jd in range(d0, d1):
            for jh in range(h0, h1):
                for jw in range(w0, w1):
                    total += x[b, c, zd + jd, zh + jh, zw + jw]
        y[b, c, od, oh, ow] = total / _divisor(od, oh, ow, size, kernel, stride, padding,
                                               include_pad, override)
        i += cuda.gridsize(1)


@cuda.jit
def _avg_backward(gy, gx, kernel, stride, padding, include_pad, override):
    size = (gx.shape[2], gx.shape[3], gx.shape[4])
    i = cuda.grid(1)
    while i < gx.size:
        b, c, iz, iy, ix = _split(i, gx.shape)
        d0, d1 = _covering(iz, kernel[0], stride[0], padding[0], 1, gy.shape[2])
        h0, h1 = _covering(iy, kernel[1], stride[1], padding[1], 1, gy.shape[3])
        w0, w1 = _covering(ix, kernel[2], stride[2], padding[2], 1, gy.shape[4])
        total = 0.0
        for od in range(d0, d1):
            for oh in range(h0, h1):
                for ow in range(w0, w1):
                    total += gy[b, c, od, oh, ow] / _divisor(od, oh, ow, size, kernel, stride,
                                                             padding, include_pad, override)
        gx[b, c, iz, iy, ix] = total
        i += cuda.gridsize(1)


def _ints(t):
    return tuple(int(v) for v in t)


def max_pool3d_forward(x, kernel, stride, padding, dilation, out_size):
    x = contiguous(x)
    shape = x.shape[:2] + _ints(out_size)
    y, argmax = xp.empty(shape, x.dtype), xp.empty(shape, np.int64)
    launch(_max_forward, grid(y.size), x, y, argmax,
           *map(_ints, (kernel, stride, padding, dilation)))
    return y, argmax


def max_pool3d_backward(gy, argmax, x_shape, kernel, stride, padding, dilation):
    gx = xp.empty(x_shape, gy.dtype)
    launch(_max_backward, grid(gx.size), contiguous(gy), contiguous(argmax), gx,
           *map(_ints, (kernel, stride, padding, dilation)))
    return gx


def avg_pool3d_forward(x, kernel, stride, padding, out_size, count_include_pad, divisor_override):
    x = contiguous(x)
    y = xp.empty(x.shape[:2] + _ints(out_size), x.dtype)
    launch(_avg_forward, grid(y.size), x, y, *map(_ints, (kernel, stride, padding)),
           bool(count_include_pad), int(divisor_override or 0))
    return y


def avg_pool3d_backward(gy, x_shape, kernel, stride, padding, count_include_pad, divisor_override):
    gx = xp.empty(x_shape, gy.dtype)
    launch(_avg_backward, grid(gx.size), contiguous(gy), gx, *map(_ints, (kernel, stride, padding)),
           bool(count_include_pad), int(divisor_override or 0))
    return gx
