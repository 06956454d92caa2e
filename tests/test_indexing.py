"""Gathering, scattering, selecting and sorting: what the catalogue cannot check (integer and
bool inputs, torch's edge cases, indices, errors), on both devices."""
import numpy as np
import pytest

import engine as eg
from engine import backend
from engine.ops import index as ix

DEVICES = [pytest.param(d, marks=pytest.mark.cuda) if d == "cuda" else d
           for d in backend.DEVICES if backend.is_available(d)]


def t(values, device="cpu", dtype=None, requires_grad=False):
    return eg.tensor(np.asarray(values, dtype), device=device, requires_grad=requires_grad)


def i64(values, device="cpu"):
    return t(values, device, np.int64)


def test_every_op_is_a_tensor_method():
    for name in ix.METHODS:
        assert getattr(eg.Tensor, name) is getattr(ix, name)


# --- gather, scatter -------------------------------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
def test_gather_with_a_smaller_index_and_its_gradient_adding_up(device):
    x = t(np.arange(12.0).reshape(3, 4), device, requires_grad=True)
    index = i64([[2, 2], [2, 1]], device)  # smaller than x along dim 1 too
    y = ix.gather(x, 0, index)
    np.testing.assert_array_equal(y.numpy(), [[8, 9], [8, 5]])
    y.backward(np.ones((2, 2)))
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 0, 0, 0], [0, 1, 0, 0], [2, 1, 0, 0]])


@pytest.mark.parametrize("device", DEVICES)
def test_scatter_forms_on_integers(device):
    x = i64([[1, 2, 3], [4, 5, 6]], device)
    index = i64([[1, 0, 1]], device)
    src = i64([[10, 20, 30], [40, 50, 60]], device)  # larger than index: only its corner is used
    np.testing.assert_array_equal(x.scatter(0, index, src).numpy(), [[1, 20, 3], [10, 5, 30]])
    np.testing.assert_array_equal(x.scatter(0, index, value=7).numpy(), [[1, 7, 3], [7, 5, 7]])
    np.testing.assert_array_equal(x.scatter(0, index, src, reduce="multiply").numpy(),
                                  [[1, 40, 3], [40, 5, 180]])
    np.testing.assert_array_equal(x.scatter_add(1, i64([[0, 0, 2]], device), src).numpy(),
                                  [[31, 2, 33], [4, 5, 6]])
    assert x.scatter_add(0, index, src).dtype == np.int64


@pytest.mark.parametrize("device", DEVICES)
def test_scatter_reduce_every_mode_with_and_without_self(device):
    x = t([1.0, -2.0, 3.0, 5.0], device)
    index = i64([0, 0, 2, 0], device)
    src = t([4.0, -1.0, 6.0, 2.0], device)
    expected = {("sum", True): [6, -2, 9, 5], ("sum", False): [5, -2, 6, 5],
                ("prod", True): [-8, -2, 18, 5], ("prod", False): [-8, -2, 6, 5],
                ("mean", True): [1.5, -2, 4.5, 5], ("mean", False): [5 / 3, -2, 6, 5],
                ("amax", True): [4, -2, 6, 5], ("amax", False): [4, -2, 6, 5],
                ("amin", True): [-1, -2, 3, 5], ("amin", False): [-1, -2, 6, 5]}
    for (reduce, include_self), values in expected.items():
        out = x.scatter_reduce(0, index, src, reduce, include_self=include_self)
        np.testing.assert_allclose(out.numpy(), values, rtol=1e-6, err_msg=reduce)


def test_scatter_reduce_mean_of_integers_rounds_down_as_torch():
    x = i64([0, 7])
    out = x.scatter_reduce(0, i64([0, 0, 1]), i64([-3, -2, 4]), "mean")
    np.testing.assert_array_equal(out.numpy(), [-2, 5])  # floor(-5 / 3), floor(11 / 2)
    assert out.dtype == np.int64


def _grads(fn, *tensors):
    out = fn(*tensors)
    out.backward(np.ones(out.shape, out.dtype))
    return [a.grad.numpy() for a in tensors]


