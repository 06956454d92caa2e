"""Optimizers (SGD, Adam) and learning-rate schedules, with PyTorch's update rules.

Updates run on each parameter's device as one fused kernel of its table (sgd_step,
adam_step), in place on the parameter's array and the optimizer's state, as torch does.
"""
import math
import numbers

import numpy as np

from . import backend
from .arguments import number
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

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def step(self):
        for p, state in zip(self.params, self.state):
            if p.grad is not None:
                self._update(p, p.grad.data, state, backend.table(p.device))
                p._mark_written()  # the update wrote p's array in place

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
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ArgumentError(f"Adam: betas must be a pair of numbers, got {betas!r}")
        betas = tuple(number("Adam", f"beta parameter at index {i}", b, high=1.0, high_open=True)
                      for i, b in enumerate(betas))
        eps = number("Adam", "epsilon value", eps)
        weight_decay = number("Adam", "weight_decay value", weight_decay)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))
        self.betas, self.eps, self.weight_decay = betas, eps, weight_decay

    def _update(self, p, g, state, k):
        step = state.get("step", 0) + 1
        _, adam_step = backend.resolve(k, "adam_step")
        m, v = adam_step(p.data, g, state.get("exp_avg"), state.get("exp_avg_sq"), step, self.lr,
                           *self.betas, self.eps, self.weight_decay)
        state.update(step=step, exp_avg=m, exp_avg_sq=v)


class StepLR:
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
