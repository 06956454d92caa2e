"""Resampling as small matrix products, one per spatial axis: y = x x_1 A_1 x_2 A_2 ...

Every mode of interpolate (nearest, nearest-exact, linear, bilinear, bicubic, trilinear, area,
antialiased bilinear and bicubic) and adaptive average pooling is linear and separable, so each
axis is one (out, in) matrix built on the host from torch's source coordinates, and the backward
pass is the transposed products (matmul's), to any order.
"""
import itertools
import math
import numbers

import numpy as np

from ..errors import ArgumentError, ShapeError
from ..tensor import Tensor
from . import _checks
from ._checks import native_byte_order, require_float, require_nonempty, require_output, require_tensor
from .index import gather
from .linalg import matmul
from .shape import reshape, stack, where

# the modes and the input rank each needs (None: any of 3-D, 4-D, 5-D)
MODES = {"nearest": None, "nearest-exact": None, "area": None, "linear": 3, "bilinear": 4,
         "bicubic": 4, "trilinear": 5}
_INTERPOLATING = ("linear", "bilinear", "bicubic", "trilinear")
_CUBIC_A = -0.75  # torch's bicubic convolution constant (its antialiased filter uses -0.5)


# --- one axis -------------------------------------------------------------------------------------
def _scale(size_in, size_out, factor):
    """Input step per output pixel: 1/scale_factor where one was given, else in/out."""
    return 1.0 / factor if factor is not None else size_in / size_out


def _source(size_in, size_out, align_corners, factor, cubic=False):
    """torch's area_pixel_compute_source_index for every output pixel (float64)."""
    out = np.arange(size_out, dtype=np.float64)
    if align_corners:
        return out * ((size_in - 1) / (size_out - 1) if size_out > 1 else 0.0)
    source = (out + 0.5) * _scale(size_in, size_out, factor) - 0.5
    return source if cubic else np.maximum(source, 0.0)


def _nearest(size_in, size_out, factor, exact):
    """torch's nearest_idx / nearest-exact index, computed in float32 as its kernels do."""
    if size_out == size_in:
        return np.arange(size_out)
    scale = np.float32(_scale(size_in, size_out, factor))
    out = np.arange(size_out, dtype=np.float32) + np.float32(0.5 if exact else 0.0)
    return np.minimum(np.floor(out * scale).astype(np.int64), size_in - 1)


def _cubic(t, a):
    """The cubic convolution kernel at distances |t| (0 from 2 on)."""
    t = np.abs(t)
    near = ((a + 2) * t - (a + 3)) * t * t + 1
    far = ((a * t - 5 * a) * t + 8 * a) * t - 4 * a
    return np.where(t < 1, near, np.where(t < 2, far, 0.0))


def _antialiased(size_in, size_out, align_corners, factor, taps):
    """torch's antialiased weights (its _compute_weights_aa): when downsampling, the triangle
    (taps 2) or cubic (taps 4, a = -0.5) filter stretched by the scale, normalized per row."""
    scale = ((size_in - 1) / (size_out - 1) if size_out > 1 else 0.0) if align_corners \
        else _scale(size_in, size_out, factor)
    support = taps / 2 * (scale if scale >= 1 else 1.0)
    stretch = 1 / scale if scale >= 1 else 1.0
    matrix = np.zeros((size_out, size_in))
    for o in range(size_out):
        center = scale * (o + 0.5)
        lo = max(int(center - support + 0.5), 0)
        hi = min(int(center + support + 0.5), size_in)
        distance = (np.arange(lo, hi) - center + 0.5) * stretch
        w = np.maximum(1 - np.abs(distance), 0) if taps == 2 else _cubic(distance, -0.5)
        if w.sum() != 0:
            matrix[o, lo:hi] = w / w.sum()
    return matrix


