"""Upsampling and downsampling as two small matrix products, y = A_h @ x @ A_w.T.

Nearest and bilinear interpolation are both linear and separable, so each axis is one
(out, in) matrix; the backward pass is the transposed products and comes from matmul's.
"""
import numpy as np

from ..errors import ShapeError
from ..tensor import Tensor
from ._checks import require_float
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


def interpolate(x, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Resize the last two axes of x (N, C, H, W), as torch.nn.functional.interpolate."""
    op = "interpolate"
    require_float(op, x.dtype)
    if x.ndim != 4:
        raise ShapeError(f"{op}: expected input (N, C, H, W), got shape {x.shape}")
    if mode not in MODES:
        raise ValueError(f"{op}: mode must be one of {MODES}, got {mode!r}")
    if mode == "nearest" and align_corners:
        raise ValueError(f"{op}: align_corners applies to mode='bilinear' only")
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{op}: give exactly one of size and scale_factor")
    h, w = x.shape[2:]
    if size is not None:
        out = (size, size) if np.isscalar(size) else tuple(size)
        scales = (None, None)
    else:
        factors = (scale_factor, scale_factor) if np.isscalar(scale_factor) else tuple(scale_factor)
        out = (int(np.floor(h * factors[0])), int(np.floor(w * factors[1])))
        scales = tuple(1 / f for f in factors)
    if min(out) < 1:
        raise ShapeError(f"{op}: output size {out} from input {x.shape} is empty")
    rows, cols = (Tensor(axis_matrix(n, m, mode, bool(align_corners), s), dtype=x.dtype,
                         device=x.device) for n, m, s in zip((h, w), out, scales))
    return matmul(matmul(rows, x), transpose(cols, 0, 1))
