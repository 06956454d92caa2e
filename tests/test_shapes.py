"""The shapes family beyond the catalogue: aliases, dtypes, zero-size dimensions, PyTorch's
indexing rules, where's dtypes, the errors, and the cuda device (the simulator: tiny tensors)."""
import numpy as np
import pytest

import engine as eg
from engine.ops import shape as S

RNG = np.random.default_rng(0)
X = RNG.standard_normal((2, 3, 4))


def t(values, **kw):
    return eg.tensor(np.asarray(values), **kw)


def close(tensor, expected):
    assert tensor.shape == np.shape(expected)
    np.testing.assert_array_equal(tensor.numpy(), expected)


def grad_of(fn, values):
    """The gradient of fn(x).sum() at values (float64)."""
    x = eg.tensor(np.asarray(values, np.float64), requires_grad=True)
    fn(x).sum().backward()
    return x.grad.numpy()


# --- names ----------------------------------------------------------------------------------------
def test_each_public_function_is_eg_name_and_each_method_is_bound():
    for name in S.__all__:
        assert getattr(eg, name) is getattr(S, name)
    for name in S.METHODS:
        assert callable(getattr(eg.Tensor, name))


def test_aliases_agree_with_numpy():
    x = t(X)
    close(S.concat([x, x], 1), np.concatenate([X, X], 1))
    close(S.concatenate([x, x], axis=-1), np.concatenate([X, X], -1))
    close(x.swapaxes(0, 2), X.swapaxes(0, 2))
    close(x.swapdims(0, 1), X.swapaxes(0, 1))
    close(S.moveaxis(x, (0, 1), (2, 0)), np.moveaxis(X, (0, 1), (2, 0)))
    close(x.reshape_as(t(np.zeros((4, 6)))), X.reshape(4, 6))
    close(x.view_as(t(np.zeros(24))), X.reshape(-1))
    close(x.ravel(), X.ravel())
    close(x[:, :1].expand_as(x), np.broadcast_to(X[:, :1], X.shape))
    close(x.fliplr(), X[:, ::-1])
    close(x.flipud(), X[::-1])
    close(x.flip((0, 2)), X[::-1, :, ::-1])
    close(x.flip(0, 2), X[::-1, :, ::-1])
    close(x.unflatten(2, (2, -1)), X.reshape(2, 3, 2, 2))
    close(x.select(1, -1), X[:, -1])
    close(x[0].t(), X[0].T)
    close(t([1.0, 2.0]).t(), [1.0, 2.0])
    close(x.view(4, -1), X.reshape(4, 6))


def test_stacking_helpers_and_atleast():
    a, b = t([1.0, 2.0]), t([3.0, 4.0])
    close(S.hstack([a, b]), np.hstack([[1.0, 2.0], [3.0, 4.0]]))
    close(S.vstack([a, b]), np.vstack([[1.0, 2.0], [3.0, 4.0]]))
    close(S.dstack([a, b]), np.dstack([[1.0, 2.0], [3.0, 4.0]]))
    m = t(X[0])
    close(S.hstack([m, m]), np.hstack([X[0], X[0]]))
    assert S.atleast_1d(t(1.0)).shape == (1,)
    assert S.atleast_2d(a).shape == (1, 2)
    assert S.atleast_3d(a).shape == (1, 2, 1) and S.atleast_3d(m).shape == (3, 4, 1)
    assert [u.shape for u in S.atleast_2d(t(1.0), a)] == [(1, 1), (1, 2)]
    assert [u.shape for u in S.atleast_3d([t(1.0), t(X)])] == [(1, 1, 1), (2, 3, 4)]


