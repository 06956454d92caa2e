"""Tensor: an array on a device, its gradient, and the graph node that computed it."""
import functools
import inspect
import operator
import sys

import numpy as np

from . import backend

from . import autograd
from .errors import DTypeError, GraphError, ShapeError

# The dtypes, as torch.<name>: numpy's (engine/__init__.py also binds eg.bool to np.bool_)
uint8, int8, int16, int32, int64 = np.uint8, np.int8, np.int16, np.int32, np.int64
float16, float32, float64, bool_ = np.float16, np.float32, np.float64, np.bool_


def check_dtype(op, dtype, default=None):
    """dtype (`default` when None) as a numpy dtype of a tensor (bool, an integer or a float),
    else DTypeError."""
    dtype = default if dtype is None else dtype
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise DTypeError(f"{op}: {dtype!r} is not a dtype; expected one such as eg.float32"
                         ) from None
    if dtype.kind not in "biuf":
        raise DTypeError(f"{op}: tensors cannot have dtype {dtype}; expected bool, an integer "
                         "or a floating-point dtype")
    return dtype


def _scalars(data):
    """Nested lists and tuples with each one-element tensor as its number (torch.tensor's rule);
    a tensor of more elements has no place in a list of numbers."""
    if isinstance(data, (list, tuple)):
        return [_scalars(x) for x in data]
    if isinstance(data, Tensor):
        if data.numel() != 1:
            raise DTypeError(f"tensor: a list holds a tensor of shape {data.shape}; expected "
                             "numbers or one-element tensors (use eg.stack for tensors)")
        return data.item()
    return data


def _host_array(data, dtype):
    """numpy's copy of `data`: an array or tensor keeps its dtype (in native byte order); Python
    bools give bool, ints int64 and floats float32 (torch's default dtype), a mix the promoted
    dtype."""
    if isinstance(data, Tensor):
        data = data.numpy()
    if isinstance(data, (list, tuple)):
        data = _scalars(data)
    if isinstance(data, (np.ndarray, np.generic)) and dtype is None:
        # torch's dtypes have no byte order: a big-endian array (a FITS or IDX file) is converted
        return np.array(data, dtype=check_dtype("tensor", data.dtype).newbyteorder("="))
    try:
        a = np.array(data, dtype=None if dtype is None else check_dtype("tensor", dtype))
    except ValueError as e:  # ragged nests, strings for numbers
        raise DTypeError(f"tensor: cannot convert {type(data).__name__} ({e}); expected numbers "
                         "or bools in a rectangular nest of lists") from None
    if dtype is not None:
        return a
    if a.dtype.kind not in "biuf" or a.dtype == np.uint64:
        raise DTypeError(f"tensor: cannot make a tensor of {type(data).__name__} (numpy makes "
                         f"dtype {a.dtype} of it); expected numbers, bools or arrays of them, "
                         "each integer within int64")
    kind = a.dtype.kind
    return a.astype(np.float32) if kind == "f" else a.astype(np.int64) if kind in "iu" else a


