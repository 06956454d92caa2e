"""Normalization beyond the catalogue: layers and their running statistics, torch's defaults,
result dtypes, zero-size inputs, errors, and the cuda device."""
import numpy as np
import pytest

import engine as eg
import engine.nn.functional as F
import kernels.reference as ref
from engine import nn


def t(values, dtype=np.float64, device="cpu"):
    return eg.tensor(np.asarray(values, dtype), device=device)


def rand(*shape, seed=0):
    return np.random.default_rng(seed).uniform(-2, 2, shape)


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_functions_match_references_on_both_devices_in_float32(device):
    x, w, b = rand(2, 4, 3), rand(4, seed=1), rand(4, seed=2)
    checks = [
        (F.layer_norm(t(x, np.float32, device), (4, 3)), ref.layer_norm(x, (4, 3))),
        (F.group_norm(t(x, np.float32, device), 2, t(w, np.float32, device), t(b, np.float32, device)),
         ref.group_norm(x, 2, w, b)),
        (F.instance_norm(t(x, np.float32, device)), ref.instance_norm(x)),
        (F.local_response_norm(t(x, np.float32, device), 3, 0.5, 0.75, 2.0),
         ref.local_response_norm(x, 3, 0.5, 0.75, 2.0)),
        (F.rms_norm(t(x, np.float32, device), 3), ref.rms_norm(x, 3, None, np.finfo(np.float32).eps)),
        (F.batch_norm(t(x, np.float32, device), None, None, training=True),
         ref.batch_norm(x, None, None, training=True)),
    ]
    for got, expected in checks:
        assert got.dtype == np.float32 and got.device == device
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-4, atol=1e-4)


def test_layer_norm_statistics_and_int_normalized_shape():
    y = F.layer_norm(t(rand(3, 5)), 5).numpy()
    np.testing.assert_allclose(y.mean(-1), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(-1), 1, rtol=1e-4)


def test_rms_norm_eps_defaults_to_the_dtypes_machine_epsilon():
    x = t([[0.0, 0.0]])  # mean square 0: the result is 0 / sqrt(eps), so eps must be > 0
    np.testing.assert_array_equal(F.rms_norm(x, [2]).numpy(), [[0, 0]])
    y = F.rms_norm(t([[3.0, 4.0]]), [2], eps=0.0).numpy()
    np.testing.assert_allclose(y, [[3 / np.sqrt(12.5), 4 / np.sqrt(12.5)]])


def test_local_response_norm_window_is_zero_padded_and_divided_by_size():
    x = t([[[1.0], [2.0], [3.0]]])  # (N=1, C=3, L=1)
    y = F.local_response_norm(x, 2, alpha=1.0, beta=1.0, k=1.0).numpy().ravel()
    # size 2: channel c averages c-1 and c (the window before c has size // 2 = 1 channel)
    np.testing.assert_allclose(y, [1 / (1 + 1 / 2), 2 / (1 + 5 / 2), 3 / (1 + 13 / 2)])


def test_instance_norm_updates_running_stats_with_the_mean_over_samples():
    x = rand(3, 2, 4)
    mean, var = t(np.zeros(2)), t(np.ones(2))
    F.instance_norm(t(x), mean, var, momentum=0.5)
    np.testing.assert_allclose(mean.numpy(), 0.5 * x.mean(2).mean(0))
    np.testing.assert_allclose(var.numpy(), 0.5 + 0.5 * x.var(2, ddof=1).mean(0))
    y = F.instance_norm(t(x), mean, var, use_input_stats=False).numpy()
    np.testing.assert_allclose(y, ref.instance_norm(x, mean.numpy(), var.numpy(), use_input_stats=False))


def test_batch_norm_takes_2d_3d_and_5d_inputs():
    for shape in [(4, 3), (4, 3, 5), (2, 3, 2, 2, 2)]:
        x = rand(*shape)
        got = F.batch_norm(t(x), None, None, training=True).numpy()
        axes = (0,) + tuple(range(2, len(shape)))
        expected = (x - x.mean(axes, keepdims=True)) / np.sqrt(x.var(axes, keepdims=True) + 1e-5)
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


def test_zero_size_inputs_give_empty_results():
    assert F.layer_norm(eg.zeros(0, 3), [3]).shape == (0, 3)
    assert F.group_norm(eg.zeros(0, 4, 2), 2).shape == (0, 4, 2)
    assert F.local_response_norm(eg.zeros(2, 0, 3), 2).shape == (2, 0, 3)


