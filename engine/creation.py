"""Making tensors, as torch does: from data (tensor, as_tensor, from_numpy), filled (zeros, ones,
full, empty, eye, arange, linspace, logspace), random (rand, randn, randint, randperm, drawn from
the engine's generator, see engine.random) and like another tensor (zeros_like, ...).

Values are made on the host and moved to the device: random draws then repeat across devices
under one manual_seed, and filling a new tensor costs one transfer either way."""
import math
import numbers
import operator
import warnings

import numpy as np

from . import backend
from .errors import ArgumentError, DTypeError, ShapeError
from .random import generator
from .tensor import Tensor, check_dtype, float32, int64

# --- from data -----------------------------------------------------------------------------------


def tensor(data, dtype=None, device="cpu", requires_grad=False):
    """A new tensor holding a copy of `data`: a numpy array keeps its dtype; Python bools give
    bool, ints int64, floats float32, a mix the promoted one; one-element tensors in a list
    count as their number."""
    return Tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)


def from_numpy(ndarray):
    """A cpu tensor sharing `ndarray`'s memory: a write through either is seen by the other. A
    read-only array is shared too, with torch's warning: writing to the tensor then fails."""
    if not isinstance(ndarray, np.ndarray):
        raise DTypeError(f"from_numpy: expected a numpy ndarray, got {type(ndarray).__name__}")
    check_dtype("from_numpy", ndarray.dtype)
    if not ndarray.dtype.isnative:
        raise DTypeError(f"from_numpy: the array has dtype {ndarray.dtype.str}, in non-native "
                         "byte order; expected native order (convert with a.astype(a.dtype."
                         "newbyteorder('=')), or copy with eg.tensor(a))")
    if not ndarray.flags.writeable:
        warnings.warn("from_numpy: the array is not writeable; the tensor shares its memory, so "
                      "writing to the tensor will fail (copy it first with eg.tensor(a))",
                      UserWarning, stacklevel=2)
    return Tensor._from_array(np.asarray(ndarray), backend.HOST)


def as_tensor(data, dtype=None, device=None):
    """`data` as a tensor, without a copy where it can: a tensor of that dtype and device is
    returned itself (else converted, differentiably), a numpy array of that dtype on the cpu
    shares its memory (as from_numpy); anything else is copied as by eg.tensor."""
    if isinstance(data, Tensor):
        data = data if dtype is None else data.to(dtype)
        return data if device is None else data.to(device)
    device = backend.HOST if device is None else device
    if isinstance(data, np.ndarray) and device == backend.HOST:
        if check_dtype("as_tensor", dtype, data.dtype) == data.dtype and data.dtype.isnative:
            return from_numpy(data)
    return tensor(data, dtype=dtype, device=device)


def is_tensor(obj):
    return isinstance(obj, Tensor)


def numel(input):
    """The number of elements of a tensor."""
    if not isinstance(input, Tensor):
        raise DTypeError(f"numel: expected a Tensor, got {type(input).__name__}")
    return input.numel()


# --- filled --------------------------------------------------------------------------------------


