"""The C++ extension against the reference, and fuzzed with bad input: errors, never a crash."""
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


@pytest.mark.parametrize("call, error, message", [
    (lambda: _cpp.max_pool2d_forward(X.astype(np.int32), 2, 2, 2, 2, 0, 0), TypeError, "float32 or float64"),
    (lambda: _cpp.max_pool2d_forward(X, 2, 2, 0, 2, 0, 0), ValueError, "stride must be positive"),
    (lambda: _cpp.max_pool2d_forward(X, 2, 2, 2, 2, 2, 0), ValueError, "padding must lie in"),
    (lambda: _cpp.max_pool2d_forward(X, 9, 2, 1, 1, 0, 0), ValueError, "does not fit"),
    (lambda: _cpp.max_pool2d_forward(X[..., ::2], 2, 2, 1, 1, 0, 0), ValueError, "C-contiguous"),
    (lambda: _cpp.max_pool2d_backward(np.ones((1, 2, 2, 2), np.float32), np.full((1, 2, 2, 2), 25), 5, 5),
     ValueError, "outside the plane"),
    (lambda: _cpp.max_pool2d_backward(np.ones((1, 2, 2, 2), np.float32), np.full((1, 2, 2, 2), -1), 5, 5),
     ValueError, "outside the plane"),
    (lambda: _cpp.max_pool2d_backward(np.ones((1, 2, 2, 2), np.float32), np.zeros((1, 2, 2, 3), np.int64), 5, 5),
     ValueError, "argmax has shape"),
])
def test_max_pool_bad_input_raises_a_clear_error(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_max_pool_nan_wins_as_in_torch():
    x = np.array([[[[1.0, np.nan], [3.0, 2.0]]]], np.float32)
    y, argmax = _cpp.max_pool2d_forward(x, 2, 2, 2, 2, 0, 0)
    assert np.isnan(y[0, 0, 0, 0]) and argmax[0, 0, 0, 0] == 1


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
    (lambda: _cpp.max_pool2d_forward(np.ones((1, 1, 2, 2)), 2**63 - 1, 1, 1, 1, 2**62 - 1, 0),
     "padded height does not fit"),
    (lambda: _cpp.max_pool2d_backward(np.ones((1, 1, 1, 1)), np.zeros((1, 1, 1, 1), np.int64),
                                      2**40, 2**40), "would hold more than"),
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
    y, argmax = _cpp.max_pool2d_forward(x, 2**62, 2**62, 1, 1, 2**61, 2**61)
    assert y.shape == (1, 2, 5, 5) and np.all(y[0, 0] == 15) and np.all(argmax == 15)
    avg = _cpp.avg_pool2d_forward(x, 2**40, 2**40, 2**40, 2**40, 2**39, 2**39, False)
    np.testing.assert_allclose(avg.ravel(), [7.5, 23.5])


@pytest.mark.parametrize("make", [
    lambda a: a.astype(a.dtype.newbyteorder(">")),
    lambda a: np.frombuffer(b"\0" + a.tobytes(), a.dtype, a.size, 1).reshape(a.shape),
])
def test_big_endian_and_unaligned_arrays_are_refused(make):
    x = make(np.ones((1, 1, 4, 4), np.float32))
    assert not (x.dtype.isnative and x.flags.aligned)
    for call in (lambda: _cpp.im2col(x, 2, 2), lambda: _cpp.max_pool2d_forward(x, 2, 2, 2, 2, 0, 0),
                 lambda: _cpp.avg_pool2d_forward(x, 2, 2, 2, 2, 0, 0),
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
    y = _cpp.avg_pool2d_forward(x, kh, kw, sh, sw, ph, pw, include)
    np.testing.assert_allclose(y, ref.avg_pool2d(x, (kh, kw), (sh, sw), (ph, pw), include),
                               rtol=1e-5, atol=1e-6)
    g = data.draw(hnp.arrays(np.float64, y.shape, elements=st.floats(-2, 2))).astype(dtype)
    gx = _cpp.avg_pool2d_backward(g, h, w, kh, kw, sh, sw, ph, pw, include)
    assert gx.dtype == dtype and gx.shape == x.shape
    np.testing.assert_allclose(np.sum(y * g, dtype=np.float64), np.sum(x * gx, dtype=np.float64),
                               rtol=1e-4, atol=1e-4)
    mx, argmax = _cpp.max_pool2d_forward(x, kh, kw, sh, sw, ph, pw)
    np.testing.assert_array_equal(mx, ref.max_pool2d(x, (kh, kw), (sh, sw), (ph, pw)))


def test_avg_pool_backward_checks_the_gradient_shape():
    with pytest.raises(ShapeError, match=r"gy has shape \(1, 1, 3, 3\) but pooling an input"):
        _cpp.avg_pool2d_backward(np.ones((1, 1, 3, 3)), 4, 4, 2, 2, 2, 2, 0, 0)
