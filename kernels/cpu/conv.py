"""conv2d and conv3d on the CPU, in named variants that tests cross-check and benchmarks time:

- "im2col" (conv2d and conv3d): the C++ vol2col/col2vol extension (an image is a volume of
  depth 1) and numpy's BLAS, in chunks over the batch so that the column buffer stays under
  COLUMN_BUDGET bytes;
- "winograd": Winograd F(2x2, 3x3) for 3x3 stride-1 convolutions: C++ tile transforms and 16
  BLAS products, 2.25x fewer multiplications than im2col (the input gradient is itself such a
  convolution, with the filter flipped);
- "direct": one small product per kernel offset on shifted views of the padded input, with no
  column buffer;
- "fused" (conv2d and conv3d, where numpy's BLAS could be handed to the extension): the C++
  loop of cpp/conv.cpp, whose tasks each copy a block of one image's output lines into a small
  per-thread column buffer and multiply it at once (bias included), all threads busy even on
  a few small images;
- "shifted" (conv2d, stride 1, dilation 1, groups 1): the zero-padded image, read with rows of
  the padded width, gives each kernel tap's input as one contiguous run per channel, so the
  forward and the input's gradient are kh*kw products on the padded image, with no column
  buffer at all (cpp/conv.cpp);
- "auto" (the default, choose_conv2d): shifted where it applies and the layer has
  SHIFTED_MIN_CHANNELS channels in and out, else fused; without the extension's BLAS,
  winograd where it applies and the layer is wide enough, else im2col, unless one image's
  column buffer would be huge (a padding far beyond the kernel): then direct.

The products run on the extension's threads (kernels/cpu/threads.py, linalg.batched_matmul).

Arrays reach the C++ extension C-contiguous, aligned and in native byte order (`native`).

Each variant is a contract.Conv2dKernels (forward, backward_input, backward_weight).
"""
import itertools
import math

import numpy as np

from ..contract import Conv2dKernels
from ..errors import ShapeError, VariantError
from ..geometry import as_volume, volume_args, window_output_size
from . import _cpp, threads
from .linalg import batched_matmul
from .workspace import scratch

# Column buffers of a chunk of the batch: small enough that a convolution's scratch (forward
# columns, backward columns and their gradient) stays in the workspace's per-thread cache;
# the chunk size does not change the speed measurably (32 to 256 MiB, DnCNN layer).
COLUMN_BUDGET = 32 * 2**20

# Past this many elements in one image's column buffer, "auto" runs the direct variant (which
# needs none), and past MAX_PADDED_ELEMENTS in the padded input, direct refuses to pad it.
MAX_IMAGE_COLUMNS = 2**28
MAX_PADDED_ELEMENTS = 2**31


def native(a):
    """a as the C++ kernels read it: C-contiguous, aligned and in native byte order (a copy of a
    big-endian, unaligned or strided array; a itself when it already is)."""
    dtype = a.dtype if a.dtype.isnative else np.dtype(a.dtype.newbyteorder("=").str)
    return np.require(a, dtype=dtype, requirements="CA")


