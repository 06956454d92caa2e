"""Module utilities (walking the tree, modes, gradients), the containers and small layers, and
nn.utils (gradient clipping, parameters as one vector), as torch has them."""
import math

import numpy as np
import pytest

import engine as eg
from engine import backend, nn
from engine.nn import utils

DEVICES = [d for d in backend.DEVICES if backend.is_available(d)]


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(2, 3), nn.Dropout(0.5))
        self.head = nn.Linear(3, 1)
        self.tied = self.head  # the same module twice: walked once
        self.register_buffer("steps", eg.zeros(1))


def test_walking_the_tree_visits_each_module_and_parameter_once():
    net = Net()
    assert [name for name, _ in net.named_modules()] == ["", "encoder", "encoder.0",
                                                         "encoder.1", "head"]
    assert [name for name, _ in net.named_children()] == ["encoder", "head"]
    assert list(net.children()) == [net.encoder, net.head]
    assert len(list(net.modules())) == 5
    assert [name for name, _ in net.named_parameters()] == ["encoder.0.weight", "encoder.0.bias",
                                                            "head.weight", "head.bias"]
    assert list(net.parameters(recurse=False)) == []
    assert [name for name, _ in net.named_buffers()] == ["steps"]
    # state_dict keys a shared parameter under each of its names, as torch does
    assert list(net.state_dict()) == ["encoder.0.weight", "encoder.0.bias", "head.weight",
                                      "head.bias", "tied.weight", "tied.bias", "steps"]
    assert [n for n, _ in net.named_parameters(prefix="net", remove_duplicate=False)][-1] == \
        "net.tied.bias"


def test_apply_visits_children_before_their_parent():
    net, order = Net(), []
    assert net.apply(lambda m: order.append(type(m).__name__)) is net
    assert order == ["Linear", "Dropout", "Sequential", "Linear", "Net"]


def test_train_and_eval_reach_every_submodule_through_their_own_train():
    calls = []

    class Recording(nn.Identity):
        def train(self, mode=True):
            calls.append(mode)
            return super().train(mode)

    net = nn.Sequential(nn.Linear(1, 1), nn.ModuleList([Recording()]))
    assert net.eval() is net
    assert [m.training for m in net.modules()] == [False] * 4 and calls == [False]
    net.train()
    assert all(m.training for m in net.modules()) and calls == [False, True]
    with pytest.raises(eg.ArgumentError, match="training mode is expected to be boolean"):
        net.train("yes")


def test_zero_grad_drops_by_default_or_zeroes_in_place():
    lin = nn.Linear(2, 2)
    lin(eg.ones(1, 2)).sum().backward()
    grad = lin.weight.grad
    lin.zero_grad(set_to_none=False)
    assert lin.weight.grad is grad
    np.testing.assert_array_equal(grad.numpy(), np.zeros((2, 2)))
    lin.zero_grad()
    assert lin.weight.grad is None and lin.bias.grad is None


def test_requires_grad_freezes_the_parameters():
    lin = nn.Linear(2, 2)
    assert lin.requires_grad_(False) is lin
    assert not any(p.requires_grad for p in lin.parameters())
    x = eg.ones(1, 2, requires_grad=True)
    lin(x).sum().backward()
    assert lin.weight.grad is None and x.grad is not None


# --- containers -----------------------------------------------------------------------------------
def test_module_list_behaves_as_a_list_and_registers_its_modules():
    a, b, c = nn.Linear(1, 1), nn.Linear(1, 2), nn.Identity()
    ml = nn.ModuleList([a, b])
    ml.append(c)
    assert len(ml) == 3 and ml[-1] is c and list(ml) == [a, b, c]
    assert list(ml[1:]) == [b, c] and isinstance(ml[1:], nn.ModuleList)
    ml.insert(0, c)
    assert list(ml) == [c, a, b, c] and list(ml._modules) == ["0", "1", "2", "3"]
    del ml[0]
    assert list(ml) == [a, b, c] and list(ml._modules) == ["0", "1", "2"]
    ml[2] = nn.Linear(2, 2)
    assert len(list(ml.parameters())) == 6
    assert ml.pop() is not c and len(ml) == 2
    ml += [c]
    assert list(ml + nn.ModuleList([a])) == [a, b, c, a]
    with pytest.raises(IndexError, match="index 3 is out of range for 3 modules"):
        ml[3]
    with pytest.raises(eg.ArgumentError, match="expected an iterable of Modules"):
        ml.extend(nn.Linear(1, 1))
    with pytest.raises(eg.ArgumentError, match="must be a Module, got int"):
        ml.append(3)
    with pytest.raises(NotImplementedError):
        ml(eg.ones(1))


def test_module_dict_behaves_as_a_dict_and_registers_its_modules():
    md = nn.ModuleDict({"conv": nn.Conv2d(1, 1, 1), "act": nn.Identity()})
    md.update([("out", nn.Linear(1, 1))])
    md["act"] = nn.Flatten()
    assert list(md) == ["conv", "act", "out"] and list(md.keys()) == ["conv", "act", "out"]
    assert "out" in md and isinstance(md["act"], nn.Flatten) and len(md) == 3
    assert [n for n, _ in md.named_parameters()] == ["conv.weight", "conv.bias", "out.weight",
                                                     "out.bias"]
    assert isinstance(md.pop("conv"), nn.Conv2d) and list(md) == ["act", "out"]
    md.clear()
    assert len(md) == 0
    with pytest.raises(eg.ArgumentError, match="element 0 should be a"):
        md.update(["ab"])
    with pytest.raises(eg.ArgumentError, match="without '.'"):
        md["a.b"] = nn.Identity()


