"""The catalogue cases of the convolution family: conv1d and conv3d (with padding='same' and
'valid'), the transposed convolutions, and padding modes. 3-D draws keep every side at most 3
and one or two channels, so that the simulator and the full Jacobians stay small."""
import kernels.reference as ref

from ...nn import functional as F
from ...nn.conv import pad_widths
from .drawing import Case


def _spatial(d, dims):
    """Sides at most 3 for a volume, at most the drawer's side + 2 for a line."""
    return min(d.side, 3) if dims == 3 else d.side + 2


def _channels(d, groups):
    """(batch, in, out) channel counts, a multiple of groups, one or two per group."""
    few = max(1, d.side // 2)
    return d.integer(1, few), groups * d.integer(1, few), groups * d.integer(1, few)


def _groups(d):
    """1 or 2; 1 on the smallest draws (the simulator's, where each group of each image costs
    a GEMM launch of its own: conv2d's cases cover groups on the same kernels there)."""
    return d.integer(1, 2 if d.side > 2 else 1)


def _geometry(d, dims, stride=(1, 2)):
    """Kernel, stride, padding and dilation tuples and an input size they fit."""
    kernel, stride, padding, dilation = (tuple(d.integer(lo, hi) for _ in range(dims))
                                         for lo, hi in ((1, 3 if dims < 3 else 2), stride,
                                                        (0, 2 if dims < 3 else 1), (1, 2)))
    size = tuple(max(d.integer(1, _spatial(d, dims)), dl * (k - 1) + 1 - 2 * p)
                 for k, p, dl in zip(kernel, padding, dilation))
    return kernel, stride, padding, dilation, size


def _draw_conv(dims):
    """Int paddings, or (one draw in three) 'same' at stride 1, where even kernels pad one
    more after than before, or 'valid'."""
    def draw(d):
        kernel, stride, padding, dilation, size = _geometry(d, dims)
        if d.integer(0, 2) == 0:
            padding = d.choice(["same", "valid"])
            stride = (1,) * dims if padding == "same" else stride
            if padding == "valid":
                size = tuple(max(n, dl * (k - 1) + 1) for n, k, dl in zip(size, kernel, dilation))
        groups = _groups(d)
        n, cin, cout = _channels(d, groups)
        return [d.uniform((n, cin) + size), d.uniform((cout, cin // groups) + kernel),
                d.uniform((cout,))], {"stride": stride, "padding": padding,
                                      "dilation": dilation, "groups": groups}
    return draw


def _draw_conv_transpose(dims):
    def draw(d):
        kernel, stride, padding, dilation, size = _geometry(d, dims)
        output_padding = tuple(d.integer(0, max(s, dl) - 1) for s, dl in zip(stride, dilation))
        # the output must not be empty: (n - 1) s - 2 p + d (k - 1) + op + 1 >= 1
        padding = tuple(min(p, ((n - 1) * s + dl * (k - 1) + op) // 2) for p, n, s, dl, k, op in
                        zip(padding, size, stride, dilation, kernel, output_padding))
        groups = _groups(d)
        n, cin, cout = _channels(d, groups)
        return [d.uniform((n, cin) + size), d.uniform((cin, cout // groups) + kernel),
                d.uniform((cout,))], {"stride": stride, "padding": padding,
                                      "output_padding": output_padding, "dilation": dilation,
                                      "groups": groups}
    return draw


def _conv(x, w, b, **params):
    """conv1d, conv2d or conv3d by the input's rank."""
    return getattr(F, f"conv{x.ndim - 2}d")(x, w, b, **params)


# the widths each mode takes on a side n (torch: reflect below it, circular up to it)
_MAX_WIDTH = {"reflect": lambda n: n - 1, "replicate": lambda n: 2, "circular": lambda n: n}


def _draw_padding_mode(d):
    dims, mode = d.integer(1, 2), d.choice(["reflect", "replicate", "circular"])
    kernel, stride, _, dilation, _ = _geometry(d, dims)
    spans = tuple(max(2, dl * (k - 1) + 1) for k, dl in zip(kernel, dilation))
    size = tuple(d.integer(n, max(n, _spatial(d, dims))) for n in spans)
    if d.integer(0, 2) == 0:  # 'same': at most d (k - 1) - d (k - 1) // 2 <= n - 1 a side
        stride, padding = (1,) * dims, "same"
    else:
        padding = tuple(d.integer(0, min(2, _MAX_WIDTH[mode](n))) for n in size)
    n, cin, cout = _channels(d, 1)
    return [d.uniform((n, cin) + size), d.uniform((cout, cin) + kernel), d.uniform((cout,))], {
        "stride": stride, "padding": padding, "dilation": dilation, "padding_mode": mode}


def _conv_padding_mode(x, w, b, stride, padding, dilation, padding_mode):
    """A Conv layer's forward with a padding mode: F.pad in that mode, then no padding."""
    widths = pad_widths(padding, w.shape[2:], dilation)
    return _conv(F.pad(x, widths, mode=padding_mode), w, b, stride=stride, dilation=dilation)


CASES = [
    Case("conv1d", F.conv1d, ref.conv1d, _draw_conv(1)),
    Case("conv3d", F.conv3d, ref.conv3d, _draw_conv(3)),
    Case("conv_transpose1d", F.conv_transpose1d, ref.conv_transpose1d, _draw_conv_transpose(1)),
    Case("conv_transpose3d", F.conv_transpose3d, ref.conv_transpose3d, _draw_conv_transpose(3)),
    Case("conv[padding_mode]", _conv_padding_mode, ref.conv_padding_mode, _draw_padding_mode,
         simulator_examples=1),
]
