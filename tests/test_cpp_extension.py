"""The C++ extension against the reference, and fuzzed with bad input: errors, never a crash."""
import os

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import kernels.reference as ref
from kernels.cpu import _cpp


@given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64]))
def test_cpp_matches_reference_and_col2im_is_its_adjoint(data, dtype):
    n, c = data.draw(st.integers(1, 2)), data.draw(st.integers(1, 3))
    kh, kw, sh, sw, dh, dw = (data.draw(st.integers(1, 3)) for _ in range(6))
    ph, pw = data.draw(st.integers(0, 2)), data.draw(st.integers(0, 2))
    h = data.draw(st.integers(max(1, dh * (kh - 1) + 1 - 2 * ph), 7))
    w = data.draw(st.integers(max(1, dw * (kw - 1) + 1 - 2 * pw), 7))
    x = data.draw(hnp.arrays(dtype, (n, c, h, w), elements=st.floats(-2, 2, width=32)))
    args = (kh, kw, sh, sw, ph, pw, dh, dw)
    cols = _cpp.im2col(x, *args)
    np.testing.assert_array_equal(cols, ref.im2col(x, kh, kw, (sh, sw), (ph, pw), (dh, dw)))
    # <im2col(x), g> == <x, col2im(g)> for any g: col2im is the adjoint.
    g = data.draw(hnp.arrays(np.float64, cols.shape, elements=st.floats(-2, 2)))
    back = _cpp.col2im(g.astype(dtype), n, c, h, w, *args)
    assert back.dtype == dtype
    np.testing.assert_allclose(np.sum(cols * g), np.sum(x * back), rtol=1e-4, atol=1e-4)


def test_writes_into_a_given_buffer():
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 5)).astype(np.float32)
    out = np.empty((2, 27, 25), np.float32)
    assert _cpp.im2col(x, 3, 3, 1, 1, 1, 1, 1, 1, out=out) is out
    np.testing.assert_array_equal(out, ref.im2col(x, 3, 3, 1, 1))


X = np.zeros((1, 2, 5, 5), np.float32)


@pytest.mark.parametrize("call, error, message", [
    (lambda: _cpp.im2col(X.astype(np.int32), 3, 3), TypeError, "float32 or float64, got int32"),
    (lambda: _cpp.im2col(X.astype(np.float16), 3, 3), TypeError, "float32 or float64"),
    (lambda: _cpp.im2col(np.zeros((2, 5, 5), np.float32), 3, 3), ValueError, "4 dimensions, got shape"),
    (lambda: _cpp.im2col(X[:, :, ::2], 2, 2), ValueError, "C-contiguous"),
    (lambda: _cpp.im2col(X.transpose(0, 1, 3, 2), 2, 2), ValueError, "C-contiguous"),
    (lambda: _cpp.im2col(np.zeros((0, 2, 5, 5), np.float32), 3, 3), ValueError, "size below 1"),
    (lambda: _cpp.im2col(X, 0, 3), ValueError, "kernel size must be positive"),
    (lambda: _cpp.im2col(X, -3, 3), ValueError, "kernel size must be positive"),
    (lambda: _cpp.im2col(X, 3, 3, 0, 1), ValueError, "stride must be positive"),
    (lambda: _cpp.im2col(X, 3, 3, 1, 1, -1, 0), ValueError, "padding must be non-negative"),
    (lambda: _cpp.im2col(X, 3, 3, 1, 1, 0, 0, 0, 1), ValueError, "dilation must be positive"),
    (lambda: _cpp.im2col(X, 7, 3), ValueError, r"kernel spans \(7, 3\)"),
    (lambda: _cpp.im2col(X, 3, 3, 1, 1, 0, 0, 3, 1), ValueError, r"kernel spans \(7, 3\)"),
    (lambda: _cpp.im2col(X, 2**40, 2**40), ValueError, "kernel spans"),
    (lambda: _cpp.im2col([[1.0]], 1, 1), TypeError, "x must be a numpy array, got list"),
    (lambda: _cpp.im2col(None, 1, 1), TypeError, "x must be a numpy array, got NoneType"),
    (lambda: _cpp.im2col(X, 3, 3, out=np.empty((1, 18, 8), np.float32)), ValueError, "out has shape"),
    (lambda: _cpp.im2col(X, 3, 3, out=np.empty((1, 18, 9), np.float64)), TypeError, "out has dtype"),
    (lambda: _cpp.im2col(X, 3, 3, out=np.empty((1, 18, 9), np.float32)[:, :, :]), None, None),
    (lambda: _cpp.im2col(X, 3, 3, out="buffer"), TypeError, "out must be a numpy array"),
    (lambda: _cpp.col2im(np.zeros((1, 18, 9), np.float32), 1, 2, 5, 5, 3, 3, 2, 2), ValueError,
     r"cols has shape \(1, 18, 9\) but the geometry needs \(1, 18, 4\)"),
    (lambda: _cpp.col2im(np.zeros((1, 18, 9), np.float32), 1, -2, 5, 5, 3, 3), ValueError, "size below 1"),
    (lambda: _cpp.col2im(np.zeros((18, 9), np.float32), 1, 2, 5, 5, 3, 3), ValueError, "3 dimensions"),
])
def test_bad_input_raises_a_clear_error(call, error, message):
    if error is None:
        call()
        return
    with pytest.raises(error, match=message):
        call()