class _Geometry:
    """A convolution over 2 or 3 spatial axes; the 2-D variants also name them h, w."""

    def __init__(self, x_shape, w_shape, stride, padding, dilation, groups):
        (self.n, self.c, *size), (self.cout, self.cg, *kernel) = x_shape, w_shape
        self.size, self.kernel = tuple(size), tuple(kernel)
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.out = tuple(window_output_size(*a) for a in zip(size, kernel, stride, padding,
                                                             dilation))
        if len(size) == 2:
            (self.h, self.w), (self.kh, self.kw), (self.oh, self.ow) = size, kernel, self.out
        self.og = self.cout // groups                  # output channels per group
        self.kg = self.cg * math.prod(kernel)          # column rows per group
        self.positions = math.prod(self.out)           # column matrix width

    def volume_args(self):
        """vol2col's kernel, stride, padding and dilation, depth 1 for an image."""
        return volume_args(self.kernel, self.stride, self.padding, self.dilation)

    def volume(self, a, n):
        """n images or volumes (N, C, *size) as volumes (N, C, D, H, W): a view."""
        return a.reshape((n, a.shape[1]) + as_volume(self.size))

    def chunks(self, per_image):
        """Batch slices whose scratch buffers, per_image bytes an image, stay within COLUMN_BUDGET."""
        step = max(1, COLUMN_BUDGET // max(per_image, 1))
        return [slice(i, min(i + step, self.n)) for i in range(0, self.n, step)]

    def column_bytes(self, itemsize):
        return self.c * math.prod(self.kernel) * self.positions * itemsize

    def winograd_bytes(self, itemsize):
        """The transformed tiles of one image, for the wider of input and output."""
        return 16 * max(self.c, self.cout) * ((self.oh + 1) // 2) * ((self.ow + 1) // 2) * itemsize

    def window(self, ki, kj):
        """The slices of the padded input that kernel offset (ki, kj) reads."""
        (sh, sw), (dh, dw) = self.stride, self.dilation
        return (slice(ki * dh, ki * dh + sh * (self.oh - 1) + 1, sh),
                slice(kj * dw, kj * dw + sw * (self.ow - 1) + 1, sw))


def _columns(x, g, purpose):
    cols = scratch(purpose, (x.shape[0], g.groups * g.kg, g.positions), x.dtype)
    return _cpp.vol2col(g.volume(native(x), x.shape[0]), *g.volume_args(), out=cols)


def _grouped(a, groups):
    """(N, G*k, L) viewed as (N, G, k, L)."""
    return a.reshape(a.shape[0], groups, a.shape[1] // groups, a.shape[2])


# --- im2col + GEMM ---------------------------------------------------------------------------------
def _cpp_forward(x, w, g):
    y = np.empty((g.n, g.cout, g.positions), x.dtype)
    wg = w.reshape(g.groups, g.og, g.kg)
    for part in g.chunks(g.column_bytes(x.itemsize)):
        cols = _grouped(_columns(x[part], g, "cols"), g.groups)
        out = _grouped(y[part], g.groups)
        for i in range(g.groups):
            batched_matmul(wg[i][None], cols[:, i], out=out[:, i])
    return y.reshape((g.n, g.cout) + g.out)


def _cpp_backward_input(gy, w, g):
    gx = np.empty((g.n, g.c) + g.size, gy.dtype)
    wg = w.reshape(g.groups, g.og, g.kg)
    gy = gy.reshape(g.n, g.cout, g.positions)
    for part in g.chunks(g.column_bytes(gy.itemsize)):
        count = part.stop - part.start
        gcols = scratch("gcols", (count, g.groups * g.kg, g.positions), gy.dtype)
        grouped, gyg = _grouped(gcols, g.groups), _grouped(gy[part], g.groups)
        for i in range(g.groups):
            batched_matmul(wg[i].T[None], gyg[:, i], out=grouped[:, i])
        out = g.volume(gx[part], count)
        _cpp.col2vol(gcols, count, g.c, *out.shape[2:], *g.volume_args(), out=out)
    return gx


def _cpp_backward_weight(x, gy, g):
    gw = np.zeros((g.groups, g.og, g.kg), gy.dtype)
    gy = gy.reshape(g.n, g.cout, g.positions)
    for part in g.chunks(g.column_bytes(x.itemsize)):
        cols = _grouped(_columns(x[part], g, "cols"), g.groups)
        gyg = _grouped(gy[part], g.groups)
        for i in range(g.groups):
            # one batched product, then a sum over the (small) per-image results
            gw[i] += batched_matmul(gyg[:, i], cols[:, i].transpose(0, 2, 1)).sum(axis=0)
    return gw.reshape((g.cout, g.cg) + g.kernel)


# --- direct: one product per kernel offset ----------------------------------------------------------
def _check_padded_size(g):
    if not _padded_fits(g):
        (ph, pw) = g.padding
        size = g.n * g.c * (g.h + 2 * ph) * (g.w + 2 * pw)
        raise ShapeError(f"conv2d: the direct variant would pad the input {(g.n, g.c, g.h, g.w)} "
                         f"by {g.padding} into {size} elements; at most {MAX_PADDED_ELEMENTS} "
                         "(use the im2col variant)")


def _padded(x, g):
    (ph, pw) = g.padding
    _check_padded_size(g)
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))


def _padded_fits(g):
    (ph, pw) = g.padding
    return g.n * g.c * (g.h + 2 * ph) * (g.w + 2 * pw) <= MAX_PADDED_ELEMENTS


def _taps(g):
    """(ki, kj, the padded input's window for that kernel offset, output and input channel
    slices of a group) for every kernel offset and group."""
    for ki, kj in itertools.product(range(g.kh), range(g.kw)):
        rows, cols = g.window(ki, kj)
        for i in range(g.groups):
            yield ki, kj, rows, cols, slice(i * g.og, (i + 1) * g.og), slice(i * g.cg, (i + 1) * g.cg)


def _direct_forward(x, w, g):
    xp = _padded(x, g)
    y = np.zeros((g.n, g.cout, g.oh, g.ow), x.dtype)
    for ki, kj, rows, cols, og, cg in _taps(g):
        y[:, og] += np.einsum("ncij,oc->noij", xp[:, cg, rows, cols], w[og, :, ki, kj])
    return y


def _direct_backward_input(gy, w, g):
    (ph, pw) = g.padding
    _check_padded_size(g)
    gxp = np.zeros((g.n, g.c, g.h + 2 * ph, g.w + 2 * pw), gy.dtype)
    for ki, kj, rows, cols, og, cg in _taps(g):
        gxp[:, cg, rows, cols] += np.einsum("noij,oc->ncij", gy[:, og], w[og, :, ki, kj])
    return np.ascontiguousarray(gxp[:, :, ph:ph + g.h, pw:pw + g.w])


def _direct_backward_weight(x, gy, g):
    xp = _padded(x, g)
    gw = np.zeros((g.cout, g.cg, g.kh, g.kw), gy.dtype)
    for ki, kj, rows, cols, og, cg in _taps(g):
        gw[og, :, ki, kj] = np.einsum("noij,ncij->oc", gy[:, og], xp[:, cg, rows, cols])
    return gw


# --- Winograd F(2x2, 3x3) ------------------------------------------------------------------------
_G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]])


