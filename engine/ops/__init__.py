"""Differentiable operations, one module per family. Each calls its device's kernel table.

A family module lists in `__all__` the functions that are `eg.<name>` (torch.<name>), in
`METHODS` those that are also Tensor methods (x.<name>(...), the tensor first), in `FUNCTIONAL`
(optional) those that are F.<name> only (torch.nn.functional), and in `TWINS` (optional) its
differentiable versions of the kernel table's primitives (see table.py).
"""
from . import (activation, attention, conv, elementwise, index, linalg, loss, norm, patch, pool,
               reduce, resample, shape)
from .activation import leaky_relu, log_softmax, relu, sigmoid, softmax, tanh  # noqa: F401
from .elementwise import abs, add, compare, div, exp, log, mul, neg, pow, sqrt, sub  # noqa: F401
from .linalg import matmul  # noqa: F401
from .loss import binary_cross_entropy_with_logits, cross_entropy, mse_loss  # noqa: F401
from .reduce import argmax, max, mean, sum  # noqa: F401
from .shape import cat, flatten, getitem, permute, reshape, stack, transpose, where  # noqa: F401

FAMILIES = (elementwise, activation, reduce, shape, index, linalg, loss, norm, patch, conv, pool,
            resample, attention)

__all__ = [name for family in FAMILIES for name in family.__all__]
globals().update({name: getattr(family, name) for family in FAMILIES for name in family.__all__})
METHODS = {name: getattr(family, name) for family in FAMILIES for name in family.METHODS}
