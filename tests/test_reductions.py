"""Reductions and scans beyond the catalogue: torch's result types and tie rules, gradients at
zeros and ties, empty and 0-d tensors, argument spellings and errors, on both devices."""
import numpy as np
import pytest

import engine as eg
from engine import backend

DEVICES = [d for d in backend.DEVICES if backend.is_available(d)]
ops = eg.ops.reduce  # every function of the family, eg.<name> or not yet


def t(values, device, dtype=np.float64, requires_grad=False):
    return eg.tensor(np.asarray(values, dtype), device=device, requires_grad=requires_grad)


def grad_of(f, values, device):
    x = t(values, device, requires_grad=True)
    f(x).sum().backward()
    return x.grad.numpy()


@pytest.fixture(params=DEVICES)
def device(request):
    return request.param


# --- max and min: three calls in one, and where their gradients go -----------------------------
def test_max_and_min_along_a_dim_give_named_values_and_indices(device):
    x = t([[1.0, 5.0, 5.0], [7.0, -2.0, 7.0]], device)
    values, indices = x.max(1)
    out = x.max(dim=1, keepdim=True)
    assert out.values.shape == (2, 1) and out.indices.dtype == np.int64
    np.testing.assert_array_equal(values.numpy(), [5.0, 7.0])
    np.testing.assert_array_equal(indices.numpy(), [1, 0])  # the first of equal maxima
    lowest = x.min(axis=0)
    np.testing.assert_array_equal(lowest.values.numpy(), [1.0, -2.0, 5.0])
    np.testing.assert_array_equal(lowest.indices.numpy(), [0, 1, 0])
    assert type(out).__name__ == "max" and type(lowest).__name__ == "min"


def test_max_with_a_tensor_is_the_elementwise_maximum(device):
    a, b = t([1.0, 4.0], device), t([3.0, 2.0], device)
    np.testing.assert_array_equal(a.max(b).numpy(), [3.0, 4.0])
    np.testing.assert_array_equal(ops.min(a, b).numpy(), [1.0, 2.0])


def test_ties_send_the_gradient_where_torch_does(device):
    values = [[2.0, 2.0, 1.0], [0.0, 3.0, 3.0]]
    # max(dim): all of it to the index returned
    np.testing.assert_array_equal(grad_of(lambda x: x.max(1).values, values, device),
                                  [[1, 0, 0], [0, 1, 0]])
    # the full max and amax share it evenly among the ties
    np.testing.assert_array_equal(grad_of(lambda x: x.max(), values, device),
                                  [[0, 0, 0], [0, 0.5, 0.5]])
    np.testing.assert_array_equal(grad_of(lambda x: x.amax(1), values, device),
                                  [[0.5, 0.5, 0], [0, 0.5, 0.5]])
    np.testing.assert_array_equal(grad_of(lambda x: x.amin(dim=(0, 1)), values, device),
                                  [[0, 0, 0], [1, 0, 0]])


def test_argmax_and_argmin_take_the_first_extremum_and_keepdim(device):
    x = t([[3.0, 1.0, 3.0], [0.0, 0.0, -1.0]], device)
    assert x.argmax().item() == 0 and x.argmin().item() == 5
    assert x.argmax(keepdim=True).shape == (1, 1)
    np.testing.assert_array_equal(x.argmax(1).numpy(), [0, 0])
    np.testing.assert_array_equal(x.argmin(dim=0, keepdim=True).numpy(), [[1, 1, 1]])
    assert x.argmax(axis=-1).dtype == np.int64


# --- products with zeros -----------------------------------------------------------------------------
@pytest.mark.parametrize("values, expected", [
    ([2.0, 3.0, 4.0], [12.0, 8.0, 6.0]),
    ([2.0, 0.0, 4.0], [0.0, 8.0, 0.0]),   # one zero: only it has a gradient
    ([0.0, 3.0, 0.0], [0.0, 0.0, 0.0]),   # two zeros: none
])
def test_prod_gradient_with_zeros(device, values, expected):
    np.testing.assert_array_equal(grad_of(lambda x: x.prod(), values, device), expected)
    np.testing.assert_array_equal(grad_of(lambda x: x.reshape(1, 3).prod(1), values, device),
                                  expected)


@pytest.mark.parametrize("values", [[2.0, 0.0, 3.0, 0.5], [0.0, 2.0, 0.0, 3.0],
                                    [1.5, -2.0, 0.5, 0.0]])
