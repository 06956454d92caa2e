"""Output sizes of windowed ops, shared by every backend and by the ops' shape checks."""


def window_output_size(size, kernel, stride, padding, dilation=1):
    """Positions of a (dilated) window sliding over a padded axis; may be < 1 when it does not fit."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def pool_output_size(size, kernel, stride, padding, dilation=1, ceil_mode=False):
    """torch's pooling output size: with ceil_mode a last, partial window counts too when it
    starts inside the input or its left padding. May be < 1 when no window fits."""
    out = (size + 2 * padding - dilation * (kernel - 1) - 1 + (stride - 1 if ceil_mode else 0)) \
        // stride + 1
    return out - 1 if ceil_mode and (out - 1) * stride >= size + padding else out


def as_volume(values, fill=1):
    """Spatial values of 1 to 3 axes as (depth, height, width): the missing leading axes get
    `fill` (1 for sizes, strides and dilations, 0 for paddings), as an image is a volume of
    depth 1 and a signal one of height 1 too."""
    return (fill,) * (3 - len(values)) + tuple(values)


def volume_args(kernel, stride, padding, dilation):
    """The 12 ints of a windowed kernel over volumes: kernel, stride, padding and dilation,
    each as (depth, height, width)."""
    return as_volume(kernel) + as_volume(stride) + as_volume(padding, 0) + as_volume(dilation)


def transposed_output_size(size, kernel, stride, padding, output_padding, dilation=1):
    """The axis size a transposed convolution produces (the conv2d input it is the adjoint for)."""
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


def channel_reduction_axes(ndim):
    """The axes batch statistics reduce over: all but the channel axis (1)."""
    return (0,) + tuple(range(2, ndim))


def per_channel(v, ndim):
    """A (C,) vector shaped to broadcast against (N, C, ...)."""
    return v.reshape((1, -1) + (1,) * (ndim - 2))
