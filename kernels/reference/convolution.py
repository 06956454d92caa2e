"""The references of the convolution family: conv1d, conv3d and the transposed convolutions,
padding='same' and padding modes. Each takes any number of spatial axes and loops over every
output element (transposed: every input element and kernel tap)."""
import numpy as np

from .patches import pad_mode

__all__ = ["conv1d", "conv3d", "conv_nd", "conv_transpose1d", "conv_transpose3d",
           "conv_transpose_nd", "conv_padding_mode", "same_padding"]


def _tuple(v, n):
    return (v,) * n if np.isscalar(v) else tuple(v)


def same_padding(kernel, dilation):
    """torch's padding='same': (before, after) per axis, the odd one of d(k - 1) after."""
    return [(d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2) for k, d in zip(kernel, dilation)]


def conv_nd(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """Each output element as the sum of its window times the filter, group by group; padding is
    an int, one int per spatial axis, 'valid' or 'same'."""
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    dims = x.ndim - 2
    stride, dilation, kernel = _tuple(stride, dims), _tuple(dilation, dims), w.shape[2:]
    if isinstance(padding, str):
        widths = same_padding(kernel, dilation) if padding == "same" else [(0, 0)] * dims
    else:
        widths = [(p, p) for p in _tuple(padding, dims)]
    xp = np.pad(x, [(0, 0), (0, 0)] + widths)
    out = [(n - d * (k - 1) - 1) // s + 1
           for n, k, s, d in zip(xp.shape[2:], kernel, stride, dilation)]
    cout, cg = w.shape[:2]
    y = np.zeros((x.shape[0], cout, *out))
    for index in np.ndindex(y.shape):
        n, o, *position = index
        g = o // (cout // groups)
        window = tuple(slice(i * s, i * s + d * (k - 1) + 1, d)
                       for i, s, d, k in zip(position, stride, dilation, kernel))
        y[index] = np.sum(xp[(n, slice(g * cg, (g + 1) * cg)) + window] * w[o])
    return y if b is None else y + np.asarray(b).reshape((1, -1) + (1,) * dims)


def conv_transpose_nd(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Every input element scatters its value times the filter into the (cropped) output."""
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    dims = x.ndim - 2
    stride, padding, dilation = (_tuple(v, dims) for v in (stride, padding, dilation))
    output_padding, kernel = _tuple(output_padding, dims), w.shape[2:]
    cin, og = w.shape[:2]
    out = [(n - 1) * s - 2 * p + d * (k - 1) + op + 1 for n, s, p, d, k, op in
           zip(x.shape[2:], stride, padding, dilation, kernel, output_padding)]
    full = np.zeros((x.shape[0], og * groups) + tuple(o + 2 * p + s for o, p, s in
                                                        zip(out, padding, stride)))
    for index in np.ndindex(x.shape + kernel):
        n, c = index[:2]
        position, taps = index[2:2 + dims], index[2 + dims:]
        g = c // (cin // groups)
        target = tuple(i * s + t * d for i, t, s, d in zip(position, taps, stride, dilation))
        full[(n, slice(g * og, (g + 1) * og)) + target] += \
            x[index[:2 + dims]] * w[(c, slice(None)) + taps]
    y = full[(slice(None), slice(None)) + tuple(slice(p, p + o) for p, o in zip(padding, out))]
    return y if b is None else y + np.asarray(b).reshape((1, -1) + (1,) * dims)


def conv_padding_mode(x, w, b=None, stride=1, padding=0, dilation=1, groups=1,
                      padding_mode="zeros"):
    """A Conv layer's forward: the input padded in `padding_mode`, then convolved unpadded."""
    dims = np.ndim(x) - 2
    dilation = _tuple(dilation, dims)
    widths = same_padding(w.shape[2:], dilation) if padding == "same" else \
        [(p, p) for p in _tuple(0 if padding == "valid" else padding, dims)]
    flat = [v for pair in widths[::-1] for v in pair]  # last axis first, as F.pad takes them
    mode = "constant" if padding_mode == "zeros" else padding_mode
    return conv_nd(pad_mode(np.asarray(x, np.float64), flat, mode), w, b, stride, 0, dilation,
                   groups)


conv1d = conv3d = conv_nd
conv_transpose1d = conv_transpose3d = conv_transpose_nd