def test_cumprod_and_prod_gradients_are_exact_at_zeros(values):
    x = t(values, "cpu", requires_grad=True)
    # both are multilinear: central differences are exact there, zeros or not
    assert eg.gradcheck(lambda x: x.cumprod(0), [x])
    assert eg.gradcheck(lambda x: x.prod(), [x])


def test_second_derivatives_up_to_the_first_zero_are_exact():
    x = t([1.5, -2.0, 0.5, 0.0], "cpu", requires_grad=True)
    assert eg.gradgradcheck(lambda x: x.cumprod(0), [x])
    assert eg.gradgradcheck(lambda x: x.prod(), [x])


def test_cumprod_gradient_with_zeros_on_both_devices(device):
    # d/dx_j sum_i cumprod_i = sum_{i >= j} prod_{l <= i, l != j} x_l
    np.testing.assert_allclose(grad_of(lambda x: x.cumprod(0), [2.0, 0.0, 3.0, 0.0], device),
                               [1.0, 2.0 + 6.0, 0.0, 0.0])


# --- statistics ----------------------------------------------------------------------------------------
def test_var_and_std_corrections(device):
    data = np.array([[1.0, 2.0, 4.0], [0.5, -1.0, 3.0]])
    x = t(data, device)
    np.testing.assert_allclose(x.var().item(), data.var(ddof=1))
    np.testing.assert_allclose(x.var(1, unbiased=False).numpy(), data.var(1))
    np.testing.assert_allclose(x.var(False).item(), data.var())  # torch.var(x, unbiased)
    np.testing.assert_allclose(x.std(dim=(0, 1), correction=2, keepdim=True).numpy(),
                               [[data.std(ddof=2)]])
    var, mean = ops.var_mean(x, 0)
    np.testing.assert_allclose(var.numpy(), data.var(0, ddof=1))
    np.testing.assert_allclose(mean.numpy(), data.mean(0))
    std, mean = ops.std_mean(x, axis=1, keepdims=True, correction=0)
    np.testing.assert_allclose(std.numpy(), data.std(1, keepdims=True))
    with pytest.raises(eg.ArgumentError, match="var: got both correction= and unbiased="):
        x.var(unbiased=True, correction=1)


def test_var_without_degrees_of_freedom_is_nan_or_inf_as_torch(device):
    assert np.isnan(t([1.5], device).var().item())
    assert np.isinf(t([1.0, 2.0], device).var(correction=2).item())


def test_logsumexp_is_stable_and_takes_the_empty_and_infinite_cases(device):
    x = t([[1000.0, 1000.0], [-1000.0, -np.inf]], device)
    np.testing.assert_allclose(x.logsumexp(1).numpy(), [1000.0 + np.log(2), -1000.0])
    assert x.logsumexp(dim=(0, 1), keepdim=True).shape == (1, 1)
    if not backend.simulated(device):  # the simulator's log (Python's math.log) refuses 0
        assert t([-np.inf, -np.inf], device).logsumexp(0).item() == -np.inf
    assert t(np.zeros((2, 0)), device).logsumexp(1).numpy().tolist() == [-np.inf, -np.inf]
    assert t([1, 2], device, np.int64).logsumexp(0).dtype == np.float32
    np.testing.assert_allclose(grad_of(lambda x: x.logsumexp(0), [1000.0, 1000.0], device),
                               [0.5, 0.5])


@pytest.mark.parametrize("p", ["fro", 2, 1, 3, 0.5, 0, np.inf, -np.inf])
def test_norm_matches_numpy(device, p):
    data = np.array([[3.0, -4.0, 1.0], [0.5, 2.0, -1.5]])
    expected = np.linalg.norm(data.ravel(), 2 if p == "fro" else p)
    np.testing.assert_allclose(t(data, device).norm(p).item(), expected)
    by_row = np.linalg.norm(data, 2 if p == "fro" else p, axis=1, keepdims=True)
    np.testing.assert_allclose(t(data, device).norm(p, dim=1, keepdim=True).numpy(), by_row)


def test_the_gradient_of_the_2_norm_at_zero_is_zero(device):
    np.testing.assert_array_equal(grad_of(lambda x: x.norm(), [0.0, 0.0], device), [0.0, 0.0])
    np.testing.assert_array_equal(grad_of(lambda x: x.norm(dim=1), [[0.0, 0.0], [3.0, 4.0]],
                                          device), [[0.0, 0.0], [0.6, 0.8]])
    with pytest.raises(eg.ArgumentError, match="norm: p must be"):
        t([1.0], device).norm("nuc")


