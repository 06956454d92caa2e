"""The primitives every backend provides: each one's signature and meaning, declared once.

A backend is a package under kernels/ whose module namespace defines every function below with
the same parameter names (tests/test_backend_contract.py checks each backend), plus:

- VARIANTS: {family: {name: implementation}}, the backend's named implementations of a variant
  family (declared in FAMILIES below) or of a composite (kernels/composite.py) it overrides
  with a fused kernel; the first name of each family is the default.
- AUTO (optional): {family: choose(**context) -> name}, the rule that picks a variant when the
  user asks for "auto"; the engine's backend module calls it once per op.

"Array" means the backend's array type (numpy on the cpu device, CuPy on a GPU). Elementwise
operands may also be Python scalars, which take the other operand's dtype (numpy's weak
scalars). Axes arrive normalized: None, or a sorted tuple of non-negative ints.
"""
import inspect
from typing import NamedTuple

# --- arrays ---------------------------------------------------------------------------------------


def from_host(a):
    """A host numpy array as an array on this device (no copy where the device is the host)."""


def to_host(a):
    """The array as a host numpy array (no copy where the device is the host)."""


def zeros(shape, dtype):
    """A new array of zeros."""


def full(shape, value, dtype):
    """A new array with every element `value` (filled on the device: no host copy)."""


def astype(a, dtype):
    """a in dtype; a itself when it already has it."""


def copy(a):
    """A C-contiguous copy of a that owns its memory."""


def assign(dst, src):
    """Write src (an array or scalar, broadcast to dst's shape) into dst in place."""


def accumulate(dst, src):
    """dst += src in place (src of dst's shape, or broadcast to it): gradients adding up in a
    .grad that nothing else holds."""


def is_writeable(a):
    """False for views that must be copied before they are kept (broadcasts, read-only)."""


def buffer_id(a):
    """The identity of the memory a lives in (that of the array that owns it)."""


# --- elementwise, with numpy's broadcasting and type promotion ------------------------------------


def add(a, b):
    """a + b."""


def sub(a, b):
    """a - b."""


def mul(a, b):
    """a * b."""


def div(a, b):
    """a / b (true division: integers give floats)."""


def pow(a, b):
    """a ** b."""


def neg(x):
    """-x."""


def exp(x):
    """e ** x."""


def log(x):
    """The natural logarithm."""


def log1p(x):
    """log(1 + x), accurate for small x."""


def sqrt(x):
    """The square root."""


def abs(x):
    """|x|."""


def sign(x):
    """-1, 0 or 1."""


def tanh(x):
    """The hyperbolic tangent."""


def sigmoid(x):
    """1 / (1 + e ** -x), without overflow for any x."""


def relu(x):
    """max(x, 0) in x's dtype."""


def where(condition, a, b):
    """a where the bool condition holds, else b."""


def compare(op, a, b):
    """a <op> b as a bool array; op is one of "eq", "ne", "lt", "le", "gt", "ge"."""


# --- elementwise math, rounding, tests and bitwise ops -------------------------------------------


def unary_op(op, x):
    """op(x) in x's dtype, op in UNARY_OPS: the math function of that name ("round" halves to
    even; floor, ceil, round and trunc keep integers), bitwise_not, or logical_not (bool)."""


def binary_op(op, a, b):
    """op(a, b) of operands of one dtype, op in BINARY_OPS: atan2, copysign, fmod (the sign of
    a), remainder (the sign of b), floor_divide (toward -inf), maximum and minimum (nan wins),
    fmax and fmin (nan loses), bitwise_and/or/xor, or logical_and/or/xor (bool)."""


UNARY_OPS = ("sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh",
             "atanh", "log2", "log10", "expm1", "erf", "erfc", "floor", "ceil", "round", "trunc",
             "bitwise_not", "logical_not")
BINARY_OPS = ("atan2", "copysign", "fmod", "remainder", "floor_divide", "maximum", "minimum",
              "fmax", "fmin", "bitwise_and", "bitwise_or", "bitwise_xor", "logical_and",
              "logical_or", "logical_xor")


# --- reductions -----------------------------------------------------------------------------------


def sum(x, axis, keepdims):
    """The sum over axis (bools count as integers)."""


def max(x, axis, keepdims):
    """The maximum over axis (x has at least one element)."""


def argmax(x, axis):
    """The index of the first maximum: over every element (axis None) or along one int axis."""


def broadcast_to(x, shape):
    """x broadcast to shape (a read-only view where the backend has views)."""


# --- more reductions, and scans along one axis ------------------------------------------------------


def min(x, axis, keepdims):
    """The minimum over axis (x has at least one element)."""


def prod(x, axis, keepdims):
    """The product over axis (bools count as integers)."""


def argmin(x, axis):
    """The index of the first minimum: over every element (axis None) or along one int axis."""


def cumsum(x, axis):
    """Running sums along one int axis (bools count as integers)."""


def cumprod(x, axis):
    """Running products along one int axis."""


