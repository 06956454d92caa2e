"""Pooling beyond the catalogue (tests/test_ops.py checks every op's values and gradients):
torch's indices, ceil_mode and divisor rules, unbatched inputs, layers, and errors."""
import numpy as np
import pytest

import engine as eg
import engine.nn.functional as F
import kernels.reference as ref
from engine import nn
from kernels.geometry import pool_output_size

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)]


def distinct(shape, seed=0):
    return np.random.default_rng(seed).permutation(int(np.prod(shape))).reshape(shape) / 7.0


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dims, shape, params", [
    (1, (2, 2, 7), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    (1, (2, 6), dict(kernel_size=2, dilation=3, padding=1)),
    (2, (1, 2, 5, 6), dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2),
                           ceil_mode=True)),
    (3, (1, 1, 3, 4, 5), dict(kernel_size=2, stride=(1, 2, 2), padding=(0, 1, 1), ceil_mode=True)),
])
def test_max_pool_indices_are_torchs_flat_plane_indices(device, dims, shape, params):
    x = distinct(shape)
    y, indices = getattr(F, f"max_pool{dims}d")(eg.tensor(x, device=device), **params,
                                                 return_indices=True)
    expected, expected_indices = getattr(ref, f"max_pool{dims}d")(x, **params, return_indices=True)
    np.testing.assert_array_equal(y.numpy(), expected)
    assert indices.dtype == np.int64 and indices.device == device
    np.testing.assert_array_equal(indices.numpy(), expected_indices)


@pytest.mark.parametrize("dims, shape, size", [(1, (1, 2, 7), 3), (2, (2, 1, 5, 7), (3, None)),
                                               (3, (1, 1, 3, 4, 5), (2, 3, 4)), (2, (1, 3, 3), 5)])
def test_adaptive_max_pool_values_and_indices_match_the_reference(dims, shape, size):
    x = distinct(shape, 1)
    y, indices = getattr(F, f"adaptive_max_pool{dims}d")(eg.tensor(x), size, return_indices=True)
    expected, expected_indices = getattr(ref, f"adaptive_max_pool{dims}d")(x, size, True)
    np.testing.assert_array_equal(y.numpy(), expected)
    np.testing.assert_array_equal(indices.numpy(), expected_indices)


def test_max_unpool_inverts_max_pool_with_its_indices():
    x = eg.tensor(distinct((2, 3, 5, 4)))
    y, indices = F.max_pool2d(x, 2, return_indices=True)
    restored = nn.MaxUnpool2d(2)(y, indices, output_size=x.shape)
    assert restored.shape == x.shape
    kept = restored.numpy() != 0
    np.testing.assert_array_equal(restored.numpy()[kept], x.numpy()[kept])
    assert kept.sum() == y.numel()
    assert F.max_unpool2d(y, indices, 2).shape == (2, 3, 4, 4)  # the default output size


@pytest.mark.parametrize("size, kernel, stride, padding, expected", [
    (5, 2, 2, 0, 3),  # a partial last window counts
    (4, 2, 2, 0, 2),  # no partial window
    (4, 3, 2, 1, 3),  # the last window starts inside the input
    (3, 2, 2, 1, 2),  # it would start in the right padding: dropped
])
def test_ceil_mode_follows_torchs_rule(size, kernel, stride, padding, expected):
    assert pool_output_size(size, kernel, stride, padding, 1, True) == expected
    x = eg.tensor(distinct((1, 1, size)))
    assert F.max_pool1d(x, kernel, stride, padding, ceil_mode=True).shape[-1] == expected
    assert F.avg_pool1d(x, kernel, stride, padding, ceil_mode=True).shape[-1] == expected