# --- dtypes, logical reductions, nans --------------------------------------------------------------
def test_sums_and_products_of_integers_and_bools_are_int64(device):
    flags = t([[True, False], [True, True]], device, np.bool_)
    small = t([1, 2, 3], device, np.int32)
    for out in (flags.sum(), flags.sum(0), small.sum(), small.prod(), small.cumsum(0),
                flags.cumsum(1), small.cumprod(0)):
        assert out.dtype == np.int64
    assert flags.sum().item() == 3 and small.prod().item() == 6
    assert small.sum(dtype=eg.float64).dtype == np.float64
    assert small.mean(dtype=np.float32).item() == pytest.approx(2.0)
    assert small.cumsum(0, dtype=np.float32).dtype == np.float32
    np.testing.assert_array_equal(flags.cumsum(1).numpy(), [[1, 1], [1, 2]])
    with pytest.raises(eg.DTypeError, match="mean: expected a floating-point tensor"):
        small.mean()


def test_any_all_and_count_nonzero(device):
    x = t([[0.0, 2.0], [0.0, 0.0]], device)
    assert x.any().dtype == np.bool_ and x.any().item() and not x.all().item()
    np.testing.assert_array_equal(x.any(1).numpy(), [True, False])
    np.testing.assert_array_equal(x.all(dim=0, keepdim=True).numpy(), [[False, False]])
    np.testing.assert_array_equal(x.count_nonzero(0).numpy(), [0, 1])
    assert t([3, 0], device, np.uint8).any().dtype == np.uint8
    assert t(np.zeros((0,)), device).all().item()  # all of nothing, as torch


def test_nansum_and_nanmean_skip_nans(device):
    x = t([[1.0, np.nan], [2.0, 4.0]], device, requires_grad=True)
    np.testing.assert_array_equal(x.nansum(1).numpy(), [1.0, 6.0])
    np.testing.assert_array_equal(x.nanmean(0).numpy(), [1.5, 4.0])
    x.nansum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[1.0, 0.0], [1.0, 1.0]])


def test_mean_over_several_dims(device):
    data = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_allclose(t(data, device).mean((0, 2), keepdim=True).numpy(),
                               data.mean((0, 2), keepdims=True))


# --- scans ---------------------------------------------------------------------------------------------
def test_cummax_and_cummin_take_the_last_index_of_ties(device):
    x = t([1.0, 3.0, 3.0, 2.0, 3.0, 0.0], device)
    values, indices = x.cummax(0)
    np.testing.assert_array_equal(values.numpy(), [1, 3, 3, 3, 3, 3])
    np.testing.assert_array_equal(indices.numpy(), [0, 1, 2, 2, 4, 4])
    low = t([2.0, 1.0, 1.0, 4.0], device).cummin(dim=0)
    np.testing.assert_array_equal(low.indices.numpy(), [0, 1, 2, 2])
    assert type(low).__name__ == "cummin"
    # the gradient adds up at the index each position took its value from
    np.testing.assert_array_equal(grad_of(lambda x: x.cummax(0).values, [1.0, 3.0, 3.0, 2.0],
                                          device), [1, 1, 2, 0])


def test_cummax_of_a_nan_keeps_it(device):
    values, indices = t([1.0, np.nan, 5.0], device).cummax(0)
    assert np.isnan(values.numpy()[1:]).all()
    np.testing.assert_array_equal(indices.numpy(), [0, 1, 1])


