"""conv2d and conv3d on the GPU: our vol2col and col2vol kernels (an image is a volume of depth
1), then a GEMM (cuBLAS, or our tiled one).

col2vol is a gather: each thread owns one input element and sums the column entries that read
it, so no two threads write the same element and no atomics are needed.
"""
import math

from numba import cuda

from ..contract import Conv2dKernels
from ..geometry import as_volume, volume_args, window_output_size
from .device import contiguous, grid, launch, xp
from .elementwise import add
from .linalg import matmul, tiled
from .reduce import sum

__all__ = ["im2col", "col2im"]


@cuda.jit
def _vol2col(x, cols, kd, kh, kw, sd, sh, sw, pd, ph, pw, dd, dh, dw, od, oh, ow):
    """cols[n, (c, kz, ki, kj), (oz, oy, ox)] = padded x[n, c, oz*sd + kz*dd - pd, ...]."""
    n, c, d, h, w = x.shape
    i = cuda.grid(1)
    while i < cols.size:
        ox = i % ow
        oy = (i // ow) % oh
        oz = (i // (ow * oh)) % od
        rest = i // (ow * oh * od)  # (n, c, kz, ki, kj)
        kj = rest % kw
        ki = (rest // kw) % kh
        kz = (rest // (kw * kh)) % kd
        ch = (rest // (kw * kh * kd)) % c
        b = rest // (kw * kh * kd * c)
        iz, iy, ix = oz * sd - pd + kz * dd, oy * sh - ph + ki * dh, ox * sw - pw + kj * dw
        value = 0.0
        if 0 <= iz < d and 0 <= iy < h and 0 <= ix < w:
            value = x[b, ch, iz, iy, ix]
        cols[b, ((ch * kd + kz) * kh + ki) * kw + kj, (oz * oh + oy) * ow + ox] = value
        i += cuda.gridsize(1)


@cuda.jit
def _col2vol(cols, x, kd, kh, kw, sd, sh, sw, pd, ph, pw, dd, dh, dw, od, oh, ow):
    """x[n, c, iz, iy, ix] = the sum of the column entries that vol2col copied from it."""
    n, c, d, h, w = x.shape
    i = cuda.grid(1)
    while i < x.size:
        ix = i % w
        iy = (i // w) % h
        iz = (i // (w * h)) % d
        ch = (i // (w * h * d)) % c
        b = i // (w * h * d * c)
        total = 0.0
        for kz in range(kd):
            tz = iz + pd - kz * dd  # = oz * sd
            if tz < 0 or tz % sd != 0 or tz // sd >= od:
                continue
            for ki in range(kh):
                ty = iy + ph - ki * dh
                if ty < 0 or ty % sh != 0 or ty // sh >= oh:
                    continue
                for kj in range(kw):
                    tx = ix + pw - kj * dw
                    if tx < 0 or tx % sw != 0 or tx // sw >= ow:
                        continue
                    total += cols[b, ((ch * kd + kz) * kh + ki) * kw + kj,
                                  ((tz // sd) * oh + ty // sh) * ow + tx // sw]
        x[b, ch, iz, iy, ix] = total
        i += cuda.gridsize(1)


def _out(size, kernel, stride, padding, dilation):
    return tuple(window_output_size(*a) for a in zip(size, kernel, stride, padding, dilation))


def im2col(x, kernel, stride, padding, dilation):
    """x (N, C, *size) with 2 or 3 spatial axes -> cols (N, C*prod(kernel), prod(out))."""
    out = _out(x.shape[2:], kernel, stride, padding, dilation)
    cols = xp.empty((x.shape[0], x.shape[1] * math.prod(kernel), math.prod(out)), x.dtype)
    volume = contiguous(x).reshape(x.shape[:2] + as_volume(x.shape[2:]))
    launch(_vol2col, grid(cols.size), volume, cols,
           *volume_args(kernel, stride, padding, dilation), *as_volume(out))
    return cols


def col2im(cols, x_shape, kernel, stride, padding, dilation):
    """The adjoint of im2col: cols -> x (x_shape), summing overlapping windows."""
    out = _out(x_shape[2:], kernel, stride, padding, dilation)
    x = xp.empty(tuple(x_shape[:2]) + as_volume(x_shape[2:]), cols.dtype)
    launch(_col2vol, grid(x.size), contiguous(cols), x,
           *volume_args(kernel, stride, padding, dilation), *as_volume(out))
    return x.reshape(tuple(x_shape))


def _im2col_kernels(matmul):
    """A convolution as im2col / col2im and batched products on `matmul`."""
    def conv_forward(x, w, b, stride, padding, dilation, groups):
        n, cout = x.shape[0], w.shape[0]
        cols = im2col(x, w.shape[2:], stride, padding, dilation)
        out = _out(x.shape[2:], w.shape[2:], stride, padding, dilation)
        grouped = cols.reshape(n, groups, -1, cols.shape[2])             # (N, G, Kg, L)
        weights = w.reshape(groups, cout // groups, -1)                  # (G, Og, Kg)
        y = matmul(weights, grouped).reshape((n, cout) + out)            # (N, G, Og, L)
        return y if b is None else add(y, b.reshape((1, -1) + (1,) * len(out)))

    def conv_backward_input(gy, w, x_shape, stride, padding, dilation, groups):
        n, cout = x_shape[0], w.shape[0]
        weights = xp.swapaxes(w.reshape(groups, cout // groups, -1), 1, 2)   # (G, Kg, Og)
        grads = gy.reshape(n, groups, cout // groups, -1)                     # (N, G, Og, L)
        cols = matmul(weights, grads).reshape(n, -1, grads.shape[-1])
        return col2im(cols, x_shape, w.shape[2:], stride, padding, dilation)

    def conv_backward_weight(x, gy, w_shape, stride, padding, dilation, groups):
        n, cout = x.shape[0], w_shape[0]
        cols = im2col(x, w_shape[2:], stride, padding, dilation)
        grouped = xp.swapaxes(cols.reshape(n, groups, -1, cols.shape[2]), 2, 3)   # (N, G, L, Kg)
        grads = gy.reshape(n, groups, cout // groups, -1)                        # (N, G, Og, L)
        per_image = matmul(grads, grouped)                                       # (N, G, Og, Kg)
        return sum(per_image, (0,), False).reshape(w_shape)
    return Conv2dKernels(conv_forward, conv_backward_input, conv_backward_weight)


# "im2col" runs its products on the default GEMM (cuBLAS on a GPU), "im2col_tiled" on ours
CONV2D_VARIANTS = {"im2col": _im2col_kernels(matmul), "im2col_tiled": _im2col_kernels(tiled)}
CONV3D_VARIANTS = CONV2D_VARIANTS  # the same kernels take 2 or 3 spatial axes