def axis_matrix(size_in, size_out, mode, align_corners=False, factor=None, antialias=False):
    """The (size_out, size_in) matrix of one axis: torch's weights for mode, with `factor` the
    axis' scale_factor where torch uses it (else None: in/out)."""
    rows = np.arange(size_out)
    matrix = np.zeros((size_out, size_in))
    if mode in ("nearest", "nearest-exact"):
        matrix[rows, _nearest(size_in, size_out, factor, mode == "nearest-exact")] = 1
    elif mode == "area":  # adaptive average pooling: [floor(o in/out), ceil((o+1) in/out))
        for o in rows:
            start, end = o * size_in // size_out, -(-(o + 1) * size_in // size_out)
            matrix[o, start:end] = 1 / (end - start)
    elif antialias:
        matrix = _antialiased(size_in, size_out, align_corners, factor,
                              4 if mode == "bicubic" else 2)
    elif mode == "bicubic":
        source = _source(size_in, size_out, align_corners, factor, cubic=True)
        first = np.floor(source).astype(np.int64)
        t = source - first
        for k in range(-1, 3):  # four taps, each index clamped to the axis (torch's bounded read)
            np.add.at(matrix, (rows, np.clip(first + k, 0, size_in - 1)), _cubic(t - k, _CUBIC_A))
    else:  # linear on this axis
        source = _source(size_in, size_out, align_corners, factor)
        low = np.minimum(np.floor(source).astype(np.int64), size_in - 1)
        high = np.minimum(low + 1, size_in - 1)
        weight = source - low
        np.add.at(matrix, (rows, low), 1 - weight)
        np.add.at(matrix, (rows, high), weight)
    return matrix


def _resize(x, matrices):
    """x with each of its trailing axes multiplied by its matrix (None: left alone)."""
    first = x.ndim - len(matrices)
    for axis, m in enumerate(matrices, first):
        if m is None:
            continue
        shape = x.shape
        inner = int(np.prod(shape[axis + 1:], dtype=np.int64))
        if inner == 1:  # the last axis: one product (P, in) @ (in, out), not P matrix-vector ones
            x = matmul(reshape(x, (-1, shape[axis])), Tensor(m.T, dtype=x.dtype, device=x.device))
        else:
            a = Tensor(m, dtype=x.dtype, device=x.device)
            x = matmul(a, reshape(x, (-1, shape[axis], inner)))  # (out, in) @ (P, in, R)
        x = reshape(x, shape[:axis] + (m.shape[0],) + shape[axis + 1:])
    return x


def _matrices(op, sizes_in, sizes_out, mode, align_corners=False, factors=None, antialias=False):
    """One matrix per axis, None where it would be the identity; each checked for size."""
    factors = factors or (None,) * len(sizes_in)
    matrices = []
    for axis, (n, m, f) in enumerate(zip(sizes_in, sizes_out, factors)):
        if n * m > _checks.MAX_ELEMENTS:  # the dense (out, in) matrix
            raise ShapeError(f"{op}: resizing spatial axis {axis} from {n} to {m} needs a {m} x "
                             f"{n} matrix; expected at most {_checks.MAX_ELEMENTS} elements")
        matrix = axis_matrix(n, m, mode, align_corners, f, antialias)
        matrices.append(None if n == m and np.array_equal(matrix, np.eye(n)) else matrix)
    return matrices


# --- arguments ------------------------------------------------------------------------------------
def _per_axis(op, name, value, count, check):
    """value (one, or a sequence of count) as a tuple of count entries, each passing check."""
    if isinstance(value, np.ndarray):
        value = value.item() if value.ndim == 0 else tuple(value.tolist())
    values = tuple(value) if isinstance(value, (tuple, list)) else (value,) * count
    if len(values) != count:
        raise ShapeError(f"{op}: the input has {count} spatial dimensions but {name} has "
                         f"{len(values)} entries: {value!r}")
    for v in values:
        check(v)
    return values


