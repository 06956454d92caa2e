"""AdamW and RMSprop against their updates written by hand, on both devices; OneCycleLR and
ReduceLROnPlateau against torch's rules; the lr_scheduler namespace; state round trips."""
import math

import numpy as np
import pytest

import engine as eg
from engine import backend, optim

DEVICES = [d for d in backend.DEVICES if backend.is_available(d)]
START = np.array([[1.0, -2.0], [0.5, 3.0]])
GRADS = [np.array([[0.5, -1.0], [0.2, 0.1]]), np.array([[0.25, 0.5], [-0.3, 0.4]]),
         np.array([[-1.0, 2.0], [0.05, -0.6]])]


def run(make, device, dtype=np.float64, grads=GRADS, start=START):
    """The parameter after each step of the optimizer that make([p]) builds."""
    p = eg.nn.Parameter(eg.tensor(start.astype(dtype), device=device))
    opt = make([p])
    seen = []
    for g in grads:
        p.grad = eg.tensor(g.astype(dtype), device=device)
        opt.step()
        seen.append(p.numpy().copy())
    return seen, opt


def adamw_by_hand(lr, b1, b2, eps, wd, amsgrad):
    p, m, v, vmax, out = START.copy(), 0.0, 0.0, 0.0, []
    for t, g in enumerate(GRADS, 1):
        p = p * (1 - lr * wd)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        vmax = np.maximum(vmax, v)
        second = vmax if amsgrad else v
        p = p - lr / (1 - b1 ** t) * m / (np.sqrt(second) / math.sqrt(1 - b2 ** t) + eps)
        out.append(p)
    return out


def rmsprop_by_hand(lr, alpha, eps, wd, momentum, centered):
    p, square, mean, buf, out = START.copy(), 0.0, 0.0, 0.0, []
    for g in GRADS:
        g = g + wd * p
        square = alpha * square + (1 - alpha) * g * g
        mean = alpha * mean + (1 - alpha) * g
        step = g / (np.sqrt(square - mean * mean if centered else square) + eps)
        buf = momentum * buf + step
        p = p - lr * (buf if momentum else step)
        out.append(p)
    return out


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("amsgrad", [False, True])
def test_adamw_decays_the_weights_apart_from_the_moments(device, amsgrad):
    seen, opt = run(lambda ps: optim.AdamW(ps, lr=0.1, betas=(0.8, 0.9), weight_decay=0.5,
                                           amsgrad=amsgrad), device)
    np.testing.assert_allclose(seen, adamw_by_hand(0.1, 0.8, 0.9, 1e-8, 0.5, amsgrad), rtol=1e-12)
    assert ("max_exp_avg_sq" in opt.state[0]) == amsgrad and opt.state[0]["step"] == 3


def test_adamw_defaults_are_torchs_and_float32_stays_float32():
    opt = optim.AdamW([eg.nn.Parameter(eg.zeros(2))])
    assert (opt.lr, opt.betas, opt.eps, opt.weight_decay, opt.amsgrad) == \
        (1e-3, (0.9, 0.999), 1e-8, 1e-2, False)
    seen, opt = run(lambda ps: optim.AdamW(ps, lr=0.1, weight_decay=0.5), "cpu", np.float32)
    assert seen[-1].dtype == np.float32 and opt.state[0]["exp_avg"].dtype == np.float32
    np.testing.assert_allclose(seen, adamw_by_hand(0.1, 0.9, 0.999, 1e-8, 0.5, False), rtol=1e-5)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("momentum, centered, wd", [(0.0, False, 0.0), (0.9, False, 0.1),
                                                    (0.0, True, 0.0), (0.5, True, 0.2)])
def test_rmsprop_matches_its_update_by_hand(device, momentum, centered, wd):
    seen, opt = run(lambda ps: optim.RMSprop(ps, lr=0.01, alpha=0.9, weight_decay=wd,
                                             momentum=momentum, centered=centered), device)
    np.testing.assert_allclose(seen, rmsprop_by_hand(0.01, 0.9, 1e-8, wd, momentum, centered),
                               rtol=1e-12)
    assert set(opt.state[0]) == {"step", "square_avg"} | ({"grad_avg"} if centered else set()) \
        | ({"momentum_buffer"} if momentum else set())


