"""Activations and the (stable) softmax family."""
import math
import numbers
import warnings

from ..autograd import Function
from ..errors import ArgumentError, DTypeError, ShapeError
from ..creation import zeros_like
from ..tensor import Tensor
from ._checks import floating, normalize_axis, torch_dims
from .elementwise import abs, clamp, erf, expm1, logaddexp
from .shape import chunk, where


class ReLU(Function):
    def forward(self, x):
        self.save(x)
        return self.kernels.relu(x)

    def backward(self, gy):
        return (self.kernel("relu_backward")(self.saved[0], gy),)


class LeakyReLU(Function):
    def forward(self, x, negative_slope):
        self.save(x, negative_slope)
        return self.kernel("leaky_relu")(x, negative_slope)

    def backward(self, gy):
        x, slope = self.saved
        return self.kernel("leaky_relu_backward")(x, gy, slope), None


class Sigmoid(Function):
    def forward(self, x):
        y = self.kernels.sigmoid(floating(self.kernels, x))
        self.save(y)
        return y

    def backward(self, gy):
        return (self.kernel("sigmoid_backward")(self.saved[0], gy),)


class Tanh(Function):
    def forward(self, x):
        y = self.kernels.tanh(floating(self.kernels, x))
        self.save(y)
        return y

    def backward(self, gy):
        return (self.kernel("tanh_backward")(self.saved[0], gy),)


class Softmax(Function):
    name = "softmax"  # also the name of its kernels (a backend may fuse them)

    def forward(self, x, axis):
        self.axis = normalize_axis(self.op_name(), axis, x.ndim)
        # An empty tensor has no rows to normalize (and the kernels' row maximum no identity).
        self.empty = x.size == 0
        y = self.kernels.copy(x) if self.empty else self.kernel(self.op_name())(x, self.axis)
        self.save(y)
        return y

    def backward(self, gy):
        if self.empty:
            return (gy,)
        return (self.kernel(self.op_name() + "_backward")(self.saved[0], gy, self.axis),)


class LogSoftmax(Softmax):
    """log(softmax(x)) without forming softmax(x)."""
    name = "log_softmax"


sigmoid, tanh = Sigmoid.apply, Tanh.apply


def refuse_inplace(op, inplace):
    """torch's `inplace=` where it has one: only False, as no tensor is written in place here."""
    if inplace:
        raise ArgumentError(f"{op}: inplace=True is not supported (tensors are not written in "
                            f"place here); use inplace=False")


def relu(input, inplace=False):
    refuse_inplace("relu", inplace)
    return ReLU.apply(input)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    refuse_inplace("leaky_relu", inplace)
    return LeakyReLU.apply(input, negative_slope)


def _softmax_args(op, input, dim, dtype):
    """input cast to dtype first (as torch), and dim, or without one torch's deprecated choice."""
    if dtype is not None:
        input = input.astype(dtype)
    if dim is None:
        dim = 0 if input.ndim in (0, 1, 3) else 1
        warnings.warn(f"{op}: implicit dimension choice is deprecated (chose dim={dim}); "
                      f"give dim=", UserWarning, stacklevel=4)
    return input, dim


@torch_dims
def softmax(input, dim=None, *, dtype=None):
    input, dim = _softmax_args("softmax", input, dim, dtype)
    return Softmax.apply(input, axis=dim)


@torch_dims
def log_softmax(input, dim=None, *, dtype=None):
    input, dim = _softmax_args("log_softmax", input, dim, dtype)
    return LogSoftmax.apply(input, axis=dim)


# --- torch.nn.functional activations, composed of differentiable ops (their gradients and second
# derivatives come for free). Unused branches of `where` are kept finite (clamped arguments), so
# that their zero gradient never meets an inf.
def _tensor(op, x, integers=False):
    """x when it is a floating-point Tensor (or an integer one, where torch's op takes those)."""
    if not isinstance(x, Tensor):
        raise DTypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    if x.dtype.kind != "f" and not (integers and x.dtype.kind in "iu"):
        expected = "a floating-point or integer" if integers else "a floating-point"
        raise DTypeError(f"{op}: expected {expected} tensor, got {x.dtype}")
    return x


def _scalar(op, name, value):
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise ArgumentError(f"{op}: {name} must be a real number, got {value!r}")
    return float(value)