def test_identity_and_unflatten():
    x = eg.tensor(np.arange(12.0).reshape(2, 6))
    assert nn.Identity(3, any=1)(x) is x
    unflatten = nn.Unflatten(1, (2, -1))
    np.testing.assert_array_equal(unflatten(x).numpy(), np.arange(12.0).reshape(2, 2, 3))
    assert repr(unflatten) == "Unflatten(dim=1, unflattened_size=(2, -1))"


@pytest.mark.parametrize("device", DEVICES)
def test_dropout2d_drops_whole_channels(device):
    eg.manual_seed(0)
    x = eg.tensor(np.random.default_rng(0).uniform(1, 2, (3, 4, 2, 2)), device=device,
                  requires_grad=True)
    y = nn.Dropout2d(0.25)(x)
    y.sum().backward()
    mask = x.grad.numpy()  # d sum(x * mask) / dx
    assert np.all((mask == 0) | (mask == np.float64(1) / 0.75))
    assert np.all(mask == mask[:, :, :1, :1])  # one draw per channel
    assert 0 < np.count_nonzero(mask[:, :, 0, 0]) < 12  # some channels kept, some dropped
    np.testing.assert_allclose(y.numpy(), x.numpy() * mask, rtol=1e-15)
    assert nn.Dropout2d(0.25).eval()(x) is x
    assert np.all(nn.Dropout2d(1.0)(x).numpy() == 0)


def test_dropout2d_arguments_and_shapes():
    assert nn.Dropout2d(0.3)(eg.ones(2, 3, 5)).shape == (2, 3, 5)
    assert repr(nn.Dropout2d()) == "Dropout2d(p=0.5, inplace=False)"
    with pytest.raises(eg.ShapeError, match=r"Dropout2d: expected a 3-D .* got shape \(2, 3\)"):
        nn.Dropout2d()(eg.ones(2, 3))
    with pytest.raises(eg.ArgumentError, match="Invalid dropout probability: 1.5"):
        nn.Dropout2d(1.5)


# --- nn.utils -------------------------------------------------------------------------------------
def with_grads(grads, device="cpu"):
    params = []
    for g in grads:
        p = nn.Parameter(eg.zeros(*np.shape(g), dtype=np.float64, device=device))
        p.grad = eg.tensor(np.array(g, np.float64), device=device)
        params.append(p)
    return params


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("norm_type", [2.0, 1, math.inf])
def test_clip_grad_norm_scales_to_max_norm_and_returns_the_norm_before(device, norm_type):
    grads = [[3.0, -4.0], [[12.0]]]
    params = with_grads(grads, device)
    flat = np.array([3.0, -4.0, 12.0])
    norm = np.linalg.norm(flat, norm_type)
    total = utils.clip_grad_norm_(params, max_norm=2.0, norm_type=norm_type)
    assert isinstance(total, eg.Tensor) and total.device == device
    np.testing.assert_allclose(total.item(), norm)
    for p, g in zip(params, grads):
        np.testing.assert_allclose(p.grad.numpy(), np.array(g) * 2.0 / (norm + 1e-6))


def test_clip_grad_norm_leaves_small_gradients_and_takes_one_tensor():
    (p,) = with_grads([[0.3, 0.4]])
    assert utils.clip_grad_norm_(p, 1.0).item() == pytest.approx(0.5)
    np.testing.assert_array_equal(p.grad.numpy(), [0.3, 0.4])
    assert utils.clip_grad_norm_([nn.Parameter(eg.zeros(2))], 1.0).item() == 0.0


@pytest.mark.filterwarnings("ignore:invalid value")  # inf * 0, as torch scales it
def test_clip_grad_norm_of_a_non_finite_norm():
    params = with_grads([[math.inf, 1.0]])
    with pytest.raises(RuntimeError, match="total norm of order 2.0 .* is non-finite"):
        utils.clip_grad_norm_(params, 1.0, error_if_nonfinite=True)
    assert math.isinf(utils.clip_grad_norm_(params, 1.0).item())


@pytest.mark.parametrize("device", DEVICES)
def test_clip_grad_value_clamps_in_place(device):
    params = with_grads([[-3.0, 0.5], [2.0]], device)
    grad = params[0].grad
    assert utils.clip_grad_value_(params, 1.0) is None
    assert params[0].grad is grad
    np.testing.assert_array_equal(grad.numpy(), [-1.0, 0.5])
    np.testing.assert_array_equal(params[1].grad.numpy(), [1.0])


def test_parameters_to_vector_and_back():
    lin = nn.Linear(3, 2)
    vec = utils.parameters_to_vector(lin.parameters())
    np.testing.assert_array_equal(vec.numpy(), np.concatenate([lin.weight.numpy().ravel(),
                                                               lin.bias.numpy()]))
    utils.vector_to_parameters(eg.tensor(np.arange(8.0)), lin.parameters())
    np.testing.assert_array_equal(lin.weight.numpy(), np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(lin.bias.numpy(), [6.0, 7.0])
    assert lin.weight.dtype == np.float32
    with pytest.raises(eg.ArgumentError, match="need a 1-d vector of 8 elements"):
        utils.vector_to_parameters(eg.zeros(7), lin.parameters())
    with pytest.raises(TypeError, match="expected a Tensor, but got list"):
        utils.vector_to_parameters([1.0] * 8, lin.parameters())