def test_read_only_out_is_refused():
    out = np.empty((1, 18, 9), np.float32)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        _cpp.im2col(X, 3, 3, out=out)


@given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64]))
def test_winograd_output_grad_is_the_adjoint_of_winograd_output(data, dtype):
    n, c = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    oh, ow = data.draw(st.integers(1, 7)), data.draw(st.integers(1, 7))
    gy = data.draw(hnp.arrays(np.float64, (n, c, oh, ow), elements=st.floats(-2, 2)))
    tiles = n * ((oh + 1) // 2) * ((ow + 1) // 2)
    m = data.draw(hnp.arrays(np.float64, (16, c, tiles), elements=st.floats(-2, 2)))
    y = _cpp.winograd_output(m.astype(dtype), n, oh, ow)
    gm = _cpp.winograd_output_grad(gy.astype(dtype))
    np.testing.assert_allclose(np.sum(y * gy), np.sum(m * gm), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("call, error, message", [
    (lambda: _cpp.winograd_input(X.astype(np.int64), 1, 1, 5, 5), TypeError, "float32 or float64"),
    (lambda: _cpp.winograd_input(X, 1, 1, 6, 5), ValueError, r"padded by \(1, 1\) is not 6 x 5"),
    (lambda: _cpp.winograd_input(X, -1, 1, 1, 5), ValueError, "padding must be non-negative"),
    (lambda: _cpp.winograd_input(X[:, :, :, ::2], 1, 1, 5, 3), ValueError, "C-contiguous"),
    (lambda: _cpp.winograd_output(np.zeros((15, 2, 9), np.float32), 1, 5, 5), ValueError, "m has shape"),
    (lambda: _cpp.winograd_output(np.zeros((16, 2, 9), np.float32), 1, 0, 5), ValueError, "sizes must be positive"),
    (lambda: _cpp.winograd_output(np.zeros((16, 2, 8), np.float32), 1, 5, 5), ValueError, r"needs \(16, C, 9\)"),
    (lambda: _cpp.winograd_output_grad(np.zeros((1, 0, 5, 5), np.float32)), ValueError, "size below 1"),
    (lambda: _cpp.winograd_output_grad(np.zeros((5, 5), np.float32)), ValueError, "4 dimensions"),
])
def test_winograd_bad_input_raises_a_clear_error(call, error, message):
    with pytest.raises(error, match=message):
        call()


X5 = X[:, :, None]  # (1, 2, 1, 5, 5): pooling runs on volumes
ONE, TWO, ZERO = (1, 1, 1), (1, 2, 2), (0, 0, 0)


def max_pool(x, kernel=TWO, stride=TWO, padding=ZERO, dilation=ONE, out=None):
    """The C++ max pooling with the floor-mode output size by default."""
    if out is None:
        out = tuple((n + 2 * p - d * (k - 1) - 1) // s + 1
                    for n, k, s, p, d in zip(x.shape[2:], kernel, stride, padding, dilation))
    return _cpp.max_pool3d_forward(x, kernel, stride, padding, dilation, out)


def avg_pool(x, kernel, stride, padding, include=True):
    out = tuple((n + 2 * p - k) // s + 1 for n, k, s, p in zip(x.shape[2:], kernel, stride, padding))
    return _cpp.avg_pool3d_forward(x, kernel, stride, padding, out, include)


@pytest.mark.parametrize("call, error, message", [
    (lambda: max_pool(X5.astype(np.int32)), TypeError, "float32 or float64"),
    (lambda: max_pool(X5, stride=(1, 0, 2), out=(1, 2, 2)), ValueError, "stride must be positive"),
    (lambda: max_pool(X5, padding=(0, 2, 0)), ValueError, "padding must lie in"),
    (lambda: max_pool(X5, out=(1, 4, 2)), ValueError, r"output size 4 is not in \[1, 3\]"),
    (lambda: max_pool(X5, out=(1, 0, 2)), ValueError, "output size 0"),
    (lambda: max_pool(X5, kernel=(1, 2), out=ONE), ValueError, "kernel must be a sequence of 3 ints"),
    (lambda: max_pool(X5[..., ::2]), ValueError, "C-contiguous"),
    (lambda: max_pool(X), ValueError, "5 dimensions"),
    (lambda: _cpp.max_pool3d_backward(np.ones((1, 2, 1, 2, 2), np.float32), np.full((1, 2, 1, 2, 2), 25),
                                      (1, 5, 5)), ValueError, "outside the plane"),
    (lambda: _cpp.max_pool3d_backward(np.ones((1, 2, 1, 2, 2), np.float32), np.full((1, 2, 1, 2, 2), -1),
                                      (1, 5, 5)), ValueError, "outside the plane"),
    (lambda: _cpp.max_pool3d_backward(np.ones((1, 2, 1, 2, 2), np.float32),
                                      np.zeros((1, 2, 1, 2, 3), np.int64), (1, 5, 5)),
     ValueError, "argmax has shape"),
])
def test_max_pool_bad_input_raises_a_clear_error(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_max_pool_nan_wins_as_in_torch():
    x = np.array([[[[1.0, np.nan], [3.0, 2.0]]]], np.float32)
    y, argmax = max_pool(x[:, :, None])
    assert np.isnan(y[0, 0, 0, 0, 0]) and argmax[0, 0, 0, 0, 0] == 1


# --- the kernels' own errors, sizes that overflow, byte order and alignment ------------------------
from kernels.errors import DTypeError, EngineError, ShapeError  # noqa: E402


def test_errors_are_the_kernels_own_classes():
    with pytest.raises(ShapeError, match="im2col: kernel size must be positive") as e:
        _cpp.im2col(X, 0, 3)
    assert isinstance(e.value, ValueError) and isinstance(e.value, EngineError)
    with pytest.raises(DTypeError, match="im2col: x must be float32 or float64") as e:
        _cpp.im2col(X.astype(np.int32), 3, 3)
    assert isinstance(e.value, TypeError)
    with pytest.raises(DTypeError, match="kh must be an int, got float"):
        _cpp.im2col(X, 1.5, 3)
    with pytest.raises(ShapeError, match="does not fit in a 64-bit integer"):
        _cpp.im2col(X, 2**64, 3)
    assert _cpp.im2col(X, np.int64(3), np.int32(3)).shape == (1, 18, 9)


@pytest.mark.parametrize("call, message", [
    (lambda: _cpp.im2col(np.ones((1, 1, 2, 2), np.float32), 1, 1, 1, 1, 2**31 - 1, 2**31 - 1),
     "would hold more than 2\\*\\*34 elements"),
    (lambda: _cpp.im2col(np.ones((1, 1, 2, 2), np.float32), 3, 1, 1, 1, 0, 0, 2**62, 1),
     "kernel spans more than 2\\*\\*63 - 1"),
    (lambda: _cpp.im2col(np.ones((1, 1, 2, 2), np.float32), 1, 1, 1, 1, 2**62, 0),
     "the padded height does not fit in 64 bits"),
    (lambda: _cpp.col2im(np.ones((1, 1, 1), np.float32), 2**40, 2**40, 1, 1, 1, 1),
     "would hold more than"),
    (lambda: max_pool(np.ones((1, 1, 1, 2, 2)), (1, 2**63 - 1, 1), ONE, (0, 2**62 - 1, 0),
                      out=ONE), "padded input does not fit"),
    (lambda: max_pool(np.ones((1, 1, 1, 2, 2)), (1, 3, 1), ONE, ZERO, (1, 2**62, 1), out=ONE),
     "dilated kernel does not fit"),
    (lambda: _cpp.max_pool3d_backward(np.ones((1, 1, 1, 1, 1)), np.zeros((1, 1, 1, 1, 1), np.int64),
                                      (1, 2**40, 2**40)), "would hold more than"),
    (lambda: _cpp.winograd_input(np.ones((1, 1, 4, 4)), 2**62, 0, 2, 2), "does not fit in 64 bits"),
    (lambda: _cpp.winograd_output(np.ones((16, 1, 1)), 2**40, 2**40, 2**40), "would hold more"),
])
def test_sizes_that_overflow_are_refused_before_any_allocation(call, message):
    with pytest.raises(ShapeError, match=message):
        call()


def test_a_huge_stride_or_window_is_computed_without_overflow():
    x = np.arange(32, dtype=np.float64).reshape(1, 2, 4, 4)
    for stride, pad in ((2**63 - 1, 2), (2**63 - 1, 0), (2**40, 1)):
        np.testing.assert_array_equal(_cpp.im2col(x, 3, 3, stride, stride, pad, pad),
                                      ref.im2col(x, 3, 3, stride, pad))
    # a window far larger than the input is clipped to it: instant, and the right answer
    x = x[:, :, None]
    y, argmax = max_pool(x, (1, 2**62, 2**62), ONE, (0, 2**61, 2**61), out=(1, 5, 5))
    assert y.shape == (1, 2, 1, 5, 5) and np.all(y[0, 0] == 15) and np.all(argmax == 15)
    avg = avg_pool(x, (1, 2**40, 2**40), (1, 2**40, 2**40), (0, 2**39, 2**39), False)
    np.testing.assert_allclose(avg.ravel(), [7.5, 23.5])


@pytest.mark.parametrize("make", [
    lambda a: a.astype(a.dtype.newbyteorder(">")),
    lambda a: np.frombuffer(b"\0" + a.tobytes(), a.dtype, a.size, 1).reshape(a.shape),
])
def test_big_endian_and_unaligned_arrays_are_refused(make):
    x = make(np.ones((1, 1, 4, 4), np.float32))
    assert not (x.dtype.isnative and x.flags.aligned)
    for call in (lambda: _cpp.im2col(x, 2, 2), lambda: max_pool(x[:, :, None]),
                 lambda: avg_pool(x[:, :, None], TWO, TWO, ZERO),
                 lambda: _cpp.winograd_input(x, 1, 1, 4, 4),
                 lambda: _cpp.col2im(make(np.ones((1, 4, 9), np.float32)), 1, 1, 4, 4, 2, 2)):
        with pytest.raises(EngineError, match="non-native byte order|not aligned"):
            call()
    p = make(np.ones(4, np.float32))
    with pytest.raises(EngineError, match="sgd_update: p"):
        _cpp.sgd_update(p, np.ones(4, np.float32), np.ones(4, np.float32), True, 0.1, 0.0, 0.0,
                        0.0, False)


def test_out_sharing_memory_with_the_input_is_refused():
    x = np.zeros((1, 1, 3, 3), np.float32)
    with pytest.raises(ShapeError, match="shares memory"):
        _cpp.im2col(x, 1, 1, out=x.reshape(1, 1, 9))


@given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64]),
       include=st.booleans())
def test_avg_pool_matches_the_reference_and_its_backward_is_the_adjoint(data, dtype, include):
    n, c = data.draw(st.integers(1, 2)), data.draw(st.integers(1, 3))
    kh, kw, sh, sw = (data.draw(st.integers(1, 4)) for _ in range(4))
    ph, pw = data.draw(st.integers(0, kh // 2)), data.draw(st.integers(0, kw // 2))
    h = data.draw(st.integers(max(1, kh - 2 * ph), 7))
    w = data.draw(st.integers(max(1, kw - 2 * pw), 7))
    x = data.draw(hnp.arrays(dtype, (n, c, h, w), elements=st.floats(-2, 2, width=32)))
    kernel, stride, padding = (1, kh, kw), (1, sh, sw), (0, ph, pw)
    y = avg_pool(x[:, :, None], kernel, stride, padding, include)[:, :, 0]
    np.testing.assert_allclose(y, ref.avg_pool2d(x, (kh, kw), (sh, sw), (ph, pw),
                                                 count_include_pad=include), rtol=1e-5, atol=1e-6)
    g = data.draw(hnp.arrays(np.float64, y.shape, elements=st.floats(-2, 2))).astype(dtype)
    gx = _cpp.avg_pool3d_backward(g[:, :, None], (1, h, w), kernel, stride, padding, include)[:, :, 0]
    assert gx.dtype == dtype and gx.shape == x.shape
    np.testing.assert_allclose(np.sum(y * g, dtype=np.float64), np.sum(x * gx, dtype=np.float64),
                               rtol=1e-4, atol=1e-4)
    mx, argmax = max_pool(x[:, :, None], kernel, stride, padding)
    np.testing.assert_array_equal(mx[:, :, 0], ref.max_pool2d(x, (kh, kw), (sh, sw), (ph, pw)))


def test_avg_pool_backward_checks_the_gradient_shape():
    with pytest.raises(ShapeError, match=r"output size 3 is not in \[1, 2\]"):
        _cpp.avg_pool3d_backward(np.ones((1, 1, 1, 3, 3)), (1, 4, 4), TWO, TWO, ZERO)


# --- the fused convolution and the threaded matrix product ---------------------------------------
V = np.zeros((2, 4, 1, 6, 6), np.float32)       # volumes (N, C, D, H, W)
K = np.zeros((3, 4, 1, 3, 3), np.float32)       # weights (Cout, C/groups, kD, kH, kW)
WINDOW = (1, 3, 3, 1, 1, 1, 0, 1, 1, 1, 1, 1)   # kernel, stride, padding, dilation
GY = np.zeros((2, 3, 1, 6, 6), np.float32)


@pytest.mark.parametrize("call, error, message", [
    (lambda: _cpp.conv_forward(V.astype(np.int64), K, None, WINDOW), TypeError, "float32 or float64"),
    (lambda: _cpp.conv_forward(V, K.astype(np.float64), None, WINDOW), TypeError, "weight has dtype float64"),
    (lambda: _cpp.conv_forward(V[0], K, None, WINDOW), ValueError, "5 dimensions"),
    (lambda: _cpp.conv_forward(V[:, :, :, ::2], K, None, WINDOW), ValueError, "C-contiguous"),
    (lambda: _cpp.conv_forward(V, K, None, WINDOW[:11]), ValueError, "window must hold 12 ints"),
    (lambda: _cpp.conv_forward(V, K, None, (1, 5, 3) + WINDOW[3:]), ValueError, "weight's shape"),
    (lambda: _cpp.conv_forward(V, K, None, WINDOW, 2), ValueError, "groups = 2 must divide"),
    (lambda: _cpp.conv_forward(V, K, None, WINDOW, 0), ValueError, "groups = 0 must divide"),
    (lambda: _cpp.conv_forward(V, K, np.zeros(4, np.float32), WINDOW), ValueError, "bias must be"),
    (lambda: _cpp.conv_forward(V, K, None, (1, 9, 3) + WINDOW[3:]), ValueError, "kernel spans"),
    (lambda: _cpp.conv_forward(V, K, None, WINDOW[:3] + (1, 0, 1) + WINDOW[6:]), ValueError,
     "stride must be positive"),
    (lambda: _cpp.conv_backward_input(GY[:, :, :, :5].copy(), K, (1, 6, 6), WINDOW), ValueError,
     r"grad_output has shape \(2, 3, 1, 5, 6\) but the convolution gives \(2, 3, 1, 6, 6\)"),
    (lambda: _cpp.conv_backward_input(GY, K, (1, 6), WINDOW), ValueError, "input_size must hold 3"),
    (lambda: _cpp.conv_backward_input(GY.astype(np.float64), K, (1, 6, 6), WINDOW), TypeError,
     "weight has dtype float32 but the input is float64"),
    (lambda: _cpp.conv_backward_weight(V, GY, (3, 4, 1, 3), WINDOW), ValueError, "weight_shape must hold 5"),
    (lambda: _cpp.conv_backward_weight(V, GY.astype(np.float64), K.shape, WINDOW), TypeError,
     "grad_output has dtype float64"),
    (lambda: _cpp.conv_backward_weight(V, GY, (3, 2**40, 1, 3, 3), WINDOW), ValueError, "weight's shape"),
    (lambda: _cpp.matmul(np.zeros((1, 2, 3)), np.zeros((1, 4, 5)), None), ValueError, "cannot multiply"),
    (lambda: _cpp.matmul(np.zeros((2, 2, 3)), np.zeros((3, 3, 5)), None), ValueError, "cannot multiply"),
    (lambda: _cpp.matmul(np.zeros((2, 3)), np.zeros((3, 5)), None), ValueError, "3 dimensions"),
    (lambda: _cpp.matmul(np.zeros((1, 2, 3), np.float32), np.zeros((1, 3, 5)), None), TypeError,
     "native float32 or float64"),
    (lambda: _cpp.matmul(np.zeros((1, 4, 6))[:, ::2, ::2], np.zeros((1, 3, 5)), None), ValueError,
     "row-major or column-major"),
    (lambda: _cpp.matmul(np.zeros((1, 2, 3)), np.zeros((1, 3, 5)), np.zeros((1, 5, 2)).transpose(0, 2, 1)),
     ValueError, "out must be row-major"),
    (lambda: _cpp.matmul(np.zeros((1, 2, 3)), np.zeros((1, 3, 5)), np.zeros((1, 2, 4))), ValueError,
     "out must be row-major"),
])
def test_fused_conv_and_matmul_bad_input_raises_a_clear_error(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_matmul_refuses_an_out_that_shares_memory_and_writes_a_strided_one():
    a = np.arange(6.0).reshape(1, 2, 3)
    with pytest.raises(ValueError, match="shares memory"):
        _cpp.matmul(a, np.ones((1, 3, 3)), a)
    out = np.zeros((1, 2, 2, 3))
    _cpp.matmul(a, np.ones((1, 3, 3)), out[:, 1])
    np.testing.assert_array_equal(out[0, 1], a[0] @ np.ones((3, 3)))
    assert not out[0, 0].any()


def _strided_like(data, shape, dtype):
    """An array of `shape` with strides of every kind: a broadcast (stride 0), a reversed or
    stepped axis, a transposed layout, or plain C order."""
    kind = data.draw(st.sampled_from(["c", "broadcast", "reversed", "stepped", "transposed"]))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    if kind == "broadcast":
        axis = data.draw(st.integers(0, len(shape) - 1))
        return np.broadcast_to(rng.standard_normal(shape[:axis] + (1,) + shape[axis + 1:]).astype(dtype),
                               shape)
    if kind == "reversed":
        return rng.standard_normal(shape).astype(dtype)[..., ::-1]
    if kind == "stepped":
        return rng.standard_normal(shape[:-1] + (2 * shape[-1],)).astype(dtype)[..., ::2]
    if kind == "transposed":
        return rng.standard_normal(shape[::-1]).astype(dtype).T
    return rng.standard_normal(shape).astype(dtype)


@given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64]),
       shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=40))
