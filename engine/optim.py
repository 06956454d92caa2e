"""Optimizers (SGD, Adam, AdamW, RMSprop) and learning-rate schedules, with PyTorch's rules.

Updates run on each parameter's device as one kernel of its table (sgd_step, adam_step,
adamw_step, rmsprop_step), in place on the parameter's array and the optimizer's state, as
torch does.
"""
import math
import numbers
import sys
import types

import numpy as np

from . import backend, profiler
from .arguments import count, number
from .autograd import zero_grads
from .errors import ArgumentError, DTypeError
from .tensor import Tensor


class Optimizer:
    def __init__(self, params, defaults):
        self.params = list(params)
        name = type(self).__name__
        if not self.params:
            raise ArgumentError(f"{name}: got an empty parameter list")
        for i, p in enumerate(self.params):
            if not isinstance(p, Tensor) or p.dtype.kind != "f":
                raise DTypeError(f"{name}: parameter {i} is {type(p).__name__}"
                                 f"{' of dtype ' + str(p.dtype) if isinstance(p, Tensor) else ''}; "
                                 "an optimizer can only optimize floating-point Tensors")
        self.defaults = dict(defaults)
        self.lr = defaults["lr"]
        self.state = [dict() for _ in self.params]  # per parameter, raw arrays on its device

    @property
    def lr(self):
        return self._lr

    @lr.setter
    def lr(self, value):  # checked here, so that schedules and resumed runs are checked too
        self._lr = number(type(self).__name__, "learning rate", value)

    def zero_grad(self, set_to_none=True):
        """Drop every gradient (set_to_none) or fill it with zeros in place."""
        zero_grads(self.params, set_to_none)

    def step(self):
        watched = profiler.recording()
        if watched:
            began = profiler.start(self.params[0].device)
        for p, state in zip(self.params, self.state):
            if p.grad is not None:
                self._update(p, p.grad.data, state, backend.table(p.device))
                p._mark_written()  # the update wrote p's array in place
        if watched:
            profiler.finish(began, f"{type(self).__name__}.step", "step", None, None,
                            self.params[0].device, self.params, ())

    def _update(self, p, g, state, k):
        raise NotImplementedError

    def state_dict(self):
        """Learning rate and per-parameter state as host arrays: all a resumed run needs."""
        state = {str(i): {name: np.array(backend.table(p.device).to_host(v))
                          if hasattr(v, "shape") else v for name, v in s.items()}
                 for i, (p, s) in enumerate(zip(self.params, self.state))}
        return {"lr": self.lr, "state": state}

    def load_state_dict(self, saved):
        self.lr = float(saved["lr"])
        for i, p in enumerate(self.params):
            k = backend.table(p.device)
            self.state[i] = {name: _restore(value, p, k)
                             for name, value in saved["state"].get(str(i), {}).items()}


def _restore(value, p, k):
    """A saved state entry: a number stays a number, an array goes to p's device and dtype."""
    if np.ndim(value) == 0:
        return value.item() if isinstance(value, (np.ndarray, np.generic)) else value
    return k.from_host(np.array(value, p.dtype))


