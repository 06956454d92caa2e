"""Optimizers against updates computed by hand, schedules, and optimizer state round trips."""
import math

import numpy as np
import pytest

import engine as eg
from engine import optim


def run(opt_factory, steps, grads):
    """Apply `steps` updates with the given gradients; returns the parameter after each."""
    p = eg.tensor(np.array([1.0, -2.0]), requires_grad=True)
    opt = opt_factory([p])
    seen = []
    for g in grads[:steps]:
        p.grad = eg.tensor(np.array(g))
        opt.step()
        seen.append(p.numpy().copy())
    return seen


GRADS = [[0.5, -1.0], [0.25, 0.5], [-1.0, 2.0]]


def test_plain_sgd():
    seen = run(lambda ps: optim.SGD(ps, lr=0.1), 2, GRADS)
    np.testing.assert_allclose(seen[0], [1 - 0.05, -2 + 0.1])
    np.testing.assert_allclose(seen[1], [0.95 - 0.025, -1.9 - 0.05])


def test_sgd_momentum_weight_decay_and_nesterov():
    lr, mu, wd = 0.1, 0.9, 0.01
    p, buf = np.array([1.0, -2.0]), None
    expected_plain, expected_nesterov = [], []
    q, buf_n = p.copy(), None
    for g in GRADS:
        g = np.array(g)
        d = g + wd * p
        buf = d if buf is None else mu * buf + d
        p = p - lr * buf
        expected_plain.append(p)
        dn = g + wd * q
        buf_n = dn if buf_n is None else mu * buf_n + dn
        q = q - lr * (dn + mu * buf_n)
        expected_nesterov.append(q)
    np.testing.assert_allclose(run(lambda ps: optim.SGD(ps, lr, mu, weight_decay=wd), 3, GRADS),
                               expected_plain)
    np.testing.assert_allclose(run(lambda ps: optim.SGD(ps, lr, mu, weight_decay=wd, nesterov=True),
                                   3, GRADS), expected_nesterov)


def test_adam_matches_the_paper_with_bias_correction():
    lr, (b1, b2), eps = 0.01, (0.9, 0.999), 1e-8
    p, m, v, expected = np.array([1.0, -2.0]), 0, 0, []
    for t, g in enumerate(GRADS, 1):
        g = np.array(g) + 0.1 * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        p = p - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
        expected.append(p)
    np.testing.assert_allclose(run(lambda ps: optim.Adam(ps, lr, weight_decay=0.1), 3, GRADS),
                               expected, rtol=1e-12)


def test_parameters_without_grad_are_left_alone_and_zero_grad_clears():
    a = eg.tensor([1.0], requires_grad=True)
    b = eg.tensor([2.0], requires_grad=True)
    opt = optim.SGD([a, b], lr=1.0)
    a.grad = eg.tensor([1.0])
    opt.step()
    assert a.item() == 0.0 and b.item() == 2.0
    opt.zero_grad()
    assert a.grad is None


def test_state_dict_resumes_exactly():
    straight = run(lambda ps: optim.Adam(ps, 0.01), 3, GRADS)[-1]
    p = eg.tensor(np.array([1.0, -2.0]), requires_grad=True)
    opt = optim.Adam([p], 0.01)
    for g in GRADS[:2]:
        p.grad = eg.tensor(np.array(g))
        opt.step()
    saved = opt.state_dict()
    q = eg.tensor(p.numpy().copy(), requires_grad=True)
    resumed = optim.Adam([q], 0.5)
    resumed.load_state_dict(saved)
    q.grad = eg.tensor(np.array(GRADS[2]))
    resumed.step()
    np.testing.assert_array_equal(q.numpy(), straight)


def test_schedules():
    opt = optim.SGD([eg.tensor([1.0], requires_grad=True)], lr=1.0)
    step = optim.StepLR(opt, step_size=2, gamma=0.5)
    lrs = []
    for _ in range(5):
        step.step()
        lrs.append(opt.lr)
    assert lrs == [1.0, 0.5, 0.5, 0.25, 0.25]
    opt.lr = 1.0
    cosine = optim.CosineAnnealingLR(opt, T_max=4, eta_min=0.1)
    values = []
    for _ in range(4):
        cosine.step()
        values.append(opt.lr)
    np.testing.assert_allclose(values, [0.1 + 0.9 * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(1, 5)])


def test_bad_hyperparameters():
    p = [eg.tensor([1.0], requires_grad=True)]
    with pytest.raises(ValueError, match="SGD: Invalid learning rate: -1"):
        optim.SGD(p, lr=-1)
    with pytest.raises(ValueError, match="Nesterov momentum requires a momentum"):
        optim.SGD(p, lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="Invalid beta parameter at index 1: 1.0"):
        optim.Adam(p, betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam([])


@pytest.mark.parametrize("make", [
    lambda p: optim.SGD(p, lr=math.nan), lambda p: optim.SGD(p, lr=0.1, momentum=math.nan),
    lambda p: optim.Adam(p, lr=math.inf), lambda p: optim.Adam(p, eps=math.nan),
    lambda p: optim.Adam(p, betas=(math.nan, 0.9)), lambda p: optim.SGD(p, lr="0.1"),
    lambda p: optim.StepLR(optim.SGD(p, lr=0.1), step_size=0),
    lambda p: optim.CosineAnnealingLR(optim.SGD(p, lr=0.1), T_max=10, eta_min=math.nan),
])
def test_non_finite_or_out_of_range_hyperparameters_are_refused(make):
    with pytest.raises(eg.ArgumentError, match="Invalid|must be"):
        make([eg.tensor([1.0], requires_grad=True)])


def test_a_nan_learning_rate_cannot_come_back_through_a_state_dict_or_a_schedule():
    p = eg.nn.Parameter(eg.tensor([1.0, 2.0]))
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    state = opt.state_dict()
    state["lr"] = math.nan
    with pytest.raises(eg.ArgumentError, match="Invalid learning rate: nan"):
        opt.load_state_dict(state)
    with pytest.raises(eg.ArgumentError):
        opt.lr = math.inf
    assert opt.lr == 0.1


def test_only_float_tensors_can_be_optimized_and_a_transposed_parameter_steps():
    with pytest.raises(eg.DTypeError, match="parameter 0 is list"):
        optim.SGD([[1.0]], lr=0.1)
    with pytest.raises(eg.DTypeError, match="of dtype int64"):
        optim.SGD([eg.tensor([1, 2])], lr=0.1)
    for make in (lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9), lambda ps: optim.Adam(ps, lr=0.1)):
        base = np.arange(6.0).reshape(2, 3)
        w = eg.nn.Parameter(eg.tensor(base))
        w.data = w.data.T                                    # a transposed, non-contiguous view
        assert not w.data.flags.c_contiguous
        ref = eg.nn.Parameter(eg.tensor(base.T.copy()))
        for q in (w, ref):
            opt = make([q])
            for _ in range(2):
                q.grad = eg.tensor(np.ones((3, 2)))
                opt.step()
        np.testing.assert_array_equal(w.numpy(), ref.numpy())