def test_dim_takes_axis_and_keepdim_names():
    x = t(X)
    assert x.unsqueeze(axis=0).shape == (1, 2, 3, 4)
    assert t(np.zeros((1, 3, 1))).squeeze(axis=(0, 2)).shape == (3,)
    assert x.narrow(axis=2, start=1, length=2).shape == (2, 3, 2)
    assert [p.shape for p in x.split(2, axis=2)] == [(2, 3, 2), (2, 3, 2)]
    assert len(x.chunk(3, axis=1)) == 3 and len(x.unbind(axis=2)) == 4
    assert x.select(axis=0, index=1).shape == (3, 4)
    assert S.cat([x, x], axis=0).shape == (4, 3, 4)
    with pytest.raises(eg.ArgumentError, match="both dim= and axis="):
        x.unsqueeze(dim=0, axis=0)


# --- semantics torch defines ----------------------------------------------------------------------
def test_squeeze_unsqueeze_and_flatten_of_0d_and_size_1():
    s = t(3.0)
    assert s.squeeze().shape == () and s.squeeze(0).shape == () and s.squeeze(-1).shape == ()
    assert s.unsqueeze(0).shape == (1,) and s.flatten().shape == (1,) and s.ravel().shape == (1,)
    x = t(np.zeros((1, 2, 1)))
    assert x.squeeze().shape == (2,)
    assert x.squeeze(1).shape == (1, 2, 1)  # a dimension of size 2 stays
    assert x.squeeze((0, 1)).shape == (2, 1)


def test_expand_keeps_with_minus_one_and_adds_leading_dims():
    x = t(np.arange(3.0).reshape(3, 1))
    close(x.expand(2, -1, 4), np.broadcast_to(np.arange(3.0).reshape(3, 1), (2, 3, 4)))
    close(x.expand((3, 2)), np.broadcast_to(np.arange(3.0).reshape(3, 1), (3, 2)))
    np.testing.assert_array_equal(grad_of(lambda x: x.expand(2, 3, 4), np.zeros((3, 1))),
                                  np.full((3, 1), 8.0))


def test_repeat_tile_and_repeat_interleave_as_torch():
    x = t([[1, 2], [3, 4]])
    close(x.repeat(2, 1, 2), np.tile([[1, 2], [3, 4]], (2, 1, 2)))
    close(x.tile(2), np.tile([[1, 2], [3, 4]], 2))
    close(S.tile(x, (2, 1, 1)), np.tile([[1, 2], [3, 4]], (2, 1, 1)))
    assert x.repeat(2, 1, 2).dtype == np.int64
    close(x.repeat_interleave(2), [1, 1, 2, 2, 3, 3, 4, 4])
    close(x.repeat_interleave(t([1, 2]), dim=0), [[1, 2], [3, 4], [3, 4]])
    close(x.repeat_interleave(t([2]), dim=1), [[1, 1, 2, 2], [3, 3, 4, 4]])
    close(S.repeat_interleave(t([1, 0, 2])), [0, 2, 2])
    assert S.repeat_interleave(t([1, 0, 2])).dtype == np.int64
    close(S.repeat_interleave(x, t(np.array([1, 2], np.int32)), dim=1, output_size=3),
          [[1, 2, 2], [3, 4, 4]])
    np.testing.assert_array_equal(
        grad_of(lambda x: x.repeat_interleave(t([0, 3]), dim=0), np.zeros((2, 2))),
        [[0.0, 0.0], [3.0, 3.0]])
    np.testing.assert_array_equal(grad_of(lambda x: x.repeat(3, 2), np.zeros(2)), [6.0, 6.0])


