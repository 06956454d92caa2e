"""The catalogue cases of the shapes family: views, repeats, reorderings, pieces, triangles and
diagonals, einsum, and PyTorch's indexing. Sides stay small (many of these ops multiply the
element count), and ops that return several tensors are checked whole: their pieces weighted
and joined again, so that every piece's gradient is seen."""
import numpy as np

import kernels.reference as ref

from ...ops import shape as S
from ...tensor import Tensor
from .drawing import Case


def _dim(d, ndim):
    return d.integer(-ndim, ndim - 1)


def _with_ones(d, shape):
    """shape with some sides made 1 (for squeeze and expand)."""
    return tuple(1 if d.integer(0, 1) else n for n in shape)


def _draw_squeeze(d):
    shape = _with_ones(d, d.shape(0, 4, max_side=3))
    dim = None if not shape else d.choice([None, _dim(d, len(shape)), d.subset(len(shape))])
    return [d.uniform(shape)], {"dim": dim}


def _draw_unsqueeze(d):
    shape = d.shape(0, 3)
    return [d.uniform(shape)], {"dim": d.integer(-len(shape) - 1, len(shape))}


def _draw_expand(d):
    shape = _with_ones(d, d.shape(0, 3, max_side=3))
    sizes = tuple(d.integer(1, 3) for _ in range(d.integer(0, 2)))
    sizes += tuple(d.integer(1, 3) if n == 1 else d.choice([-1, n]) for n in shape)
    return [d.uniform(shape)], {"sizes": sizes}


# repeat, tile and meshgrid multiply the element count: the draws keep their results within
# about 32 elements on the simulator (gradcheck runs a backward per output element)
def _draw_repeat(d):
    shape = d.shape(0, 2, max_side=3)
    sizes = tuple(d.integer(1, 2) for _ in range(len(shape) + d.integer(0, 1)))
    return [d.uniform(shape)], {"sizes": sizes}


def _draw_tile(d):
    shape = d.shape(0, 2, max_side=3)
    return [d.uniform(shape)], {"dims": tuple(d.integer(1, 2) for _ in range(d.integer(0, 3)))}


def _draw_flip(d):
    shape = d.shape(1, 3)
    return [d.uniform(shape)], {"dims": tuple(d.permutation(len(shape))[:d.integer(0, len(shape))])}


def _draw_roll(d):
    shape = d.shape(1, 3)
    dims = d.subset(len(shape))
    return [d.uniform(shape)], {"shifts": tuple(d.integer(-5, 5) for _ in dims), "dims": dims}


def _draw_movedim(d):
    shape = d.shape(1, 4, max_side=3)
    count = d.integer(1, len(shape))
    source = d.permutation(len(shape))[:count]
    destination = d.permutation(len(shape))[:count]
    return [d.uniform(shape)], {"source": source, "destination": destination}


def _draw_narrow(d):
    shape = d.shape(1, 3)
    dim = _dim(d, len(shape))
    n = shape[dim]
    start = d.integer(-n, n - 1)
    return [d.uniform(shape)], {"dim": dim, "start": start,
                                "length": d.integer(0, n - start % n)}


def _draw_split(d):
    shape = d.shape(1, 3)
    dim = _dim(d, len(shape))
    n = shape[dim]
    if d.integer(0, 1):
        return [d.uniform(shape)], {"split": d.integer(1, n + 1), "dim": dim}
    cuts = sorted(d.integer(0, n) for _ in range(d.integer(0, 2)))
    return [d.uniform(shape)], {"split": [int(s) for s in np.diff([0] + cuts + [n])],
                                "dim": dim}


def _numbered(pieces, dim):
    """The pieces, the k-th times k + 1, joined along dim again."""
    return S.cat([p * (k + 1) for k, p in enumerate(pieces)], dim)


def _split_sizes(n, split):
    return [min(split, n - start) for start in range(0, n, split)] if isinstance(split, int) \
        else split


def _draw_chunk(d):
    shape = d.shape(1, 3)
    return [d.uniform(shape)], {"chunks": d.integer(1, 4), "dim": _dim(d, len(shape))}


def _draw_triangle(d):
    return [d.uniform(d.shape(2, 3))], {"diagonal": d.integer(-2, 2)}


def _draw_diagonal(d):
    shape = d.shape(2, 3)
    dim1 = _dim(d, len(shape))
    ndim = len(shape)
    dim2 = d.choice([a for a in range(-ndim, ndim) if a % ndim != dim1 % ndim])
    return [d.uniform(shape)], {"offset": d.integer(-2, 2), "dim1": dim1, "dim2": dim2}