class SGD(Optimizer):
    """p -= lr * (g + weight_decay * p), with (Nesterov) momentum as torch.optim.SGD."""

    def __init__(self, params, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
        momentum = number("SGD", "momentum value", momentum)
        dampening = number("SGD", "dampening value", dampening, high=1.0)
        weight_decay = number("SGD", "weight_decay value", weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ArgumentError("SGD: Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))
        self.momentum, self.dampening = momentum, dampening
        self.weight_decay, self.nesterov = weight_decay, nesterov

    def _update(self, p, g, state, k):
        _, sgd_step = backend.resolve(k, "sgd_step")
        state["momentum_buffer"] = sgd_step(
            p.data, g, state.get("momentum_buffer"), self.lr, self.momentum, self.dampening,
            self.weight_decay, self.nesterov)


class Adam(Optimizer):
    """Adam with bias correction and L2 weight decay added to the gradient, as torch.optim.Adam."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        name = type(self).__name__
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ArgumentError(f"{name}: betas must be a pair of numbers, got {betas!r}")
        betas = tuple(number(name, f"beta parameter at index {i}", b, high=1.0, high_open=True)
                      for i, b in enumerate(betas))
        eps = number(name, "epsilon value", eps)
        weight_decay = number(name, "weight_decay value", weight_decay)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))
        self.betas, self.eps, self.weight_decay = betas, eps, weight_decay

    def _update(self, p, g, state, k):
        step = state.get("step", 0) + 1
        _, adam_step = backend.resolve(k, "adam_step")
        m, v = adam_step(p.data, g, state.get("exp_avg"), state.get("exp_avg_sq"), step, self.lr,
                           *self.betas, self.eps, self.weight_decay)
        state.update(step=step, exp_avg=m, exp_avg_sq=v)


class AdamW(Adam):
    """Adam with decoupled weight decay (p shrinks by lr * weight_decay before the Adam step,
    the moments never see it), and optionally AMSGrad, as torch.optim.AdamW."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False):
        super().__init__(params, lr, betas, eps, weight_decay)
        self.amsgrad = self.defaults["amsgrad"] = bool(amsgrad)

    def _update(self, p, g, state, k):
        step = state.get("step", 0) + 1
        moments = k.adamw_step(p.data, g, state.get("exp_avg"), state.get("exp_avg_sq"),
                               state.get("max_exp_avg_sq"), step, self.lr, *self.betas, self.eps,
                               self.weight_decay, self.amsgrad)
        state["step"] = step
        _keep(state, ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"), moments)


class RMSprop(Optimizer):
    """p -= lr g / (sqrt(running mean of g^2) + eps), optionally centered (the running variance)
    and with momentum, as torch.optim.RMSprop."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False):
        alpha = number("RMSprop", "alpha value", alpha)
        eps = number("RMSprop", "epsilon value", eps)
        weight_decay = number("RMSprop", "weight_decay value", weight_decay)
        momentum = number("RMSprop", "momentum value", momentum)
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=bool(centered)))
        self.alpha, self.eps, self.weight_decay = alpha, eps, weight_decay
        self.momentum, self.centered = momentum, bool(centered)

    def _update(self, p, g, state, k):
        averages = k.rmsprop_step(p.data, g, state.get("square_avg"), state.get("grad_avg"),
                                  state.get("momentum_buffer"), self.lr, self.alpha, self.eps,
                                  self.weight_decay, self.momentum, self.centered)
        state["step"] = state.get("step", 0) + 1
        _keep(state, ("square_avg", "grad_avg", "momentum_buffer"), averages)


def _keep(state, names, arrays):
    """Store the state arrays a step returned under their names; None (unused) is not stored."""
    state.update((name, a) for name, a in zip(names, arrays) if a is not None)


class LRScheduler:
    """What every schedule shares: torch's get_last_lr()."""

    def get_last_lr(self):
        """The learning rate in force, one per parameter group as torch's (one group here)."""
        return [self.optimizer.lr]


class StepLR(LRScheduler):
    """lr = initial lr * gamma ** (epoch // step_size); call step() once an epoch."""

    def __init__(self, optimizer, step_size, gamma=0.1):
        if not isinstance(step_size, numbers.Integral) or step_size < 1:
            raise ArgumentError(f"{type(self).__name__}: step_size must be a positive int, "
                                f"got {step_size!r}")
        gamma = number(type(self).__name__, "gamma", gamma, low_open=True)
        self.optimizer, self.step_size, self.gamma = optimizer, step_size, gamma
        self.base_lr, self.epoch = optimizer.lr, 0

    def step(self):
        self.epoch += 1
        self.optimizer.lr = self.base_lr * self.gamma ** (self.epoch // self.step_size)

    def state_dict(self):
        return {"epoch": self.epoch, "base_lr": self.base_lr}

    def load_state_dict(self, state):
        self.epoch = int(state["epoch"])
        self.base_lr = number(type(self).__name__, "base learning rate", float(state["base_lr"]))


class CosineAnnealingLR(StepLR):
    """lr = eta_min + (initial lr - eta_min) (1 + cos(pi epoch / T_max)) / 2."""

    def __init__(self, optimizer, T_max, eta_min=0.0):
        if not isinstance(T_max, numbers.Integral) or T_max < 1:
            raise ArgumentError(f"CosineAnnealingLR: T_max must be a positive int, got {T_max!r}")
        eta_min = number("CosineAnnealingLR", "eta_min", eta_min)
        super().__init__(optimizer, step_size=1)
        self.T_max, self.eta_min = T_max, eta_min

    def step(self):
        self.epoch += 1
        cosine = (1 + math.cos(math.pi * min(self.epoch, self.T_max) / self.T_max)) / 2
        self.optimizer.lr = self.eta_min + (self.base_lr - self.eta_min) * cosine


class OneCycleLR(LRScheduler):
    """The 1cycle policy, stepped once per batch: lr warms from max_lr / div_factor up to max_lr
    over pct_start of total_steps, then anneals (cos or linear) down to initial lr /
    final_div_factor (three_phase: back to the initial lr first); the momentum (or Adam's beta1)
    cycles the opposite way between max_momentum and base_momentum, as torch's OneCycleLR."""

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None,
                 pct_start=0.3, anneal_strategy="cos", cycle_momentum=True, base_momentum=0.85,
                 max_momentum=0.95, div_factor=25.0, final_div_factor=1e4, three_phase=False):
        name = "OneCycleLR"
        if total_steps is not None:
            total_steps = count(name, "total_steps", total_steps)
        elif epochs is not None and steps_per_epoch is not None:
            total_steps = count(name, "epochs", epochs) * count(name, "steps_per_epoch",
                                                                 steps_per_epoch)
        else:
            raise ArgumentError(f"{name}: You must define either total_steps OR "
                                "(epochs AND steps_per_epoch)")
        pct_start = number(name, "pct_start", pct_start, high=1.0)
        if anneal_strategy not in ("cos", "linear"):
            raise ArgumentError(f"{name}: anneal_strategy must be one of 'cos' or 'linear', "
                                f"instead got {anneal_strategy!r}")
        max_lr = number(name, "max_lr", max_lr)
        initial_lr = max_lr / number(name, "div_factor", div_factor, low_open=True)
        min_lr = initial_lr / number(name, "final_div_factor", final_div_factor, low_open=True)
        base_momentum = number(name, "base_momentum", base_momentum)
        max_momentum = number(name, "max_momentum", max_momentum)
        warm_end = pct_start * total_steps - 1
        if three_phase:
            self._phases = [(warm_end, initial_lr, max_lr, max_momentum, base_momentum),
                            (2 * warm_end, max_lr, initial_lr, base_momentum, max_momentum),
                            (total_steps - 1, initial_lr, min_lr, max_momentum, max_momentum)]
        else:
            self._phases = [(warm_end, initial_lr, max_lr, max_momentum, base_momentum),
                            (total_steps - 1, max_lr, min_lr, base_momentum, max_momentum)]
        if cycle_momentum and not any(hasattr(optimizer, a) for a in ("momentum", "betas")):
            raise ArgumentError(f"{name}: optimizer {type(optimizer).__name__} has neither a "
                                "momentum nor betas, so cycle_momentum must be False")
        self.optimizer, self.total_steps = optimizer, total_steps
        self.anneal_strategy, self.cycle_momentum = anneal_strategy, bool(cycle_momentum)
        self.step_num = 0
        self._apply()

    def _anneal(self, start, end, pct):
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def _apply(self):
        """Set lr (and momentum) for step_num: the phase it falls in, the last one past its end."""
        start_step = 0
        for i, (end_step, lr0, lr1, m0, m1) in enumerate(self._phases):
            if self.step_num <= end_step or i == len(self._phases) - 1:
                pct = (self.step_num - start_step) / (end_step - start_step)
                break
            start_step = end_step
        self.optimizer.lr = self._anneal(lr0, lr1, pct)
        if self.cycle_momentum:
            momentum = self._anneal(m0, m1, pct)
            if hasattr(self.optimizer, "betas"):
                self.optimizer.betas = (momentum,) + tuple(self.optimizer.betas[1:])
            else:
                self.optimizer.momentum = momentum

    def step(self):
        if self.step_num + 1 > self.total_steps:
            raise ArgumentError(f"OneCycleLR: Tried to step {self.step_num + 1} times. The "
                                f"specified number of total steps is {self.total_steps}")
        self.step_num += 1
        self._apply()

    def state_dict(self):
        return {"step_num": self.step_num}

    def load_state_dict(self, state):
        self.step_num = int(state["step_num"])


class ReduceLROnPlateau(LRScheduler):
    """lr *= factor (down to min_lr) once the metric passed to step(metric) has not improved by
    threshold for more than patience steps, then waits cooldown steps, as torch's."""

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4,
                 threshold_mode="rel", cooldown=0, min_lr=0.0, eps=1e-8):
        name = "ReduceLROnPlateau"
        if mode not in ("min", "max"):
            raise ArgumentError(f"{name}: mode {mode!r} is unknown; expected 'min' or 'max'")
        if threshold_mode not in ("rel", "abs"):
            raise ArgumentError(f"{name}: threshold mode {threshold_mode!r} is unknown; "
                                "expected 'rel' or 'abs'")
        self.factor = number(name, "factor", factor, high=1.0, high_open=True)
        self.patience = count(name, "patience", patience, minimum=0)
        self.cooldown = count(name, "cooldown", cooldown, minimum=0)
        self.threshold = number(name, "threshold", threshold)
        self.min_lr, self.eps = number(name, "min_lr", min_lr), number(name, "eps", eps)
        self.optimizer, self.mode, self.threshold_mode = optimizer, mode, threshold_mode
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = self.cooldown_counter = self.last_epoch = 0

    def is_better(self, current):
        sign = 1 if self.mode == "max" else -1  # compare sign * values: larger is better
        if self.threshold_mode == "rel":
            return sign * current > sign * self.best * (1 + sign * self.threshold)
        return sign * current > sign * self.best + self.threshold

    def step(self, metrics):
        current = float(metrics)
        self.last_epoch += 1
        if self.is_better(current):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:  # bad epochs during the cooldown do not count
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            new_lr = max(self.optimizer.lr * self.factor, self.min_lr)
            if self.optimizer.lr - new_lr > self.eps:
                self.optimizer.lr = new_lr
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0

    _STATE = ("best", "num_bad_epochs", "cooldown_counter", "last_epoch")

    def state_dict(self):
        return {name: getattr(self, name) for name in self._STATE}

    def load_state_dict(self, state):
        for name in self._STATE:
            setattr(self, name, type(getattr(self, name))(state[name]))


# torch.optim.lr_scheduler: every schedule (importable as engine.optim.lr_scheduler too); the
# older names stay on optim itself
lr_scheduler = types.ModuleType(__name__ + ".lr_scheduler", "Learning-rate schedules.")
for _schedule in (LRScheduler, StepLR, CosineAnnealingLR, OneCycleLR, ReduceLROnPlateau):
    setattr(lr_scheduler, _schedule.__name__, _schedule)
sys.modules[lr_scheduler.__name__] = lr_scheduler