def _output_extents(op, x, size, scale_factor, recompute_scale_factor):
    """The output's spatial extents and the factors the weights use (None: in/out)."""
    spatial = x.shape[2:]
    if (size is None) == (scale_factor is None):
        raise ArgumentError(f"{op}: give exactly one of size and scale_factor")
    if size is not None:
        def check(n):
            if not isinstance(n, numbers.Integral) or isinstance(n, bool) or not \
                    1 <= n <= _checks.MAX_SIZE:
                raise ShapeError(f"{op}: size must hold ints in [1, {_checks.MAX_SIZE}], got "
                                 f"{size!r}")
        return tuple(int(n) for n in _per_axis(op, "size", size, len(spatial), check)), None

    def check(f):
        if not isinstance(f, numbers.Real) or isinstance(f, bool) or not math.isfinite(f) or f <= 0:
            raise ArgumentError(f"{op}: scale_factor must be a positive finite number or a "
                                f"sequence of them, got {scale_factor!r}")
    factors = tuple(float(f) for f in _per_axis(op, "scale_factor", scale_factor, len(spatial),
                                               check))
    extents = tuple(n * f for n, f in zip(spatial, factors))
    if any(e >= _checks.MAX_SIZE + 1 for e in extents):
        raise ShapeError(f"{op}: scale_factor {scale_factor!r} resizes {tuple(spatial)} past "
                         f"{_checks.MAX_SIZE}")
    out = tuple(int(math.floor(e)) for e in extents)
    if min(out) < 1:
        raise ShapeError(f"{op}: scale_factor {scale_factor!r} makes the input's spatial extents "
                         f"{tuple(spatial)} an empty output {out}")
    return out, None if recompute_scale_factor else factors


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize the spatial axes of (N, C, L), (N, C, H, W) or (N, C, D, H, W), as
    torch.nn.functional.interpolate."""
    op = "interpolate"
    require_tensor(op, "input", input)
    require_float(op, input.dtype)
    x = native_byte_order(input)  # converted (a differentiable cast), not refused
    if not isinstance(mode, str) or mode not in MODES:
        raise ArgumentError(f"{op}: mode must be one of {tuple(MODES)}, got {mode!r}")
    if x.ndim not in (3, 4, 5):
        raise ShapeError(f"{op}: expected a 3-D, 4-D or 5-D input (N, C, *spatial), got shape "
                         f"{x.shape}")
    if MODES[mode] not in (None, x.ndim):
        raise ShapeError(f"{op}: got a {x.ndim}-D input, but mode {mode!r} needs a "
                         f"{MODES[mode]}-D input")
    if align_corners is not None and mode not in _INTERPOLATING:
        raise ArgumentError(f"{op}: align_corners can only be set with the interpolating modes "
                            f"{_INTERPOLATING}, not {mode!r}")
    if antialias and not (mode in ("bilinear", "bicubic") and x.ndim == 4):
        raise ArgumentError(f"{op}: antialias applies to modes 'bilinear' and 'bicubic' of a 4-D "
                            f"input, not {mode!r} of a {x.ndim}-D one")
    require_nonempty(op, x, "(N, C, *spatial)")
    out, factors = _output_extents(op, x, size, scale_factor, recompute_scale_factor)
    require_output(op, x.shape[:2] + out, input_size=x.numel())
    # the result and the dense float64 (out, in) matrix of every axis must fit together
    needed = (x.dtype.itemsize * math.prod(x.shape[:2] + out)
              + 8 * sum(n * m for n, m in zip(x.shape[2:], out)))
    if needed > _checks.MAX_BYTES:
        raise ShapeError(f"{op}: resizing {tuple(x.shape)} to {tuple(out)} needs {needed} bytes "
                         f"for the result and its resampling matrices; expected at most "
                         f"{_checks.MAX_BYTES}")
    return _resize(x, _matrices(op, x.shape[2:], out, mode, bool(align_corners), factors,
                                bool(antialias)))


def _adaptive_avg_pool(dims):
    op = f"adaptive_avg_pool{dims}d"

    def adaptive_avg_pool(input, output_size):
        require_tensor(op, "input", input)
        require_float(op, input.dtype)
        x = native_byte_order(input)
        if x.ndim not in (dims + 1, dims + 2):
            raise ShapeError(f"{op}: expected a {dims + 1}-D or {dims + 2}-D input, got shape "
                             f"{x.shape}")
        spatial = x.shape[-dims:]
        if any(n == 0 for n in spatial):
            raise ShapeError(f"{op}: input of shape {x.shape} has an empty spatial dimension")

        def check(n):
            if n is not None and (not isinstance(n, numbers.Integral) or isinstance(n, bool)
                                  or not 1 <= n <= _checks.MAX_SIZE):
                raise ShapeError(f"{op}: output_size must hold positive ints or None, got "
                                 f"{output_size!r}")
        sizes = _per_axis(op, "output_size", output_size, dims, check)
        out = tuple(n if m is None else int(m) for n, m in zip(spatial, sizes))
        require_output(op, x.shape[:-dims] + out, input_size=x.numel())
        return _resize(x, _matrices(op, spatial, out, "area"))
    adaptive_avg_pool.__name__ = adaptive_avg_pool.__qualname__ = op
    adaptive_avg_pool.__doc__ = (f"The mean over torch's adaptive windows of the last {dims} "
                                 f"axes: [floor(i in/out), ceil((i+1) in/out)).")
    return adaptive_avg_pool


adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d = (_adaptive_avg_pool(d)
                                                                 for d in (1, 2, 3))


# --- sampling at given points: grid_sample and affine_grid ---------------------------------------
GRID_MODES, GRID_PADDINGS = ("bilinear", "nearest"), ("zeros", "border", "reflection")


def _base_coordinates(size, align_corners):
    """The normalized [-1, 1] coordinates of an axis' pixel centres (its corners' when aligned)."""
    if align_corners:
        return np.linspace(-1.0, 1.0, size) if size > 1 else np.zeros(1)
    return (np.arange(size) * 2 + 1) / size - 1


def affine_grid(theta, size, align_corners=False):
    """The sampling grid (N, H, W, 2) (or (N, D, H, W, 3)) of the affine maps theta (N, 2, 3)
    (or (N, 3, 4)) for an output of size (N, C, H, W) (or (N, C, D, H, W)), as torch's."""
    op = "affine_grid"
    require_tensor(op, "theta", theta)
    require_float(op, theta.dtype)
    size = tuple(size)
    dims = len(size) - 2
    if dims not in (2, 3) or not all(isinstance(n, numbers.Integral) and n >= 1 for n in size):
        raise ShapeError(f"{op}: size must be (N, C, H, W) or (N, C, D, H, W) of positive ints, "
                         f"got {size!r}")
    if theta.shape != (size[0], dims, dims + 1):
        raise ShapeError(f"{op}: theta of shape {theta.shape} does not fit size {size}; expected "
                         f"{(size[0], dims, dims + 1)}")
    spatial = size[2:]
    require_output(op, (size[0],) + spatial + (dims,))
    grids = np.meshgrid(*(_base_coordinates(n, bool(align_corners)) for n in spatial),
                        indexing="ij")
    points = np.stack(grids[::-1], -1)  # (x, y, z) order: the last axis first
    base = np.concatenate([points, np.ones(spatial + (1,))], -1).reshape(-1, dims + 1)
    base = Tensor(base, dtype=theta.dtype, device=theta.device)
    grid = matmul(base, theta.transpose(1, 2))  # (L, dims+1) @ (N, dims+1, dims) -> (N, L, dims)
    return reshape(grid, (size[0],) + spatial + (dims,))