def cummax(x, axis):
    """(running maxima, int64 index of each) along one int axis; ties take the last index."""


def cummin(x, axis):
    """(running minima, int64 index of each) along one int axis; ties take the last index."""


def logcumsumexp(x, axis):
    """log(cumsum(exp(x))) along one int axis, without overflow."""


# --- shapes and indexing ----------------------------------------------------------------------------


def reshape(x, shape):
    """x with a new shape of the same size (a view where possible)."""


def transpose(x, axes):
    """x with its axes permuted."""


def getitem(x, index):
    """x[index] with numpy's indexing (host integer or bool arrays inside the index)."""


def getitem_backward(gy, index, shape):
    """zeros(shape) with gy added at x[index]; repeated integer indices add up."""


def concatenate(xs, axis):
    """The arrays joined along an existing axis."""


def split(x, sizes, axis):
    """x cut along axis into pieces of the given sizes."""


def stack(xs, axis):
    """The arrays (of one shape) joined along a new axis."""


def pad(x, widths):
    """x with zeros around it; widths holds a (before, after) pair for every axis."""


# --- gathering, scattering and sorting along one axis ---------------------------------------------


def take_along_axis(x, indices, axis):
    """out[..., j, ...] = x[..., indices[..., j, ...], ...] along axis (torch.gather): indices
    (int64, in range) has x's number of axes and is no larger than x along the others."""


def scatter(x, indices, src, axis, reduce):
    """A copy of x with each src element sent along axis to its index: written (reduce None; the
    last write wins) or combined with "sum", "prod", "amax" or "amin"; indices (int64, in range)
    has src's shape and is no larger than x along the other axes."""


def sort(x, axis, descending):
    """(values, int64 indices) of x stably sorted along axis; nan counts as the largest value."""


# --- linear algebra, random numbers, pooling ----------------------------------------------------------


def matmul(a, b):
    """numpy.matmul: batched, broadcasting, 1-D operands as a row (left) or a column (right)."""


def dropout_mask(shape, p, seed, dtype):
    """1 / (1 - p) where the element's counter-based uniform (kernels.random_bits) is >= p,
    else 0: the same mask on every backend for the same seed."""


def max_pool3d_forward(x, kernel, stride, padding, dilation, out_size):
    """(max of each dilated window of x (N, C, D, H, W), the flat D*H*W index of its first
    maximum: torch's indices) of shape (N, C, *out_size); padding never wins; the arguments are
    (d, h, w) triples, and every window starts inside the input or its left padding."""


def max_pool3d_backward(gy, argmax, x_shape, kernel, stride, padding, dilation):
    """gy sent to the arg-max of each window (summed where windows share it)."""


def avg_pool3d_forward(x, kernel, stride, padding, out_size, count_include_pad, divisor_override):
    """The sum of each window of x (N, C, D, H, W) over torch's divisor: divisor_override (an
    int, or None), else the window clipped to the padded input (count_include_pad) or to x."""


def avg_pool3d_backward(gy, x_shape, kernel, stride, padding, count_include_pad, divisor_override):
    """The adjoint of avg_pool3d_forward."""


PRIMITIVES = tuple(name for name, f in list(globals().items())
                   if inspect.isfunction(f) and f.__module__ == __name__)


# --- variant families: ops with several implementations, picked by name ------------------------------


def conv2d_forward(x, w, b, stride, padding, dilation, groups):
    """2-D cross-correlation of x (N, C, H, W) with w (Cout, C/groups, kH, kW), plus b (or None);
    stride, padding and dilation are (h, w) pairs."""


def conv2d_backward_input(gy, w, x_shape, stride, padding, dilation, groups):
    """The gradient with respect to x (also the forward of the transposed convolution)."""


def conv2d_backward_weight(x, gy, w_shape, stride, padding, dilation, groups):
    """The gradient with respect to w."""


def conv3d_forward(x, w, b, stride, padding, dilation, groups):
    """3-D cross-correlation of x (N, C, D, H, W) with w (Cout, C/groups, kD, kH, kW), plus b
    (or None); stride, padding and dilation are (d, h, w) triples."""


def conv3d_backward_input(gy, w, x_shape, stride, padding, dilation, groups):
    """The gradient with respect to x (also the forward of the transposed convolution)."""


def conv3d_backward_weight(x, gy, w_shape, stride, padding, dilation, groups):
    """The gradient with respect to w."""


class Conv2dKernels(NamedTuple):
    """One implementation of a convolution (conv2d or conv3d): its three kernels above."""
    forward: object
    backward_input: object
    backward_weight: object


# family -> the interface of each of its variants: a function, or a tuple of them
FAMILIES = {"matmul": matmul,
            "conv2d": Conv2dKernels(conv2d_forward, conv2d_backward_input, conv2d_backward_weight),
            "conv3d": Conv2dKernels(conv3d_forward, conv3d_backward_input, conv3d_backward_weight)}