def test_logcumsumexp_is_stable(device):
    out = t([-1000.0, 0.0], device, np.float32).logcumsumexp(0)
    np.testing.assert_allclose(out.numpy(), [-1000.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(t([1000.0, 1000.0], device).logcumsumexp(0).numpy(),
                               [1000.0, 1000.0 + np.log(2)])
    np.testing.assert_allclose(grad_of(lambda x: x.logcumsumexp(0), [-1000.0, 0.0], device),
                               [1.0, 1.0])


def test_scans_need_their_dim(device):
    with pytest.raises(eg.ArgumentError, match="cumsum: dim is required"):
        ops.cumsum(t([1.0], device), None)


# --- 0-d and empty tensors -------------------------------------------------------------------------
@pytest.mark.parametrize("dim", [0, -1])
def test_a_0d_tensor_takes_dim_0_and_minus_1_everywhere(device, dim):
    x = t(2.5, device)
    for f in (ops.sum, ops.mean, ops.prod, ops.amax, ops.amin, ops.logsumexp, ops.nansum,
              ops.any, ops.all, ops.count_nonzero, ops.norm):
        out = f(x, dim=dim)
        assert out.shape == (), f
    for f in (ops.cumsum, ops.cumprod, ops.logcumsumexp):
        assert f(x, dim).shape == () and f(x, dim).item() == 2.5
    for f in (ops.max, ops.min, ops.cummax, ops.cummin):
        values, indices = f(x, dim)
        assert values.shape == indices.shape == () and values.item() == 2.5
        assert indices.item() == 0
    assert x.argmax(dim).shape == () and x.var(dim, correction=0).item() == 0.0
    assert x.max(dim, keepdim=True).values.shape == ()
    with pytest.raises(eg.ShapeError, match="sum: axis 1 is out of range"):
        x.sum(1)


def test_empty_reductions(device):
    empty = t(np.zeros((0, 3)), device)
    assert empty.sum().item() == 0 and empty.prod().item() == 1
    np.testing.assert_array_equal(empty.sum(0).numpy(), [0, 0, 0])
    np.testing.assert_array_equal(empty.prod(0).numpy(), [1, 1, 1])
    assert empty.max(1).values.shape == (0,) and empty.amax(1).shape == (0,)
    assert empty.cumsum(0).shape == (0, 3) and empty.cummax(1).indices.shape == (0, 3)
    for f in (lambda: empty.max(), lambda: empty.min(0), lambda: empty.amax(0),
              lambda: empty.argmax(), lambda: empty.argmin(0)):
        with pytest.raises(eg.ShapeError, match=r"shape \(0, 3\) .* no elements"):
            f()


# --- argument spellings and errors ---------------------------------------------------------------
def test_numpy_and_torch_spellings_and_their_errors(device):
    x = t(np.arange(6.0).reshape(2, 3), device)
    np.testing.assert_array_equal(x.amax(axis=1, keepdims=True).numpy(),
                                  x.amax(dim=1, keepdim=True).numpy())
    np.testing.assert_array_equal(x.cumsum(axis=1).numpy(), np.cumsum(np.arange(6.0).reshape(2, 3),
                                                                      axis=1))
    with pytest.raises(eg.ArgumentError, match="amax: got both dim= and axis="):
        x.amax(dim=0, axis=0)
    with pytest.raises(eg.ShapeError, match="cumprod: axis 2 is out of range"):
        x.cumprod(2)
    with pytest.raises(eg.DTypeError, match="prod: dim must be an int"):
        x.prod((0, 1))
    with pytest.raises(eg.DTypeError, match="max: axis must be an int"):
        x.max((0, 1))


def test_values_picked_by_index_are_differentiable_twice(device):
    x = t([[0.3, -1.2, 2.0], [1.1, 0.4, -0.7]], device, requires_grad=True)
    for f in (lambda x: x.cummax(1).values ** 2, lambda x: x.cummin(0).values ** 2,
              lambda x: x.max(1).values ** 3, lambda x: x.min(dim=0, keepdim=True).values ** 3):
        assert eg.gradgradcheck(f, [x])


# --- the CPU's threaded sum and gradient accumulation (big contiguous float arrays) ----------
@pytest.mark.parametrize("dim, keepdim", [(None, False), (None, True), (-1, False), (-1, True),
                                          ((1, 2), False), ((1, 2), True), (0, False), (1, True)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sums_of_big_arrays_match_numpy_in_every_layout(dim, keepdim, dtype):
    x = np.random.default_rng(1).standard_normal((6, 40, 70)).astype(dtype)  # past fused.SMALL
    for a in (x, x.transpose(2, 1, 0).copy().transpose(2, 1, 0)):  # C order, then F order
        got = eg.tensor(a).sum(dim=dim, keepdim=keepdim).numpy()
        expected = a.astype(np.float64).sum(axis=dim, keepdims=keepdim)
        assert got.shape == expected.shape and got.dtype == dtype
        single = dtype == np.float32  # float32 sums of cancelling terms: an absolute error
        np.testing.assert_allclose(got, expected, rtol=1e-5 if single else 1e-12,
                                   atol=1e-4 if single else 1e-12)


def test_big_gradients_accumulate_over_backward_passes_whatever_their_strides():
    x = eg.tensor(np.random.default_rng(2).standard_normal((64, 128)), requires_grad=True)
    x.sum(dim=1).sum().backward()             # a broadcast gradient, kept as a copy
    (x * 3).sum().backward()                  # a contiguous one, added in place
    x.sum(dim=0).sum().backward()             # broadcast along the other axis
    x.T.sum(dim=1).sum().backward()           # through a transpose
    np.testing.assert_array_equal(x.grad.numpy(), np.full((64, 128), 6.0))