def _reflect(coordinate, twice_low, twice_high):
    """torch's reflect_coordinates: coordinate mirrored into [low, high] at its ends."""
    if twice_low == twice_high:
        return coordinate * 0
    low, span = twice_low / 2, (twice_high - twice_low) / 2
    distance = (coordinate - low).abs()
    extra = distance.fmod(span)
    even = (distance / span).floor().fmod(2) == 0
    return where(even, extra + low, span - extra + low)


def _pixel_coordinate(coordinate, size, padding_mode, align_corners):
    """A normalized coordinate in pixels, moved inside the axis as padding_mode says."""
    if align_corners:
        coordinate = (coordinate + 1) / 2 * (size - 1)
    else:
        coordinate = ((coordinate + 1) * size - 1) / 2
    if padding_mode == "reflection":
        coordinate = _reflect(coordinate, 0, 2 * (size - 1)) if align_corners else \
            _reflect(coordinate, -1, 2 * size - 1)
    if padding_mode != "zeros":
        coordinate = coordinate.clamp(0, size - 1)
    return coordinate


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """input (N, C, H, W) sampled at grid (N, Ho, Wo, 2) of normalized (x, y) points in
    [-1, 1] (5-D input: (N, Do, Ho, Wo, 3) points (x, y, z)), as torch's: bilinear (trilinear)
    or nearest, zeros/border/reflection outside; differentiable in input and grid."""
    op = "grid_sample"
    for name, t in (("input", input), ("grid", grid)):
        require_tensor(op, name, t)
        require_float(op, t.dtype)
    if mode not in GRID_MODES:
        raise ArgumentError(f"{op}: mode must be one of {GRID_MODES}, got {mode!r}")
    if padding_mode not in GRID_PADDINGS:
        raise ArgumentError(f"{op}: padding_mode must be one of {GRID_PADDINGS}, got "
                            f"{padding_mode!r}")
    dims = input.ndim - 2
    if dims not in (2, 3) or grid.ndim != input.ndim or grid.shape[0] != input.shape[0] \
            or grid.shape[-1] != dims:
        raise ShapeError(f"{op}: expected input (N, C, H, W) with grid (N, Ho, Wo, 2), or input "
                         f"(N, C, D, H, W) with grid (N, Do, Ho, Wo, 3); got {input.shape} and "
                         f"{grid.shape}")
    require_nonempty(op, input, "(N, C, *spatial)")
    n, c, spatial = input.shape[0], input.shape[1], input.shape[2:]
    out_spatial = grid.shape[1:-1]
    count = int(np.prod(out_spatial, dtype=np.int64))
    require_output(op, (n, c) + out_spatial, input_size=input.numel())
    flat = reshape(input, (n, c, -1))
    sizes = spatial[::-1]  # the grid's last axis runs x (width), y (height), z (depth)
    strides = [int(np.prod(spatial[len(spatial) - k:], dtype=np.int64)) for k in range(dims)]
    coordinates = [_pixel_coordinate(grid[..., k], sizes[k], padding_mode, bool(align_corners))
                   for k in range(dims)]
    if mode == "nearest":  # half to even, as torch's nearbyint
        corners = [[(c_.round(), None)] for c_ in coordinates]
    else:
        corners = []
        for c_ in coordinates:
            low = c_.floor()
            corners.append([(low, 1 - (c_ - low)), (low + 1, c_ - low)])
    out = None
    for taps in itertools.product(*corners):
        index, inside, weight = 0, None, None
        for (position, w), size, stride in zip(taps, sizes, strides):
            within = (position >= 0) & (position <= size - 1)
            inside = within if inside is None else inside & within
            index = index + position.clamp(0, size - 1) * stride
            if w is not None:
                weight = w if weight is None else weight * w
        index = reshape(index.long(), (n, 1, count)).expand(n, c, count)
        weight = (inside if weight is None else where(inside, weight, 0.0)).astype(input.dtype)
        term = gather(flat, 2, index) * reshape(weight, (n, 1, count))
        out = term if out is None else out + term
    if mode == "nearest":  # torch's grid gets a zero gradient, not none
        out = out + grid.sum() * 0
    return reshape(out, (n, c) + out_spatial)


__all__ = []  # F.<name> only
METHODS = ()
FUNCTIONAL = ("interpolate", "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
              "affine_grid", "grid_sample")