def test_roll_flip_and_their_gradients():
    v = np.arange(6.0).reshape(2, 3)
    close(t(v).roll(1), np.roll(v, 1))
    close(t(v).roll((1, -4), (0, 1)), np.roll(v, (1, -4), (0, 1)))
    close(t(v).roll(-2, 1), np.roll(v, -2, 1))
    weights = t(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(grad_of(lambda x: x.roll(1, 1) * weights, np.zeros((2, 3))),
                                  np.roll(np.arange(6.0).reshape(2, 3), -1, 1))
    np.testing.assert_array_equal(grad_of(lambda x: x.flip(1) * weights, np.zeros((2, 3))),
                                  np.arange(6.0).reshape(2, 3)[:, ::-1])


def test_narrow_split_chunk_and_unbind_as_torch():
    x = t(np.arange(10.0))
    close(x.narrow(0, -3, 2), [7.0, 8.0])
    assert [p.numpy().tolist() for p in x.split(4)] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert [p.shape for p in x.split([2, 0, 8])] == [(2,), (0,), (8,)]
    assert [p.shape for p in x.chunk(3)] == [(4,), (4,), (2,)]
    assert [p.shape for p in x.chunk(6)] == [(2,)] * 5  # torch gives fewer chunks
    assert [p.shape for p in t(np.zeros((2, 3))).unbind(1)] == [(2,)] * 3


def test_clone_owns_its_memory_and_contiguous_copies_only_when_needed():
    x = t(X, requires_grad=True)
    c = x.clone()
    assert not np.shares_memory(c.data, x.data) and c.data.flags.c_contiguous
    assert x.contiguous() is x
    y = x.transpose(0, 2)
    z = y.contiguous()
    assert z.data.flags.c_contiguous and not y.data.flags.c_contiguous
    close(z, X.transpose(2, 1, 0))
    (z * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full(X.shape, 2.0))


def test_triangles_and_diagonals_keep_dtype_and_agree_with_numpy():
    m = np.arange(12).reshape(3, 4).astype(np.int32)
    for k in (-1, 0, 2):
        close(t(m).tril(k), np.tril(m, k))
        close(t(m).triu(k), np.triu(m, k))
        close(t(m).diagonal(k), np.diagonal(m, k))
        close(S.diag(t(m), k), np.diag(m, k))
    assert t(m).tril().dtype == np.int32 and t(m > 4).triu().dtype == np.bool_
    close(t(m > 4).triu(), np.triu(m > 4))
    close(S.diag(t([1.0, 2.0]), -1), np.diag([1.0, 2.0], -1))
    close(t(X).diagonal(1, 2, 0), np.diagonal(X, 1, 2, 0))
    close(S.trace(t(m)), np.trace(m))
    assert S.trace(t(m)).dtype == np.int64
    e = S.diag_embed(t(X[0]), 1, 0, 2)
    assert e.shape == (5, 3, 5)
    np.testing.assert_array_equal(e.numpy()[:, 1], np.diag(X[0, 1], 1))


def test_meshgrid_ij_by_default_and_xy():
    a, b = t([1, 2]), t([3, 4, 5])
    for got, want in zip(S.meshgrid(a, b), np.meshgrid([1, 2], [3, 4, 5], indexing="ij")):
        close(got, want)
    for got, want in zip(S.meshgrid([a, b], indexing="xy"), np.meshgrid([1, 2], [3, 4, 5])):
        close(got, want)


@pytest.mark.parametrize("equation, shapes", [
    ("ij,jk->ik", [(2, 3), (3, 4)]), ("ij,jk", [(2, 3), (3, 4)]), ("ba", [(2, 3)]),
    ("ii->i", [(3, 3)]), ("ii", [(3, 3)]), ("iji->j", [(2, 3, 2)]), ("i,j->ij", [(2,), (3,)]),
    ("...ij,...jk->...ik", [(2, 1, 2, 3), (4, 3, 2)]), ("...ij->...", [(2, 3, 4)]),
    ("bi,bi->b", [(0, 3), (0, 3)]), ("ij,jk->ik", [(2, 0), (0, 3)]), ("i,i", [(4,), (4,)]),
    ("ij,jk,kl->li", [(2, 3), (3, 1), (1, 2)]), ("a b, b c -> a c", [(2, 2), (2, 2)]),
    ("Ab,bC->AC", [(2, 3), (3, 2)]), ("i,j,k", [(2,), (1,), (2,)]),
])
def test_einsum_agrees_with_numpy(equation, shapes):
    arrays = [RNG.standard_normal(s) for s in shapes]
    got = S.einsum(equation, *(t(a) for a in arrays))
    np.testing.assert_allclose(got.numpy(), np.einsum(equation.replace(" ", ""), *arrays),
                               atol=1e-12)
    assert S.einsum(equation, [t(a) for a in arrays]).shape == got.shape


def test_einsum_keeps_float32_and_differentiates_through_a_trace():
    assert S.einsum("ij,jk", t(np.ones((2, 2), np.float32)), t(np.ones((2, 2), np.float32))
                    ).dtype == np.float32
    np.testing.assert_array_equal(grad_of(lambda x: S.einsum("ii", x), np.zeros((3, 3))), np.eye(3))


# --- zero-size dimensions -------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [
    lambda x: x.squeeze(), lambda x: x.unsqueeze(1), lambda x: x.expand(2, 0, 3),
    lambda x: x.repeat(2, 1, 2), lambda x: x.repeat(0, 1, 1), lambda x: x.tile(3),
    lambda x: x.flip(1), lambda x: x.roll(1, 1), lambda x: x.roll(2),
    lambda x: x.narrow(2, 1, 2), lambda x: S.cat(x.split(1, 2), 2), lambda x: x.chunk(2, 1)[0],
    lambda x: S.stack(x.unbind(2)), lambda x: x.tril(), lambda x: x.diagonal(0, 1, 2),
    lambda x: S.diag_embed(x), lambda x: x.repeat_interleave(2, dim=1),
    lambda x: x.movedim(1, 0), lambda x: x.clone(), lambda x: x[:, [], 1],
    lambda x: x[..., t([True, False, True])],
    lambda x: S.einsum("aij,ajk->ik", x, x.swapaxes(1, 2)),
])
def test_zero_size_dimensions_run_forward_and_backward(fn):
    values = np.zeros((1, 0, 3))
    expected = fn(t(values)).shape
    x = eg.tensor(values, requires_grad=True)
    y = fn(x)
    assert y.shape == expected
    y.sum().backward()
    assert x.grad.shape == (1, 0, 3)
    assert S.chunk(t(np.zeros(0)), 3)[2].shape == (0,) and len(t(np.zeros(0)).split(2)) == 1