@pytest.mark.parametrize("device", DEVICES)
def test_scatter_gradients_as_torch(device):
    x = t([1.0, 2.0, 3.0], device, requires_grad=True)
    src = t([5.0, 6.0], device, requires_grad=True)
    index = i64([2, 2], device)  # both write place 2: torch still gives each src its gradient
    gx, gsrc = _grads(lambda a, b: a.scatter(0, index, b) * t([1.0, 2.0, 3.0], device), x, src)
    np.testing.assert_array_equal(gx, [1, 2, 0])
    np.testing.assert_array_equal(gsrc, [3, 3])


@pytest.mark.parametrize("device", DEVICES)
def test_scatter_reduce_prod_gradient_with_zeros_as_torch(device):
    x = t([2.0, 0.0, 3.0], device, requires_grad=True)
    src = t([0.0, 5.0, 4.0, 0.0, 0.0], device, requires_grad=True)
    index = i64([0, 0, 1, 2, 2], device)
    gx, gsrc = _grads(lambda a, b: a.scatter_reduce(0, index, b, "prod"), x, src)
    # place 0: 2 * 0 * 5 (one zero); place 1: 0 * 4; place 2: 3 * 0 * 0 (two zeros)
    np.testing.assert_array_equal(gx, [0, 4, 0])
    np.testing.assert_array_equal(gsrc, [10, 0, 0, 0, 0])


@pytest.mark.parametrize("device", DEVICES)
def test_scatter_reduce_amax_ties_share_the_gradient(device):
    x = t([3.0, 1.0], device, requires_grad=True)
    src = t([3.0, 3.0, 0.5], device, requires_grad=True)
    index = i64([0, 0, 1], device)
    gx, gsrc = _grads(lambda a, b: a.scatter_reduce(0, index, b, "amax"), x, src)
    np.testing.assert_allclose(gx, [1 / 3, 1])
    np.testing.assert_allclose(gsrc, [1 / 3, 1 / 3, 0])
    gx, gsrc = _grads(lambda a, b: a.scatter_reduce(0, index, b, "amin", include_self=False),
                      t([7.0, 1.0], device, requires_grad=True), src.detach().requires_grad_())
    np.testing.assert_allclose(gx, [0, 0])
    np.testing.assert_allclose(gsrc, [0.5, 0.5, 1])


# --- index_select, index_add, take_along_dim ----------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
def test_index_select_index_add_and_take_along_dim(device):
    x = i64([[1, 2, 3], [4, 5, 6]], device)
    np.testing.assert_array_equal(x.index_select(1, t([2, 0, 2], device, np.int32)).numpy(),
                                  [[3, 1, 3], [6, 4, 6]])
    out = x.index_add(1, i64([2, 2], device), i64([[1, 2], [3, 4]], device), alpha=10)
    np.testing.assert_array_equal(out.numpy(), [[1, 2, 33], [4, 5, 76]])
    np.testing.assert_array_equal(x.take_along_dim(i64([5, 0], device)).numpy(), [6, 1])
    # the other dimensions broadcast: (2, 3) with (1, 2) along dim 1 gives (2, 2)
    np.testing.assert_array_equal(ix.take_along_dim(x, i64([[2, 0]], device), dim=1).numpy(),
                                  [[3, 1], [6, 4]])


def test_index_select_on_an_empty_index_and_an_empty_input():
    x = t(np.arange(6.0).reshape(2, 3), requires_grad=True)
    out = x.index_select(0, i64(np.zeros(0, np.int64)))
    assert out.shape == (0, 3)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((2, 3)))
    assert t(np.zeros((0, 3))).gather(1, i64(np.zeros((0, 2), np.int64))).shape == (0, 2)


def test_zero_d_tensors_count_as_one_element_vectors():
    x = t(5.0, requires_grad=True)
    y = x.gather(0, i64(0))
    assert y.shape == () and y.item() == 5.0
    assert ix.sort(x).values.shape == () and ix.sort(x).indices.item() == 0
    assert x.scatter(0, i64(0), t(2.0)).item() == 2.0


# --- masks ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
def test_masked_fill_keeps_the_input_dtype_and_differentiates_the_value(device):
    ints = i64([1, 2, 3], device)
    mask = t([True, False, True], device)
    out = ints.masked_fill(mask, 2.7)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out.numpy(), [2, 2, 2])
    x = t([[1.0, 2.0, 3.0]], device, np.float32, requires_grad=True)
    value = t(4.0, device, np.float64, requires_grad=True)
    gx, gvalue = _grads(lambda a, v: a.masked_fill(mask, v), x, value)
    assert x.masked_fill(mask, value).dtype == np.float32
    np.testing.assert_array_equal(gx, [[0, 1, 0]])
    assert gvalue == 2


