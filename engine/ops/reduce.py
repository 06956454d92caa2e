"""Reductions over one, several or all axes, with keepdims."""
from .. import backend

from ..autograd import Function
from ..errors import ShapeError
from ..tensor import Tensor
from ._checks import kept_shape, normalize_axes, require_float


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


def sum(x, axis=None, keepdims=False):
    return Sum.apply(x, axis, keepdims)


def mean(x, axis=None, keepdims=False):
    require_float("mean", x.dtype)
    axes = normalize_axes("mean", axis, x.ndim)
    count = 1
    for i, n in enumerate(x.shape):
        count *= n if axes is None or i in axes else 1
    return Sum.apply(x, axes, keepdims) / count


def max(x, axis=None, keepdims=False):
    if x.numel() == 0:
        raise ShapeError(f"max: a tensor of shape {x.shape} has no elements to take the max of")
    return Max.apply(x, axis, keepdims)


def argmax(x, axis=None):
    """Indices of the maxima (the first on ties), outside the graph."""
    axis = None if axis is None else normalize_axes("argmax", axis, x.ndim)[0]
    return Tensor._from_array(backend.table(x.device).argmax(x.data, axis), x.device)
