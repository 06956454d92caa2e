"""The cuda backend's GEMM, im2col / col2im and pooling kernels, called directly: every code path
of the register-tiled GEMM (partial tiles, odd and even step counts, batches, vectors, empty
operands, integer and bool dtypes), the convolution's unfolding against a direct gather, and
pooling against the cpu backend, each in one launch without host-to-device copies.

In CI it runs in Numba's CUDA simulator (see conftest.py), where a GEMM tile is 8 x 8 and a step
4 deep; ENGINE_TEST_GPU=1 runs it on a GPU.
"""
import itertools

import numpy as np
import pytest

import engine as eg

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not eg.cuda.is_available(),
                                                   reason="no cuda device (nor simulator)")]

if eg.cuda.is_available():
    import kernels.cpu as cpu
    from kernels.cuda import conv, linalg, pool
    from kernels.cuda.device import SIMULATED, counts, xp


def _host(a):
    return a.get() if hasattr(a, "get") else np.asarray(a)


class _Counted:
    """The launches and host-to-device copies made inside a with block."""
    def __enter__(self):
        self.launches, self.copies = counts.launches, counts.copies
        return self

    def __exit__(self, *exc):
        self.launches, self.copies = counts.launches - self.launches, counts.copies - self.copies


def _random(shape, dtype, rng):
    if np.dtype(dtype).kind == "b":
        return rng.random(shape) < 0.5
    if np.dtype(dtype).kind in "iu":
        return rng.integers(-50, 50, shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


# (a shape, b shape): one partial tile; several tiles with an odd and an even number of steps;
# more tile rows than a GROUP; an inner dimension of 1; broadcast batches; vectors on either
# side; empty operands
GEMM_SHAPES = [((5, 7), (7, 3)), ((17, 9), (9, 19)), ((8, 8), (8, 8)), ((11, 16), (16, 10)),
               ((70, 5), (5, 20)), ((3, 1), (1, 4)), ((2, 1, 6, 5), (3, 5, 10)),
               ((4, 9, 3), (3, 2)),
               ((7,), (7,)), ((6,), (2, 6, 3)), ((2, 3, 6), (6,)),
               ((0, 4), (4, 3)), ((4, 0), (0, 3)), ((0, 2, 3), (3, 4)), ((3, 4), (4, 0))]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shapes", GEMM_SHAPES, ids=str)
def test_tiled_gemm_matches_numpy_in_one_launch_without_copies(shapes, dtype):
    rng = np.random.default_rng(0)
    a, b = (_random(s, dtype, rng) for s in shapes)
    da, db = xp.asarray(a), xp.asarray(b)
    with _Counted() as made:
        c = linalg.tiled(da, db)
    expected = np.matmul(a, b)
    assert c.dtype == expected.dtype and c.shape == expected.shape
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(_host(c), expected, rtol=tol, atol=tol)
    assert made.copies == 0
    assert made.launches == (1 if expected.size else 0)


@pytest.mark.filterwarnings("ignore:overflow")  # the simulator's numpy scalars wrap around too
@pytest.mark.parametrize("dtypes", [(np.int64, np.int64), (np.int32, np.int32),
                                    (np.bool_, np.bool_), (np.int32, np.float32),
                                    (np.float16, np.float16)], ids=str)
def test_integer_products_are_exact_and_dtypes_are_numpys(dtypes):
    rng = np.random.default_rng(1)
    a, b = _random((9, 13), dtypes[0], rng), _random((13, 10), dtypes[1], rng)
    if a.dtype.kind == "i":  # products that wrap around, as numpy's do
        a = a * np.array(np.iinfo(a.dtype).max // 7, a.dtype)
    c = _host(linalg.tiled(xp.asarray(a), xp.asarray(b)))
    expected = np.matmul(a, b)
    assert c.dtype == expected.dtype
    if expected.dtype.kind == "f":
        tol = 1e-2 if expected.dtype == np.float16 else 1e-6
        np.testing.assert_allclose(c, expected, rtol=tol, atol=tol)
    else:
        np.testing.assert_array_equal(c, expected)


def test_a_product_over_an_inner_dimension_of_zero_is_zeros():
    c = _host(linalg.tiled(xp.ones((2, 3, 0), np.float32), xp.ones((0, 5), np.float32)))
    assert c.shape == (2, 3, 5) and c.dtype == np.float32 and not c.any()


@pytest.mark.skipif(SIMULATED if eg.cuda.is_available() else True,
                    reason="a batch past the grid's 65,535 is slow in the simulator")
def test_a_batch_beyond_a_grid_dimension_runs():
    rng = np.random.default_rng(2)
    a, b = _random((70_000, 2, 3), np.float32, rng), _random((70_000, 3, 2), np.float32, rng)
    np.testing.assert_allclose(_host(linalg.tiled(xp.asarray(a), xp.asarray(b))), a @ b,
                               rtol=1e-5, atol=1e-5)


def _unfold(x, kernel, stride, padding, dilation):
    """im2col by a direct gather over every window and tap."""
    n, c, size = x.shape[0], x.shape[1], x.shape[2:]
    out = [(s + 2 * p - d * (k - 1) - 1) // st + 1
           for s, k, st, p, d in zip(size, kernel, stride, padding, dilation)]
    padded = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in padding])
    taps = list(itertools.product(*map(range, kernel)))
    cols = np.zeros((n, c * len(taps), int(np.prod(out))), x.dtype)
    for ch in range(c):
        for t, tap in enumerate(taps):
            for o, at in enumerate(itertools.product(*map(range, out))):
                index = tuple(a * st + k * d for a, st, k, d in zip(at, stride, tap, dilation))
                cols[:, ch * len(taps) + t, o] = padded[(slice(None), ch) + index]
    return cols


