"""The cuda device beyond single ops: transfers, modules, optimizers, training, clear errors.

In CI it runs in Numba's CUDA simulator (see conftest.py); ENGINE_TEST_GPU=1 runs it on a GPU.
"""
import argparse

import numpy as np
import pytest

import engine as eg
from engine import backend
from engine import nn, optim
from engine.course import data, models, train

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not eg.cuda.is_available(), reason="no cuda device (nor simulator)")]


def test_transfers_round_trip_and_carry_gradients():
    x = eg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    y = x.to("cuda")
    assert y.device == "cuda" and y.to("cuda") is y
    z = (y * y).to("cpu")
    assert z.device == "cpu"
    z.sum().backward()
    assert x.grad.device == "cpu"
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy())


def test_mixing_devices_names_both():
    a, b = eg.ones(2), eg.ones(2).to("cuda")
    with pytest.raises(eg.DeviceError, match=r"add: tensors on different devices \['cpu', 'cuda'\]"):
        a + b
    with pytest.raises(eg.DeviceError, match="different devices"):
        a < b


@pytest.mark.parametrize("make", [lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
                                  lambda ps: optim.Adam(ps, lr=0.01, weight_decay=0.1)])
def test_module_and_optimizer_steps_agree_across_devices(make):
    eg.manual_seed(0)
    cpu_model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    gpu_model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    gpu_model.load_state_dict(cpu_model.state_dict())
    gpu_model.to("cuda")
    assert all(p.device == "cuda" for p in gpu_model.parameters())
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    for model, device in ((cpu_model, "cpu"), (gpu_model, "cuda")):
        opt = make(model.parameters())
        for _ in range(2):
            opt.zero_grad()
            (model(eg.tensor(x, device=device)) ** 2).mean().backward()
            opt.step()
    for (name, p), (_, q) in zip(cpu_model.named_parameters(), gpu_model.named_parameters()):
        np.testing.assert_allclose(q.numpy(), p.numpy(), rtol=1e-5, atol=1e-6, err_msg=name)


def test_batch_norm_buffers_move_with_the_module():
    layer = nn.BatchNorm2d(2).to("cuda")
    assert layer.running_mean.device == "cuda"
    layer(eg.randn(3, 2, 2, 2).to("cuda"))
    assert layer.running_mean.device == "cuda" and np.abs(layer.running_mean.numpy()).sum() > 0


def test_training_runs_on_cuda_on_a_tiny_configuration(tmp_path, monkeypatch):
    full_train, full_test = data.mnist()
    monkeypatch.setattr(data, "mnist", lambda folder=None: (
        data.Split(full_train.images[:16, :, ::4, ::4], full_train.labels[:16]),
        data.Split(full_test.images[:8, :, ::4, ::4], full_test.labels[:8])))
    linear = models.LinearClassifier
    monkeypatch.setattr(models, "LinearClassifier", type("Tiny", (linear,), {
        "__init__": lambda self: linear.__init__(self, inputs=7 * 7)}))
    args = argparse.Namespace(task="linear", epochs=1, batch_size=8, lr=0.1, device="cuda", seed=0,
                              out=str(tmp_path), json=None, resume=None, data=None, quiet=True)
    metrics = train.train(args)
    assert 0 <= metrics["test_accuracy"] <= 1 and metrics["final_loss"] > 0


def test_without_gpu_or_simulator_the_reason_is_given(monkeypatch):
    try:
        import cupy  # noqa: F401
        pytest.skip("CuPy is installed here")
    except ImportError:
        pass
    monkeypatch.delenv("NUMBA_ENABLE_CUDASIM", raising=False)
    reason = backend.why_unavailable("cuda")
    assert "CuPy is not installed" in reason and "NUMBA_ENABLE_CUDASIM=1" in reason


def test_the_profiler_counts_kernel_launches_and_host_copies_per_op():
    x = eg.tensor(np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32),
                  device="cuda", requires_grad=True)
    with eg.profile() as p:
        (x.relu() * x).sum().backward()
    rows = {r["op"]: r for r in p.rows()}
    assert all(rows[op]["launches"] >= 1 for op in ("relu", "mul", "sum"))
    assert "launches" in p.table() and "copies" in p.table()
    with eg.profile() as p:
        (eg.ones(3) * 2).sum()  # on the cpu: nothing launched, no GPU columns
    assert len(p.rows()) == 2 and "launches" not in p.table()


def test_a_training_step_copies_only_its_batch_from_the_host():
    """Every host-to-device copy synchronizes: a step of a DnCNN (conv, batch norm, ReLU, MSE,
    SGD with momentum) copies its batch and target and nothing else; the launches are pinned
    too, so that a change that adds kernels to a step says so."""
    from kernels.cuda import device
    eg.manual_seed(0)
    model = models.DnCNN(depth=3, channels=2).to("cuda")
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(0)
    batches = [rng.random((1, 1, 5, 5), dtype=np.float32) for _ in range(2)]

    def step(noisy):
        opt.zero_grad()
        x, clean = eg.tensor(noisy, device="cuda"), eg.tensor(noisy * 0.5, device="cuda")
        nn.functional.mse_loss(model(x), clean).backward()
        opt.step()

    step(batches[0])  # the first step makes the momentum buffers
    before = device.counts.launches, device.counts.copies
    step(batches[1])
    launches, copies = device.counts.launches - before[0], device.counts.copies - before[1]
    assert copies == 2
    assert launches <= 59, launches
