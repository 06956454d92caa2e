"""Reductions over one, several or all axes, with keepdims."""
from .. import backend

from ..autograd import Function
from ..errors import ShapeError
from ..tensor import Tensor
from ._checks import kept_shape, normalize_axes, require_float, torch_dims


class Sum(Function):
    def forward(self, x, axis, keepdims):
        self.axes = normalize_axes(self.op_name(), axis, x.ndim)
        self.x_shape = tuple(x.shape)
        return self.kernels.sum(x, self.axes, keepdims)

    def backward(self, gy):
        k = self.kernels
        gy = k.reshape(gy, kept_shape(self.x_shape, self.axes))
        return k.broadcast_to(gy, self.x_shape), None, None


class Max(Function):
    def forward(self, x, axis, keepdims):
        self.axes = normalize_axes(self.op_name(), axis, x.ndim)
        y = self.kernels.max(x, self.axes, True)
        self.save(x, y)
        return y if keepdims else self.kernels.reshape(y, _dropped(x.shape, self.axes))

    def backward(self, gy):
        x, y = self.saved
        gy = self.kernels.reshape(gy, y.shape)
        return self.kernels.max_backward(x, y, gy, self.axes), None, None


def _dropped(shape, axes):
    return tuple(n for i, n in enumerate(shape) if axes is not None and i not in axes)


@torch_dims
def sum(input, dim=None, keepdim=False):
    return Sum.apply(input, dim, keepdim)


@torch_dims
def mean(input, dim=None, keepdim=False):
    require_float("mean", input.dtype)
    axes = normalize_axes("mean", dim, input.ndim)
    count = 1
    for i, n in enumerate(input.shape):
        count *= n if axes is None or i in axes else 1
    return Sum.apply(input, axes, keepdim) / count


@torch_dims
def max(input, dim=None, keepdim=False):
    if input.numel() == 0:
        raise ShapeError(f"max: a tensor of shape {input.shape} has no elements to take the max of")
    return Max.apply(input, dim, keepdim)


@torch_dims
def argmax(input, dim=None):
    """Indices of the maxima (the first on ties), outside the graph."""
    axis = None if dim is None else normalize_axes("argmax", dim, input.ndim)[0]
    return Tensor._from_array(backend.table(input.device).argmax(input.data, axis), input.device)


__all__ = ["sum", "mean", "max", "argmax"]
METHODS = ("sum", "mean", "max", "argmax")
