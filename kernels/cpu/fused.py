"""One-pass C++ kernels (cpp/pointwise.cpp) in place of composites of kernels/composite.py:
each is the CPU's "fused" variant of its composite, which stays available as "composite" and
runs wherever the C++ kernel does not apply (integer or mixed dtypes, shapes that differ, an
empty channel) or would not pay (a small array)."""
import importlib
import math

import numpy as np

from .. import composite
from . import _cpp


def _table():
    """This backend's module, whose primitives the composites run on."""
    return importlib.import_module(__package__)


# Below this many elements numpy's own calls cost less than preparing the C++ call.
SMALL = 4096


def floats(*arrays):
    """The arrays as native, aligned, C-contiguous arrays of their common float32 or float64
    dtype, or None where they differ in shape, are not floating point or are small."""
    first = arrays[0]
    if first.size < SMALL:
        return None
    if first.dtype in (np.float32, np.float64) and all(
            isinstance(a, np.ndarray) and a.dtype == first.dtype and a.shape == first.shape
            and a.flags.c_contiguous and a.flags.aligned for a in arrays):
        return arrays  # as they are: the common case, without numpy's checks
    dtype = np.result_type(*arrays)
    if dtype not in (np.float32, np.float64) or any(a.shape != arrays[0].shape for a in arrays):
        return None
    return [np.require(a, dtype, "CA") for a in arrays]  # numpy scalars become 0-d arrays


def _one_pass(name, arrays, *scalars):
    """The C++ kernel `name` of the arrays (then the scalars), or the composite where it does
    not apply."""
    ready = floats(*arrays)
    if ready is None:
        return getattr(composite, name)(_table(), *arrays, *scalars)
    return getattr(_cpp, name)(*ready, *(float(s) for s in scalars))


def relu_backward(x, gy):
    return _one_pass("relu_backward", (x, gy))


def leaky_relu(x, slope):
    return _one_pass("leaky_relu", (x,), slope)


def leaky_relu_backward(x, gy, slope):
    return _one_pass("leaky_relu_backward", (x, gy), slope)


def sigmoid_backward(y, gy):
    return _one_pass("sigmoid_backward", (y, gy))


def tanh_backward(y, gy):
    return _one_pass("tanh_backward", (y, gy))


def _channels(x):
    """x (N, C, *) viewed as (N, C, S)."""
    return x.reshape(x.shape[0], x.shape[1], math.prod(x.shape[2:]))


def _vector(v, dtype):
    return None if v is None else np.require(v, dtype, "CA")


def batch_norm_forward(x, weight, bias, eps):
    ready = floats(x)
    if ready is None or x.ndim < 2 or x.size == 0:
        return composite.batch_norm_forward(_table(), x, weight, bias, eps)
    x = ready[0]
    y, mean, var, invstd = _cpp.batch_norm_forward(_channels(x), _vector(weight, x.dtype),
                                                   _vector(bias, x.dtype), float(eps))
    return y.reshape(x.shape), mean, var, invstd


def batch_norm_backward(x, gy, mean, invstd, weight):
    ready = floats(x, gy)
    if ready is None or x.ndim < 2 or x.size == 0:
        return composite.batch_norm_backward(_table(), x, gy, mean, invstd, weight)
    x, gy = ready
    gx, gw, gb = _cpp.batch_norm_backward(_channels(x), _channels(gy), _vector(mean, x.dtype),
                                          _vector(invstd, x.dtype), _vector(weight, x.dtype))
    return gx.reshape(x.shape), gw, gb


def _rows(x, axis):
    """x viewed as (outer, n, inner) around `axis`."""
    return x.reshape(math.prod(x.shape[:axis]), x.shape[axis], math.prod(x.shape[axis + 1:]))


def _softmax(x, axis, log):
    ready = floats(x)
    name = "log_softmax" if log else "softmax"
    if ready is None:
        return getattr(composite, name)(_table(), x, axis)
    return _cpp.softmax_forward(_rows(ready[0], axis), log).reshape(x.shape)


def _softmax_backward(y, gy, axis, log):
    ready = floats(y, gy)
    name = "log_softmax_backward" if log else "softmax_backward"
    if ready is None:
        return getattr(composite, name)(_table(), y, gy, axis)
    y, gy = ready
    return _cpp.softmax_backward(_rows(y, axis), _rows(gy, axis), log).reshape(y.shape)


def softmax(x, axis):
    return _softmax(x, axis, False)


def log_softmax(x, axis):
    return _softmax(x, axis, True)


def softmax_backward(y, gy, axis):
    return _softmax_backward(y, gy, axis, False)


def log_softmax_backward(y, gy, axis):
    return _softmax_backward(y, gy, axis, True)


VARIANTS = {f.__name__: {"fused": f} for f in (relu_backward, leaky_relu, leaky_relu_backward,
                                               sigmoid_backward, tanh_backward,
                                               batch_norm_forward, batch_norm_backward,
                                               softmax, log_softmax, softmax_backward,
                                               log_softmax_backward)}
