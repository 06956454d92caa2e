"""interpolate's modes, adaptive average pooling and their layers: values torch gives, the
options, and clear errors. The catalogue checks every mode against the reference and its
gradients on both devices."""
import numpy as np
import pytest

import engine as eg
import engine.nn as nn
import engine.nn.functional as F
import kernels.reference as ref


def t(values):
    return eg.tensor(np.asarray(values, np.float64))


def test_bicubic_values_torch_gives():
    # torch.nn.functional.interpolate(x, scale_factor=2, mode="bicubic") on [[1, 2], [3, 4]]
    y = F.interpolate(t([[[[1, 2], [3, 4]]]]), scale_factor=2, mode="bicubic").numpy()[0, 0]
    np.testing.assert_allclose(y[0], [0.68359375, 1.015625, 1.5625, 1.89453125])
    np.testing.assert_allclose(y[3], [3.10546875, 3.4375, 3.984375, 4.31640625])


def test_antialiased_bilinear_stretches_the_triangle_when_downsampling():
    # scale 2: support 2 around centre 1.0 covers inputs 0, 1, 2 with weights 3/7, 3/7, 1/7
    x = t([[[[0, 1, 2, 3]]]])
    y = F.interpolate(x, size=(1, 2), mode="bilinear", antialias=True).numpy().ravel()
    np.testing.assert_allclose(y, [5 / 7, 16 / 7])
    plain = F.interpolate(x, size=(1, 2), mode="bilinear").numpy().ravel()
    np.testing.assert_allclose(plain, [0.5, 2.5])  # the two middle neighbours only
    # upsampling: antialias changes nothing
    np.testing.assert_allclose(F.interpolate(x, size=(1, 7), mode="bilinear", antialias=True).numpy(),
                               F.interpolate(x, size=(1, 7), mode="bilinear").numpy())


def test_nearest_and_nearest_exact_pick_different_sources():
    x = t([[[0, 1, 2]]])
    assert F.interpolate(x, size=2, mode="nearest").numpy().ravel().tolist() == [0, 1]
    assert F.interpolate(x, size=2, mode="nearest-exact").numpy().ravel().tolist() == [0, 2]


def test_area_is_adaptive_average_pooling():
    x = t([[[0, 1, 2, 3, 4]]])
    y = F.interpolate(x, size=3, mode="area")
    np.testing.assert_allclose(y.numpy().ravel(), [0.5, 2.0, 3.5])  # [0, 2) [1, 4) [3, 5)
    np.testing.assert_array_equal(F.adaptive_avg_pool1d(x, 3).numpy(), y.numpy())


def test_linear_and_trilinear_with_and_without_align_corners():
    x = t([[[0, 1, 2]]])
    np.testing.assert_allclose(F.interpolate(x, size=5, mode="linear", align_corners=True)
                               .numpy().ravel(), [0, 0.5, 1, 1.5, 2])
    np.testing.assert_allclose(F.interpolate(x, scale_factor=2, mode="linear").numpy().ravel(),
                               [0, 0.25, 0.75, 1.25, 1.75, 2])
    cube = np.arange(8.0).reshape(1, 1, 2, 2, 2)
    y = F.interpolate(t(cube), size=(3, 3, 3), mode="trilinear", align_corners=True)
    assert y.numpy()[0, 0, 1, 1, 1] == pytest.approx(3.5)  # the centre: the mean of the corners


def test_a_scale_factor_drives_the_weights_unless_recomputed():
    """torch uses 1/scale_factor as the step (not in/out) unless recompute_scale_factor."""
    x = np.random.default_rng(0).standard_normal((1, 1, 5))
    given = F.interpolate(t(x), scale_factor=1.7, mode="linear").numpy()
    recomputed = F.interpolate(t(x), scale_factor=1.7, mode="linear", recompute_scale_factor=True)
    np.testing.assert_allclose(given, ref.interpolate(x, scale_factor=1.7, mode="linear"))
    np.testing.assert_allclose(recomputed.numpy(), F.interpolate(t(x), size=8, mode="linear").numpy())
    assert not np.allclose(given, recomputed.numpy())