@pytest.mark.parametrize("device", DEVICES)
def test_masked_select_broadcasts_and_nonzero_reads_back_the_indices(device):
    x = t([[1.0, 0.0], [3.0, 4.0]], device)
    np.testing.assert_array_equal(x.masked_select(t([False, True], device)).numpy(), [0, 4])
    found = x.nonzero()
    assert found.dtype == np.int64 and found.device == device
    np.testing.assert_array_equal(found.numpy(), [[0, 0], [1, 0], [1, 1]])
    np.testing.assert_array_equal(ix.argwhere(x).numpy(), found.numpy())
    rows, cols = x.nonzero(as_tuple=True)
    np.testing.assert_array_equal(rows.numpy(), [0, 1, 1])
    np.testing.assert_array_equal(cols.numpy(), [0, 0, 1])
    assert ix.nonzero(t(np.zeros((2, 0)), device)).shape == (0, 2)
    assert ix.nonzero(t(3.0, device)).shape == (1, 0)
    np.testing.assert_array_equal(ix.nonzero(t([True, False, True], device)).numpy(), [[0], [2]])


# --- sorting ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
def test_sort_is_stable_both_ways_with_nan_largest(device):
    x = t([1.0, np.nan, 1.0, 0.0, 2.0, 0.0], device)
    values, indices = x.sort()
    np.testing.assert_array_equal(values.numpy(), [0, 0, 1, 1, 2, np.nan])
    np.testing.assert_array_equal(indices.numpy(), [3, 5, 0, 2, 4, 1])
    result = x.sort(descending=True)
    np.testing.assert_array_equal(result.values.numpy(), [np.nan, 2, 1, 1, 0, 0])
    np.testing.assert_array_equal(result.indices.numpy(), [1, 4, 0, 2, 3, 5])
    assert result.indices.dtype == np.int64
    np.testing.assert_array_equal(x.argsort(descending=True).numpy(), [1, 4, 0, 2, 3, 5])


@pytest.mark.parametrize("device", DEVICES)
def test_sort_integers_and_bools_along_any_dim(device):
    x = t([[3, -1, 2], [0, 5, -4]], device, np.int32)
    values, indices = x.sort(axis=0, descending=True)
    assert values.dtype == np.int32
    np.testing.assert_array_equal(values.numpy(), [[3, 5, 2], [0, -1, -4]])
    np.testing.assert_array_equal(indices.numpy(), [[0, 1, 0], [1, 0, 1]])
    flags = t([True, False, True, False], device)
    np.testing.assert_array_equal(flags.sort().values.numpy(), [False, False, True, True])
    np.testing.assert_array_equal(flags.sort().indices.numpy(), [1, 3, 0, 2])
    np.testing.assert_array_equal(x.msort().numpy(), [[0, -1, -4], [3, 5, 2]])


@pytest.mark.parametrize("device", DEVICES)
def test_topk_and_kthvalue_values_and_indices(device):
    x = t([[4.0, 1.0, 3.0], [2.0, 6.0, 5.0]], device)
    values, indices = x.topk(2)
    np.testing.assert_array_equal(values.numpy(), [[4, 3], [6, 5]])
    np.testing.assert_array_equal(indices.numpy(), [[0, 2], [1, 2]])
    values, indices = x.topk(1, dim=0, largest=False)
    np.testing.assert_array_equal(values.numpy(), [[2, 1, 3]])
    np.testing.assert_array_equal(indices.numpy(), [[1, 0, 0]])
    values, indices = x.kthvalue(2)
    np.testing.assert_array_equal(values.numpy(), [3, 5])
    np.testing.assert_array_equal(indices.numpy(), [2, 2])
    result = x.kthvalue(1, axis=0, keepdims=True)
    assert result.values.shape == (1, 3) and result.indices.shape == (1, 3)
    np.testing.assert_array_equal(result.values.numpy(), [[2, 1, 3]])