def test_avg_pool_divisors_at_clipped_windows_are_torchs():
    x = eg.tensor(np.array([[[1.0, 2.0, 3.0, 4.0]]]))
    # count_include_pad: the last window is clipped to the padded input (divisor 2, not 3)
    np.testing.assert_allclose(F.avg_pool1d(x, 3, 2, 1, ceil_mode=True).numpy(), [[[1, 3, 2]]])
    np.testing.assert_allclose(F.avg_pool1d(x, 3, 2, 1, True, False).numpy(), [[[1.5, 3, 4]]])
    np.testing.assert_allclose(F.avg_pool1d(eg.tensor([[[1.0, 2, 3, 4, 5]]]), 2, ceil_mode=True)
                               .numpy(), [[[1.5, 3.5, 5]]])
    np.testing.assert_allclose(F.avg_pool2d(eg.ones(1, 1, 4, 4), 2, divisor_override=3).numpy(),
                               np.full((1, 1, 2, 2), 4 / 3))
    np.testing.assert_allclose(nn.AvgPool3d(2, divisor_override=-2)(eg.ones(1, 1, 2, 2, 2)).numpy(),
                               [[[[[-4.0]]]]])


def test_lp_pool_is_torchs_power_mean_times_the_kernel():
    x = eg.tensor(np.array([[[3.0, 4.0, 1.0]]]))
    np.testing.assert_allclose(F.lp_pool1d(x, 2, 2).numpy(), [[[5.0]]])
    # ceil_mode: the clipped last window's mean is still multiplied by the whole kernel
    np.testing.assert_allclose(F.lp_pool1d(x, 1, 2, ceil_mode=True).numpy(), [[[7.0, 2.0]]])
    np.testing.assert_allclose(nn.LPPool2d(2, 2)(eg.ones(1, 1, 2, 2)).numpy(), [[[[2.0]]]])


@pytest.mark.parametrize("call", [
    lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True, dilation=2),
    lambda x: F.avg_pool2d(x, 2, 1, 1, ceil_mode=True, count_include_pad=False),
    lambda x: F.adaptive_max_pool2d(x, (2, 3)),
    lambda x: F.lp_pool2d(x.abs() + 0.5, 3, 2, ceil_mode=True),
])
def test_an_unbatched_input_pools_as_a_batch_of_one(call):
    x = distinct((2, 5, 6))
    unbatched = call(eg.tensor(x))
    np.testing.assert_allclose(unbatched.numpy(), call(eg.tensor(x[None])).numpy()[0])


def test_max_pool_gradients_with_indices_and_of_an_empty_batch():
    x = eg.tensor(distinct((1, 1, 4, 4)), requires_grad=True)
    y, indices = F.max_pool2d(x, 2, return_indices=True)
    y.sum().backward()
    assert x.grad.numpy().sum() == 4 and (x.grad.numpy().ravel()[indices.numpy().ravel()] == 1).all()
    empty = eg.zeros(0, 2, 4, 4, requires_grad=True)
    y, indices = F.max_pool3d(empty[:, :, None], (1, 2, 2), return_indices=True)
    assert y.shape == indices.shape == (0, 2, 1, 2, 2)
    y.sum().backward()
    assert empty.grad.shape == empty.shape


def test_layers_reprs_and_options_are_torchs():
    assert repr(nn.MaxPool2d(3, 2)) == ("MaxPool2d(kernel_size=3, stride=2, padding=0, dilation=1, "
                                        "ceil_mode=False)")
    assert repr(nn.MaxPool1d(2)) == ("MaxPool1d(kernel_size=2, stride=2, padding=0, dilation=1, "
                                     "ceil_mode=False)")
    assert repr(nn.AvgPool1d(3)) == "AvgPool1d(kernel_size=(3,), stride=(3,), padding=(0,))"
    assert repr(nn.AvgPool2d(2, padding=1)) == "AvgPool2d(kernel_size=2, stride=2, padding=1)"
    assert repr(nn.MaxUnpool2d(2)) == "MaxUnpool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))"
    assert repr(nn.MaxUnpool3d(2, 1)) == ("MaxUnpool3d(kernel_size=(2, 2, 2), stride=(1, 1, 1), "
                                          "padding=(0, 0, 0))")
    assert repr(nn.AdaptiveMaxPool2d((3, None))) == "AdaptiveMaxPool2d(output_size=(3, None))"
    assert repr(nn.LPPool1d(2, 3)) == "LPPool1d(norm_type=2, kernel_size=3, stride=None, ceil_mode=False)"
    x = eg.tensor(distinct((1, 2, 6, 6, 6)))
    y, indices = nn.MaxPool3d(2, return_indices=True, ceil_mode=True)(x)
    assert y.shape == indices.shape == (1, 2, 3, 3, 3)
    assert nn.AdaptiveMaxPool1d(4, return_indices=True)(x[0, 0, 0])[1].shape == (6, 4)