@pytest.mark.parametrize("call, error, message", [
    (lambda: F.layer_norm(eg.ones(2, 3), [2]), eg.ShapeError, r"layer_norm: input of shape \(2, 3\) does not end with normalized_shape \(2,\)"),
    (lambda: F.layer_norm(eg.ones(2, 3), [3], eg.ones(2)), eg.ShapeError, r"weight has shape \(2,\); expected \(3,\)"),
    (lambda: F.layer_norm(eg.tensor([[1, 2]]), [2]), eg.DTypeError, "layer_norm"),
    (lambda: F.group_norm(eg.ones(2, 3, 2), 2), eg.ArgumentError, "num_groups must divide the 3 channels, got 2"),
    (lambda: F.instance_norm(eg.ones(2, 3)), eg.ShapeError, "instance_norm: expected input"),
    (lambda: F.instance_norm(eg.ones(2, 3, 2), eg.zeros(2), eg.ones(2)), eg.ShapeError, r"running_mean has shape \(2,\)"),
    (lambda: nn.BatchNorm3d(2)(eg.ones(2, 2, 2, 2)), eg.ShapeError, "BatchNorm3d: expected 5D input, got 4D"),
    (lambda: nn.BatchNorm1d(2)(eg.ones(2, 2, 2, 2)), eg.ShapeError, "expected 2D or 3D input"),
    (lambda: nn.GroupNorm(2, 3), eg.ShapeError, r"num_channels \(3\) must be divisible by num_groups \(2\)"),
    (lambda: nn.LayerNorm(0), eg.ArgumentError, "LayerNorm: normalized_shape entry must be an int"),
])
def test_errors_name_the_op_and_what_it_got(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_layers_have_torchs_parameters_and_defaults():
    assert [p.shape for p in nn.LayerNorm([2, 3]).parameters()] == [(2, 3), (2, 3)]
    assert nn.LayerNorm(3, bias=False).bias is None
    assert list(nn.LayerNorm(3, elementwise_affine=False).parameters()) == []
    norm = nn.InstanceNorm2d(3)
    assert list(norm.parameters()) == [] and norm.running_mean is None
    assert len(list(nn.InstanceNorm1d(3, affine=True).parameters())) == 2
    group = nn.GroupNorm(2, 4)
    np.testing.assert_array_equal(group.weight.numpy(), np.ones(4))
    np.testing.assert_array_equal(group.bias.numpy(), np.zeros(4))
    assert isinstance(nn.BatchNorm1d(3), type(nn.BatchNorm2d(3)).__mro__[1])
    assert repr(nn.LocalResponseNorm(2)) == "LocalResponseNorm(2, alpha=0.0001, beta=0.75, k=1.0)"


def test_instance_norm_layer_takes_unbatched_input_and_tracks_stats_when_asked():
    x = rand(2, 3, 4)
    np.testing.assert_allclose(nn.InstanceNorm1d(2)(t(x[0])).numpy(), ref.instance_norm(x[:1])[0],
                               rtol=1e-6, atol=1e-6)
    layer = nn.InstanceNorm1d(3, track_running_stats=True, dtype=np.float64)
    layer(t(x))
    np.testing.assert_allclose(layer.running_mean.numpy(), 0.1 * x.mean(2).mean(0))
    layer.eval()
    before = layer.running_mean.numpy().copy()
    layer(t(x))
    np.testing.assert_array_equal(layer.running_mean.numpy(), before)


def test_batch_norm_momentum_none_is_the_cumulative_average():
    layer = nn.BatchNorm1d(2, momentum=None, dtype=np.float64)
    batches = [rand(4, 2, seed=s) for s in range(3)]
    for x in batches:
        layer(t(x))
    np.testing.assert_allclose(layer.running_mean.numpy(), np.mean([x.mean(0) for x in batches], 0))
    np.testing.assert_allclose(layer.running_var.numpy(), np.mean([x.var(0, ddof=1) for x in batches], 0))


def test_num_batches_tracked_is_an_int64_buffer_saved_and_restored_with_the_state():
    layer = nn.BatchNorm1d(2, momentum=None, dtype=np.float64)
    for s in range(3):
        layer(t(rand(4, 2, seed=s)))
    layer.eval()(t(rand(4, 2, seed=9)))  # evaluation counts nothing
    state = layer.state_dict()
    assert state["num_batches_tracked"].dtype == np.int64 and state["num_batches_tracked"].item() == 3
    restored = nn.BatchNorm1d(2, momentum=None, dtype=np.float64).load_state_dict(state)
    restored(t(rand(4, 2, seed=5)))  # the fourth batch weighs 1/4 in the cumulative average
    assert restored.num_batches_tracked.item() == 4
    assert nn.BatchNorm1d(2, track_running_stats=False).num_batches_tracked is None


def test_layers_backpropagate_into_their_parameters():
    x = eg.tensor(rand(2, 4, 3, 2, 2).astype(np.float32))
    for layer in [nn.BatchNorm3d(4), nn.GroupNorm(2, 4), nn.LayerNorm([2, 2]), nn.InstanceNorm3d(4, affine=True)]:
        (layer(x) * x).sum().backward()
        assert all(p.grad is not None and p.grad.shape == p.shape for p in layer.parameters())
