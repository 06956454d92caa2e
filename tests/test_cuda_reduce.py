"""The reductions of the cuda backend (kernels/cuda/reduce.py) against numpy: sum, max, min, prod,
argmax and argmin over every layout their kernels tell apart (reduced axes last: rows; kept axes
last: columns; both in turn, several non-adjacent axes, everything, none), rows shorter than a
block and longer (odd sizes), outputs split over blocks with a second pass, float32, float64,
int32, int64 and bool, empty arrays, nans and ties; no host copies and one launch, two when
the outputs are split.

Values are small integers (as floats for float dtypes) so that sums are exact in any order and
the comparisons need no tolerance. In CI it runs in Numba's CUDA simulator (see conftest.py);
ENGINE_TEST_GPU=1 runs it on a GPU.
"""
import numpy as np
import pytest

import engine as eg
from engine import backend
from kernels.cuda.device import counted

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not eg.cuda.is_available(), reason="no cuda device (nor simulator)")]

# (shape, axes): the reduced axes merged last (rows), first (columns), in the middle, as NCHW
# over (0, 2, 3), non-adjacent, with size-1 axes between, everything and nothing; sides below
# and above a block's threads (4 in the simulator, 256 on a GPU) and outputs split over blocks
LAYOUTS = [((5, 7), (1,)), ((3, 300), (1,)), ((70, 3), (0,)), ((300, 5), (0,)),
           ((3, 40, 2), (1,)), ((2, 3, 5, 7), (0, 2, 3)), ((3, 2, 4, 5), (0, 2)),
           ((2, 3, 4, 5), (1, 3)), ((4, 1, 6, 1), (0, 2)), ((2, 1, 3), (1,)), ((301,), None),
           ((6, 5, 7), None), ((4, 3), ()), ((), None)]
DTYPES = [np.float32, np.float64, np.int32, np.int64, np.bool_]


def _table():
    return backend.table("cuda")


def _device(a):
    return _table().from_host(np.asarray(a))


def _host(a):
    return _table().to_host(a)


def _draw(shape, dtype, seed=0, values=(-3, -2, -1, 0, 1, 2, 3)):
    rng = np.random.default_rng(seed)
    x = rng.choice(values, size=shape)
    return np.asarray(x > 0 if dtype == np.bool_ else x.astype(dtype))


def _expected(op, x, axes, keepdims):
    """numpy's, with sums and products in the input's dtype (bools counted in int64), as the
    kernels accumulate."""
    if op in ("sum", "prod"):
        dtype = np.int64 if x.dtype == np.bool_ else x.dtype
        return getattr(np, op)(x, axis=axes, keepdims=keepdims, dtype=dtype)
    return getattr(np, "a" + op)(x, axis=axes, keepdims=keepdims)


def _check(op, x, axes, keepdims=False):
    got = _host(getattr(_table(), op)(_device(x), axes, keepdims))
    want = _expected(op, x, axes, keepdims)
    assert got.shape == want.shape and got.dtype == want.dtype, (op, got.dtype, want.dtype)
    np.testing.assert_array_equal(got, want, err_msg=f"{op} over {axes}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, axes", LAYOUTS)
def test_sum_max_min_over_every_layout(shape, axes, dtype):
    x = _draw(shape, dtype)
    for op in ("sum", "max", "min"):
        _check(op, x, axes)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, axes", LAYOUTS)
def test_prod_over_every_layout(shape, axes, dtype):
    # mostly 1 and -1: products of hundreds of factors stay exact and within range (the
    # integers without the twos that would overflow, float32 with halves for its twos)
    values = {np.float64: (-1, 1, 1, 2), np.float32: (-1, 1, 1, 2, 0.5)}.get(dtype, (-1, 1, 1))
    x = _draw(shape, dtype, values=values)
    _check("prod", x, axes)


@pytest.mark.parametrize("shape, axes", [((2, 3, 5, 7), (0, 2, 3)), ((70, 3), (0,)),
                                         ((3, 40), (1,)), ((6, 5, 7), None), ((4, 3), ())])
def test_keepdims_keeps_the_reduced_axes_as_ones(shape, axes):
    x = _draw(shape, np.float32)
    for op in ("sum", "max", "min", "prod"):
        _check(op, x, axes, keepdims=True)


def test_negative_axes_count_from_the_end():
    x = _draw((3, 4, 5), np.float64)
    for op in ("sum", "max"):
        got = _host(getattr(_table(), op)(_device(x), (-1, -3), False))
        np.testing.assert_array_equal(got, _expected(op, x, (0, 2), False))


@pytest.mark.parametrize("shape, axes", [((0, 3), (0,)), ((0, 3), (1,)), ((0, 3), None),
                                         ((3, 0, 2), (1,)), ((3, 0, 2), (0, 2)), ((0,), None)])
def test_empty_arrays(shape, axes):
    x = np.zeros(shape, np.float32)
    for op in ("sum", "prod"):
        _check(op, x, axes)
        _check(op, x, axes, keepdims=True)
    if all(shape[a] for a in (range(len(shape)) if axes is None else axes)):
        _check("max", x, axes)  # no outputs (a max of no elements is an error)


def test_bool_sums_count_past_a_byte_and_max_min_stay_bool():
    x = np.ones((3, 600), np.bool_)
    x[1, ::2] = False
    for axes in ((1,), (0,), None):
        _check("sum", x, axes)  # 600 and 1500 trues: a uint8 count would wrap
        _check("max", x, axes)
        _check("min", x, axes)


