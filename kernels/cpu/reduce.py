"""Reductions over axes (axis: None or a sorted tuple of ints, already normalized)."""
import numpy as np

__all__ = ["sum", "max", "min", "prod", "argmax", "argmin"]


def sum(x, axis, keepdims):
    return np.sum(x, axis=axis, keepdims=keepdims)


def max(x, axis, keepdims):
    return np.max(x, axis=axis, keepdims=keepdims)


def min(x, axis, keepdims):
    return np.min(x, axis=axis, keepdims=keepdims)


def prod(x, axis, keepdims):
    return np.prod(x, axis=axis, keepdims=keepdims)


def argmax(x, axis):
    return np.argmax(x, axis=axis)


def argmin(x, axis):
    return np.argmin(x, axis=axis)