def test_adaptive_avg_pool_keeps_none_extents_and_takes_unbatched_input():
    x = np.random.default_rng(1).standard_normal((3, 5, 4))
    y = F.adaptive_avg_pool2d(t(x), (2, None))
    assert y.shape == (3, 2, 4)
    np.testing.assert_allclose(y.numpy(), ref.adaptive_avg_pool(x, (2, None)))
    assert F.adaptive_avg_pool3d(t(x[None]), 1).shape == (1, 1, 1, 1)
    np.testing.assert_allclose(F.adaptive_avg_pool3d(t(x[None]), 1).numpy().item(), x.mean())


def test_empty_batches_resize_to_empty_results():
    assert F.interpolate(eg.zeros(0, 2, 3, 3), scale_factor=2, mode="bicubic").shape == (0, 2, 6, 6)
    assert F.adaptive_avg_pool1d(eg.zeros(0, 2, 5), 2).shape == (0, 2, 2)


def test_layers():
    x = eg.randn(1, 2, 4, 4)
    assert nn.Upsample(scale_factor=2, mode="bicubic")(x).shape == (1, 2, 8, 8)
    np.testing.assert_array_equal(
        nn.UpsamplingBilinear2d(scale_factor=2)(x).numpy(),
        F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True).numpy())
    np.testing.assert_array_equal(nn.UpsamplingNearest2d(size=3)(x).numpy(),
                                  F.interpolate(x, size=3).numpy())
    assert nn.AdaptiveAvgPool2d((1, 1))(x).shape == (1, 2, 1, 1)
    assert nn.AdaptiveAvgPool1d(2)(eg.randn(2, 3, 5)).shape == (2, 3, 2)
    assert nn.AdaptiveAvgPool3d((1, 2, None))(eg.randn(1, 1, 3, 3, 3)).shape == (1, 1, 1, 2, 3)
    assert repr(nn.AdaptiveAvgPool2d(1)) == "AdaptiveAvgPool2d(output_size=1)"
    with pytest.raises(eg.ArgumentError, match="UpsamplingNearest2d: give exactly one"):
        nn.UpsamplingNearest2d()


@pytest.mark.parametrize("call, error, message", [
    (lambda: F.interpolate(eg.ones(1, 1, 2, 2), scale_factor=2, mode="linear"), eg.ShapeError,
     r"got a 4-D input, but mode 'linear' needs a 3-D input"),
    (lambda: F.interpolate(eg.ones(1, 1, 2, 2, 2), size=3, mode="bilinear"), eg.ShapeError,
     r"mode 'bilinear' needs a 4-D input"),
    (lambda: F.interpolate(eg.ones(2, 2), size=3), eg.ShapeError,
     r"expected a 3-D, 4-D or 5-D input"),
    (lambda: F.interpolate(eg.ones(1, 1, 2, 2), size=3, align_corners=True), eg.ArgumentError,
     r"align_corners can only be set with the interpolating modes"),
    (lambda: F.interpolate(eg.ones(1, 1, 2), size=3, mode="linear", antialias=True),
     eg.ArgumentError, r"antialias applies to modes 'bilinear' and 'bicubic' of a 4-D input"),
    (lambda: F.interpolate(eg.ones(1, 1, 2, 2), size=(3, 3, 3)), eg.ShapeError,
     r"the input has 2 spatial dimensions but size has 3 entries"),
    (lambda: F.interpolate(eg.ones(1, 1, 2, 2), scale_factor=(2,)), eg.ShapeError,
     r"but scale_factor has 1 entries"),
    (lambda: F.interpolate(eg.ones(1, 1, 2, 2), scale_factor=0), eg.ArgumentError,
     r"scale_factor must be a positive finite number"),
    (lambda: F.interpolate(eg.ones(1, 1, 2, 2), scale_factor=0.1), eg.ShapeError,
     r"makes the input's spatial extents \(2, 2\) an empty output \(0, 0\)"),
    (lambda: F.interpolate(eg.ones(1, 1, 2, 2), size=2, scale_factor=2), eg.ArgumentError,
     r"exactly one of size and scale_factor"),
    (lambda: F.interpolate(eg.ones(1, 1, 2, 2, dtype=np.int64), size=2), eg.DTypeError,
     r"interpolate: expected a floating-point tensor, got dtype int64"),
    (lambda: F.adaptive_avg_pool2d(eg.ones(2, 2), 1), eg.ShapeError,
     r"adaptive_avg_pool2d: expected a 3-D or 4-D input"),
    (lambda: F.adaptive_avg_pool2d(eg.ones(1, 2, 2), (0, 1)), eg.ShapeError,
     r"output_size must hold positive ints or None"),
    (lambda: F.adaptive_avg_pool1d(eg.ones(1, 2, 0), 1), eg.ShapeError,
     r"has an empty spatial dimension"),
])
def test_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


