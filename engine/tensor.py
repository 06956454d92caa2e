"""Tensor: an array on a device, its gradient, and the graph node that computed it."""
import functools
import inspect

import numpy as np

from . import backend

from . import autograd
from .errors import DTypeError, ShapeError

float32, float64, int32, int64, bool_ = np.float32, np.float64, np.int32, np.int64, np.bool_


def _host_array(data, dtype):
    """numpy's view of `data`; Python floats become float32 and ints int64, as in torch."""
    if isinstance(data, Tensor):
        data = data.numpy()
    if dtype is not None:
        return np.array(data, dtype=np.dtype(dtype))
    if isinstance(data, (np.ndarray, np.generic)):
        return np.array(data)
    a = np.array(data)
    if a.dtype == np.float64:
        return a.astype(np.float32)
    if a.dtype.kind in "iu":
        return a.astype(np.int64)
    if a.dtype.kind not in "fb":
        raise DTypeError(f"tensor: cannot make a tensor of {type(data).__name__} "
                         f"(numpy dtype {a.dtype}); expected numbers, bools or arrays of them")
    return a


def _is_dtype_name(name):
    try:
        np.dtype(name)
    except TypeError:
        return False
    return True


class Version:
    """How many times a tensor's data was written in place or replaced. A Function that saves a
    tensor for backward notes its version, and backward refuses to run on changed data."""
    __slots__ = ("value",)

    def __init__(self):
        self.value = 0


def _check_requires_grad(dtype, requires_grad):
    if requires_grad and np.dtype(dtype).kind != "f":
        raise DTypeError(f"requires_grad: only floating-point tensors can require grad, "
                         f"got dtype {np.dtype(dtype)}")


