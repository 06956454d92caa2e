"""The catalogue cases of the resampling family: interpolate in 1, 2 and 3 dimensions in every
mode, adaptive average pooling, affine_grid and grid_sample. All but grid_sample are linear in
their input, so any values do; grid_sample's points keep away from the pixel grid and the
half-pixel lines (its kinks). The draws keep the spatial extents small (3-D ones smallest)."""
import numpy as np

import kernels.reference as ref

from ...nn import functional as F
from .drawing import Case

_LINEAR = {1: "linear", 2: "bilinear", 3: "trilinear"}


def _spatial(d, dims):
    return tuple(d.integer(1, d.side + 1 if dims < 3 else 2) for _ in range(dims))


def _draw_interpolate(d):
    dims = d.integer(1, 3)
    spatial = _spatial(d, dims)
    mode = d.choice(["nearest", "nearest-exact", "area", _LINEAR[dims]] +
                    ["bicubic"] * (dims == 2))
    params = {"mode": mode}
    if mode in ("bilinear", "bicubic"):
        params["antialias"] = d.choice([False, True])
    if mode in ("linear", "bilinear", "bicubic", "trilinear"):
        params["align_corners"] = d.choice([False, True])
    if d.choice([True, False]):
        params["size"] = tuple(d.integer(1, d.side + 2) for _ in range(dims))
    else:
        factor = d.choice([2, 3, 0.5, 1.5, 0.7])
        params["scale_factor"] = factor if min(int(n * factor) for n in spatial) >= 1 else 2
        params["recompute_scale_factor"] = d.choice([None, True])
    return [d.uniform((d.integer(1, 2), d.integer(1, 2)) + spatial)], params


def _draw_adaptive_avg_pool(dims):
    def draw(d):
        spatial = _spatial(d, dims)
        lead = (d.integer(1, 2),) * d.integer(1, 2)  # (C) or (N, C)
        sizes = tuple(d.choice([None, d.integer(1, n + 1)]) for n in spatial)
        return [d.uniform(lead + spatial)], {"output_size": sizes}
    return draw


def _adaptive_case(dims):
    fn = getattr(F, f"adaptive_avg_pool{dims}d")
    return Case(f"adaptive_avg_pool{dims}d", fn,
                lambda x, output_size: ref.adaptive_avg_pool(x, output_size),
                _draw_adaptive_avg_pool(dims))


def _draw_affine_grid(d):
    dims = d.integer(2, 3)
    n = d.integer(1, 2)
    size = (n, 1) + _spatial(d, dims)
    return [d.uniform((n, dims, dims + 1))], {"size": size,
                                              "align_corners": d.choice([False, True])}


def _draw_grid_sample(d):
    dims = d.choice([2, 2, 3])  # a 3-D sample gathers 8 corners: the dearest case to simulate
    n, spatial = d.integer(1, 2), _spatial(d, dims)
    out = tuple(d.integer(1, 2) for _ in range(dims - 1)) + (1,)
    align_corners = d.choice([False, True])
    sizes = np.array(spatial[::-1], np.float64)  # the grid's x, y, (z)
    # pixel coordinates k + f: k from -1 to the last pixel, f a quarter away from 0 and 1/2
    fraction = d.uniform((n,) + out + (dims,), 0.2, 0.3) + 0.5 * d.booleans((n,) + out + (dims,))
    pixel = np.floor(d.uniform((n,) + out + (dims,), -1, 1) * (sizes + 1) / 2 + (sizes - 1) / 2)
    pixel = pixel + fraction
    if align_corners:
        grid = np.where(sizes > 1, 2 * pixel / np.maximum(sizes - 1, 1) - 1, pixel)
    else:
        grid = (2 * pixel + 1) / sizes - 1
    params = {"mode": d.choice(["bilinear", "nearest"]),
              "padding_mode": d.choice(["zeros", "border", "reflection"]),
              "align_corners": align_corners}
    return [d.uniform((n, d.integer(1, 2)) + spatial), grid], params


CASES = [
    Case("interpolate", F.interpolate, ref.interpolate, _draw_interpolate, simulator_examples=1),
    *(_adaptive_case(dims) for dims in (1, 2, 3)),
    Case("affine_grid", F.affine_grid, ref.affine_grid, _draw_affine_grid),
    Case("grid_sample", F.grid_sample, ref.grid_sample, _draw_grid_sample, simulator_examples=1),
]