def test_rmsprop_defaults_are_torchs():
    opt = optim.RMSprop([eg.nn.Parameter(eg.zeros(2))])
    assert (opt.lr, opt.alpha, opt.eps, opt.weight_decay, opt.momentum, opt.centered) == \
        (1e-2, 0.99, 1e-8, 0.0, 0.0, False)


@pytest.mark.parametrize("make", [
    lambda ps: optim.AdamW(ps, lr=0.05, amsgrad=True),
    lambda ps: optim.RMSprop(ps, lr=0.05, momentum=0.9, centered=True)])
def test_a_resumed_run_continues_exactly(make):
    straight = run(make, "cpu")[0][-1]
    seen, first = run(make, "cpu", grads=GRADS[:2])
    p = eg.nn.Parameter(eg.tensor(seen[-1]))
    resumed = make([p])
    resumed.load_state_dict(first.state_dict())
    p.grad = eg.tensor(GRADS[2])
    resumed.step()
    np.testing.assert_array_equal(p.numpy(), straight)


@pytest.mark.parametrize("make, match", [
    (lambda ps: optim.AdamW(ps, betas=(0.9, 1.0)), "Invalid beta parameter at index 1"),
    (lambda ps: optim.AdamW(ps, weight_decay=-1), "AdamW: Invalid weight_decay value"),
    (lambda ps: optim.RMSprop(ps, alpha=-0.1), "RMSprop: Invalid alpha value"),
    (lambda ps: optim.RMSprop(ps, momentum=math.nan), "Invalid momentum value"),
    (lambda ps: optim.RMSprop(ps, lr=-1), "Invalid learning rate")])
def test_bad_hyperparameters_are_refused(make, match):
    with pytest.raises(eg.ArgumentError, match=match):
        make([eg.nn.Parameter(eg.zeros(2))])


# --- schedules ------------------------------------------------------------------------------------
def lrs(schedule, opt, steps):
    out = [opt.lr]
    for _ in range(steps):
        schedule.step()
        out.append(opt.lr)
    return out


def sgd(lr=1.0, **kw):
    return optim.SGD([eg.nn.Parameter(eg.zeros(1))], lr=lr, **kw)


def test_lr_scheduler_namespace_holds_every_schedule():
    from engine.optim.lr_scheduler import OneCycleLR
    assert OneCycleLR is optim.lr_scheduler.OneCycleLR
    for name in ("StepLR", "CosineAnnealingLR", "ReduceLROnPlateau"):
        assert getattr(optim.lr_scheduler, name) is getattr(optim, name)


@pytest.mark.parametrize("make, step", [
    (lambda o: optim.lr_scheduler.StepLR(o, step_size=2, gamma=0.5), lambda s: s.step()),
    (lambda o: optim.lr_scheduler.CosineAnnealingLR(o, T_max=4), lambda s: s.step()),
    (lambda o: optim.lr_scheduler.OneCycleLR(o, max_lr=1.0, total_steps=5), lambda s: s.step()),
    (lambda o: optim.lr_scheduler.ReduceLROnPlateau(o, patience=0), lambda s: s.step(1.0))])
def test_every_schedule_reports_its_last_lr_as_a_list(make, step):
    opt = sgd(momentum=0.9)
    schedule = make(opt)
    assert isinstance(schedule, optim.lr_scheduler.LRScheduler)
    for _ in range(3):
        step(schedule)
        assert schedule.get_last_lr() == [opt.lr]
    assert opt.lr < 1.0


def test_one_cycle_cos_two_phases_as_torch():
    # torch.optim.lr_scheduler.OneCycleLR(SGD(lr=1, momentum=0.9), max_lr=1.0, total_steps=10)
    opt = sgd(momentum=0.9)
    schedule = optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=10)
    initial, low = 1.0 / 25, 1.0 / 25 / 1e4

    def cos(a, b, pct):
        return b + (a - b) / 2 * (math.cos(math.pi * pct) + 1)
    expected = [cos(initial, 1.0, s / 2) for s in range(3)] + \
        [cos(1.0, low, (s - 2) / 7) for s in range(3, 11)]
    momenta = [opt.momentum]
    got = [opt.lr]
    for _ in range(10):
        schedule.step()
        got.append(opt.lr)
        momenta.append(opt.momentum)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert got[2] == 1.0 and momenta[0] == 0.95 and momenta[2] == 0.85
    np.testing.assert_allclose(momenta[9], 0.85 + 0.1 * (1 - math.cos(math.pi * 7 / 7)) / 2)
    with pytest.raises(ValueError, match="Tried to step 11 times. The specified number of "
                                         "total steps is 10"):
        schedule.step()


