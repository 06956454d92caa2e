"""The references of the activations family: the scalar formulas of the math module, in float64."""
import math

import numpy as np

from .core import scalar_map, softmax

SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def _softplus(u, beta=1.0, threshold=20.0):
    if u * beta > threshold:
        return u
    v = u * beta  # log(1 + e^v) = max(v, 0) + log(1 + e^-|v|)
    return (max(v, 0.0) + math.log1p(math.exp(-abs(v)))) / beta


def _elu(u, alpha): return u if u > 0 else alpha * math.expm1(u)


def gelu(x, approximate="none"):
    if approximate == "tanh":
        return scalar_map(lambda u: 0.5 * u * (1 + math.tanh(
            math.sqrt(2 / math.pi) * (u + 0.044715 * u ** 3))), x)
    return scalar_map(lambda u: u * 0.5 * math.erfc(-u / math.sqrt(2)), x)


def silu(x): return scalar_map(lambda u: u / (1 + math.exp(-u)) if u > -700 else 0.0, x)


def softplus(x, beta=1.0, threshold=20.0):
    return scalar_map(lambda u: _softplus(u, beta, threshold), x)


def mish(x): return scalar_map(lambda u: u * math.tanh(_softplus(u)), x)
def logsigmoid(x): return scalar_map(lambda u: -_softplus(-u, threshold=math.inf), x)  # exact
def elu(x, alpha=1.0): return scalar_map(lambda u: _elu(u, alpha), x)
def celu(x, alpha=1.0): return elu(np.asarray(x, np.float64) / alpha) * alpha
def selu(x): return scalar_map(lambda u: SELU_SCALE * _elu(u, SELU_ALPHA), x)
def softsign(x): return scalar_map(lambda u: u / (1 + abs(u)), x)


def hardtanh(x, min_val=-1.0, max_val=1.0):
    return scalar_map(lambda u: min(max(u, min_val), max_val), x)


def relu6(x): return hardtanh(x, 0.0, 6.0)
def hardsigmoid(x): return scalar_map(lambda u: min(max(u + 3, 0.0), 6.0) / 6, x)
def hardswish(x): return scalar_map(lambda u: u * min(max(u + 3, 0.0), 6.0) / 6, x)
def tanhshrink(x): return scalar_map(lambda u: u - math.tanh(u), x)


def softshrink(x, lambd=0.5):
    return scalar_map(lambda u: u - lambd if u > lambd else u + lambd if u < -lambd else 0.0, x)


def hardshrink(x, lambd=0.5): return scalar_map(lambda u: u if abs(u) > lambd else 0.0, x)
def threshold(x, threshold, value): return scalar_map(lambda u: u if u > threshold else value, x)
def softmin(x, dim): return softmax(-np.asarray(x, np.float64), dim)


def prelu(x, weight):
    """Slope weight[c] for the elements of channel c (dim 1), or weight[0] for all."""
    x, weight = np.asarray(x, np.float64), np.asarray(weight, np.float64).ravel()
    out = np.empty(x.shape)
    for index in np.ndindex(x.shape):
        slope = weight[index[1] if weight.size > 1 else 0]
        out[index] = x[index] if x[index] > 0 else slope * x[index]
    return out


def glu(x, dim=-1):
    x = np.asarray(x, np.float64)
    a, b = np.split(x, 2, axis=dim)
    return a * scalar_map(lambda u: 1 / (1 + math.exp(-u)), b)


__all__ = ["gelu", "silu", "softplus", "mish", "logsigmoid", "elu", "celu", "selu", "softsign",
           "hardtanh", "relu6", "hardsigmoid", "hardswish", "tanhshrink", "softshrink",
           "hardshrink", "threshold", "softmin", "prelu", "glu"]