def winograd_applies(g):
    return ((g.kh, g.kw) == (3, 3) and g.stride == (1, 1) and g.dilation == (1, 1)
            and g.groups == 1 and max(g.padding) <= 2)


def _require_winograd(g):
    if not winograd_applies(g):
        raise VariantError(f"conv2d: the winograd variant needs a 3x3 kernel, stride 1, dilation 1, "
                         f"groups 1 and padding <= 2; got kernel {(g.kh, g.kw)}, stride {g.stride}, "
                         f"dilation {g.dilation}, groups {g.groups}, padding {g.padding}")


def _winograd_conv(x, w, padding, out_hw):
    """Stride-1 3x3 convolution of x with w (Cout, C, 3, 3), no bias."""
    n, cout = x.shape[0], w.shape[0]
    (oh, ow), (ph, pw) = out_hw, padding
    filters = np.einsum("ij,ocjk,lk->iloc", _G, w, _G).reshape(16, cout, -1).astype(w.dtype)
    y = np.empty((n, cout, oh, ow), x.dtype)
    x = native(x)
    tiles = ((oh + 1) // 2) * ((ow + 1) // 2)
    g = _Geometry(x.shape, w.shape, (1, 1), padding, (1, 1), 1)
    for part in g.chunks(g.winograd_bytes(x.itemsize)):
        count = part.stop - part.start
        v = scratch("winograd_v", (16, x.shape[1], count * tiles), x.dtype)
        _cpp.winograd_input(x[part], ph, pw, oh, ow, out=v)
        m = batched_matmul(filters, v, out=scratch("winograd_m", (16, cout, count * tiles), x.dtype))
        _cpp.winograd_output(m, count, oh, ow, out=y[part])
    return y


def _winograd_forward(x, w, g):
    _require_winograd(g)
    return _winograd_conv(x, w, g.padding, (g.oh, g.ow))


def _winograd_backward_input(gy, w, g):
    _require_winograd(g)
    flipped = np.ascontiguousarray(w.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1])
    return _winograd_conv(gy, flipped, (2 - g.padding[0], 2 - g.padding[1]), (g.h, g.w))


