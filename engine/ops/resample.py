"""Upsampling and downsampling as two small matrix products, y = A_h @ x @ A_w.T.

Nearest and bilinear interpolation are both linear and separable, so each axis is one
(out, in) matrix; the backward pass is the transposed products and comes from matmul's.
"""
import math
import numbers

import numpy as np

from ..errors import ArgumentError, ShapeError
from ..tensor import Tensor
from . import _checks
from ._checks import (native_byte_order, require_float, require_nonempty, require_output,
                      require_tensor, size_pair)
from .linalg import matmul
from .shape import transpose

MODES = ("nearest", "bilinear")


def axis_matrix(size_in, size_out, mode, align_corners, scale=None):
    """The (size_out, size_in) interpolation matrix of one axis, with torch's source coordinates.

    `scale` is the input step per output pixel; torch uses 1/scale_factor when a scale factor
    is given and size_in/size_out otherwise.
    """
    scale = size_in / size_out if scale is None else scale
    out = np.arange(size_out, dtype=np.float64)
    matrix = np.zeros((size_out, size_in))
    if mode == "nearest":
        source = np.minimum(np.floor(out * scale).astype(np.int64), size_in - 1)
        matrix[np.arange(size_out), source] = 1
        return matrix
    if align_corners:
        source = out * ((size_in - 1) / (size_out - 1) if size_out > 1 else 0)
    else:
        source = np.maximum((out + 0.5) * scale - 0.5, 0)
    low = np.minimum(np.floor(source).astype(np.int64), size_in - 1)
    high = np.minimum(low + 1, size_in - 1)
    weight = source - low
    np.add.at(matrix, (np.arange(size_out), low), 1 - weight)
    np.add.at(matrix, (np.arange(size_out), high), weight)
    return matrix


def _factors(op, scale_factor):
    """scale_factor as a pair of positive finite numbers, else ArgumentError."""
    if isinstance(scale_factor, np.ndarray) and scale_factor.ndim == 0:
        scale_factor = scale_factor.item()
    if isinstance(scale_factor, (tuple, list)) or (isinstance(scale_factor, np.ndarray)
                                                   and scale_factor.ndim == 1):
        factors = tuple(scale_factor)
    else:
        factors = (scale_factor, scale_factor)
    if len(factors) != 2 or not all(isinstance(f, numbers.Real) and not isinstance(f, bool)
                                    and math.isfinite(f) and f > 0 for f in factors):
        raise ArgumentError(f"{op}: scale_factor must be a positive finite number or a pair of "
                            f"them, got {scale_factor!r}")
    return factors


def interpolate(x, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Resize the last two axes of x (N, C, H, W), as torch.nn.functional.interpolate."""
    op = "interpolate"
    require_tensor(op, "input", x)
    require_float(op, x.dtype)
    x = native_byte_order(x)  # converted (a differentiable cast), not refused
    if x.ndim != 4:
        raise ShapeError(f"{op}: expected input (N, C, H, W), got shape {x.shape}")
    require_nonempty(op, x)
    if not isinstance(mode, str) or mode not in MODES:
        raise ArgumentError(f"{op}: mode must be one of {MODES}, got {mode!r}")
    if mode == "nearest" and align_corners:
        raise ArgumentError(f"{op}: align_corners applies to mode='bilinear' only")
    if (size is None) == (scale_factor is None):
        raise ArgumentError(f"{op}: give exactly one of size and scale_factor")
    h, w = x.shape[2:]
    if size is not None:
        out = size_pair(op, "size", size, 1)
        scales = (None, None)
    else:
        factors = _factors(op, scale_factor)
        with np.errstate(over="ignore"):
            extents = tuple(n * f for n, f in zip((h, w), factors))
        if not all(math.isfinite(e) and e < _checks.MAX_SIZE + 1 for e in extents):
            raise ShapeError(f"{op}: scale_factor {scale_factor!r} resizes {(h, w)} past "
                             f"{_checks.MAX_SIZE}")
        out = tuple(int(np.floor(e)) for e in extents)
        if min(out) < 1:
            raise ShapeError(f"{op}: output size {out} from input {x.shape} is empty")
        scales = tuple(1 / f for f in factors)
    require_output(op, x.shape[:2] + out, input_size=x.numel())
    for axis, n, m in (("H", h, out[0]), ("W", w, out[1])):  # the dense (out, in) matrices
        if n * m > _checks.MAX_ELEMENTS:
            raise ShapeError(f"{op}: resizing axis {axis} from {n} to {m} needs a {m} x {n} "
                             f"matrix; expected at most {_checks.MAX_ELEMENTS} elements")
    rows, cols = (Tensor(axis_matrix(n, m, mode, bool(align_corners), s), dtype=x.dtype,
                         device=x.device) for n, m, s in zip((h, w), out, scales))
    return matmul(matmul(rows, x), transpose(cols, 0, 1))


__all__ = []  # F.<name> only
METHODS = ()
FUNCTIONAL = ("interpolate",)