def gelu(input, approximate="none"):
    """x Phi(x), or with approximate="tanh" torch's tanh approximation of it."""
    x = _tensor("gelu", input)
    if approximate == "none":
        return 0.5 * x * (1 + erf(x * math.sqrt(0.5)))
    if approximate == "tanh":
        return 0.5 * x * (1 + tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x * x * x)))
    raise ArgumentError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def silu(input, inplace=False):
    refuse_inplace("silu", inplace)
    return _tensor("silu", input) * sigmoid(input)


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (as torch)."""
    x = _tensor("softplus", input)
    beta, threshold = _scalar("softplus", "beta", beta), _scalar("softplus", "threshold", threshold)
    return where(x * beta > threshold, x, logaddexp(zeros_like(x), x * beta) / beta)


def mish(input, inplace=False):
    refuse_inplace("mish", inplace)
    return _tensor("mish", input) * tanh(softplus(input))


def logsigmoid(input):
    x = _tensor("logsigmoid", input)
    return -logaddexp(zeros_like(x), -x)


def elu(input, alpha=1.0, inplace=False):
    refuse_inplace("elu", inplace)
    x, alpha = _tensor("elu", input), _scalar("elu", "alpha", alpha)
    return where(x > 0, x, alpha * expm1(clamp(x, max=0)))


def celu(input, alpha=1.0, inplace=False):
    refuse_inplace("celu", inplace)
    x, alpha = _tensor("celu", input), _scalar("celu", "alpha", alpha)
    if alpha == 0:
        raise ArgumentError("celu: alpha must not be 0")
    return where(x > 0, x, alpha * expm1(clamp(x / alpha, max=0)))


_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def selu(input, inplace=False):
    refuse_inplace("selu", inplace)
    return _SELU_SCALE * elu(_tensor("selu", input), _SELU_ALPHA)


def softsign(input):
    x = _tensor("softsign", input)
    return x / (1 + abs(x))


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    refuse_inplace("hardtanh", inplace)
    x = _tensor("hardtanh", input, integers=True)
    low, high = _scalar("hardtanh", "min_val", min_val), _scalar("hardtanh", "max_val", max_val)
    if low > high:
        raise ArgumentError(f"hardtanh: min_val ({low}) must not exceed max_val ({high})")
    if x.dtype.kind != "f":  # integers keep their dtype, the bounds truncated, as in torch
        return clamp(x, int(low), int(high))
    return where(x <= low, low, where(x >= high, high, x))  # torch's slope 0 at both ends


def relu6(input, inplace=False):
    refuse_inplace("relu6", inplace)
    return hardtanh(_tensor("relu6", input, integers=True), 0.0, 6.0)


def hardsigmoid(input, inplace=False):
    refuse_inplace("hardsigmoid", inplace)
    return relu6(_tensor("hardsigmoid", input) + 3) / 6


def hardswish(input, inplace=False):
    """x relu6(x + 3) / 6, whose slope at -3 and 3 is torch's (that of the middle piece)."""
    refuse_inplace("hardswish", inplace)
    x = _tensor("hardswish", input)
    return x * where(x < -3, 0.0, where(x <= 3, (x + 3) / 6, 1.0))


def tanhshrink(input):
    return _tensor("tanhshrink", input) - tanh(input)


def _lambd(op, lambd):
    lambd = _scalar(op, "lambd", lambd)
    if lambd < 0:
        raise ArgumentError(f"{op}: lambd must be at least 0, got {lambd}")
    return lambd


def softshrink(input, lambd=0.5):
    """x moved lambd towards 0, and 0 within [-lambd, lambd]."""
    x, lambd = _tensor("softshrink", input), _lambd("softshrink", lambd)
    return x - clamp(x, -lambd, lambd)


def hardshrink(input, lambd=0.5):
    x, lambd = _tensor("hardshrink", input), _lambd("hardshrink", lambd)
    return where(abs(x) > lambd, x, 0.0)


def threshold(input, threshold, value, inplace=False):
    """x where x > threshold, else value."""
    refuse_inplace("threshold", inplace)
    x = _tensor("threshold", input, integers=True)
    threshold = _scalar("threshold", "threshold", threshold)
    value = _scalar("threshold", "value", value)
    if x.dtype.kind != "f":  # integers keep their dtype, threshold and value truncated, as torch
        threshold, value = int(threshold), int(value)
    return where(x > threshold, x, value)


@torch_dims
def softmin(input, dim=None, *, dtype=None):
    input, dim = _softmax_args("softmin", input, dim, dtype)
    return softmax(-_tensor("softmin", input), dim)


def prelu(input, weight):
    """max(0, x) + weight min(0, x), weight a scalar or one per channel (dim 1)."""
    x, w = _tensor("prelu", input), _tensor("prelu", weight)
    channels = x.shape[1] if x.ndim > 1 else 1
    if w.ndim > 1 or w.numel() not in (1, channels):
        raise ShapeError(f"prelu: weight of shape {w.shape} does not match the {channels} "
                         f"channels of an input of shape {x.shape}; expected 1 or {channels} "
                         f"parameters")
    if x.ndim > 1 and w.numel() > 1:
        w = w.reshape((channels,) + (1,) * (x.ndim - 2))
    return where(x > 0, x, w * x)


@torch_dims
def glu(input, dim=-1):
    """a sigmoid(b) for the halves a, b of input along dim."""
    x = _tensor("glu", input)
    axis = normalize_axis("glu", dim, x.ndim)
    if x.ndim == 0 or x.shape[axis] % 2:
        raise ShapeError(f"glu: dim {dim} of an input of shape {x.shape} must have an even size")
    a, b = chunk(x, 2, axis)
    return a * sigmoid(b)


__all__ = ["relu", "sigmoid", "tanh", "softmax", "log_softmax", "selu", "celu", "prelu",
           "hardshrink", "threshold"]
METHODS = ("relu", "sigmoid", "tanh", "softmax", "log_softmax", "hardshrink", "prelu")
FUNCTIONAL = ("gelu", "silu", "mish", "elu", "celu", "selu", "softplus", "softsign", "hardtanh",
              "relu6", "hardsigmoid", "hardswish", "logsigmoid", "softmin", "prelu", "glu",
              "tanhshrink", "softshrink", "hardshrink", "threshold")  # F.<name> beyond the imports
