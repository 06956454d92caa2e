"""Module and Parameter: parameters, buffers and submodules registered by attribute, as torch."""
from collections import OrderedDict

import numpy as np

from .. import backend

from ..autograd import no_grad
from ..errors import ShapeError
from ..tensor import Tensor


class Parameter(Tensor):
    """A tensor that a Module registers as a parameter; it requires grad unless told otherwise."""

    def __init__(self, data, requires_grad=True):
        if isinstance(data, Tensor):
            super().__init__(data.numpy(), dtype=data.dtype, device=data.device,
                             requires_grad=requires_grad)
        else:
            super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """Base of every layer and network: subclasses set attributes in __init__ and define forward."""

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before "
                                 f"assigning {name!r}")
        for table in (self._parameters, self._buffers, self._modules):
            table.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        elif isinstance(value, Tensor) and name in self.__dict__.get("_buffer_names", ()):
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)
            return
        self.__dict__.pop(name, None)

    def __getattr__(self, name):
        for table in ("_parameters", "_buffers", "_modules"):
            entries = self.__dict__.get(table, {})
            if name in entries:
                return entries[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name):
        for table in (self._parameters, self._buffers, self._modules):
            if name in table:
                del table[name]
                return
        object.__delattr__(self, name)

    def register_buffer(self, name, tensor):
        """A tensor that is state but not a parameter (running statistics): saved, moved, not trained."""
        names = self.__dict__.setdefault("_buffer_names", set())
        names.add(name)
        setattr(self, name, tensor)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # --- walking the tree -----------------------------------------------------------------------
    def named_modules(self, prefix=""):
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self):
        return (m for _, m in self.named_modules())

    def children(self):
        return iter(self._modules.values())

    def _named(self, table):
        for prefix, module in self.named_modules():
            for name, value in getattr(module, table).items():
                yield (f"{prefix}.{name}" if prefix else name), value

    def named_parameters(self):
        return self._named("_parameters")

    def parameters(self):
        return (p for _, p in self.named_parameters())

    def named_buffers(self):
        return self._named("_buffers")

    def buffers(self):
        return (b for _, b in self.named_buffers())

    # --- modes, devices, gradients --------------------------------------------------------------
    def train(self, mode=True):
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self):
        return self.train(False)

    def to(self, device):
        """Move every parameter and buffer to `device` in place (they stay the same objects)."""
        for t in list(self.parameters()) + list(self.buffers()):
            if t.device != device:
                t.data = backend.move(t.data, t.device, device)
                t.device = device
                if t.grad is not None:
                    t.grad = t.grad.to(device)
        return self

    def zero_grad(self):
        for p in self.parameters():
            p.grad = None

    # --- state ----------------------------------------------------------------------------------
    def state_dict(self):
        """Parameters and buffers by dotted name, as host numpy arrays (copies)."""
        state = OrderedDict()
        for name, t in list(self.named_parameters()) + list(self.named_buffers()):
            state[name] = np.array(t.numpy(), copy=True)
        return state

    def load_state_dict(self, state, strict=True):
        """Copy `state` into the parameters and buffers; name every missing, unexpected or
        mis-shaped entry in one ShapeError (with strict=False only shapes are checked)."""
        own = OrderedDict(list(self.named_parameters()) + list(self.named_buffers()))
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        misshaped = [f"{k}: checkpoint {tuple(np.shape(_host(state[k])))} vs model {own[k].shape}"
                     for k in own if k in state and tuple(np.shape(_host(state[k]))) != own[k].shape]
        problems = []
        if strict and missing:
            problems.append(f"missing keys {missing}")
        if strict and unexpected:
            problems.append(f"unexpected keys {unexpected}")
        if misshaped:
            problems.append(f"mis-shaped entries [{'; '.join(misshaped)}]")
        if problems:
            raise ShapeError(f"load_state_dict: {type(self).__name__}: " + ", ".join(problems))
        with no_grad():
            for name, t in own.items():
                if name in state:
                    values = np.asarray(_host(state[name]), dtype=t.dtype)
                    t.data = backend.table(t.device).from_host(values.copy())
        return self

    # --- printing -------------------------------------------------------------------------------
    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = [f"({name}): " + repr(child).replace("\n", "\n  ")
                 for name, child in self._modules.items()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"


def _host(value):
    return value.numpy() if isinstance(value, Tensor) else value