def _fold(cols, shape, kernel, stride, padding, dilation):
    """col2im by scattering every column entry back to where _unfold gathered it from."""
    n, c, size = shape[0], shape[1], shape[2:]
    out = [(s + 2 * p - d * (k - 1) - 1) // st + 1
           for s, k, st, p, d in zip(size, kernel, stride, padding, dilation)]
    padded = np.zeros((n, c) + tuple(s + 2 * p for s, p in zip(size, padding)), np.float64)
    taps = list(itertools.product(*map(range, kernel)))
    for ch in range(c):
        for t, tap in enumerate(taps):
            for o, at in enumerate(itertools.product(*map(range, out))):
                index = tuple(a * st + k * d for a, st, k, d in zip(at, stride, tap, dilation))
                padded[(slice(None), ch) + index] += cols[:, ch * len(taps) + t, o]
    return padded[(slice(None), slice(None)) + tuple(slice(p, p + s)
                                                     for s, p in zip(size, padding))]


# (x shape, kernel, stride, padding, dilation): 2-D and 3-D, strides, paddings and dilations
UNFOLDS = [((2, 3, 5, 6), (3, 2), (1, 2), (1, 0), (1, 1)),
           ((1, 2, 7, 5), (2, 3), (2, 1), (1, 1), (2, 1)),
           ((2, 1, 4, 4), (1, 1), (3, 3), (0, 0), (1, 1)),
           ((1, 2, 3, 4, 5), (2, 2, 3), (1, 2, 1), (0, 1, 1), (1, 1, 2)),
           ((0, 2, 4, 4), (3, 3), (1, 1), (1, 1), (1, 1))]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("geometry", UNFOLDS, ids=str)
def test_im2col_gathers_every_tap_and_col2im_is_its_adjoint(geometry, dtype):
    shape, kernel, stride, padding, dilation = geometry
    rng = np.random.default_rng(3)
    x = _random(shape, dtype, rng)
    with _Counted() as made:
        cols = conv.im2col(xp.asarray(x), kernel, stride, padding, dilation)
    expected = _unfold(x, kernel, stride, padding, dilation)
    assert cols.dtype == dtype and made.copies == 0 and made.launches <= 1
    np.testing.assert_array_equal(_host(cols), expected)
    g = _random(expected.shape, dtype, rng)
    with _Counted() as made:
        gx = _host(conv.col2im(xp.asarray(g), shape, kernel, stride, padding, dilation))
    assert gx.dtype == dtype and gx.shape == shape and made.copies == 0 and made.launches <= 1
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(gx, _fold(g, shape, kernel, stride, padding, dilation), rtol=tol,
                               atol=tol)