# --- affine_grid and grid_sample -----------------------------------------------------------------
IDENTITY = [[[1.0, 0, 0], [0, 1, 0]]]


def test_affine_grid_of_the_identity_holds_the_pixel_centres():
    grid = F.affine_grid(t(IDENTITY), (1, 1, 2, 3)).numpy()[0]
    np.testing.assert_allclose(grid[..., 0], [[-2 / 3, 0, 2 / 3]] * 2)
    np.testing.assert_allclose(grid[..., 1], [[-0.5] * 3, [0.5] * 3])
    corners = F.affine_grid(t(IDENTITY), (1, 1, 2, 3), align_corners=True).numpy()[0]
    np.testing.assert_allclose(corners[0, 0], [-1, -1])
    np.testing.assert_allclose(corners[1, 2], [1, 1])


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("dims", [2, 3])
def test_sampling_at_the_identity_grid_gives_the_input_back(align_corners, dims):
    theta = np.eye(dims, dims + 1)[None]
    x = np.random.default_rng(0).standard_normal((1, 2) + (2, 3, 4)[3 - dims:])
    grid = F.affine_grid(t(theta), x.shape, align_corners=align_corners)
    np.testing.assert_allclose(F.grid_sample(t(x), grid, align_corners=align_corners).numpy(), x,
                               atol=1e-12)


def test_padding_modes_at_points_worked_by_hand():
    x = t(np.arange(12.0).reshape(1, 1, 3, 4))  # x[r, c] = 4 r + c
    points = t([[[[1.5, 0.0], [-1.2, 0.3]]]])  # pixels (3.75, 1) and (-0.3, 1.3) when aligned
    def sample(padding_mode, align_corners=True):
        return F.grid_sample(x, points, padding_mode=padding_mode,
                             align_corners=align_corners).numpy().ravel()
    np.testing.assert_allclose(sample("border"), [7, 5.2])
    np.testing.assert_allclose(sample("reflection"), [6.25, 5.5])
    # not aligned: pixels (4.5, 1) (outside: 0) and (-0.9, 1.45): 0.1 x (0.55 x 4 + 0.45 x 8)
    np.testing.assert_allclose(sample("zeros", align_corners=False), [0, 0.58])


def test_nearest_sampling_passes_no_gradient_to_the_grid():
    x = eg.tensor(np.arange(12.0).reshape(1, 1, 3, 4), requires_grad=True)
    grid = eg.tensor([[[[0.3, -0.2]]]], requires_grad=True)
    F.grid_sample(x, grid, mode="nearest").sum().backward()
    assert grid.grad.numpy().tolist() == [[[[0.0, 0.0]]]] and x.grad.numpy().sum() == 1


@pytest.mark.parametrize("call, error, message", [
    (lambda: F.grid_sample(eg.ones(1, 1, 2, 2), eg.ones(1, 2, 2, 3)), eg.ShapeError,
     r"grid_sample: expected input \(N, C, H, W\) with grid \(N, Ho, Wo, 2\)"),
    (lambda: F.grid_sample(eg.ones(1, 1, 2, 2), eg.ones(1, 2, 2, 2), mode="bicubic-ish"),
     eg.ArgumentError, r"mode must be one of \('bilinear', 'nearest'\)"),
    (lambda: F.grid_sample(eg.ones(1, 1, 2, 2), eg.ones(1, 2, 2, 2), padding_mode="wrap"),
     eg.ArgumentError, r"padding_mode must be one of \('zeros', 'border', 'reflection'\)"),
    (lambda: F.affine_grid(eg.ones(1, 2, 3), (2, 1, 4, 4)), eg.ShapeError,
     r"affine_grid: theta of shape \(1, 2, 3\) does not fit size \(2, 1, 4, 4\)"),
    (lambda: F.affine_grid(eg.ones(1, 2, 3), (1, 4, 4)), eg.ShapeError,
     r"size must be \(N, C, H, W\) or \(N, C, D, H, W\)"),
])
def test_sampling_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()
