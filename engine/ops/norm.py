"""Normalization (batch, layer, group, instance, local response, RMS) and dropout."""
import numpy as np

from .. import backend

from ..autograd import Function
from ..arguments import number
from ..errors import ArgumentError, ShapeError
from ..random import generator
from ..tensor import Tensor
from ._checks import require_float


class BatchNorm(Function):
    name = "batch_norm"

    def forward(self, x, weight, bias, eps, running, momentum):
        k = self.kernels
        y, mean, var, invstd = self.kernel("batch_norm_forward")(x, weight, bias, eps)
        self.save(x, mean, invstd, weight)
        self.eps = eps
        count = x.size // x.shape[1]
        # updated in place, as torch's buffers; the variance unbiased within the same product
        for stat, batch, share in zip(running, (mean, var),
                                      (momentum, momentum * count / (count - 1))):
            if stat is not None:
                stat.data = k.add(k.mul(stat.data, 1 - momentum), k.mul(batch, share))
        return y

    def backward(self, gy):
        x, mean, invstd, weight = self.saved
        k = self.kernels
        if k.differentiable:  # recording: the statistics again, as functions of x
            _, mean, _, invstd = k.batch_norm_forward(x, None, None, self.eps)
        gx, gw, gb = self.kernel("batch_norm_backward")(x, gy, mean, invstd, weight)
        need = self.needs_input_grad
        return gx, gw if need[1] else None, gb if need[2] else None, None, None, None


def _per_channel(t, ndim):
    return None if t is None else t.reshape(*((1, -1) + (1,) * (ndim - 2)))


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Normalize each channel (axis 1) of x (N, C, *) (e.g. (N, C), (N, C, L), (N, C, H, W),
    (N, C, D, H, W)), as torch.

    In training, the batch statistics normalize and the running statistics are updated in
    place with the unbiased variance; in evaluation, the running statistics normalize.
    """
    op = "batch_norm"
    require_float(op, x.dtype)
    if x.ndim < 2:
        raise ShapeError(f"{op}: expected input (N, C, ...), got shape {x.shape}")
    channels = x.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and t.shape != (channels,):
            raise ShapeError(f"{op}: {name} has shape {t.shape}; expected ({channels},) "
                             f"for input {x.shape}")
    if not training:
        if running_mean is None or running_var is None:
            raise ArgumentError(f"{op}: evaluation needs running_mean and running_var")
        scale = (running_var + eps) ** -0.5
        y = (x - _per_channel(running_mean, x.ndim)) * _per_channel(scale, x.ndim)
        y = y if weight is None else y * _per_channel(weight, x.ndim)
        return y if bias is None else y + _per_channel(bias, x.ndim)
    if x.numel() // channels < 2:
        raise ShapeError(f"{op}: training needs more than one value per channel, got input {x.shape}")
    return BatchNorm.apply(x, weight, bias, eps, (running_mean, running_var), momentum)


def _normalized(x, dims, eps):
    """(x - mean) / sqrt(biased var + eps) over dims."""
    mean = x.mean(dims, keepdim=True)
    return (x - mean) * (x.var(dims, correction=0, keepdim=True) + eps).rsqrt()


def _affine(y, weight, bias, shape=None):
    """y * weight + bias, each of them shaped `shape` for y (as it is when None)."""
    if weight is not None:
        y = y * (weight if shape is None else weight.reshape(shape))
    if bias is not None:
        y = y + (bias if shape is None else bias.reshape(shape))
    return y


def _require_shape(op, name, t, shape, x):
    if t is not None and tuple(t.shape) != tuple(shape):
        raise ShapeError(f"{op}: {name} has shape {tuple(t.shape)}; expected {tuple(shape)} "
                         f"for input {tuple(x.shape)}")


def _trailing_dims(op, x, normalized_shape, weight, bias):
    """The last len(normalized_shape) dims of x, which must be normalized_shape."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    require_float(op, x.dtype)
    if not shape or len(shape) > x.ndim or tuple(x.shape[x.ndim - len(shape):]) != shape:
        raise ShapeError(f"{op}: input of shape {tuple(x.shape)} does not end with "
                         f"normalized_shape {shape}")
    for name, t in (("weight", weight), ("bias", bias)):
        _require_shape(op, name, t, shape, x)
    return tuple(range(-len(shape), 0))


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalize over the last dims (normalized_shape), then weight and bias elementwise."""
    dims = _trailing_dims("layer_norm", input, normalized_shape, weight, bias)
    return _affine(_normalized(input, dims, eps), weight, bias)


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """input / sqrt(mean(input**2) + eps) over the last dims, times weight; eps defaults to
    the machine epsilon of input's dtype, as torch."""
    dims = _trailing_dims("rms_norm", input, normalized_shape, weight, None)
    eps = float(np.finfo(input.dtype).eps) if eps is None else eps
    return _affine(input * ((input * input).mean(dims, keepdim=True) + eps).rsqrt(), weight, None)