def test_int64_sums_are_exact():
    x = np.full((5, 300), 2**53 + 1, np.int64)
    x[:, 1::2] = -(2**53)
    for axes in ((1,), (0,), None):
        _check("sum", x, axes)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, axes", [((3, 300), (1,)), ((300, 3), (0,)), ((301,), None),
                                         ((2, 3, 5, 7), (0, 2, 3)), ((5, 2), (1,))])
def test_max_and_min_propagate_nan(shape, axes, dtype):
    x = _draw(shape, dtype)
    flat = x.reshape(-1)
    flat[[1, flat.size // 2, flat.size - 1]] = np.nan
    for op in ("max", "min"):
        _check(op, x, axes)
    x[...] = np.nan
    _check("max", x, axes)
    x = np.full(shape, -np.inf, dtype)
    _check("max", x, axes)  # -inf, the identity, is a value like any other
    _check("min", -x, axes)


def _check_arg(kind, x, axis):
    got = _host(getattr(_table(), kind)(_device(x), axis))
    want = getattr(np, kind)(x, axis=axis)
    assert got.shape == np.shape(want) and got.dtype == np.int64
    np.testing.assert_array_equal(got, want, err_msg=f"{kind} along {axis}")


# (shape, axis): along the last axis (rows), the first (columns), the middle, everything; rows
# of one element, of a few, longer than a block, and split over blocks
ARG_LAYOUTS = [((5, 7), 1), ((3, 300), 1), ((70, 3), 0), ((300, 5), 0), ((3, 40, 2), 1),
               ((4, 1), 1), ((1, 6), 0), ((301,), None), ((6, 5, 7), None), ((2, 3, 5, 7), 2),
               ((), None)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, axis", ARG_LAYOUTS)
def test_argmax_and_argmin_take_the_first_extremum(shape, axis, dtype):
    x = _draw(shape, dtype)  # few distinct values: ties everywhere
    for kind in ("argmax", "argmin"):
        _check_arg(kind, x, axis)
    for kind in ("argmax", "argmin"):  # all equal: index 0 everywhere, across splits too
        _check_arg(kind, np.zeros_like(x), axis)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, axis", [((3, 300), 1), ((300, 3), 0), ((301,), None),
                                         ((6, 5, 7), None), ((5, 2), 1)])
def test_argmax_and_argmin_of_nan_take_the_first_nan(shape, axis, dtype):
    x = _draw(shape, dtype)
    flat = x.reshape(-1)
    flat[[flat.size // 2, flat.size // 2 + 1, flat.size - 1]] = np.nan
    for kind in ("argmax", "argmin"):
        _check_arg(kind, x, axis)
    x = np.full(shape, -np.inf, dtype)
    for kind in ("argmax", "argmin"):
        _check_arg(kind, x, axis)


def test_argmax_and_argmin_of_extreme_integers():
    x = np.array([[np.iinfo(np.int64).min] * 5, [np.iinfo(np.int64).max] * 5], np.int64)
    for axis in (0, 1, None):
        _check_arg("argmax", x, axis)
        _check_arg("argmin", x, axis)


@pytest.mark.parametrize("shape, axes", [((8, 4, 16, 16), (0, 2, 3)), ((5000,), None),
                                         ((64, 37), (0,)), ((37, 64), (1,))])
def test_no_host_copies_and_two_launches_at_most(shape, axes):
    """NCHW over (0, 2, 3) (batch norm's sums), a full sum, bias gradients and rows: read in
    place (no transposed copy, no host copy of shapes or identities), one launch, a second one
    when the outputs are split over blocks."""
    x = _device(_draw(shape, np.float32))
    for op in ("sum", "max"):
        out, (launches, copies) = counted(getattr(_table(), op), x, axes, False)
        assert copies == 0 and 1 <= launches <= 2, (launches, copies)
        np.testing.assert_array_equal(_host(out), _expected(op, _host(x), axes, False))
    out, (launches, copies) = counted(_table().argmax, x, None)
    assert copies == 0 and 1 <= launches <= 2, (launches, copies)


def test_a_full_sum_is_split_over_blocks_then_reduced_by_a_second_launch():
    """A sum of everything fills the GPU with partial sums (on a GPU, 4096 elements a block at
    least; in the simulator, 2 blocks), then one block adds them: two launches, no copy."""
    x = _device(np.ones(20000, np.float32))
    out, (launches, copies) = counted(_table().sum, x, None, False)
    assert (launches, copies) == (2, 0) and _host(out) == 20000
    y = _device(np.ones((8, 4, 16, 16), np.float32))
    out, (launches, copies) = counted(_table().sum, y, (0, 2, 3), False)
    assert copies == 0 and launches in (1, 2)
    np.testing.assert_array_equal(_host(out), [2048] * 4)


def test_engine_reductions_on_cuda_agree_with_cpu():
    """Through the engine: batch norm's statistics, a bias gradient and a mean, both devices."""
    x = _draw((4, 3, 5, 6), np.float32, values=(-3.5, -1, 0.25, 2, 3))
    outputs = []
    for device in ("cpu", "cuda"):
        t = eg.tensor(x, device=device, requires_grad=True)
        y = t.sum(dim=(0, 2, 3)) * 2 + t.amax(dim=(0, 2)).sum() + t.mean()
        y.sum().backward()
        outputs.append((y.numpy(), t.grad.numpy(), t.argmax(1).numpy()))
    (y0, g0, a0), (y1, g1, a1) = outputs
    np.testing.assert_allclose(y1, y0, rtol=1e-6)
    np.testing.assert_allclose(g1, g0, rtol=1e-6)
    np.testing.assert_array_equal(a1, a0)