# numpy's ufuncs as the engine's functions (see Tensor.__array_ufunc__): a torch name, eg.<name>,
# or an operator where torch spells it as one
_UFUNCS = {getattr(np, name): target for name, target in {
    "add": "add", "subtract": "sub", "multiply": "mul", "divide": "div", "power": "pow",
    "float_power": "float_power", "floor_divide": "floor_divide", "remainder": "remainder",
    "fmod": "fmod", "negative": "neg", "positive": "positive", "absolute": "abs", "fabs": "abs",
    "sign": "sign", "reciprocal": "reciprocal", "square": "square", "sqrt": "sqrt",
    "exp": "exp", "exp2": "exp2", "expm1": "expm1", "log": "log", "log2": "log2",
    "log10": "log10", "log1p": "log1p", "sin": "sin", "cos": "cos", "tan": "tan",
    "arcsin": "asin", "arccos": "acos", "arctan": "atan", "arctan2": "atan2", "sinh": "sinh",
    "cosh": "cosh", "tanh": "tanh", "arcsinh": "asinh", "arccosh": "acosh", "arctanh": "atanh",
    "deg2rad": "deg2rad", "rad2deg": "rad2deg", "floor": "floor", "ceil": "ceil",
    "trunc": "trunc", "rint": "round", "maximum": "maximum", "minimum": "minimum",
    "fmax": "fmax", "fmin": "fmin", "hypot": "hypot", "logaddexp": "logaddexp",
    "logaddexp2": "logaddexp2", "copysign": "copysign", "nextafter": "nextafter",
    "heaviside": "heaviside", "gcd": "gcd", "lcm": "lcm", "isnan": "isnan", "isinf": "isinf",
    "isfinite": "isfinite", "signbit": "signbit", "logical_and": "logical_and",
    "logical_or": "logical_or", "logical_xor": "logical_xor", "logical_not": "logical_not",
    "bitwise_and": "bitwise_and", "bitwise_or": "bitwise_or", "bitwise_xor": "bitwise_xor",
    "invert": "bitwise_not", "left_shift": "bitwise_left_shift",
    "right_shift": "bitwise_right_shift", "matmul": operator.matmul, "equal": operator.eq,
    "not_equal": operator.ne, "less": operator.lt, "less_equal": operator.le,
    "greater": operator.gt, "greater_equal": operator.ge}.items()}


def _engine():
    """The engine package, whose namespace holds every eg.<name> (bound after this module)."""
    return sys.modules[__package__]