def _size(op, size):
    """`size` given as ints (zeros(2, 3)) or as one sequence (zeros((2, 3))) as a tuple of
    non-negative Python ints, else DTypeError (not ints) or ShapeError (negative)."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    try:
        if any(isinstance(n, bool) for n in size):
            raise TypeError
        size = tuple(operator.index(n) for n in size)
    except TypeError:
        raise DTypeError(f"{op}: the size must be ints, got {size!r}") from None
    if any(n < 0 for n in size):
        raise ShapeError(f"{op}: the size must not be negative, got {size}")
    return size


def _make(host, device, requires_grad):
    """A leaf tensor of the host array `host` on `device`."""
    t = Tensor._from_array(backend.table(device).from_host(host), device)
    return t.requires_grad_(requires_grad) if requires_grad else t


def _filled(op, size, fill_value, dtype, device, requires_grad):
    dtype = check_dtype(op, dtype, float32)
    return _make(np.full(_size(op, size), fill_value, dtype), device, requires_grad)


def _fill_dtype(fill_value):
    """The dtype torch gives a tensor filled with this Python number: bool, int64 or float32."""
    if isinstance(fill_value, (bool, np.bool_)):
        return np.bool_
    if isinstance(fill_value, numbers.Integral):
        return int64
    if isinstance(fill_value, numbers.Real):
        return float32
    raise DTypeError(f"full: fill_value must be a real number or a bool, got {fill_value!r}")


def full(size, fill_value, dtype=None, device="cpu", requires_grad=False):
    """A tensor of `size` filled with `fill_value`; its dtype is the value's (bool, int64 or
    float32) unless given."""
    value_dtype = _fill_dtype(fill_value)
    return _filled("full", (size,), fill_value, value_dtype if dtype is None else dtype, device,
                   requires_grad)


def zeros(*size, dtype=None, device="cpu", requires_grad=False):
    return _filled("zeros", size, 0, dtype, device, requires_grad)


def ones(*size, dtype=None, device="cpu", requires_grad=False):
    return _filled("ones", size, 1, dtype, device, requires_grad)


def empty(*size, dtype=None, device="cpu", requires_grad=False):
    """A new tensor whose values are unspecified (zeros here)."""
    return _filled("empty", size, 0, dtype, device, requires_grad)


def eye(n, m=None, dtype=None, device="cpu", requires_grad=False):
    """The n x m (n x n) matrix with ones on its diagonal."""
    n, m = _size("eye", (n, n if m is None else m))
    dtype = check_dtype("eye", dtype, float32)
    return _make(np.eye(n, m, dtype=dtype), device, requires_grad)


def _real(op, name, value):
    if isinstance(value, Tensor) and value.numel() == 1:
        value = value.item()
    if not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_)):
        raise DTypeError(f"{op}: {name} must be a real number, got {value!r}")
    return value


def arange(start, end=None, step=1, dtype=None, device="cpu", requires_grad=False):
    """start, start + step, ... up to end (excluded); int64 when every bound is an int, else
    float32, unless dtype is given."""
    if end is None:
        start, end = 0, start
    start, end, step = (_real("arange", name, v) for name, v in
                        (("start", start), ("end", end), ("step", step)))
    if step == 0:
        raise ArgumentError("arange: step must be nonzero, got 0")
    if not all(map(math.isfinite, (start, end, step))):
        raise ArgumentError(f"arange: start, end and step must be finite, got {start}, {end}, "
                            f"{step}")
    if (end - start) * step < 0:
        raise ArgumentError(f"arange: step {step} goes away from end {end} from start {start}; "
                            "expected a step of the sign of end - start")
    integers = all(isinstance(v, numbers.Integral) for v in (start, end, step))
    dtype = check_dtype("arange", dtype, int64 if integers else float32)
    return _make(np.arange(start, end, step).astype(dtype), device, requires_grad)


def _linspace(op, start, end, steps):
    """steps values from start to end in float64, the last one exactly end."""
    start, end = _real(op, "start", start), _real(op, "end", end)
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral):
        raise DTypeError(f"{op}: steps must be an int, got {steps!r}")
    if steps < 0:
        raise ArgumentError(f"{op}: steps must be non-negative, got {steps}")
    return np.linspace(start, end, int(steps), dtype=np.float64)


def linspace(start, end, steps, dtype=None, device="cpu", requires_grad=False):
    """steps evenly spaced values from start to end, both included."""
    values = _linspace("linspace", start, end, steps)
    return _make(values.astype(check_dtype("linspace", dtype, float32)), device, requires_grad)


def logspace(start, end, steps, base=10.0, dtype=None, device="cpu", requires_grad=False):
    """base ** linspace(start, end, steps)."""
    exponents = _linspace("logspace", start, end, steps)
    values = np.power(float(_real("logspace", "base", base)), exponents)
    return _make(values.astype(check_dtype("logspace", dtype, float32)), device, requires_grad)


# --- random, from the engine's generator ---------------------------------------------------------


def _float_dtype(op, dtype):
    dtype = check_dtype(op, dtype, float32)
    if dtype.kind != "f":
        raise DTypeError(f"{op}: expected a floating-point dtype, got {dtype}")
    return dtype


def rand(*size, dtype=None, device="cpu", requires_grad=False):
    """Uniform samples in [0, 1)."""
    dtype = _float_dtype("rand", dtype)
    return _make(generator().random(_size("rand", size)).astype(dtype), device, requires_grad)


def randn(*size, dtype=None, device="cpu", requires_grad=False):
    """Standard normal samples."""
    dtype = _float_dtype("randn", dtype)
    values = generator().standard_normal(_size("randn", size)).astype(dtype)
    return _make(values, device, requires_grad)


def randint(low=0, high=None, size=None, dtype=None, device="cpu", requires_grad=False):
    """randint(high, size) or randint(low, high, size): integers drawn uniformly from [low, high),
    int64 unless dtype is given."""
    if size is None:  # randint(high, size)
        low, high, size = 0, low, high
    elif high is None:  # randint(high, size=size)
        low, high = 0, low
    if high is None or size is None:
        raise ArgumentError("randint: expected (high, size) or (low, high, size)")
    for name, bound in (("low", low), ("high", high)):
        if isinstance(bound, bool) or not isinstance(bound, numbers.Integral):
            raise DTypeError(f"randint: {name} must be an int, got {bound!r}")
    if high <= low:
        raise ArgumentError(f"randint: expected low < high, got low={low}, high={high}")
    dtype = check_dtype("randint", dtype, int64)
    if dtype.kind in "iu" and not np.iinfo(dtype).min <= low < high <= np.iinfo(dtype).max + 1:
        raise ArgumentError(f"randint: [{low}, {high}) does not fit dtype {dtype}")
    size = _size("randint", (size,))
    values = generator().integers(low, high, size, dtype=np.int64)
    return _make(values.astype(dtype), device, requires_grad)


def randperm(n, dtype=None, device="cpu", requires_grad=False):
    """A random permutation of 0, ..., n - 1."""
    (n,) = _size("randperm", (n,))
    values = generator().permutation(n).astype(check_dtype("randperm", dtype, int64))
    return _make(values, device, requires_grad)


# --- like another tensor: its shape, and its dtype and device unless given -----------------------


def _like(op, input, make, dtype, device, requires_grad, *args):
    if not isinstance(input, Tensor):
        raise DTypeError(f"{op}: expected a Tensor, got {type(input).__name__}")
    return make(input.shape, *args, dtype=input.dtype if dtype is None else dtype,
                device=input.device if device is None else device, requires_grad=requires_grad)


def zeros_like(input, dtype=None, device=None, requires_grad=False):
    return _like("zeros_like", input, zeros, dtype, device, requires_grad)


def ones_like(input, dtype=None, device=None, requires_grad=False):
    return _like("ones_like", input, ones, dtype, device, requires_grad)


def empty_like(input, dtype=None, device=None, requires_grad=False):
    return _like("empty_like", input, empty, dtype, device, requires_grad)


def full_like(input, fill_value, dtype=None, device=None, requires_grad=False):
    return _like("full_like", input, full, dtype, device, requires_grad, fill_value)


def rand_like(input, dtype=None, device=None, requires_grad=False):
    return _like("rand_like", input, rand, dtype, device, requires_grad)


def randn_like(input, dtype=None, device=None, requires_grad=False):
    return _like("randn_like", input, randn, dtype, device, requires_grad)


__all__ = ["tensor", "from_numpy", "as_tensor", "is_tensor", "numel", "full", "zeros", "ones",
           "empty", "eye", "arange", "linspace", "logspace", "rand", "randn", "randint",
           "randperm", "zeros_like", "ones_like", "empty_like", "full_like", "rand_like",
           "randn_like"]