def test_one_cycle_linear_three_phase_and_adam_beta1():
    opt = optim.Adam([eg.nn.Parameter(eg.zeros(1))], betas=(0.9, 0.99))
    schedule = optim.lr_scheduler.OneCycleLR(opt, max_lr=2.0, epochs=2, steps_per_epoch=5,
                                             pct_start=0.25, anneal_strategy="linear",
                                             three_phase=True, div_factor=4.0,
                                             final_div_factor=5.0)
    # phases end at steps 1.5, 3 and 9: 0.5 -> 2 -> 0.5 -> 0.1
    expected = [0.5, 1.5, 2.0 - 1.5 * 0.5 / 1.5, 0.5] + \
        [0.5 - 0.4 * (s - 3) / 6 for s in range(4, 10)]
    np.testing.assert_allclose(lrs(schedule, opt, 9), expected, rtol=1e-12)
    assert opt.betas == (0.95, 0.99)


def test_one_cycle_arguments():
    with pytest.raises(eg.ArgumentError, match="either total_steps OR"):
        optim.lr_scheduler.OneCycleLR(sgd(), max_lr=1.0, epochs=3)
    with pytest.raises(eg.ArgumentError, match="anneal_strategy"):
        optim.lr_scheduler.OneCycleLR(sgd(), max_lr=1.0, total_steps=5, anneal_strategy="exp")
    with pytest.raises(eg.ArgumentError, match="Invalid pct_start"):
        optim.lr_scheduler.OneCycleLR(sgd(), max_lr=1.0, total_steps=5, pct_start=1.5)
    with pytest.raises(eg.ArgumentError, match="total_steps must be an int"):
        optim.lr_scheduler.OneCycleLR(sgd(), max_lr=1.0, total_steps=0)


def test_plateau_min_rel_patience_cooldown_and_min_lr():
    opt = sgd()
    schedule = optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=1, cooldown=1,
                                                    min_lr=0.3)
    seen = []
    for metric in [10, 9, 9, 9, 9, 9, 9, 8.9999, 9]:
        schedule.step(metric)
        seen.append(opt.lr)
    # bad epochs: the 2nd 9 (1), the 3rd (2 > patience: halve, cooldown), the 4th (cooldown),
    # the 5th and 6th (halve to max(0.25, 0.3)); 8.9999 is within the relative threshold
    assert seen == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.3, 0.3, 0.3]
    again = optim.lr_scheduler.ReduceLROnPlateau(sgd())
    again.load_state_dict(schedule.state_dict())
    assert again.state_dict() == schedule.state_dict() == \
        {"best": 9.0, "num_bad_epochs": 1, "cooldown_counter": 0, "last_epoch": 9}


def test_plateau_max_abs():
    opt = sgd()
    schedule = optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", patience=0,
                                                    threshold=0.5, threshold_mode="abs")
    seen = []
    for metric in [1.0, 1.6, 2.0, 2.05]:
        schedule.step(metric)
        seen.append(opt.lr)
    np.testing.assert_allclose(seen, [1.0, 1.0, 0.1, 0.01])


def test_plateau_arguments():
    with pytest.raises(eg.ArgumentError, match="mode 'best' is unknown"):
        optim.lr_scheduler.ReduceLROnPlateau(sgd(), mode="best")
    with pytest.raises(eg.ArgumentError, match="Invalid factor"):
        optim.lr_scheduler.ReduceLROnPlateau(sgd(), factor=1.0)
    with pytest.raises(eg.ArgumentError, match="threshold mode"):
        optim.lr_scheduler.ReduceLROnPlateau(sgd(), threshold_mode="ratio")


def test_zero_grad_drops_by_default_or_zeroes_in_place():
    opt = sgd()
    p = opt.params[0]
    p.grad = grad = eg.tensor([2.0])
    opt.zero_grad(set_to_none=False)
    assert p.grad is grad and grad.numpy().tolist() == [0.0]
    opt.zero_grad()
    assert p.grad is None
