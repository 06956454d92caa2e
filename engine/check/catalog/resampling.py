"""The catalogue cases of the resampling family: interpolate in 1, 2 and 3 dimensions in every
mode, and adaptive average pooling. Every one is linear in its input, so any values do; the
draws keep the spatial extents small (the 3-D ones smallest)."""
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


CASES = [
    Case("interpolate", F.interpolate, ref.interpolate, _draw_interpolate),
    *(_adaptive_case(dims) for dims in (1, 2, 3)),
]