def _draw_diag_embed(d):
    shape = d.shape(1, 2, max_side=3)
    ndim = len(shape) + 1
    dim1 = _dim(d, ndim)
    dim2 = d.choice([a for a in range(-ndim, ndim) if a % ndim != dim1 % ndim])
    return [d.uniform(shape)], {"offset": d.integer(-1, 1), "dim1": dim1, "dim2": dim2}


def _draw_diag(d):
    shape = d.shape(1, 2)
    return [d.uniform(shape)], {"diagonal": d.integer(-2, 2)}


def _diag_reference(x, diagonal):
    return ref.diag_embed(x, diagonal, 0, 1) if x.ndim == 1 else ref.diagonal(x, diagonal, 0, 1)


def _draw_repeat_interleave(d):
    shape = d.shape(1, 3, max_side=3)
    dim = d.choice([None, _dim(d, len(shape))])
    n = int(np.prod(shape)) if dim is None else shape[dim]
    repeats = d.choice([d.integer(0, 2), [d.integer(0, 2) for _ in range(n)]])
    return [d.uniform(shape)], {"repeats": repeats, "dim": dim}


def _repeat_interleave(x, repeats, dim):
    if isinstance(repeats, list):
        repeats = Tensor(np.array(repeats, np.int64), device=x.device)
    return S.repeat_interleave(x, repeats, dim)


def _draw_meshgrid(d):
    return [d.uniform((d.integer(1, 3),)) for _ in range(d.integer(1, 2))], {
        "indexing": d.choice(["ij", "xy"])}


# the equations drawn: matrix products, outer products, transposes, sums, diagonals and traces
# (repeated labels), three operands, implicit outputs and broadcast "..." dims
_EQUATIONS = ["ij,jk->ik", "ij,jk", "bij,bjk->bik", "i,j->ij", "i,i->", "ij->ji", "ba", "ij->",
              "ii->i", "ii", "iij->j", "ijk,ik->j", "ij,ij->ij", "ij,jk,kl->il",
              "...ij,...jk->...ik", "i...->...", "...i,i", "bii,bj->bj"]


def _draw_einsum(d):
    equation = d.choice(_EQUATIONS)
    sizes = {c: d.integer(1, d.side) for c in "abijkl"}
    batch = tuple(d.integer(1, 2) for _ in range(d.integer(0, 2)))
    lhs = equation.split("->")[0]
    operands = []
    for term in lhs.split(","):
        dots = tuple(1 if d.integer(0, 2) == 0 else n for n in batch)
        shape = []
        for part in term.replace("...", "."):
            shape += list(dots) if part == "." else [sizes[part]]
        operands.append(d.uniform(tuple(shape)))
    return operands, {"equation": equation}


def _draw_torch_index(d):
    """x[i, :, columns] on a 3-D x: PyTorch applies the int first."""
    shape = d.shape(3, 3)
    return [d.uniform(shape)], {"i": d.integer(-shape[0], shape[0] - 1), "columns": [
        d.integer(-shape[2], shape[2] - 1) for _ in range(d.integer(1, 3))]}


def _draw_index_mix(d):
    """Indices numpy and PyTorch read alike: None, Ellipsis, negative lists and bool tensors."""
    shape = d.shape(2, 3)
    rows = [d.integer(-shape[0], shape[0] - 1) for _ in range(d.integer(1, 3))]
    index = d.choice([(None, rows), (Ellipsis, d.integer(-shape[-1], shape[-1] - 1)),
                      (slice(None), None, Ellipsis, rows[0] % shape[-1]),
                      (d.booleans(shape[:1]), slice(1, None)), (rows, Ellipsis, None)])
    return [d.uniform(shape)], {"index": index}


def _index_with_tensors(x, index):
    """x[index] with its arrays as tensors of the input's device."""
    return x[tuple(Tensor(p, device=x.device) if isinstance(p, np.ndarray) else p for p in index)]


def _draw_where_scalar(d):
    shape = d.shape(0, 3)
    return [d.uniform(shape)], {"condition": d.booleans(shape), "scalar": d.uniform(()).item(),
                                "tensor_first": d.choice([True, False])}


def _where_scalar(x, condition, scalar, tensor_first):
    condition = Tensor(condition, device=x.device)
    return S.where(condition, x, scalar) if tensor_first else S.where(condition, scalar, x)


