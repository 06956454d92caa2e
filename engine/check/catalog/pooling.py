"""The catalogue cases of the pooling family: max/avg pooling in 1, 2 and 3 dimensions with their
options, unpooling, adaptive and power-average pooling. Max pooling draws distinct values (a
single winner per window); 3-D draws keep each side at most 3, the full Jacobian small."""
import numpy as np

import kernels.reference as ref

from ...nn import functional as F
from ...tensor import Tensor
from .drawing import Case, distinct


def _lead(d):
    """(N, C), or (C) alone: torch pools an unbatched input too."""
    return d.choice([(d.integer(1, 2), d.integer(1, 2)), (d.integer(1, 2),)])


def _side(d, dims):
    return d.side if dims < 3 else min(d.side, 3)


def _taps_real(n, k, s, p, dl):
    """Whether every dilated window along an axis holds an input element."""
    out = (n + 2 * p - dl * (k - 1) - 1) // s + 1
    return all(any(0 <= o * s - p + j * dl < n for j in range(k)) for o in range(out + 1))


def _window(d, dims, dilated, padded=True):
    """Sizes, kernel, stride, padding and dilation per axis that give at least one window
    (floor mode), none of them all padding."""
    sizes, kernel, stride, padding, dilation = [], [], [], [], []
    default_stride = d.choice([True, False])  # stride=None: the kernel size
    for _ in range(dims):
        k = d.integer(1, 3 if dims < 3 else 2)
        dl = d.integer(1, 2) if dilated and k > 1 else 1
        p = d.integer(0, k // 2) if padded else 0
        n = max(d.integer(1, _side(d, dims)), dl * (k - 1) + 1 - 2 * p)
        s = k if default_stride else d.integer(1, 2)
        if not _taps_real(n, k, s, p, dl):
            p = 0
            n = max(n, dl * (k - 1) + 1)
        for values, v in zip((sizes, kernel, stride, padding, dilation), (n, k, s, p, dl)):
            values.append(v)
    return tuple(sizes), {"kernel_size": tuple(kernel),
                          "stride": None if default_stride else tuple(stride),
                          "padding": tuple(padding)}, tuple(dilation)


def _draw_max_pool(dims):
    def draw(d):
        sizes, params, dilation = _window(d, dims, dilated=True)
        return [distinct(d, _lead(d) + sizes)], dict(params, dilation=dilation,
                                                     ceil_mode=d.choice([False, True]))
    return draw


def _draw_avg_pool(dims):
    def draw(d):
        sizes, params, _ = _window(d, dims, dilated=False)
        params.update(ceil_mode=d.choice([False, True]),
                      count_include_pad=d.choice([True, False]))
        if dims > 1:
            params["divisor_override"] = d.choice([None, d.integer(1, 5)])
        return [d.uniform(_lead(d) + sizes)], params
    return draw


def _draw_max_unpool(dims):
    """Distinct indices into the output planes (a written-over value would have no effect)."""
    def draw(d):
        kernel = tuple(d.integer(1, 2) for _ in range(dims))
        stride = tuple(d.integer(1, 2) for _ in range(dims))
        sizes = tuple(d.integer(1, 3 if dims < 3 else 2) for _ in range(dims))
        out = tuple((n - 1) * s + k for n, s, k in zip(sizes, stride, kernel))
        if d.choice([False, True]):  # torch allows up to a stride less or more
            out = tuple(n + d.integer(1 - s, s - 1) for n, s in zip(out, stride))
        out = tuple(max(n, 1) for n in out)
        shape = _lead(d) + sizes
        count, plane = int(np.prod(sizes)), int(np.prod(out))  # count <= plane: k, s >= 1
        planes = int(np.prod(shape[:-dims]))
        indices = np.stack([d.distinct_integers(count, 0, plane - 1) for _ in range(planes)])
        return [d.uniform(shape)], {"indices": indices.reshape(shape).astype(np.int64),
                                    "kernel_size": kernel, "stride": stride,
                                    "output_size": out}
    return draw


def _draw_adaptive_max_pool(dims):
    def draw(d):
        sizes = tuple(d.integer(1, _side(d, dims)) for _ in range(dims))
        out = tuple(d.choice([None, d.integer(1, n + 1)]) for n in sizes)
        return [distinct(d, _lead(d) + sizes)], {"output_size": out}
    return draw


def _draw_lp_pool(dims):
    def draw(d):
        sizes, params, _ = _window(d, dims, dilated=False, padded=False)
        del params["padding"]  # lp pooling has none
        return [d.uniform(_lead(d) + sizes, 0.5, 2.0)], dict(
            params, norm_type=d.choice([1.0, 2.0, 3.0, 1.5]), ceil_mode=d.choice([False, True]))
    return draw


def _unpool(dims):
    name = f"max_unpool{dims}d"

    def unpool(x, indices, **params):
        return getattr(F, name)(x, Tensor(indices, device=x.device), **params)
    return Case(name, unpool, getattr(ref, name), _draw_max_unpool(dims))


CASES = [case for dims in (1, 2, 3) for case in (
    Case(f"max_pool{dims}d", getattr(F, f"max_pool{dims}d"), getattr(ref, f"max_pool{dims}d"),
         _draw_max_pool(dims)),
    Case(f"avg_pool{dims}d", getattr(F, f"avg_pool{dims}d"), getattr(ref, f"avg_pool{dims}d"),
         _draw_avg_pool(dims)),
    _unpool(dims),
    Case(f"adaptive_max_pool{dims}d", getattr(F, f"adaptive_max_pool{dims}d"),
         getattr(ref, f"adaptive_max_pool{dims}d"), _draw_adaptive_max_pool(dims)),
    Case(f"lp_pool{dims}d", getattr(F, f"lp_pool{dims}d"), getattr(ref, f"lp_pool{dims}d"),
         _draw_lp_pool(dims)))]
