"""The catalogue cases of the patches family: padding modes, pixel shuffles, unfold and fold,
embeddings. These ops only move (and, for fold and the padding modes, add) elements, so any
values do; the draws keep every result within a few dozen elements."""
import numpy as np

import kernels.reference as ref

from ...nn import functional as F
from ...tensor import Tensor
from .drawing import Case


def _widths(d, sides, lo, hi):
    """(left, right) pairs, last axis first, each width in [lo(n), hi(n)] for a side n, that
    leave every side at least 1."""
    widths = ()
    for n in reversed(sides):
        pair = (d.integer(lo(n), hi(n)), d.integer(lo(n), hi(n)))
        widths += pair if n + sum(pair) >= 1 else (0, 0)
    return widths


# the widths torch allows for each mode: reflect below the side, circular up to it
_WIDTHS = {"reflect": (lambda n: -1, lambda n: n - 1), "replicate": (lambda n: -1, lambda n: 2),
           "circular": (lambda n: -1, lambda n: n)}


def _draw_pad(mode):
    def draw(d):
        padded = d.integer(1, 2)
        sides = tuple(d.integer(1, min(3, d.side)) for _ in range(padded))
        shape = (d.integer(1, 2),) * d.integer(1, 2) + sides  # (N, C) or (C) before them
        return [d.uniform(shape)], {"widths": _widths(d, sides, *_WIDTHS[mode]), "mode": mode}
    return draw


def _draw_pad_constant(d):
    shape = d.shape(1, 3, max_side=3)
    sides = shape[len(shape) - d.integer(1, len(shape)):]
    return [d.uniform(shape)], {"widths": _widths(d, sides, lambda n: -1, lambda n: 2),
                                "mode": "constant", "value": d.choice([0.0, 1.5])}


def _batch(d):
    return (d.integer(1, 2),) * d.integer(0, 1)


def _draw_pixel_shuffle(d):
    r = d.integer(1, 2)
    shape = _batch(d) + (r * r * d.integer(1, 2), d.integer(1, 2), d.integer(1, 2))
    return [d.uniform(shape)], {"upscale_factor": r}


def _draw_pixel_unshuffle(d):
    r = d.integer(1, 2)
    shape = _batch(d) + (d.integer(1, 2), r * d.integer(1, 2), r * d.integer(1, 2))
    return [d.uniform(shape)], {"downscale_factor": r}


def _draw_geometry(d):
    """kernel_size, dilation, padding, stride (pairs or ints) and spatial sides that fit them."""
    kernel, dilation = (d.integer(1, 2), d.integer(1, 2)), d.integer(1, 2)
    padding, stride = d.integer(0, 1), (d.integer(1, 2), d.integer(1, 2))
    sides = tuple(max(1, dilation * (k - 1) + 1 - 2 * padding) + d.integer(0, 1) for k in kernel)
    return sides, {"kernel_size": kernel, "dilation": dilation, "padding": padding,
                   "stride": stride}


def _draw_unfold(d):
    sides, params = _draw_geometry(d)
    return [d.uniform((d.integer(1, 2), d.integer(1, 2)) + sides)], params


def _draw_fold(d):
    sides, params = _draw_geometry(d)
    columns = ref.unfold_patches(np.zeros((1, 1) + sides), **params).shape[1:]
    shape = (d.integer(1, 2), columns[0] * d.integer(1, 2), columns[1])
    return [d.uniform(shape)], dict(params, output_size=sides)


def _draw_embedding(d):
    rows = d.integer(1, 3)
    shape = d.shape(0, 2, max_side=3)
    indices = np.array([d.integer(0, rows - 1) for _ in range(int(np.prod(shape)))],
                       np.int64).reshape(shape)
    return [d.uniform((rows, d.integer(1, 3)))], {"indices": indices}


def _pad(x, widths, mode, value=None):
    return F.pad(x, widths, mode, value)


CASES = [
    Case("pad_constant", _pad, ref.pad_mode, _draw_pad_constant),
    *(Case(f"pad_{mode}", _pad, ref.pad_mode, _draw_pad(mode)) for mode in _WIDTHS),
    Case("pixel_shuffle", F.pixel_shuffle, ref.pixel_shuffle, _draw_pixel_shuffle),
    Case("pixel_unshuffle", F.pixel_unshuffle, ref.pixel_unshuffle, _draw_pixel_unshuffle),
    Case("unfold", F.unfold, ref.unfold_patches, _draw_unfold),
    Case("fold", F.fold, ref.fold_patches, _draw_fold),
    Case("embedding", lambda weight, indices: F.embedding(Tensor(indices, device=weight.device),
                                                          weight),
         ref.embedding, _draw_embedding),
]