def test_accumulate_adds_a_source_of_any_strides(data, dtype, shape):
    dst = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    src = _strided_like(data, shape, dtype)
    expected = dst + src
    _cpp.accumulate(dst, src)
    np.testing.assert_array_equal(dst, expected)  # one addition per element: exact


@given(rows=st.integers(1, 9), cols=st.integers(1, 70000), dtype=st.sampled_from([np.float32, np.float64]))
def test_sum_rows_matches_a_double_sum(rows, cols, dtype):
    x = np.random.default_rng(cols).standard_normal((rows, cols)).astype(dtype)
    np.testing.assert_allclose(_cpp.sum_rows(x), x.astype(np.float64).sum(axis=1), rtol=1e-6,
                               atol=1e-6 * np.sqrt(cols))


@pytest.mark.parametrize("call, error, message", [
    (lambda: _cpp.accumulate(np.zeros(3), np.zeros(3, np.float32)), TypeError, "src has dtype float32"),
    (lambda: _cpp.accumulate(np.zeros(3, np.int64), np.zeros(3, np.int64)), TypeError, "float32 or float64"),
    (lambda: _cpp.accumulate(np.zeros(3), np.zeros(4)), ValueError, r"src has shape \(4,\)"),
    (lambda: _cpp.accumulate(np.zeros(3), np.zeros((1, 3))), ValueError, r"src has shape \(1, 3\)"),
    (lambda: _cpp.accumulate(np.zeros(6)[::2], np.zeros(3)), ValueError, "C-contiguous"),
    (lambda: _cpp.accumulate(np.broadcast_to(np.zeros(1), (3,)), np.zeros(3)), ValueError, "C-contiguous"),
    (lambda: _cpp.accumulate(np.zeros(3), [1.0, 2.0, 3.0]), TypeError, "numpy array"),
    (lambda: _cpp.accumulate(np.zeros(3), np.zeros(3, ">f8")), TypeError, "native byte order"),
    (lambda: _cpp.accumulate(np.zeros(3), np.frombuffer(b"\0" * 25, np.float64, 3, 1)), ValueError,
     "not aligned"),
    (lambda: _cpp.sum_rows(np.zeros(3)), ValueError, "2 dimensions"),
    (lambda: _cpp.sum_rows(np.zeros((3, 4), np.int32)), TypeError, "float32 or float64"),
    (lambda: _cpp.sum_rows(np.zeros((3, 4))[:, ::2]), ValueError, "C-contiguous"),
])
def test_accumulate_and_sum_rows_bad_input_raises_a_clear_error(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_accumulate_refuses_a_read_only_or_overlapping_destination():
    dst = np.zeros(8)
    with pytest.raises(ValueError, match="shares memory"):
        _cpp.accumulate(dst[:4], dst[2:6])
    dst.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        _cpp.accumulate(dst, np.ones(8))


WT = np.zeros((9, 3, 4), np.float32)  # the shifted variant's weights: (taps, Cout, C)


@pytest.mark.parametrize("call, error, message", [
    (lambda: _cpp.shifted_forward(V, WT.astype(np.float64), None, WINDOW), TypeError, "weight has dtype float64"),
    (lambda: _cpp.shifted_forward(V, WT[:8], None, WINDOW), ValueError, r"weight must be \(taps, Cout, C\)"),
    (lambda: _cpp.shifted_forward(V, WT, None, WINDOW[:3] + (1, 2, 1) + WINDOW[6:]), ValueError,
     "stride 1, dilation 1 and groups 1"),
    (lambda: _cpp.shifted_forward(V, WT, None, WINDOW[:9] + (1, 2, 2)), ValueError, "stride 1, dilation 1"),
    (lambda: _cpp.shifted_forward(V, WT, np.zeros(4, np.float32), WINDOW), ValueError, "bias must be"),
    (lambda: _cpp.shifted_forward(V[0], WT, None, WINDOW), ValueError, "5 dimensions"),
    (lambda: _cpp.shifted_backward_input(GY, WT, (1, 6, 7), WINDOW), ValueError, "grad_output has shape"),
    (lambda: _cpp.shifted_backward_input(GY, WT[:, :2], (1, 6, 6), WINDOW), ValueError, "weight must be"),
    (lambda: _cpp.shifted_backward_weight(V, GY, 5, WINDOW), ValueError, "grad_output has shape"),
    (lambda: _cpp.shifted_backward_weight(V, GY.astype(np.float64), 3, WINDOW), TypeError, "grad_output has dtype"),
])
def test_shifted_conv_bad_input_raises_a_clear_error(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_a_result_the_machine_cannot_hold_is_a_shape_error_not_a_memory_error():
    # within the extension's 2**34 elements, but 64 GiB: found by test_fuzz
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    if memory >= 48 * 2**30:
        pytest.skip("this machine may hold 64 GiB")
    x = np.random.default_rng(0).standard_normal((1, 1, 7, 7))
    with pytest.raises(ValueError, match=r"im2col: the result \(1, 1, 8589934608\) needs "
                                         r"68719476864 bytes, more than this machine could"):
        _cpp.im2col(x, 1, 1, 2, 2, 0, 2**31, 2, 1)