# --- PyTorch's indexing ---------------------------------------------------------------------------
def test_an_int_among_advanced_indices_is_a_basic_index():
    x = t(X)
    close(x[0, :, [1, 2]], X[0][:, [1, 2]])  # (3, 2); numpy's X[0, :, [1, 2]] is (2, 3)
    assert X[0, :, [1, 2]].shape == (2, 3)
    close(x[[0, 1], :, 0], X[[0, 1], :, 0])
    close(x[1, [0, 2], [3, 1]], X[1, [0, 2], [3, 1]])
    close(x[:, 1, t([True, False, True, True])], X[:, 1][:, [True, False, True, True]])
    close(x[t(0), :, [1, 2]], X[0][:, [1, 2]])  # a 0-d integer tensor is an int
    expected = np.zeros(X.shape)
    np.add.at(expected, (0, slice(None), [1, 1]), 1.0)
    np.testing.assert_array_equal(grad_of(lambda x: x[0, :, [1, 1]], X), expected)


def test_index_tensors_lists_none_ellipsis_and_negatives():
    x = t(X)
    close(x[t(np.array([1, -1], np.int32))], X[[1, -1]])
    close(x[t([1, 0])], X[[1, 0]])
    close(x[t(X > 0)], X[X > 0])
    close(x[[True, False]], X[[True, False]])
    close(x[None, ..., None, -1], X[None, ..., None, -1])
    close(x[[]], X[np.zeros(0, np.int64)])
    close(x[1, ..., t(2)], X[1, ..., 2])
    close(x[t(1):], X[1:])
    close(x[True], X[None])
    assert [row.shape for row in t(X)] == [(3, 4), (3, 4)]  # iteration stops at the end


