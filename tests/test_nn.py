"""Modules, layers and initializations."""
import math

import numpy as np
import pytest

import engine as eg
from engine import nn
import engine.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.norm = nn.BatchNorm2d(4)
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(4 * 5 * 5, 3))
        self.scale = 2.0  # a plain attribute, neither parameter nor module

    def forward(self, x):
        return self.head(self.norm(self.conv(x)).relu()) * self.scale


def test_registration_by_attribute():
    net = Net()
    assert [n for n, _ in net.named_parameters()] == [
        "conv.weight", "conv.bias", "norm.weight", "norm.bias", "head.2.weight", "head.2.bias"]
    assert [n for n, _ in net.named_buffers()] == ["norm.running_mean", "norm.running_var",
                                                 "norm.num_batches_tracked"]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad and p.is_leaf for p in net.parameters())
    assert [type(m).__name__ for m in net.children()] == ["Conv2d", "BatchNorm2d", "Sequential"]
    assert "(conv): Conv2d(1, 4, kernel_size=(3, 3)" in repr(net) and "(2): Linear(" in repr(net)


def test_train_eval_and_zero_grad_reach_every_submodule():
    net = Net()
    net.eval()
    assert not any(m.training for m in net.modules())
    x = eg.randn(2, 1, 5, 5)
    np.testing.assert_array_equal(net(x).numpy(), net(x).numpy())  # no dropout, running stats
    net.train()
    net(x).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_batch_norm_layer_tracks_running_statistics_in_training_only():
    layer = nn.BatchNorm2d(3)
    x = eg.randn(4, 3, 2, 2) * 3 + 1
    layer(x)
    assert not np.allclose(layer.running_mean.numpy(), 0)
    before = layer.running_mean.numpy().copy()
    layer.eval()
    y = layer(x)
    np.testing.assert_array_equal(layer.running_mean.numpy(), before)
    expected = (x.numpy() - before.reshape(1, 3, 1, 1)) / np.sqrt(
        layer.running_var.numpy().reshape(1, 3, 1, 1) + 1e-5)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-5, atol=1e-5)


def test_state_dict_round_trip_and_errors():
    a, b = Net(), Net()
    b.load_state_dict(a.state_dict())
    for (name, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(p.numpy(), q.numpy(), err_msg=name)
    state = a.state_dict()
    state["conv.weight"] = np.zeros((4, 1, 5, 5), np.float32)
    del state["norm.bias"]
    state["extra"] = np.zeros(1)
    with pytest.raises(eg.ShapeError) as info:
        b.load_state_dict(state)
    message = str(info.value)
    assert "missing keys ['norm.bias']" in message and "unexpected keys ['extra']" in message
    assert "conv.weight: checkpoint (4, 1, 5, 5) vs model (4, 1, 3, 3)" in message


@pytest.mark.parametrize("layer, fan_in", [
    (lambda: nn.Linear(300, 200), 300),
    (lambda: nn.Conv2d(16, 32, 3), 16 * 9),
    (lambda: nn.ConvTranspose2d(16, 32, 2), 32 * 4),
])
def test_default_initialization_is_torchs(layer, fan_in):
    eg.manual_seed(0)
    m = layer()
    bound = 1 / math.sqrt(fan_in)  # kaiming_uniform_(a=sqrt(5)) gives U(-1/sqrt(fan_in), ..)
    w, b = m.weight.numpy(), m.bias.numpy()
    assert w.min() >= -bound and w.max() <= bound and abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound
    assert b.min() >= -bound and b.max() <= bound


def test_init_functions():
    eg.manual_seed(0)
    w = nn.Parameter(np.empty((400, 300), np.float32))
    nn.init.kaiming_normal_(w, nonlinearity="relu")
    assert abs(w.numpy().std() - math.sqrt(2 / 300)) < 0.02 * math.sqrt(2 / 300)
    nn.init.xavier_uniform_(w)
    assert abs(w.numpy()).max() <= math.sqrt(6 / 700)
    nn.init.kaiming_uniform_(w)
    assert abs(w.numpy()).max() <= math.sqrt(3) * math.sqrt(2) / math.sqrt(300)
    nn.init.zeros_(w)
    assert not w.numpy().any()
    assert w.dtype == np.float32


def test_layers_match_functional():
    eg.manual_seed(0)
    x = eg.randn(2, 3, 8, 8)
    conv = nn.Conv2d(3, 5, 3, stride=2, padding=1)
    np.testing.assert_array_equal(conv(x).numpy(), F.conv2d(x, conv.weight, conv.bias, 2, 1).numpy())
    up = nn.ConvTranspose2d(3, 2, 2, stride=2)
    assert up(x).shape == (2, 2, 16, 16)
    assert nn.MaxPool2d(2)(x).shape == (2, 3, 4, 4) and nn.AvgPool2d(3, 1, 1)(x).shape == x.shape
    assert nn.Upsample(scale_factor=2, mode="bilinear")(x).shape == (2, 3, 16, 16)
    np.testing.assert_array_equal(nn.LeakyReLU(0.2)(x).numpy(), F.leaky_relu(x, 0.2).numpy())
    for layer, fn in ((nn.ReLU(), F.relu), (nn.Sigmoid(), F.sigmoid), (nn.Tanh(), F.tanh)):
        np.testing.assert_array_equal(layer(x).numpy(), fn(x).numpy())
    assert nn.Flatten()(x).shape == (2, 192)
    seq = nn.Sequential(nn.ReLU(), nn.Tanh())
    assert len(seq) == 2 and isinstance(seq[1], nn.Tanh)


@pytest.mark.parametrize("make, words", [
    (lambda: nn.Linear(0, 3), "Linear: in_features must be an int of at least 1, got 0"),
    (lambda: nn.Linear(3.5, 3), "in_features must be an int"),
    (lambda: nn.Conv2d(3, 4, 3, groups=2), "divisible by groups=2"),
    (lambda: nn.Conv2d(1, 4, (3, 0)), "kernel_size must be an int of at least 1"),
    (lambda: nn.Conv2d(1, 4, 3, padding=-1), "padding must be an int of at least 0"),
    (lambda: nn.ConvTranspose2d(1, 4, 2, output_padding=-1), "output_padding"),
    (lambda: nn.BatchNorm2d(4, eps=0), "Invalid eps value: 0"),
    (lambda: nn.BatchNorm2d(4, momentum=float("nan")), "Invalid momentum value: nan"),
    (lambda: nn.Dropout(1.5), "Invalid dropout probability: 1.5"),
    (lambda: nn.MaxPool2d(2, padding=2), "padding 2 must be at most half the kernel size"),
    (lambda: nn.AvgPool2d(2, stride=0), "stride must be an int of at least 1"),
    (lambda: nn.Upsample(scale_factor=0), "Invalid scale_factor: 0"),
    (lambda: nn.Upsample(), "exactly one of size and scale_factor"),
    (lambda: nn.LeakyReLU(float("inf")), "Invalid negative_slope: inf"),
])
def test_layer_constructors_name_a_bad_argument(make, words):
    with pytest.raises(eg.ArgumentError, match=words.replace("(", r"\(").replace(")", r"\)")):
        make()