def _winograd_backward_weight(x, gy, g):
    _require_winograd(g)
    x, gy = native(x), native(gy)
    tiles = ((g.oh + 1) // 2) * ((g.ow + 1) // 2)
    grad = np.zeros((16, g.cout, g.c), gy.dtype)
    for part in g.chunks(g.winograd_bytes(x.itemsize)):
        count = part.stop - part.start
        v = _cpp.winograd_input(x[part], *g.padding, g.oh, g.ow,
                                out=scratch("winograd_v", (16, g.c, count * tiles), x.dtype))
        gm = _cpp.winograd_output_grad(
            gy[part], out=scratch("winograd_m", (16, g.cout, count * tiles), gy.dtype))
        grad += batched_matmul(gm, v.transpose(0, 2, 1))
    # the adjoint of the filter transform G g G^T
    return np.einsum("ij,iloc,lk->ocjk", _G, grad.reshape(4, 4, g.cout, g.c), _G).astype(gy.dtype)


def _kernels(forward, backward_input, backward_weight):
    """The three kernels of one variant, each taking the layer's parameters and building its
    geometry; forward adds the bias."""
    def conv_forward(x, w, b, stride, padding, dilation, groups):
        x, w = native(x), native(w)
        y = forward(x, w, _Geometry(x.shape, w.shape, stride, padding, dilation, groups))
        if b is not None:
            y += b.reshape((1, -1) + (1,) * (y.ndim - 2))
        return y

    def conv_backward_input(gy, w, x_shape, stride, padding, dilation, groups):
        gy, w = native(gy), native(w)
        return backward_input(gy, w, _Geometry(x_shape, w.shape, stride, padding, dilation, groups))

    def conv_backward_weight(x, gy, w_shape, stride, padding, dilation, groups):
        x, gy = native(x), native(gy)
        return backward_weight(x, gy, _Geometry(x.shape, w_shape, stride, padding, dilation, groups))
    return Conv2dKernels(conv_forward, conv_backward_input, conv_backward_weight)


# --- the extension's own loops: fused and shifted ------------------------------------------------
def _extension_kernels(check, forward, backward_input, backward_weight):
    """The three kernels of a variant that cpp/conv.cpp runs whole: the arrays made native, the
    geometry built and checked (check(g) raises where the variant does not apply), an empty
    batch or channel left to im2col's loops. forward(x, w, bias, g), backward_input(gy, w, g)
    and backward_weight(x, gy, g) call the extension on volumes (N, C, D, H, W)."""
    def geometry(x_shape, w_shape, stride, padding, dilation, groups):
        g = _Geometry(x_shape, w_shape, stride, padding, dilation, groups)
        check(g)
        return g

    def conv_forward(x, w, b, stride, padding, dilation, groups):
        x, w = native(x), native(w)
        g = geometry(x.shape, w.shape, stride, padding, dilation, groups)
        if 0 in x.shape or 0 in w.shape:
            return CONV2D_VARIANTS["im2col"].forward(x, w, b, stride, padding, dilation, groups)
        bias = None if b is None else native(np.asarray(b, x.dtype))
        return forward(g.volume(x, g.n), w, bias, g).reshape((g.n, g.cout) + g.out)

    def conv_backward_input(gy, w, x_shape, stride, padding, dilation, groups):
        gy, w = native(gy), native(w)
        g = geometry(x_shape, w.shape, stride, padding, dilation, groups)
        if 0 in x_shape or 0 in w.shape:
            return CONV2D_VARIANTS["im2col"].backward_input(gy, w, x_shape, stride, padding,
                                                            dilation, groups)
        gy = gy.reshape((g.n, g.cout) + as_volume(g.out))
        return backward_input(gy, w, g).reshape(x_shape)

    def conv_backward_weight(x, gy, w_shape, stride, padding, dilation, groups):
        x, gy = native(x), native(gy)
        g = geometry(x.shape, w_shape, stride, padding, dilation, groups)
        if 0 in x.shape or 0 in w_shape:
            return CONV2D_VARIANTS["im2col"].backward_weight(x, gy, w_shape, stride, padding,
                                                             dilation, groups)
        gy = gy.reshape((g.n, g.cout) + as_volume(g.out))
        return backward_weight(g.volume(x, g.n), gy, g).reshape(w_shape)
    return Conv2dKernels(conv_forward, conv_backward_input, conv_backward_weight)


def _weight_volume(g):
    """The weight's shape as a volume (Cout, C/groups, kD, kH, kW)."""
    return (g.cout, g.cg) + as_volume(g.kernel)


def _fused_kernels():
    """The C++ convolution of cpp/conv.cpp's conv_*: each task copies a block of one image's
    output lines into its thread's small column buffer and multiplies it at once with BLAS."""
    return _extension_kernels(
        lambda g: None,
        lambda x, w, bias, g: _cpp.conv_forward(x, w.reshape(_weight_volume(g)), bias,
                                                g.volume_args(), g.groups),
        lambda gy, w, g: _cpp.conv_backward_input(gy, w.reshape(_weight_volume(g)),
                                                  as_volume(g.size), g.volume_args(), g.groups),
        lambda x, gy, g: _cpp.conv_backward_weight(x, gy, _weight_volume(g), g.volume_args(),
                                                   g.groups))


# --- shifted: one product per kernel tap on the padded image, no column matrix ------------------
def shifted_applies(g):
    return len(g.size) == 2 and g.stride == (1, 1) and g.dilation == (1, 1) and g.groups == 1


def _require_shifted(g):
    if not shifted_applies(g):
        raise VariantError(f"conv2d: the shifted variant needs stride 1, dilation 1 and groups 1; "
                           f"got stride {g.stride}, dilation {g.dilation}, groups {g.groups}")


def _by_tap(w):
    """w (Cout, C, kh, kw) as (kh*kw, Cout, C), the shifted products' layout."""
    return np.ascontiguousarray(w.transpose(2, 3, 0, 1)).reshape(-1, w.shape[0], w.shape[1])


def _shifted_kernels():
    """The C++ convolution of cpp/conv.cpp's shifted_*: for a stride-1 2-D layer, tap (ki, kj)
    reads the zero-padded image as one contiguous run per channel, so the forward is a sum of
    kh*kw products W_t (Cout x C) @ (the padded image shifted by the tap), with no column
    matrix; the backward passes are those products transposed."""
    return _extension_kernels(
        _require_shifted,
        lambda x, w, bias, g: _cpp.shifted_forward(x, _by_tap(w), bias, g.volume_args()),
        lambda gy, w, g: _cpp.shifted_backward_input(gy, _by_tap(w), as_volume(g.size),
                                                     g.volume_args()),
        lambda x, gy, g: _cpp.shifted_backward_weight(x, gy, g.cout, g.volume_args()))


# "fused" and "shifted" need numpy's BLAS in the extension (kernels/cpu/threads.py): numpy's
# OpenBLAS wheels
FUSED = {"fused": _fused_kernels()} if threads.BLAS_IN_EXTENSION else {}
SHIFTED = {"shifted": _shifted_kernels()} if threads.BLAS_IN_EXTENSION else {}

CONV2D_VARIANTS = {
    **FUSED,
    **SHIFTED,
    "im2col": _kernels(_cpp_forward, _cpp_backward_input, _cpp_backward_weight),
    "winograd": _kernels(_winograd_forward, _winograd_backward_input, _winograd_backward_weight),
    "direct": _kernels(_direct_forward, _direct_backward_input, _direct_backward_weight),
}
CONV3D_VARIANTS = {**FUSED, "im2col": CONV2D_VARIANTS["im2col"]}

# Below this many input or output channels the 16 Winograd products are too thin to pay for
# the transforms (measured: 64x1x28x28 * 32x1x3x3 takes 20 ms with winograd, 2.5 with im2col).
WINOGRAD_MIN_CHANNELS = 16

# Below this many input or output channels the shifted variant's per-tap products are too thin
# (forward + backward, measured: 64x1x28x28 * 32x1x3x3 1.7 ms shifted, 0.8 fused; 16x8x48x48 *
# 16x8x3x3 2.2 ms shifted, 2.7 fused; the U-Net's 12x12 and 24x24 layers of 32-64 channels
# 15-30% faster shifted).
SHIFTED_MIN_CHANNELS = 8


def choose_conv2d(x_shape, w_shape, stride, padding, dilation, groups):
    """The "auto" rule: shifted for stride-1 layers of SHIFTED_MIN_CHANNELS channels and more,
    else fused (python -m benchmarks measures both ahead of im2col and Winograd on every course
    layer); without them, winograd where it applies and the layer is wide enough, else im2col,
    or direct where one image's column buffer would pass MAX_IMAGE_COLUMNS elements."""
    g = _Geometry(x_shape, w_shape, stride, padding, dilation, groups)
    if SHIFTED and shifted_applies(g) and min(g.c, g.cout) >= SHIFTED_MIN_CHANNELS:
        return "shifted"
    if FUSED:
        return "fused"
    wide = min(g.c, g.cout) >= WINOGRAD_MIN_CHANNELS
    if wide and winograd_applies(g):
        return "winograd"
    if g.c * g.kh * g.kw * g.oh * g.ow > MAX_IMAGE_COLUMNS and _padded_fits(g):
        return "direct"
    return "im2col"
