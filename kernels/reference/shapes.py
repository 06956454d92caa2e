"""The references of the shapes family. Each builds its result element by element from the
position each element is read from (out[i] = x[source(i)]), or sums products over every label
value (einsum)."""
import itertools

import numpy as np


def _build(shape, source, x):
    """out[i] = x[source(i)] for every index i of shape."""
    out = np.empty(shape, x.dtype)
    for i in np.ndindex(*shape):
        out[i] = x[source(i)]
    return out


def squeeze(x, dim=None):
    dims = range(x.ndim) if dim is None else [d % x.ndim for d in np.atleast_1d(dim)]
    return np.reshape(x, [n for i, n in enumerate(x.shape) if not (n == 1 and i in dims)])


def expand(x, sizes):
    shape = tuple(o if n == -1 else n for n, o in
                  zip(sizes, (None,) * (len(sizes) - x.ndim) + x.shape))
    lead = len(shape) - x.ndim
    return _build(shape, lambda i: tuple(0 if n == 1 else j for j, n in zip(i[lead:], x.shape)), x)


def repeat(x, sizes):
    x = np.reshape(x, (1,) * (len(sizes) - x.ndim) + x.shape)
    return _build(tuple(r * n for r, n in zip(sizes, x.shape)),
                  lambda i: tuple(j % n for j, n in zip(i, x.shape)), x)


def flip(x, dims):
    dims = [d % x.ndim for d in dims]
    return _build(x.shape, lambda i: tuple(n - 1 - j if d in dims else j
                                           for d, (j, n) in enumerate(zip(i, x.shape))), x)


def roll(x, shifts, dims):
    moves = {d % x.ndim: s for s, d in zip(shifts, dims)}
    return _build(x.shape, lambda i: tuple((j - moves.get(d, 0)) % n
                                           for d, (j, n) in enumerate(zip(i, x.shape))), x)


def movedim(x, source, destination):
    order = [None] * x.ndim
    for s, d in zip(source, destination):
        order[d % x.ndim] = s % x.ndim
    rest = iter(a for a in range(x.ndim) if a not in [s % x.ndim for s in source])
    order = [next(rest) if a is None else a for a in order]

    def read(i):
        where = [0] * x.ndim
        for position, axis in enumerate(order):
            where[axis] = i[position]
        return tuple(where)
    return _build(tuple(x.shape[a] for a in order), read, x)


def narrow(x, dim, start, length):
    dim, start = dim % x.ndim, start % x.shape[dim]
    shape = x.shape[:dim] + (length,) + x.shape[dim + 1:]
    return _build(shape, lambda i: i[:dim] + (i[dim] + start,) + i[dim + 1:], x)


def numbered_pieces(x, sizes, dim):
    """x with each element times 1 + the number of the piece of `sizes` along dim it lies in:
    split's pieces weighted and joined again."""
    piece = np.repeat(np.arange(len(sizes)), sizes)
    out = np.empty(x.shape)
    for i in np.ndindex(*x.shape):
        out[i] = x[i] * (1 + piece[i[dim]])
    return out


def triangle(x, diagonal, lower):
    """tril (lower) or triu of the last two dimensions."""
    out = np.array(x, np.float64)
    for i in np.ndindex(*x.shape):
        above = i[-1] - i[-2]
        if (above > diagonal) if lower else (above < diagonal):
            out[i] = 0
    return out


def diagonal(x, offset, dim1, dim2):
    dim1, dim2 = dim1 % x.ndim, dim2 % x.ndim
    rest = [n for d, n in enumerate(x.shape) if d not in (dim1, dim2)]
    start = (max(-offset, 0), max(offset, 0))
    length = 0
    while start[0] + length < x.shape[dim1] and start[1] + length < x.shape[dim2]:
        length += 1

    def read(i):
        where, others = [0] * x.ndim, iter(i[:-1])
        for d in range(x.ndim):
            where[d] = (start[0] + i[-1] if d == dim1 else start[1] + i[-1] if d == dim2
                        else next(others))
        return tuple(where)
    return _build(tuple(rest) + (length,), read, x)


def diag_embed(x, offset, dim1, dim2):
    ndim = x.ndim + 1
    dim1, dim2 = dim1 % ndim, dim2 % ndim
    n = x.shape[-1] + abs(offset)
    shape, others = [], iter(x.shape[:-1])
    for d in range(ndim):
        shape.append(n if d in (dim1, dim2) else next(others))
    out = np.zeros(shape)
    for i in np.ndindex(*shape):
        row, col = i[dim1], i[dim2]
        step = row - max(-offset, 0)
        if col - row == offset and 0 <= step < x.shape[-1]:
            out[i] = x[tuple(j for d, j in enumerate(i) if d not in (dim1, dim2)) + (step,)]
    return out


def trace(x):
    return sum(x[i, i] for i in range(min(x.shape)))


def repeat_interleave(x, repeats, dim):
    x, dim = (x.reshape(-1), 0) if dim is None else (x, dim % x.ndim)
    counts = np.broadcast_to(repeats, (x.shape[dim],))
    sources = [j for j, count in enumerate(counts) for _ in range(count)]
    shape = x.shape[:dim] + (len(sources),) + x.shape[dim + 1:]
    return _build(shape, lambda i: i[:dim] + (sources[i[dim]],) + i[dim + 1:], x)


def meshgrid(xs, indexing):
    """The grids stacked along a new first dimension."""
    shape = [len(x) for x in xs]
    if indexing == "xy" and len(xs) > 1:
        shape[0], shape[1] = shape[1], shape[0]
    out = np.empty([len(xs)] + shape)
    for i in np.ndindex(*shape):
        position = list(i)
        if indexing == "xy" and len(xs) > 1:
            position[0], position[1] = position[1], position[0]
        for k, x in enumerate(xs):
            out[(k,) + i] = x[position[k]]
    return out


def einsum(equation, *operands):
    """Sums of products over every value of every label. "..." becomes fresh capital letters
    (aligned on the right, broadcast over size 1)."""
    lhs, arrow, rhs = equation.replace(" ", "").partition("->")
    terms = lhs.split(",")
    extra = [x.ndim - len(t.replace("...", "")) for t, x in zip(terms, operands)]
    fresh = "".join(c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in equation)[:max(extra)]
    terms = [t.replace("...", fresh[len(fresh) - e:]) for t, e in zip(terms, extra)]
    if not arrow:
        letters = lhs.replace("...", "").replace(",", "")
        rhs = fresh + "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    rhs = rhs.replace("...", fresh)
    size = {}
    for t, x in zip(terms, operands):
        for c, n in zip(t, x.shape):
            size[c] = max(size.get(c, 1), n)
    labels = sorted(size)
    out = np.zeros([size[c] for c in rhs])
    for values in itertools.product(*(range(size[c]) for c in labels)):
        value = dict(zip(labels, values))
        product = 1.0
        for t, x in zip(terms, operands):
            product *= x[tuple(value[c] if n > 1 else 0 for c, n in zip(t, x.shape))]
        out[tuple(value[c] for c in rhs)] += product
    return out


def select_then_index(x, i, columns):
    """x[i, :, columns] as PyTorch takes it, for a 3-D x: out[b, j] = x[i, b, columns[j]]."""
    return _build((x.shape[1], len(columns)), lambda bj: (i, bj[0], columns[bj[1]]), x)
