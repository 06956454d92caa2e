"""The kernel table's twin made of differentiable ops: the same names as kernels/contract.py,
on Tensors, each recording its node in the graph.

A Function's backward is written once, over `self.kernels`. Normally that is the device's
table of array kernels, and backward runs at full speed on arrays. When backward runs with
create_graph=True, the engine hands it this table instead (and the Tensors its saved arrays
came from), so the very same backward records a graph of its own and its result can be
differentiated again, to any order. The composites of kernels/composite.py (softmax's
backward, batch norm's, the losses') run over this table unchanged.
"""
import functools

from kernels import composite

from .. import backend
from ..tensor import Tensor
from . import activation, conv, elementwise, linalg, reduce, shape


def _data(x):
    return x.data if isinstance(x, Tensor) else x


class OpTable:
    """Differentiable ops of one device under the kernel table's names."""

    differentiable = True
    _tables = {}

    @classmethod
    def of(cls, device):
        if device not in cls._tables:
            cls._tables[device] = cls(device)
        return cls._tables[device]

    def __init__(self, device):
        self.device = device
        self.arrays = backend.table(device)
        for name in composite.COMPOSITES:
            setattr(self, name, functools.partial(getattr(composite, name), self))
        from . import FAMILIES  # each family's differentiable primitives (its TWINS)
        for family in FAMILIES:
            for name, twin in getattr(family, "TWINS", {}).items():
                setattr(self, name, twin)

    def constant(self, array):
        """An array that the graph treats as fixed (a mask, an index, a count)."""
        return Tensor._from_array(array, self.device)

    # --- arrays ---------------------------------------------------------------------------------
    def from_host(self, a):
        return self.constant(self.arrays.from_host(a))

    def zeros(self, shape, dtype):
        return self.constant(self.arrays.zeros(shape, dtype))

    def astype(self, a, dtype):
        return a if a.dtype == dtype else elementwise.Cast.apply(a, dtype=dtype)

    def copy(self, a):
        return a  # a graph's values are never written in place

    # --- elementwise ----------------------------------------------------------------------------
    add = staticmethod(elementwise.Add.apply)
    sub = staticmethod(elementwise.Sub.apply)
    mul = staticmethod(elementwise.Mul.apply)
    div = staticmethod(elementwise.Div.apply)
    pow = staticmethod(elementwise.Pow.apply)
    neg = staticmethod(elementwise.Neg.apply)
    exp = staticmethod(elementwise.Exp.apply)
    log = staticmethod(elementwise.Log.apply)
    log1p = staticmethod(elementwise.Log1p.apply)
    sqrt = staticmethod(elementwise.Sqrt.apply)
    abs = staticmethod(elementwise.Abs.apply)
    tanh = staticmethod(activation.Tanh.apply)
    sigmoid = staticmethod(activation.Sigmoid.apply)
    relu = staticmethod(activation.ReLU.apply)
    where = staticmethod(shape.Where.apply)

    def sign(self, x):
        return self.constant(self.arrays.sign(_data(x)))  # its derivative is 0 wherever it has one

    def compare(self, op, a, b):
        return self.constant(self.arrays.compare(op, _data(a), _data(b)))

    # --- reductions -----------------------------------------------------------------------------
    sum = staticmethod(reduce.Sum.apply)
    max = staticmethod(reduce.Max.apply)

    def argmax(self, x, axis):
        return self.constant(self.arrays.argmax(_data(x), axis))

    def broadcast_to(self, x, shape_):
        return shape.BroadcastTo.apply(x, tuple(shape_))

    # --- shapes and indexing --------------------------------------------------------------------
    def reshape(self, x, shape_):
        return shape.Reshape.apply(x, tuple(shape_))

    def transpose(self, x, axes):
        return shape.Permute.apply(x, tuple(axes))

    getitem = staticmethod(shape.GetItem.apply)
    getitem_backward = staticmethod(shape.IndexAdd.apply)

    def concatenate(self, xs, axis):
        return shape.Cat.apply(*xs, axis=axis)

    def split(self, x, sizes, axis):
        pieces, start = [], 0
        for n in sizes:
            index = (slice(None),) * axis + (slice(start, start + n),)
            pieces.append(shape.GetItem.apply(x, index))
            start += n
        return pieces

    def stack(self, xs, axis):
        return shape.Stack.apply(*xs, axis=axis)

    def pad(self, x, widths):
        return shape.Pad.apply(x, tuple(widths))

    # --- products (pooling's twins are in ops/pool.py) -------------------------------------------
    matmul = staticmethod(linalg.MatMul.apply)

    # --- variant families -----------------------------------------------------------------------
    def family(self, name, variant=None):
        """The differentiable implementation of a variant family (see Function.kernel)."""
        if name in ("conv2d", "conv3d"):
            return conv.differentiable_kernels(variant, name)
        return getattr(self, name)