@pytest.mark.parametrize("index, pattern", [
    (2, r"getitem: index 2 is out of range for dimension 0 of size 2"),
    ((0, 0, -5), r"index -5 is out of range for dimension 2 of size 4"),
    (([0, 3],), r"index 3 is out of range for dimension 0 of size 2"),
    ((slice(None), [[0], [-4]]), r"index -4 is out of range for dimension 1 of size 3"),
    ((0, 0, 0, 0), r"too many indices for a tensor of shape \(2, 3, 4\)"),
    ((np.array([True, False, True]),), r"bool index of shape \(3,\) does not fit dimensions 0"),
])
def test_out_of_range_indices_are_shape_and_index_errors(index, pattern):
    for device in ("cpu", "cuda") if eg.cuda.is_available() else ("cpu",):
        with pytest.raises(eg.ShapeError, match=pattern):
            t(X, device=device)[index]
        with pytest.raises(IndexError):
            t(X, device=device)[index]


def test_bad_index_types_are_dtype_errors():
    with pytest.raises(eg.DTypeError, match="getitem: cannot index with str"):
        t(X)["a"]
    with pytest.raises(eg.DTypeError, match="getitem: cannot index with float"):
        t(X)[1.5]
    with pytest.raises(eg.ShapeError, match="only one Ellipsis"):
        t(X)[..., ...]


# --- where ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("a, b, dtype", [
    (np.float32(1), 2.5, np.float32), (np.int32(1), 2.5, np.float32), (np.int32(1), 2, np.int32),
    (True, 2, np.int64), (True, False, np.bool_), (2.0, 1, np.float32), (1, 2, np.int64),
    (np.float64(1), np.float32(2), np.float64), (np.int64(1), np.float32(2), np.float32),
    (np.uint8(1), np.int8(1), np.int16), (np.bool_(True), 1.5, np.float32),
])
def test_where_result_dtype_as_torch(a, b, dtype):
    def tensor_or_number(v):
        return t(np.full(2, v)) if isinstance(v, np.generic) else v
    condition = t([True, False])
    for first, second in ((a, b), (b, a)):
        out = S.where(condition, tensor_or_number(first), tensor_or_number(second))
        assert out.dtype == dtype and out.shape == (2,)
        np.testing.assert_array_equal(out.numpy(), np.array([first, second], dtype))


def test_where_with_one_argument_is_nonzero_as_tuple():
    mask = np.array([[True, False], [False, True]])
    got = S.where(t(mask))
    assert len(got) == 2 and all(g.dtype == np.int64 for g in got)
    for g, want in zip(got, np.nonzero(mask)):
        np.testing.assert_array_equal(g.numpy(), want)


def test_where_gradient_flows_to_the_tensor_side_only():
    np.testing.assert_array_equal(
        grad_of(lambda x: S.where(t([True, False]), 0.0, x), [1.0, 2.0]), [0.0, 1.0])