# x.type(): torch's name of each dtype's tensor type
_TYPE_NAMES = {"bool": "Bool", "uint8": "Byte", "int8": "Char", "int16": "Short", "int32": "Int",
               "int64": "Long", "float16": "Half", "float32": "Float", "float64": "Double"}


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
    # read on every op: straight from the array (numpy's and CuPy's shapes are tuples)
    @property
    def shape(self):
        return self._data.shape

    @property
    def dtype(self):
        return self._data.dtype

    @property
    def ndim(self):
        return self._data.ndim

    @property
    def is_leaf(self):
        return self._ctx is None

    def numel(self):
        return int(self._data.size)

    def size(self, dim=None):
        return self.shape if dim is None else self.shape[dim]

    def dim(self):
        return self.ndim

    def element_size(self):
        """Bytes per element."""
        return self.dtype.itemsize

    def is_floating_point(self):
        return self.dtype.kind == "f"

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
        size = f", size={self.shape}" if self.numel() == 0 and self.ndim != 1 else ""
        return f"tensor({body}{size}, dtype={self.dtype}{extra})"

    # --- moving and detaching -------------------------------------------------------------------
    def numpy(self):
        """The values as a host numpy array (copied from the device when it is not the host)."""
        return backend.table(self.device).to_host(self.data)

    def item(self):
        if self.numel() != 1:
            raise ShapeError(f"item: only a tensor of one element converts to a number, "
                             f"got shape {self.shape}")
        return self.numpy().reshape(()).item()

    def tolist(self):
        """The values as nested lists of Python numbers (a number for a 0-d tensor)."""
        return self.numpy().tolist()

    def __array__(self, dtype=None, copy=None):
        """np.asarray(t): the values in t's dtype, sharing t's memory on the cpu (as torch)."""
        host = self.numpy()
        if copy is False and (self.device != backend.HOST
                              or (dtype is not None and np.dtype(dtype) != host.dtype)):
            raise ValueError(f"__array__: a {self.device} tensor of dtype {self.dtype} cannot "
                             f"give an array of dtype {dtype or self.dtype} without a copy")
        return np.array(host, dtype=dtype, copy=True if copy else None)

    def to(self, *args, device=None, dtype=None):
        """This tensor on another device ("cpu", "cuda"), with another dtype, or both (given in
        any order, or as another tensor's); differentiable."""
        from .ops import shape as shape_ops
        for arg in args:
            if isinstance(arg, Tensor):
                device, dtype = arg.device, arg.dtype
            elif isinstance(arg, str) and not _is_dtype_name(arg):
                device = arg
            else:
                dtype = arg
        t = self if dtype is None else self.astype(dtype)
        if device is None or device == t.device:
            return t
        backend.table(device)  # DeviceError for an unknown or unavailable device
        return shape_ops.ToDevice.apply(t, t.device, device)

    def astype(self, dtype):
        """This tensor in `dtype`; differentiable to a floating dtype, while an integer or bool
        result is outside the graph (as in torch)."""
        from .ops import elementwise
        dtype = check_dtype("astype", dtype)
        if dtype == self.dtype:
            return self
        return elementwise.Cast.apply(self if dtype.kind == "f" else self.detach(), dtype=dtype)

    def type(self, dtype=None):
        """With a dtype, this tensor in it; without, its type's name as torch gives it
        ("engine.FloatTensor", "engine.cuda.LongTensor")."""
        if dtype is not None:
            return self.astype(dtype)
        device = "" if self.device == backend.HOST else f"{self.device}."
        return f"engine.{device}{_TYPE_NAMES[self.dtype.name]}Tensor"

    def float(self):
        return self.astype(float32)

    def double(self):
        return self.astype(float64)

    def half(self):
        return self.astype(float16)

    def long(self):
        return self.astype(int64)

    def int(self):
        return self.astype(int32)

    def bool(self):
        return self.astype(bool_)

    # --- new tensors of this one's dtype and device (unless given) ------------------------------
    def _new(self, make, *args, dtype=None, device=None, requires_grad=False):
        return make(*args, dtype=self.dtype if dtype is None else dtype,
                    device=self.device if device is None else device, requires_grad=requires_grad)

    def new_tensor(self, data, **options):
        return self._new(_creation.tensor, data, **options)

    def new_full(self, size, fill_value, **options):
        return self._new(_creation.full, size, fill_value, **options)

    def new_zeros(self, *size, **options):
        return self._new(_creation.zeros, *size, **options)

    def new_ones(self, *size, **options):
        return self._new(_creation.ones, *size, **options)

    def new_empty(self, *size, **options):
        return self._new(_creation.empty, *size, **options)

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

    def register_post_accumulate_grad_hook(self, hook):
        """Call hook(self) in every backward pass right after this leaf's .grad was accumulated
        (its gradient for the pass is then final), as torch; returns a handle whose .remove()
        unregisters it. Only for leaves that require grad."""
        if not self.requires_grad:
            raise GraphError("register_post_accumulate_grad_hook: the tensor does not require "
                             "grad; no gradient would ever be accumulated into it")
        if self._ctx is not None:
            raise GraphError(f"register_post_accumulate_grad_hook: only a leaf accumulates .grad, "
                             f"and this tensor was computed by {self._ctx.op_name()}")
        hooks = self.__dict__.setdefault("_post_accumulate_grad_hooks", {})
        return autograd.RemovableHandle(hooks, hook)

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

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        """A numpy ufunc called on a tensor (np.exp(t), or np.ones(3) + t, which numpy turns into
        np.add) runs the engine's function of the same meaning, looked up by its torch name;
        numpy arrays become tensors, numpy scalars numbers. NotImplemented (numpy's TypeError)
        for a ufunc the engine lacks, and for out=, where=, reduce and the like."""
        target = _UFUNCS.get(ufunc)
        function = getattr(_engine(), target, None) if isinstance(target, str) else target
        if function is None or method != "__call__" or kwargs:
            return NotImplemented
        operands = []
        for x in inputs:
            if isinstance(x, np.ndarray):
                x = _creation.as_tensor(x)
            elif isinstance(x, np.generic) and x.dtype.kind in "biuf":
                x = x.item()
            elif not isinstance(x, (Tensor, int, float)):  # a bool is an int
                return NotImplemented
            operands.append(x)
        return function(*operands)

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


autograd.Tensor = Tensor  # the graph's walks tell tensors from arrays by it
from . import ops as _ops  # noqa: E402  (the ops need Tensor defined first)
from . import creation as _creation  # noqa: E402



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