# (x shape, kernel, stride, padding, dilation): windows clipped by padding, dilated, in 3-D
POOLS = [((2, 3, 1, 6, 7), (1, 3, 2), (1, 2, 2), (0, 1, 1), (1, 1, 1)),
         ((1, 2, 1, 7, 7), (1, 3, 3), (1, 2, 1), (0, 1, 0), (1, 2, 1)),
         ((1, 2, 4, 5, 3), (2, 2, 2), (2, 1, 2), (1, 0, 1), (1, 1, 1))]


def _pool_out(shape, kernel, stride, padding, dilation):
    return tuple((s + 2 * p - d * (k - 1) - 1) // st + 1
                 for s, k, st, p, d in zip(shape[2:], kernel, stride, padding, dilation))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("geometry", POOLS, ids=str)
def test_max_pool_matches_the_cpu_in_one_launch_each_way(geometry, dtype):
    shape, kernel, stride, padding, dilation = geometry
    out = _pool_out(*geometry)
    rng = np.random.default_rng(4)
    x = _random(shape, dtype, rng)
    x.flat[::7] = x.flat[3]  # ties: the first maximum wins
    x.flat[5] = np.nan  # NaN wins
    with _Counted() as made:
        y, argmax = pool.max_pool3d_forward(xp.asarray(x), kernel, stride, padding, dilation, out)
    assert (made.launches, made.copies) == (1, 0) and y.dtype == dtype
    want_y, want_argmax = cpu.max_pool3d_forward(x, kernel, stride, padding, dilation, out)
    np.testing.assert_array_equal(_host(y), want_y)
    np.testing.assert_array_equal(_host(argmax), want_argmax)
    gy = _random(want_y.shape, dtype, rng)
    with _Counted() as made:
        gx = pool.max_pool3d_backward(xp.asarray(gy), argmax, shape, kernel, stride, padding,
                                      dilation)
    assert (made.launches, made.copies) == (1, 0) and gx.dtype == dtype
    want = cpu.max_pool3d_backward(gy, want_argmax, shape, kernel, stride, padding, dilation)
    np.testing.assert_allclose(_host(gx), want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("divisor", [(True, None), (False, None), (True, 5)], ids=str)
@pytest.mark.parametrize("geometry", POOLS, ids=str)
def test_avg_pool_matches_the_cpu_in_one_launch_each_way(geometry, divisor, dtype):
    shape, kernel, stride, padding, _ = geometry
    include_pad, override = divisor
    out = _pool_out(shape, kernel, stride, padding, (1, 1, 1))
    rng = np.random.default_rng(5)
    x = _random(shape, dtype, rng)
    with _Counted() as made:
        y = pool.avg_pool3d_forward(xp.asarray(x), kernel, stride, padding, out, include_pad,
                                    override)
    assert (made.launches, made.copies) == (1, 0) and y.dtype == dtype
    tol = 1e-6 if dtype == np.float32 else 1e-13
    want = cpu.avg_pool3d_forward(x, kernel, stride, padding, out, include_pad, override)
    np.testing.assert_allclose(_host(y), want, rtol=tol, atol=tol)
    gy = _random(want.shape, dtype, rng)
    with _Counted() as made:
        gx = pool.avg_pool3d_backward(xp.asarray(gy), shape, kernel, stride, padding, include_pad,
                                      override)
    assert (made.launches, made.copies) == (1, 0) and gx.dtype == dtype
    want = cpu.avg_pool3d_backward(gy, shape, kernel, stride, padding, include_pad, override)
    np.testing.assert_allclose(_host(gx), want, rtol=tol, atol=tol)