class Tensor:
    """An n-dimensional array on a device ("cpu" or "cuda") that can record its graph."""

    __array_priority__ = 1000  # numpy scalars on the left defer to Tensor's reflected operators
    __hash__ = object.__hash__  # == is elementwise, identity stays hashable

    def __init__(self, data, dtype=None, device="cpu", requires_grad=False):
        host = _host_array(data, dtype)
        _check_requires_grad(host.dtype, requires_grad)
        self._data = backend.table(device).from_host(host)
        self._version = Version()
        self.device = device
        self.requires_grad = requires_grad
        self.grad = None
        self._ctx = None

    @classmethod
    def _from_array(cls, array, device, requires_grad=False):
        """Wrap a backend array without copying it."""
        t = cls.__new__(cls)
        t._data, t.device, t.requires_grad, t.grad, t._ctx = array, device, requires_grad, None, None
        t._version = Version()
        return t

    # --- data and its version -------------------------------------------------------------------
    @property
    def data(self):
        """The backend array. Assigning it (t.data = ..., t.data += ...) counts as an in-place
        write: a backward that needs the old values then raises GraphError."""
        return self._data

    @data.setter
    def data(self, array):
        self._data = array
        self._version.value += 1

    def _mark_written(self):
        """Count an in-place write into the array itself (an optimizer step)."""
        self._version.value += 1

    # --- what it is -----------------------------------------------------------------------------
    @property
    def shape(self):
        return tuple(self.data.shape)

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self):
        return len(self.data.shape)

    @property
    def is_leaf(self):
        return self._ctx is None

    def numel(self):
        return int(np.prod(self.shape, dtype=np.int64))

    def size(self, dim=None):
        return self.shape if dim is None else self.shape[dim]

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __repr__(self):
        extra = f", device='{self.device}'" if self.device != backend.HOST else ""
        if self._ctx is not None:
            extra += f", grad_fn={self._ctx.op_name()}"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        body = np.array2string(self.numpy(), separator=", ", prefix="tensor(")
        return f"tensor({body}, dtype={self.dtype}{extra})"

    # --- moving and detaching -------------------------------------------------------------------
    def numpy(self):
        """The values as a host numpy array (copied from the device when it is not the host)."""
        return backend.table(self.device).to_host(self.data)

    def item(self):
        if self.numel() != 1:
            raise ShapeError(f"item: only a tensor of one element converts to a number, "
                             f"got shape {self.shape}")
        return self.numpy().reshape(()).item()

    def to(self, target):
        """This tensor on another device ("cpu", "cuda") or with another dtype; differentiable."""
        from .ops import shape as shape_ops
        if isinstance(target, str) and not _is_dtype_name(target):
            backend.table(target)  # DeviceError for an unknown or unavailable device
            return self if target == self.device else shape_ops.ToDevice.apply(self, self.device,
                                                                              target)
        return self.astype(target)

    def astype(self, dtype):
        from .ops import elementwise
        dtype = np.dtype(dtype)
        return self if dtype == self.dtype else elementwise.Cast.apply(self, dtype=dtype)

    def float(self):
        return self.astype(np.float32)

    def double(self):
        return self.astype(np.float64)

    def long(self):
        return self.astype(np.int64)

    def detach(self):
        """The same data, cut from the graph (writes to either count for both, as in torch)."""
        t = Tensor._from_array(self.data, self.device)
        t._version = self._version
        return t

    def requires_grad_(self, requires_grad=True):
        _check_requires_grad(self.dtype, requires_grad)
        self.requires_grad = requires_grad
        return self

    def backward(self, grad=None, retain_graph=None, create_graph=False):
        """Accumulate the gradient of this tensor into the .grad of every leaf below it; with
        create_graph=True the gradients are differentiable (retain_graph then defaults to True)."""
        autograd.backward(self, grad, retain_graph, create_graph)

    # --- arithmetic -----------------------------------------------------------------------------
    def __add__(self, other): return _ops.add(self, other)
    def __radd__(self, other): return _ops.add(other, self)
    def __sub__(self, other): return _ops.sub(self, other)
    def __rsub__(self, other): return _ops.sub(other, self)
    def __mul__(self, other): return _ops.mul(self, other)
    def __rmul__(self, other): return _ops.mul(other, self)
    def __truediv__(self, other): return _ops.div(self, other)
    def __rtruediv__(self, other): return _ops.div(other, self)
    def __pow__(self, other): return _ops.pow(self, other)
    def __rpow__(self, other): return _ops.pow(other, self)
    def __floordiv__(self, other): return _ops.floor_divide(self, other)
    def __rfloordiv__(self, other): return _ops.floor_divide(other, self)
    def __mod__(self, other): return _ops.remainder(self, other)
    def __rmod__(self, other): return _ops.remainder(other, self)
    def __and__(self, other): return _ops.bitwise_and(self, other)
    def __rand__(self, other): return _ops.bitwise_and(other, self)
    def __or__(self, other): return _ops.bitwise_or(self, other)
    def __ror__(self, other): return _ops.bitwise_or(other, self)
    def __xor__(self, other): return _ops.bitwise_xor(self, other)
    def __rxor__(self, other): return _ops.bitwise_xor(other, self)
    def __invert__(self): return _ops.bitwise_not(self)
    def __abs__(self): return _ops.abs(self)
    def __matmul__(self, other): return _ops.matmul(self, other)
    def __rmatmul__(self, other): return _ops.matmul(other, self)
    def __neg__(self): return _ops.neg(self)
    def __pos__(self): return self

    def __eq__(self, other): return _ops.compare("eq", self, other)
    def __ne__(self, other): return _ops.compare("ne", self, other)
    def __lt__(self, other): return _ops.compare("lt", self, other)
    def __le__(self, other): return _ops.compare("le", self, other)
    def __gt__(self, other): return _ops.compare("gt", self, other)
    def __ge__(self, other): return _ops.compare("ge", self, other)

    def __bool__(self):
        if self.numel() != 1:
            raise ShapeError(f"the truth value of a tensor of shape {self.shape} is ambiguous")
        return bool(self.item())

    def __float__(self): return float(self.item())
    def __int__(self): return int(self.item())

    def __getitem__(self, index): return _ops.getitem(self, index)

    # --- methods: the ops' functions with the tensor first (ops.METHODS, bound below) -----------
    def view(self, *shape):
        return _ops.reshape(self, *shape)

    @property
    def T(self):
        return _ops.permute(self, *reversed(range(self.ndim)))


from . import ops as _ops  # noqa: E402  (the ops need Tensor defined first)



def _method(function):
    """function (an op taking the tensor first) as a method; a plain function already is one,
    a Function's bound apply is wrapped."""
    if inspect.isfunction(function):
        return function

    @functools.wraps(function)
    def method(self, *args, **kwargs):
        return function(self, *args, **kwargs)
    return method


for _name, _function in _ops.METHODS.items():
    setattr(Tensor, _name, _method(_function))
