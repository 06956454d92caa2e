"""conv2d on the CPU, in two named variants that tests cross-check and benchmarks time:

- "im2col": the C++ im2col/col2im extension and numpy's BLAS, in chunks over the batch so that
  the column buffer stays under COLUMN_BUDGET bytes (the default);
- "direct": one small product per kernel offset on shifted views of the padded input, with no
  column buffer.

The three kernels are conv2d_forward, conv2d_backward_input (also conv_transpose2d's forward)
and conv2d_backward_weight; stride, padding and dilation arrive as (h, w) pairs.
"""
import numpy as np

from ..geometry import window_output_size
from . import _im2col
from .workspace import scratch

__all__ = ["CONV2D_VARIANTS", "conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight"]

CONV2D_VARIANTS = ("im2col", "direct")
COLUMN_BUDGET = 256 * 2**20


class _Geometry:
    def __init__(self, x_shape, w_shape, stride, padding, dilation, groups):
        self.n, self.c, self.h, self.w = x_shape
        self.cout, self.cg, self.kh, self.kw = w_shape
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.oh = window_output_size(self.h, self.kh, stride[0], padding[0], dilation[0])
        self.ow = window_output_size(self.w, self.kw, stride[1], padding[1], dilation[1])
        self.og = self.cout // groups          # output channels per group
        self.kg = self.cg * self.kh * self.kw  # column rows per group

    def im2col_args(self):
        return (self.kh, self.kw, *self.stride, *self.padding, *self.dilation)

    def chunks(self, itemsize):
        """Batch slices whose column buffers stay within COLUMN_BUDGET."""
        per_image = self.c * self.kh * self.kw * self.oh * self.ow * itemsize
        step = max(1, COLUMN_BUDGET // max(per_image, 1))
        return [slice(i, min(i + step, self.n)) for i in range(0, self.n, step)]

    def window(self, ki, kj):
        """The slices of the padded input that kernel offset (ki, kj) reads."""
        (sh, sw), (dh, dw) = self.stride, self.dilation
        return (slice(ki * dh, ki * dh + sh * (self.oh - 1) + 1, sh),
                slice(kj * dw, kj * dw + sw * (self.ow - 1) + 1, sw))


def _columns(x, g, purpose):
    cols = scratch(purpose, (x.shape[0], g.c * g.kh * g.kw, g.oh * g.ow), x.dtype)
    return _im2col.im2col(np.ascontiguousarray(x), *g.im2col_args(), out=cols)


def _grouped(a, groups):
    """(N, G*k, L) viewed as (N, G, k, L)."""
    return a.reshape(a.shape[0], groups, a.shape[1] // groups, a.shape[2])


# --- im2col + GEMM ---------------------------------------------------------------------------------
def _im2col_forward(x, w, g):
    y = np.empty((g.n, g.cout, g.oh * g.ow), x.dtype)
    wg = w.reshape(g.groups, g.og, g.kg)
    for part in g.chunks(x.itemsize):
        cols = _grouped(_columns(x[part], g, "cols"), g.groups)
        out = _grouped(y[part], g.groups)
        for i in range(g.groups):
            np.matmul(wg[i], cols[:, i], out=out[:, i])
    return y.reshape(g.n, g.cout, g.oh, g.ow)


def _im2col_backward_input(gy, w, g):
    gx = np.empty((g.n, g.c, g.h, g.w), gy.dtype)
    wg = w.reshape(g.groups, g.og, g.kg)
    gy = gy.reshape(g.n, g.cout, g.oh * g.ow)
    for part in g.chunks(gy.itemsize):
        count = part.stop - part.start
        gcols = scratch("gcols", (count, g.c * g.kh * g.kw, g.oh * g.ow), gy.dtype)
        grouped, gyg = _grouped(gcols, g.groups), _grouped(gy[part], g.groups)
        for i in range(g.groups):
            np.matmul(wg[i].T, gyg[:, i], out=grouped[:, i])
        _im2col.col2im(gcols, count, g.c, g.h, g.w, *g.im2col_args(), out=gx[part])
    return gx


def _im2col_backward_weight(x, gy, g):
    gw = np.zeros((g.groups, g.og, g.kg), gy.dtype)
    gy = gy.reshape(g.n, g.cout, g.oh * g.ow)
    for part in g.chunks(x.itemsize):
        cols = _grouped(_columns(x[part], g, "cols"), g.groups)
        gyg = _grouped(gy[part], g.groups)
        for i in range(g.groups):
            for n in range(cols.shape[0]):  # one GEMM per image, accumulated
                gw[i] += gyg[n, i] @ cols[n, i].T
    return gw.reshape(g.cout, g.cg, g.kh, g.kw)


# --- direct: one product per kernel offset ----------------------------------------------------------
def _padded(x, g):
    (ph, pw) = g.padding
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))


def _group_slices(g):
    return [(slice(i * g.og, (i + 1) * g.og), slice(i * g.cg, (i + 1) * g.cg))
            for i in range(g.groups)]


def _direct_forward(x, w, g):
    xp = _padded(x, g)
    y = np.zeros((g.n, g.cout, g.oh, g.ow), x.dtype)
    for ki in range(g.kh):
        for kj in range(g.kw):
            rows, cols = g.window(ki, kj)
            for og, cg in _group_slices(g):
                y[:, og] += np.einsum("ncij,oc->noij", xp[:, cg, rows, cols], w[og, :, ki, kj])
    return y


def _direct_backward_input(gy, w, g):
    gxp = np.zeros((g.n, g.c, g.h + 2 * g.padding[0], g.w + 2 * g.padding[1]), gy.dtype)
    for ki in range(g.kh):
        for kj in range(g.kw):
            rows, cols = g.window(ki, kj)
            for og, cg in _group_slices(g):
                gxp[:, cg, rows, cols] += np.einsum("noij,oc->ncij", gy[:, og], w[og, :, ki, kj])
    return np.ascontiguousarray(gxp[:, :, g.padding[0]:g.padding[0] + g.h,
                                    g.padding[1]:g.padding[1] + g.w])


def _direct_backward_weight(x, gy, g):
    xp = _padded(x, g)
    gw = np.zeros((g.cout, g.cg, g.kh, g.kw), gy.dtype)
    for ki in range(g.kh):
        for kj in range(g.kw):
            rows, cols = g.window(ki, kj)
            for og, cg in _group_slices(g):
                gw[og, :, ki, kj] = np.einsum("noij,ncij->oc", gy[:, og], xp[:, cg, rows, cols])
    return gw


_VARIANTS = {
    "im2col": (_im2col_forward, _im2col_backward_input, _im2col_backward_weight),
    "direct": (_direct_forward, _direct_backward_input, _direct_backward_weight),
}


def conv2d_forward(x, w, b, stride, padding, dilation, groups, variant="im2col"):
    g = _Geometry(x.shape, w.shape, stride, padding, dilation, groups)
    y = _VARIANTS[variant][0](x, w, g)
    if b is not None:
        y += b.reshape(1, -1, 1, 1)
    return y


def conv2d_backward_input(gy, w, x_shape, stride, padding, dilation, groups, variant="im2col"):
    g = _Geometry(x_shape, w.shape, stride, padding, dilation, groups)
    return _VARIANTS[variant][1](gy, w, g)


def conv2d_backward_weight(x, gy, w_shape, stride, padding, dilation, groups, variant="im2col"):
    g = _Geometry(x.shape, w_shape, stride, padding, dilation, groups)
    return _VARIANTS[variant][2](x, gy, g)
