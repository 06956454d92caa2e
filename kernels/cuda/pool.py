"""Max and average pooling: one thread per output in the forward, and a gather in the backward
(one thread per input pixel, summing the windows that cover it: no atomics)."""
import math

import numpy as np
from numba import cuda

from ..geometry import window_output_size
from .device import contiguous, grid, nchw, xp

__all__ = ["max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward", "avg_pool2d_backward"]


@cuda.jit
def _max_forward(x, y, argmax, kh, kw, sh, sw, ph, pw):
    n, c, h, w = x.shape
    oh, ow = y.shape[2], y.shape[3]
    i = cuda.grid(1)
    while i < y.size:
        b, ch, oy, ox = nchw(i, c, oh, ow)
        best, where, found_nan = -math.inf, -1, False
        for ki in range(kh):
            iy = oy * sh - ph + ki
            if 0 <= iy < h:
                for kj in range(kw):
                    ix = ox * sw - pw + kj
                    if 0 <= ix < w:
                        v = x[b, ch, iy, ix]
                        # the first of tied maxima wins, and NaN wins, as in torch
                        if not found_nan and (where < 0 or v > best or math.isnan(v)):
                            best, where, found_nan = v, iy * w + ix, math.isnan(v)
        y[b, ch, oy, ox] = best
        argmax[b, ch, oy, ox] = where
        i += cuda.gridsize(1)


@cuda.jit(device=True)
def _windows(i, pad, kernel, stride, count):
    """The range [first, stop) of the windows (output indices) covering input index i."""
    start = i + pad - kernel + 1
    first = 0 if start <= 0 else (start + stride - 1) // stride
    return first, min(count, (i + pad) // stride + 1)


@cuda.jit
def _max_backward(gy, argmax, gx, kh, kw, sh, sw, ph, pw):
    n, c, h, w = gx.shape
    oh, ow = gy.shape[2], gy.shape[3]
    i = cuda.grid(1)
    while i < gx.size:
        b, ch, iy, ix = nchw(i, c, h, w)
        y0, y1 = _windows(iy, ph, kh, sh, oh)
        x0, x1 = _windows(ix, pw, kw, sw, ow)
        total = 0.0
        for oy in range(y0, y1):
            for ox in range(x0, x1):
                if argmax[b, ch, oy, ox] == iy * w + ix:
                    total += gy[b, ch, oy, ox]
        gx[b, ch, iy, ix] = total
        i += cuda.gridsize(1)


@cuda.jit(device=True)
def _divisor(oy, ox, h, w, kh, kw, sh, sw, ph, pw, include_pad):
    if include_pad:
        return kh * kw
    y0, x0 = oy * sh - ph, ox * sw - pw
    return (min(y0 + kh, h) - max(y0, 0)) * (min(x0 + kw, w) - max(x0, 0))


@cuda.jit
def _avg_forward(x, y, kh, kw, sh, sw, ph, pw, include_pad):
    n, c, h, w = x.shape
    oh, ow = y.shape[2], y.shape[3]
    i = cuda.grid(1)
    while i < y.size:
        b, ch, oy, ox = nchw(i, c, oh, ow)
        total = 0.0
        for ki in range(kh):
            iy = oy * sh - ph + ki
            for kj in range(kw):
                ix = ox * sw - pw + kj
                if 0 <= iy < h and 0 <= ix < w:
                    total += x[b, ch, iy, ix]
        y[b, ch, oy, ox] = total / _divisor(oy, ox, h, w, kh, kw, sh, sw, ph, pw, include_pad)
        i += cuda.gridsize(1)


@cuda.jit
def _avg_backward(gy, gx, kh, kw, sh, sw, ph, pw, include_pad):
    n, c, h, w = gx.shape
    oh, ow = gy.shape[2], gy.shape[3]
    i = cuda.grid(1)
    while i < gx.size:
        b, ch, iy, ix = nchw(i, c, h, w)
        y0, y1 = _windows(iy, ph, kh, sh, oh)
        x0, x1 = _windows(ix, pw, kw, sw, ow)
        total = 0.0
        for oy in range(y0, y1):
            for ox in range(x0, x1):
                total += gy[b, ch, oy, ox] / _divisor(oy, ox, h, w, kh, kw, sh, sw, ph, pw,
                                                      include_pad)
        gx[b, ch, iy, ix] = total
        i += cuda.gridsize(1)


def _out(x_shape, kernel, stride, padding):
    return tuple(window_output_size(s, k, st, p) for s, k, st, p in
                 zip(x_shape[2:], kernel, stride, padding))


def max_pool2d_forward(x, kernel, stride, padding):
    x = contiguous(x)
    shape = x.shape[:2] + _out(x.shape, kernel, stride, padding)
    y, argmax = xp.empty(shape, x.dtype), xp.empty(shape, np.int64)
    _max_forward[grid(y.size)](x, y, argmax, *kernel, *stride, *padding)
    return y, argmax


def max_pool2d_backward(gy, argmax, x_shape, kernel, stride, padding):
    gx = xp.empty(x_shape, gy.dtype)
    _max_backward[grid(gx.size)](contiguous(gy), argmax, gx, *kernel, *stride, *padding)
    return gx


def avg_pool2d_forward(x, kernel, stride, padding, count_include_pad):
    x = contiguous(x)
    y = xp.empty(x.shape[:2] + _out(x.shape, kernel, stride, padding), x.dtype)
    _avg_forward[grid(y.size)](x, y, *kernel, *stride, *padding, count_include_pad)
    return y


def avg_pool2d_backward(gy, x_shape, kernel, stride, padding, count_include_pad):
    gx = xp.empty(x_shape, gy.dtype)
    _avg_backward[grid(gx.size)](contiguous(gy), gx, *kernel, *stride, *padding,
                                 count_include_pad)
    return gx