def test_sorting_tensors_with_a_zero_size_dimension():
    x = t(np.zeros((0, 3)))
    assert x.sort(dim=0).values.shape == (0, 3)
    assert x.topk(0, dim=0).indices.shape == (0, 3)
    assert x.argsort(dim=1).shape == (0, 3)
    assert x.topk(2, dim=1).values.shape == (0, 2)


# --- errors, before any kernel reads through an index ---------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
def test_out_of_range_indices_are_argument_errors(device):
    x = t(np.zeros((2, 3)), device)
    with pytest.raises(eg.ArgumentError, match=r"gather: index 3 is out of range for dimension 1 "
                                               r"of size 3; expected indices in \[0, 3\)"):
        x.gather(1, i64([[0, 3]], device))
    with pytest.raises(eg.ArgumentError, match="scatter_add: index -1"):
        x.scatter_add(0, i64([[-1]], device), x)
    with pytest.raises(eg.ArgumentError, match="index_select: index 2"):
        x.index_select(0, i64([2], device))
    with pytest.raises(eg.ArgumentError, match="take_along_dim: index 6"):
        x.take_along_dim(i64([6], device))
    with pytest.raises(eg.ArgumentError, match="index_add: index -9223372036854775808"):
        x.index_add(0, i64([np.iinfo(np.int64).min], device), t(np.zeros((1, 3)), device))


def test_index_dtypes_ranks_and_shapes_are_checked():
    x = t(np.zeros((2, 3)))
    with pytest.raises(eg.DTypeError, match="gather: index must have dtype int64, got int32"):
        x.gather(0, t([[0]], dtype=np.int32))
    with pytest.raises(eg.DTypeError, match="index_select: index must have dtype int32 or int64"):
        x.index_select(0, t([0.0]))
    with pytest.raises(eg.DTypeError, match="scatter: index must be a Tensor"):
        x.scatter(0, [[0]], x)
    with pytest.raises(eg.ShapeError, match="gather: index of shape \\(2,\\) must have as many"):
        x.gather(0, i64([0, 1]))
    with pytest.raises(eg.ShapeError, match="larger than input"):
        x.gather(0, i64(np.zeros((1, 4), np.int64)))
    with pytest.raises(eg.ShapeError, match="larger than src"):
        x.scatter(0, i64([[0, 0]]), t([[1.0]]))
    with pytest.raises(eg.ShapeError, match="index_select: index must be a vector"):
        x.index_select(0, i64([[0]]))
    with pytest.raises(eg.ShapeError, match=r"index_add: source has shape \(3, 3\)"):
        x.index_add(0, i64([0]), t(np.zeros((3, 3))))
    with pytest.raises(eg.ShapeError, match="axis 2 is out of range"):
        x.gather(2, i64([[0]]))


def test_bad_arguments_name_the_op():
    x = t(np.zeros((2, 3)))
    with pytest.raises(eg.DTypeError, match="scatter: src has dtype float32 but input has float64"):
        x.scatter(0, i64([[0]]), t([[1.0]], dtype=np.float32))
    with pytest.raises(eg.ArgumentError, match="scatter_reduce: reduce must be"):
        x.scatter_reduce(0, i64([[0]]), x, "max")
    with pytest.raises(eg.ArgumentError, match="scatter: reduce must be"):
        x.scatter(0, i64([[0]]), x, reduce="sum")
    with pytest.raises(eg.ArgumentError, match="give one of src"):
        x.scatter(0, i64([[0]]))
    with pytest.raises(eg.ArgumentError, match=r"topk: k must be an int in \[0, 3\]"):
        x.topk(4)
    with pytest.raises(eg.ArgumentError, match=r"kthvalue: k must be an int in \[1, 2\]"):
        x.kthvalue(0, dim=0)
    with pytest.raises(eg.DTypeError, match="masked_fill: mask must be a bool tensor"):
        x.masked_fill(i64([1, 0, 1]), 1.0)
    with pytest.raises(eg.ShapeError, match="masked_fill: mask of shape \\(3, 2, 3\\)"):
        x.masked_fill(t(np.ones((3, 2, 3), bool)), 1.0)
    with pytest.raises(eg.ShapeError, match="masked_fill: value must be a number or a 0-d"):
        x.masked_fill(t([True, False, True]), t([1.0]))
    with pytest.raises(eg.ArgumentError, match="got both dim= and axis="):
        x.sort(dim=0, axis=0)
