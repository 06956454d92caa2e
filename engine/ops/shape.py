"""Shape ops: reshape, permute, indexing, cat, stack, where, and moving between devices."""
import numbers

import numpy as np

from .. import backend

from ..autograd import Function
from ..errors import DTypeError, ShapeError
from ..tensor import Tensor
from ._checks import broadcast_shapes, normalize_axis, shape_of, torch_dims


class Reshape(Function):
    def forward(self, x, shape):
        self.x_shape = tuple(x.shape)
        return self.kernels.reshape(x, _resolve_shape(self.x_shape, shape))

    def backward(self, gy):
        return self.kernels.reshape(gy, self.x_shape), None


def _resolve_shape(old, new):
    """`new` with its one -1 filled in, or ShapeError when the sizes differ."""
    size = int(np.prod(old, dtype=np.int64))
    if sum(n == -1 for n in new) > 1 or any(n < -1 for n in new):
        raise ShapeError(f"reshape: shape {new} may hold one -1 and no other negative size")
    if -1 in new:
        known = int(np.prod([n for n in new if n != -1], dtype=np.int64))
        if known and size % known == 0:
            new = tuple(size // known if n == -1 else n for n in new)
    if -1 in new or int(np.prod(new, dtype=np.int64)) != size:
        raise ShapeError(f"reshape: cannot reshape a tensor of shape {old} ({size} elements) "
                         f"into {new}")
    return new


class Permute(Function):
    def forward(self, x, axes):
        self.axes = axes
        return self.kernels.transpose(x, axes)

    def backward(self, gy):
        return self.kernels.transpose(gy, tuple(np.argsort(self.axes))), None


class GetItem(Function):
    name = "getitem"

    def forward(self, x, index):
        self.index, self.x_shape = index, tuple(x.shape)
        return self.kernels.getitem(x, index)

    def backward(self, gy):
        return self.kernels.getitem_backward(gy, self.index, self.x_shape), None


class BroadcastTo(Function):
    name = "broadcast_to"

    def forward(self, x, shape):
        self.x_shape = tuple(x.shape)
        return self.kernels.broadcast_to(x, shape)

    def backward(self, gy):
        return self.kernels.sum_to_shape(gy, self.x_shape), None


class IndexAdd(Function):
    """zeros(shape) with gy added at [index]: getitem's backward, as an op of its own so that
    the backward of getitem can be differentiated again (its own backward is getitem)."""
    name = "index_add"

    def forward(self, gy, index, shape):
        self.index = index
        return self.kernels.getitem_backward(gy, index, shape)

    def backward(self, gg):
        return self.kernels.getitem(gg, self.index), None, None


class Cat(Function):
    def forward(self, *xs, axis):
        self.axis, self.sizes = axis, [x.shape[axis] for x in xs]
        return self.kernels.concatenate(xs, axis)

    def backward(self, gy):
        return tuple(self.kernels.split(gy, self.sizes, self.axis))


class Stack(Function):
    def forward(self, *xs, axis):
        self.axis = axis
        return self.kernels.stack(xs, axis)

    def backward(self, gy):
        k = self.kernels
        pieces = k.split(gy, [1] * gy.shape[self.axis], self.axis)
        shape = tuple(n for i, n in enumerate(gy.shape) if i != self.axis)
        return tuple(k.reshape(p, shape) for p in pieces)


class Where(Function):
    def forward(self, condition, a, b):
        broadcast_shapes(self.op_name(), *map(shape_of, (condition, a, b)))
        self.condition = condition
        return self.kernels.where(condition, a, b)

    def backward(self, gy):
        k, c = self.kernels, self.condition
        _, need_a, need_b = self.needs_input_grad
        return (None, k.where(c, gy, 0) if need_a else None, k.where(c, 0, gy) if need_b else None)


class Pad(Function):
    def forward(self, x, widths):
        self.widths = widths
        return self.kernels.pad(x, widths)

    def backward(self, gy):
        inner = tuple(slice(before, n - after) for (before, after), n in zip(self.widths, gy.shape))
        return self.kernels.getitem(gy, inner), None


class ToDevice(Function):
    name = "to"

    def forward(self, x, source, device):
        self.source, self.output_device = source, device
        return backend.move(x, source, device)

    def backward(self, gy):
        if self.kernels.differentiable:  # recording: the move back is an op of the graph
            return gy.to(self.source), None, None
        return backend.move(gy, self.output_device, self.source), None, None


def reshape(x, *shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return Reshape.apply(x, tuple(int(n) for n in shape))


def permute(x, *dims):
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    axes = tuple(normalize_axis("permute", d, x.ndim) for d in dims)
    if sorted(axes) != list(range(x.ndim)):
        raise ShapeError(f"permute: dims {dims} are not a permutation of the {x.ndim} "
                         f"dimensions of a tensor of shape {x.shape}")
    return Permute.apply(x, axes)


def transpose(x, a, b):
    axes = list(range(x.ndim))
    a, b = normalize_axis("transpose", a, x.ndim), normalize_axis("transpose", b, x.ndim)
    axes[a], axes[b] = axes[b], axes[a]
    return Permute.apply(x, tuple(axes))


def flatten(x, start_dim=0, end_dim=-1):
    if x.ndim == 0:
        return reshape(x, 1)
    start = normalize_axis("flatten", start_dim, x.ndim)
    end = normalize_axis("flatten", end_dim, x.ndim)
    if start > end:
        raise ShapeError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    return reshape(x, *x.shape[:start], -1, *x.shape[end + 1:])


def _host_index(part):
    """One part of an index, with Tensors and lists turned into host arrays."""
    if isinstance(part, Tensor):
        part = part.numpy()
    if isinstance(part, list):
        part = np.asarray(part)
    if isinstance(part, np.ndarray) and part.dtype.kind not in "iub":
        raise DTypeError(f"getitem: index arrays must hold integers or bools, got {part.dtype}")
    return part


def getitem(x, index):
    index = tuple(map(_host_index, index)) if isinstance(index, tuple) else _host_index(index)
    return GetItem.apply(x, index)


def _check_same_rank(op, tensors, axis, stacking):
    if not tensors:
        raise ShapeError(f"{op}: expected a non-empty sequence of tensors")
    first = tensors[0].shape
    for t in tensors[1:]:
        same = t.shape == first if stacking else (
            len(t.shape) == len(first) and all(n == m for i, (n, m) in enumerate(zip(t.shape, first))
                                                 if i != axis))
        if not same:
            want = "equal shapes" if stacking else f"equal shapes except along axis {axis}"
            raise ShapeError(f"{op}: got shapes {[t.shape for t in tensors]}; expected {want}")


@torch_dims
def cat(tensors, dim=0):
    tensors = list(tensors)
    axis = normalize_axis("cat", dim, tensors[0].ndim) if tensors else dim
    _check_same_rank("cat", tensors, axis, stacking=False)
    return Cat.apply(*tensors, axis=axis)


@torch_dims
def stack(tensors, dim=0):
    tensors = list(tensors)
    axis = normalize_axis("stack", dim, tensors[0].ndim + 1) if tensors else dim
    _check_same_rank("stack", tensors, axis, stacking=True)
    return Stack.apply(*tensors, axis=axis)


def where(condition, a, b):
    """Elements of a where condition holds, else of b; differentiable in a and b."""
    if not isinstance(condition, Tensor):
        device = next((v.device for v in (a, b) if isinstance(v, Tensor)), backend.HOST)
        condition = Tensor(condition, device=device)
    if condition.dtype != np.bool_:
        raise DTypeError(f"where: condition must be a bool tensor, got dtype {condition.dtype}")
    for v in (a, b):
        if not isinstance(v, (Tensor, numbers.Number)):
            raise DTypeError(f"where: a and b must be tensors or numbers, got {type(v).__name__}")
    return Where.apply(condition, a, b)


def pad(x, pad):
    """Zero padding as torch.nn.functional.pad: (left, right) of the last axis, then (top,
    bottom) of the one before it, and so on."""
    from . import _checks
    _checks.require_tensor("pad", "input", x)
    if not (isinstance(pad, (tuple, list)) or (isinstance(pad, np.ndarray) and pad.ndim == 1)):
        raise ShapeError(f"pad: expected a tuple of ints (left, right, top, bottom, ...), got "
                         f"{pad!r}")
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ShapeError(f"pad: expected an even number of at most {2 * x.ndim} widths for a "
                         f"tensor of shape {x.shape}, got {tuple(pad)}")
    if any(not isinstance(p, numbers.Integral) or p < 0 for p in pad):
        raise ShapeError(f"pad: widths must be non-negative ints, got {tuple(pad)}")
    if x.ndim == 0:  # nothing to pad
        return reshape(x, ())
    pairs = [(int(pad[i]), int(pad[i + 1])) for i in range(0, len(pad), 2)]
    widths = [(0, 0)] * (x.ndim - len(pairs)) + pairs[::-1]
    padded = tuple(n + before + after for n, (before, after) in zip(x.shape, widths))
    if any(m > _checks.MAX_SIZE for m, (before, after) in zip(padded, widths) if before or after):
        raise ShapeError(f"pad: padding {tuple(pad)} makes the shape {tuple(x.shape)} into "
                         f"{padded}; expected extents of at most {_checks.MAX_SIZE}")
    size = int(np.prod(padded, dtype=object)) if padded else 1
    limit = max(_checks.MAX_ELEMENTS, 64 * x.numel())
    if size > limit:
        raise ShapeError(f"pad: padding {tuple(pad)} makes the shape {tuple(x.shape)} into "
                         f"{padded}, {size} elements; expected at most {limit}")
    return Pad.apply(x, tuple(widths))


__all__ = ["cat", "stack", "where", "reshape", "permute", "transpose", "flatten"]
METHODS = ("reshape", "permute", "transpose", "flatten")