def _channels_input(op, x, weight, bias, min_dims=2):
    require_float(op, x.dtype)
    if x.ndim < min_dims:
        raise ShapeError(f"{op}: expected input (N, C, ...) with at least {min_dims} dims, "
                         f"got shape {tuple(x.shape)}")
    for name, t in (("weight", weight), ("bias", bias)):
        _require_shape(op, name, t, (x.shape[1],), x)
    return (1, -1) + (1,) * (x.ndim - 2)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalize each of num_groups groups of channels of (N, C, *), per sample; then weight
    and bias per channel."""
    op = "group_norm"
    channel_shape = _channels_input(op, input, weight, bias)
    n, c = input.shape[:2]
    if not isinstance(num_groups, int) or num_groups < 1 or c % num_groups:
        raise ArgumentError(f"{op}: num_groups must divide the {c} channels, got {num_groups!r}")
    per_group = c // num_groups * int(np.prod(input.shape[2:], dtype=np.int64))
    grouped = input.reshape(n, num_groups, per_group)
    y = _normalized(grouped, -1, eps).reshape(*input.shape)
    return _affine(y, weight, bias, channel_shape)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    """Normalize each channel of each sample of (N, C, *) as torch: batch_norm of the input seen
    as (1, N * C, *); the running statistics, given, take the mean over the samples."""
    op = "instance_norm"
    channel_shape = _channels_input(op, input, weight, bias, min_dims=3)
    n, c = input.shape[:2]
    for name, t in (("running_mean", running_mean), ("running_var", running_var)):
        _require_shape(op, name, t, (c,), input)
    per_instance = [None if t is None else t.tile(n) for t in (running_mean, running_var)]
    y = batch_norm(input.reshape(1, n * c, *input.shape[2:]), *per_instance,
                   training=use_input_stats, momentum=momentum, eps=eps).reshape(*input.shape)
    if use_input_stats:
        for stat, tiled in zip((running_mean, running_var), per_instance):
            if stat is not None:
                stat.data = tiled.reshape(n, c).mean(0).data
    return _affine(y, weight, bias, channel_shape)


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """input / (k + alpha * mean of input**2 over `size` neighbouring channels) ** beta, the
    window zero-padded (size // 2 before, (size - 1) // 2 after) and always divided by size."""
    op = "local_response_norm"
    _channels_input(op, input, None, None, min_dims=3)
    size = int(size)
    c = input.shape[1]
    offset = np.arange(c)[None, :] - np.arange(c)[:, None]  # [c, c'] = c' - c
    band = ((offset >= -(size // 2)) & (offset <= (size - 1) // 2)).astype(input.dtype) / size
    window = Tensor(band.T, device=input.device)  # [c', c]: the channels c' that c averages
    mean_square = ((input * input).movedim(1, -1) @ window).movedim(-1, 1)
    return input / (mean_square * alpha + k) ** beta


def dropout(x, p=0.5, training=True):
    """Zero each element with probability p and scale the rest by 1/(1-p) (identity in eval)."""
    p = number("dropout", "dropout probability", p, high=1.0)
    if not training or p == 0:
        return x
    if p == 1:
        return x * 0
    seed = int(generator().integers(2 ** 31))
    mask = backend.table(x.device).dropout_mask(x.shape, p, seed, x.dtype)
    return x * Tensor._from_array(mask, x.device)


__all__ = []  # torch.<name>: none of these (they are torch.nn.functional's)
METHODS = ()
FUNCTIONAL = ("layer_norm", "rms_norm", "group_norm", "instance_norm",
              "local_response_norm")  # F.<name>