def t(*shape, dtype=np.float64):
    return eg.tensor(np.ones(shape, dtype))


@pytest.mark.parametrize("call, error, message", [
    (lambda: F.max_pool1d(t(1, 1, 8), 2, padding=2), eg.ShapeError,
     r"max_pool1d: padding \(2,\) must be at most half the kernel size \(2,\)"),
    (lambda: F.avg_pool3d(t(1, 1, 4, 4, 4), (2, 3, 2), padding=(0, 2, 0)), eg.ShapeError,
     "at most half the kernel size"),
    (lambda: F.max_pool2d(t(1, 4, 4, 4, 4), 2), eg.ShapeError,
     r"max_pool2d: expected input \(N, C, H, W\) or \(C, H, W\), got shape \(1, 4, 4, 4, 4\)"),
    (lambda: F.max_pool3d(t(4, 4), 2), eg.ShapeError, r"expected input \(N, C, D, H, W\)"),
    (lambda: F.max_pool2d(t(1, 1, 2, 2), 2, 1, padding=1, dilation=3), eg.ShapeError,
     "holds only padding"),
    (lambda: F.max_pool2d(t(1, 1, 3, 3), 2, dilation=3), eg.ShapeError,
     r"kernel \(2, 2\) \(dilation \(3, 3\)\) does not fit"),
    (lambda: F.max_pool2d(t(1, 1, 3, 3), 2, stride=(1, 0)), eg.ShapeError, "stride must be at least 1"),
    (lambda: F.avg_pool2d(t(1, 1, 4, 4), 2, divisor_override=0), eg.ShapeError,
     "divisor_override must be a non-zero int"),
    (lambda: F.avg_pool1d(t(1, 1, 4, dtype=np.int64), 2), eg.DTypeError, "dtype int64"),
    (lambda: F.max_unpool2d(t(1, 1, 2, 2), eg.zeros(1, 1, 2, 2, dtype=np.int64), 2,
                            output_size=(6, 4)), eg.ShapeError,
     r"invalid output_size \(6, 4\) \(dim 0 must be between 2 and 6\)"),
    (lambda: F.max_unpool2d(t(1, 1, 2, 2), eg.zeros(1, 1, 2, 2, dtype=np.int64), 2,
                            output_size=(1, 1, 4)), eg.ShapeError, "should be a sequence containing 2 or 4"),
    (lambda: F.max_unpool1d(t(1, 1, 2), eg.tensor(np.array([[[0, 4]]])), 2), eg.IndexOutOfRangeError,
     r"found an invalid max index 4; the output planes \(4,\) hold 4 elements"),
    (lambda: F.max_unpool1d(t(1, 1, 2), eg.zeros(1, 1, 3, dtype=np.int64), 2), eg.ShapeError,
     "indices has shape"),
    (lambda: F.max_unpool1d(t(1, 1, 2), t(1, 1, 2), 2), eg.ShapeError, "indices must be int64"),
    (lambda: F.adaptive_max_pool2d(t(1, 1, 4, 4), (2, 2, 2)), eg.ShapeError,
     "output_size must be an int or a tuple of 2"),
    (lambda: F.adaptive_max_pool1d(t(1, 1, 4), 0), eg.ShapeError, "output_size must be at least 1"),
    (lambda: nn.MaxPool3d(2, padding=(0, 0, 2)), eg.ArgumentError, "must be at most half"),
    (lambda: nn.MaxUnpool1d(2, stride=0), eg.ArgumentError, "stride must be an int of at least 1"),
    (lambda: nn.AvgPool2d(2, divisor_override=0), eg.ArgumentError, "divisor_override"),
])
def test_bad_arguments_raise_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()