def _where_scalar_reference(x, condition, scalar, tensor_first):
    return ref.where(condition, x, scalar) if tensor_first else ref.where(condition, scalar, x)


def _draw_any(d):
    return [d.uniform(d.shape(0, 3))], {}


CASES = [
    Case("squeeze", lambda x, dim: x.squeeze(dim), ref.squeeze, _draw_squeeze),
    Case("unsqueeze", lambda x, dim: x.unsqueeze(dim), lambda x, dim: np.expand_dims(x, dim),
         _draw_unsqueeze),
    Case("expand", lambda x, sizes: x.expand(*sizes), ref.expand, _draw_expand),
    Case("repeat", lambda x, sizes: x.repeat(*sizes), ref.repeat, _draw_repeat),
    Case("tile", lambda x, dims: S.tile(x, dims),
         lambda x, dims: ref.repeat(x, (1,) * (x.ndim - len(dims)) + dims), _draw_tile),
    Case("flip", lambda x, dims: S.flip(x, dims), ref.flip, _draw_flip),
    Case("roll", lambda x, shifts, dims: S.roll(x, shifts, dims), ref.roll, _draw_roll),
    Case("roll_flat", lambda x: S.roll(x, 2),
         lambda x: ref.roll(x.reshape(-1), (2,), (0,)).reshape(x.shape), _draw_any),
    Case("movedim", lambda x, source, destination: S.movedim(x, source, destination),
         ref.movedim, _draw_movedim),
    Case("t", lambda x: x.t(), lambda x: ref.movedim(x, tuple(range(x.ndim)),
                                                     tuple(reversed(range(x.ndim)))),
         lambda d: ([d.uniform(d.shape(0, 2))], {})),
    Case("narrow", lambda x, **p: x.narrow(**p), ref.narrow, _draw_narrow),
    Case("split", lambda x, split, dim: _numbered(S.split(x, split, dim), dim),
         lambda x, split, dim: ref.numbered_pieces(x, _split_sizes(x.shape[dim], split), dim),
         _draw_split),
    Case("chunk", lambda x, chunks, dim: _numbered(x.chunk(chunks, dim), dim),
         lambda x, chunks, dim: ref.numbered_pieces(
             x, _split_sizes(x.shape[dim], -(-x.shape[dim] // chunks)), dim), _draw_chunk),
    Case("unbind", lambda x, dim: S.stack([p * (k + 1) for k, p in enumerate(x.unbind(dim))], dim),
         lambda x, dim: ref.numbered_pieces(x, [1] * x.shape[dim], dim),
         lambda d: ([d.uniform(s := d.shape(1, 3))], {"dim": _dim(d, len(s))})),
    Case("clone", lambda x: S.clone(x), lambda x: x.copy(), _draw_any),
    Case("tril", lambda x, diagonal: S.tril(x, diagonal),
         lambda x, diagonal: ref.triangle(x, diagonal, lower=True), _draw_triangle),
    Case("triu", lambda x, diagonal: S.triu(x, diagonal),
         lambda x, diagonal: ref.triangle(x, diagonal, lower=False), _draw_triangle),
    Case("diagonal", lambda x, **p: x.diagonal(**p), ref.diagonal, _draw_diagonal),
    Case("diag_embed", lambda x, **p: S.diag_embed(x, **p), ref.diag_embed, _draw_diag_embed),
    Case("diag", lambda x, diagonal: S.diag(x, diagonal), _diag_reference, _draw_diag),
    Case("trace", lambda x: S.trace(x), ref.trace, lambda d: ([d.uniform(d.shape(2, 2))], {})),
    Case("repeat_interleave", _repeat_interleave, ref.repeat_interleave, _draw_repeat_interleave),
    Case("meshgrid", lambda *xs, indexing: S.stack(S.meshgrid(*xs, indexing=indexing)),
         lambda *xs, indexing: ref.meshgrid(xs, indexing), _draw_meshgrid),
    Case("einsum", lambda *xs, equation: S.einsum(equation, *xs),
         lambda *xs, equation: ref.einsum(equation, *xs), _draw_einsum),
    Case("getitem_int_among_arrays", lambda x, i, columns: x[i, :, columns],
         lambda x, i, columns: ref.select_then_index(x, i, columns), _draw_torch_index),
    Case("getitem_mixed", _index_with_tensors, lambda x, index: x[index], _draw_index_mix),
    Case("where_scalar", _where_scalar, _where_scalar_reference, _draw_where_scalar),
]
