"""Activation layers, with PyTorch's constructor arguments (`inplace=` only False: every result
is a new tensor)."""
import math

import numpy as np

from ..arguments import count, number
from ..errors import ArgumentError
from ..ops.activation import refuse_inplace
from . import functional as F
from .module import Module, Parameter


class _Activation(Module):
    """A layer applying `function` with the hyperparameters named in `arguments`."""
    function = None
    arguments = ()

    def forward(self, x):
        return type(self).function(x, **{name: getattr(self, name) for name in self.arguments})

    def extra_repr(self):
        return ", ".join(f"{name}={getattr(self, name)!r}" for name in self.arguments)


def _layer(name, function, takes_inplace=False, **defaults):
    """An _Activation subclass whose constructor takes `defaults` (each a finite number, or a
    string for GELU's approximate), then where torch's layer has it `inplace` (only False), as
    keyword or positional arguments, in order."""
    parameters = tuple(defaults) + ("inplace",) * takes_inplace

    def __init__(self, *args, **kwargs):
        _Activation.__init__(self)
        if len(args) > len(parameters):
            raise ArgumentError(f"{name}: takes at most {len(parameters)} arguments, got "
                                f"{len(args)}")
        values = dict(zip(parameters, args))
        for key, value in kwargs.items():
            if key not in parameters or key in values:
                raise ArgumentError(f"{name}: unexpected or repeated argument {key}=")
            values[key] = value
        refuse_inplace(name, values.pop("inplace", False))
        for key, default in defaults.items():
            value = values.get(key, default)
            setattr(self, key, value if isinstance(value, str) else
                    number(name, key, value, low=-math.inf))
        if takes_inplace:
            self.inplace = False
    return type(name, (_Activation,), {"function": staticmethod(function),
                                       "arguments": tuple(defaults), "__init__": __init__})


ReLU = _layer("ReLU", F.relu, takes_inplace=True)
Sigmoid = _layer("Sigmoid", F.sigmoid)
Tanh = _layer("Tanh", F.tanh)
LeakyReLU = _layer("LeakyReLU", F.leaky_relu, takes_inplace=True, negative_slope=0.01)
GELU = _layer("GELU", F.gelu, approximate="none")
SiLU = _layer("SiLU", F.silu, takes_inplace=True)
Mish = _layer("Mish", F.mish, takes_inplace=True)
ELU = _layer("ELU", F.elu, takes_inplace=True, alpha=1.0)
CELU = _layer("CELU", F.celu, takes_inplace=True, alpha=1.0)
SELU = _layer("SELU", F.selu, takes_inplace=True)
Softplus = _layer("Softplus", F.softplus, beta=1.0, threshold=20.0)
Softsign = _layer("Softsign", F.softsign)
Hardtanh = _layer("Hardtanh", F.hardtanh, takes_inplace=True, min_val=-1.0, max_val=1.0)
ReLU6 = _layer("ReLU6", F.relu6, takes_inplace=True)
Hardsigmoid = _layer("Hardsigmoid", F.hardsigmoid, takes_inplace=True)
Hardswish = _layer("Hardswish", F.hardswish, takes_inplace=True)
LogSigmoid = _layer("LogSigmoid", F.logsigmoid)
Tanhshrink = _layer("Tanhshrink", F.tanhshrink)
Softshrink = _layer("Softshrink", F.softshrink, lambd=0.5)
Hardshrink = _layer("Hardshrink", F.hardshrink, lambd=0.5)


class Threshold(_Activation):
    function = staticmethod(F.threshold)
    arguments = ("threshold", "value")

    def __init__(self, threshold, value, inplace=False):
        super().__init__()
        refuse_inplace("Threshold", inplace)
        self.inplace = False
        self.threshold = number("Threshold", "threshold", threshold, low=-math.inf)
        self.value = number("Threshold", "value", value, low=-math.inf)


class Softmax(_Activation):
    """softmax along dim; without one, torch's legacy choice (F.softmax's)."""
    function = staticmethod(F.softmax)
    arguments = ("dim",)

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim


class Softmin(Softmax):
    function = staticmethod(F.softmin)


class LogSoftmax(Softmax):
    function = staticmethod(F.log_softmax)


class GLU(_Activation):
    function = staticmethod(F.glu)
    arguments = ("dim",)

    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim


class PReLU(Module):
    """prelu with num_parameters learned slopes (1, or one per channel), all starting at init."""

    def __init__(self, num_parameters=1, init=0.25, dtype=np.float32):
        super().__init__()
        self.num_parameters = count("PReLU", "num_parameters", num_parameters)
        self.init = number("PReLU", "init", init, low=-math.inf)
        self.weight = Parameter(np.full(self.num_parameters, self.init, dtype))

    def forward(self, x):
        return F.prelu(x, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


__all__ = ["ReLU", "Sigmoid", "Tanh", "LeakyReLU", "GELU", "SiLU", "Mish", "ELU", "CELU", "SELU",
           "Softplus", "Softsign", "Hardtanh", "ReLU6", "Hardsigmoid", "Hardswish", "LogSigmoid",
           "Tanhshrink", "Softshrink", "Hardshrink", "Threshold", "Softmax", "Softmin",
           "LogSoftmax", "GLU", "PReLU"]
