"""conv2d on the GPU: our im2col and col2im kernels, then a GEMM (cuBLAS, or our tiled one).

col2im is a gather: each thread owns one input pixel and sums the column entries that read it,
so no two threads write the same element and no atomics are needed.
"""
from numba import cuda

from ..contract import Conv2dKernels
from ..geometry import window_output_size
from .device import contiguous, grid, nchw, xp
from .elementwise import add
from .linalg import matmul, tiled
from .reduce import sum

__all__ = ["im2col", "col2im"]


@cuda.jit
def _im2col(x, cols, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):
    """cols[n, (c, ki, kj), (oy, ox)] = padded x[n, c, oy*sh + ki*dh - ph, ox*sw + kj*dw - pw]."""
    n, c, h, w = x.shape
    i = cuda.grid(1)
    while i < cols.size:
        ox = i % ow
        oy = (i // ow) % oh
        kj = (i // (ow * oh)) % kw
        ki = (i // (ow * oh * kw)) % kh
        ch = (i // (ow * oh * kw * kh)) % c
        b = i // (ow * oh * kw * kh * c)
        iy, ix = oy * sh - ph + ki * dh, ox * sw - pw + kj * dw
        value = 0.0
        if 0 <= iy < h and 0 <= ix < w:
            value = x[b, ch, iy, ix]
        cols[b, (ch * kh + ki) * kw + kj, oy * ow + ox] = value
        i += cuda.gridsize(1)


@cuda.jit
def _col2im(cols, x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):
    """x[n, c, iy, ix] = the sum of the column entries that im2col copied from it."""
    n, c, h, w = x.shape
    i = cuda.grid(1)
    while i < x.size:
        b, ch, iy, ix = nchw(i, c, h, w)
        total = 0.0
        for ki in range(kh):
            ty = iy + ph - ki * dh  # = oy * sh
            if ty < 0 or ty % sh != 0 or ty // sh >= oh:
                continue
            for kj in range(kw):
                tx = ix + pw - kj * dw
                if tx < 0 or tx % sw != 0 or tx // sw >= ow:
                    continue
                total += cols[b, (ch * kh + ki) * kw + kj, (ty // sh) * ow + tx // sw]
        x[b, ch, iy, ix] = total
        i += cuda.gridsize(1)


def im2col(x, kh, kw, sh, sw, ph, pw, dh, dw):
    n, c, h, w = x.shape
    oh, ow = window_output_size(h, kh, sh, ph, dh), window_output_size(w, kw, sw, pw, dw)
    cols = xp.empty((n, c * kh * kw, oh * ow), x.dtype)
    _im2col[grid(cols.size)](contiguous(x), cols, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)
    return cols


def col2im(cols, n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw):
    oh, ow = window_output_size(h, kh, sh, ph, dh), window_output_size(w, kw, sw, pw, dw)
    x = xp.empty((n, c, h, w), cols.dtype)
    _col2im[grid(x.size)](contiguous(cols), x, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)
    return x


def _args(w_shape, stride, padding, dilation):
    return (w_shape[2], w_shape[3], *stride, *padding, *dilation)


def _im2col_kernels(matmul):
    """conv2d as im2col / col2im and batched products on `matmul`."""
    def conv_forward(x, w, b, stride, padding, dilation, groups):
        n = x.shape[0]
        cout = w.shape[0]
        cols = im2col(x, *_args(w.shape, stride, padding, dilation))
        oh = window_output_size(x.shape[2], w.shape[2], stride[0], padding[0], dilation[0])
        ow = window_output_size(x.shape[3], w.shape[3], stride[1], padding[1], dilation[1])
        grouped = cols.reshape(n, groups, -1, cols.shape[2])             # (N, G, Kg, L)
        weights = w.reshape(groups, cout // groups, -1)                  # (G, Og, Kg)
        y = matmul(weights, grouped).reshape(n, cout, oh, ow)            # (N, G, Og, L)
        return y if b is None else add(y, b.reshape(1, -1, 1, 1))

    def conv_backward_input(gy, w, x_shape, stride, padding, dilation, groups):
        n, c, h, wd = x_shape
        cout = w.shape[0]
        weights = xp.swapaxes(w.reshape(groups, cout // groups, -1), 1, 2)   # (G, Kg, Og)
        grads = gy.reshape(n, groups, cout // groups, -1)                     # (N, G, Og, L)
        cols = matmul(weights, grads).reshape(n, -1, grads.shape[-1])
        return col2im(cols, n, c, h, wd, *_args(w.shape, stride, padding, dilation))

    def conv_backward_weight(x, gy, w_shape, stride, padding, dilation, groups):
        n = x.shape[0]
        cout = w_shape[0]
        cols = im2col(x, *_args(w_shape, stride, padding, dilation))
        grouped = xp.swapaxes(cols.reshape(n, groups, -1, cols.shape[2]), 2, 3)   # (N, G, L, Kg)
        grads = gy.reshape(n, groups, cout // groups, -1)                        # (N, G, Og, L)
        per_image = matmul(grads, grouped)                                       # (N, G, Og, Kg)
        return sum(per_image, (0,), False).reshape(w_shape)
    return Conv2dKernels(conv_forward, conv_backward_input, conv_backward_weight)


# "im2col" runs its products on the default GEMM (cuBLAS on a GPU), "im2col_tiled" on ours
CONV2D_VARIANTS = {"im2col": _im2col_kernels(matmul), "im2col_tiled": _im2col_kernels(tiled)}