# --- errors ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("call, error, pattern", [
    (lambda x: x.expand(3, 3, 4), eg.ShapeError,
     r"expand: cannot expand a tensor of shape \(2, 3, 4\)"),
    (lambda x: x.expand(3, 4), eg.ShapeError, r"expand: .* \(new dimensions in front\)"),
    (lambda x: x.repeat(2, 2), eg.ShapeError, r"repeat: got repeats \(2, 2\) .* at least 3"),
    (lambda x: x.repeat(1.5), eg.DTypeError, r"repeat: sizes must be ints"),
    (lambda x: x.narrow(2, 3, 2), eg.ShapeError, r"narrow: start 3 and length 2 do not fit"),
    (lambda x: x.split([1, 2]), eg.ShapeError, r"split: sections \[1, 2\] must .* add up to 2"),
    (lambda x: x.split(0), eg.ShapeError, r"split: split_size must be positive"),
    (lambda x: x.chunk(0), eg.ShapeError, r"chunk: chunks must be a positive int"),
    (lambda x: x.unflatten(2, (3, -1)), eg.ShapeError, r"unflatten: cannot reshape"),
    (lambda x: x.squeeze((0, 0)), eg.ShapeError, r"squeeze: dims \(0, 0\) repeat"),
    (lambda x: x.movedim((0, 1), 2), eg.ShapeError, r"movedim: source .* same length"),
    (lambda x: x.t(), eg.ShapeError, r"t: expected a tensor of at most 2 dimensions"),
    (lambda x: x[0, 0].tril(), eg.ShapeError, r"tril: expected a tensor of at least 2"),
    (lambda x: x.diagonal(0, 1, -2), eg.ShapeError, r"diagonal: dim1 1 and dim2 -2 must be"),
    (lambda x: x.diag(), eg.ShapeError, r"diag: expected a 1-D or 2-D tensor"),
    (lambda x: x.trace(), eg.ShapeError, r"trace: expected a matrix"),
    (lambda x: x.roll((1, 2), 0), eg.ShapeError, r"roll: got 2 shifts for 1 dims"),
    (lambda x: x.roll((1, 2)), eg.ShapeError, r"roll: without dims"),
    (lambda x: x.select(0, 2), eg.ShapeError, r"select: index 2 is out of range"),
    (lambda x: x.repeat_interleave(t([1, 2, 3]), dim=0), eg.ShapeError,
     r"repeat_interleave: got repeats \[1, 2, 3\]; expected one non-negative count or 2"),
    (lambda x: x.repeat_interleave(t([1.0]), dim=0), eg.DTypeError, r"repeats must be an int"),
    (lambda x: S.meshgrid(x), eg.ShapeError, r"meshgrid: expected 0-d or 1-D tensors"),
    (lambda x: S.meshgrid(x[0, 0], indexing="xz"), eg.ArgumentError, r"indexing must be"),
    (lambda x: S.einsum("ij,jk", x), eg.ShapeError, r"einsum: 'ij,jk' names 2 operands, got 1"),
    (lambda x: S.einsum("ij", x), eg.ShapeError, r"subscript 'ij' does not fit .* \(2, 3, 4\)"),
    (lambda x: S.einsum("ij2", x), eg.ShapeError, r"may hold only letters"),
    (lambda x: S.einsum("ijk,ijk->iz", x, x), eg.ShapeError, r"output 'iz' .* names one"),
    (lambda x: S.einsum("ijk,kji", x, x), eg.ShapeError, r"label 'k' the sizes 4 and 2"),
    (lambda x: S.einsum("iik", x[:1]), eg.ShapeError,
     r"label 'i' repeats over dimensions of sizes"),
    (lambda x: S.where(x > 0, x, "a"), eg.DTypeError, r"where: a and b must be tensors or numbers"),
])
def test_errors_name_the_op_and_what_it_expected(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call(t(X))


# --- the cuda device (the simulator: tiny tensors) ------------------------------------------------
@pytest.mark.cuda
@pytest.mark.skipif(not eg.cuda.is_available(), reason="no cuda device (nor simulator)")
def test_cuda_agrees_with_cpu_on_indexing_triangles_einsum_and_where():
    values = RNG.standard_normal((2, 2, 3))
    calls = [lambda x: x[0, :, [2, 0]], lambda x: x[t([True, False], device=x.device)],
             lambda x: x.tril(-1), lambda x: S.einsum("bij,bkj->bik", x, x),
             lambda x: S.where(x > 0, x, 1.5), lambda x: x.roll(1, 2).flip(0),
             lambda x: S.diag_embed(x[0, 0], 1), lambda x: x.repeat_interleave(2, dim=0)]
    for call in calls:
        out = {}
        for device in ("cpu", "cuda"):
            x = eg.tensor(values, device=device, requires_grad=True)
            y = call(x)
            y.sum().backward()
            out[device] = (y.numpy(), x.grad.numpy())
        for got, want in zip(out["cuda"], out["cpu"]):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    assert S.where(t([False, True], device="cuda"))[0].device == "cuda"
