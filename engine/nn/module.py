"""Module and Parameter: parameters, buffers and submodules registered by attribute, as torch."""
from collections import OrderedDict

import numpy as np

from .. import backend

from ..autograd import no_grad, zero_grads
from ..errors import ArgumentError, ShapeError
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

    def add_module(self, name, module):
        """Register `module` (a Module or None) as the child `name`, as assigning it does."""
        if not isinstance(module, Module) and module is not None:
            raise ArgumentError(f"{type(self).__name__}.add_module: {name!r} must be a Module, "
                                f"got {type(module).__name__}")
        if not isinstance(name, str) or not name or "." in name:
            raise ArgumentError(f"{type(self).__name__}.add_module: the name must be a non-empty "
                                f"string without '.', got {name!r}")
        self._modules[name] = module  # None holds the place, as torch does

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # --- walking the tree: each module and tensor once, however often it is shared ---------------
    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        memo = set() if memo is None else memo
        if remove_duplicate:
            if self in memo:
                return
            memo.add(self)
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(memo, f"{prefix}.{name}" if prefix else name,
                                               remove_duplicate)

    def modules(self):
        return (m for _, m in self.named_modules())

    def named_children(self):
        seen = set()
        for name, module in self._modules.items():
            if module is not None and module not in seen:
                seen.add(module)
                yield name, module

    def children(self):
        return (m for _, m in self.named_children())

    def apply(self, fn):
        """fn(m) for every submodule, children before parents, then self (as init schemes do)."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def _named(self, table, prefix, recurse, remove_duplicate):
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) \
            if recurse else [(prefix, self)]
        seen = set()
        for module_prefix, module in modules:
            for name, value in getattr(module, table).items():
                if remove_duplicate and id(value) in seen:
                    continue
                seen.add(id(value))
                yield (f"{module_prefix}.{name}" if module_prefix else name), value

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        return self._named("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        return (p for _, p in self.named_parameters(recurse=recurse))

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        return self._named("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        return (b for _, b in self.named_buffers(recurse=recurse))

    # --- modes, devices, gradients --------------------------------------------------------------
    def train(self, mode=True):
        """Set training mode here and, through each child's own train(), in every submodule."""
        if not isinstance(mode, bool):
            raise ArgumentError(f"{type(self).__name__}.train: training mode is expected to be "
                                f"boolean, got {mode!r}")
        object.__setattr__(self, "training", mode)
        for child in self.children():
            child.train(mode)
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

    def zero_grad(self, set_to_none=True):
        """Drop every parameter's gradient (set_to_none) or fill it with zeros in place."""
        zero_grads(self.parameters(), set_to_none)

    def requires_grad_(self, requires_grad=True):
        """Whether autograd records operations on the parameters (False freezes them)."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    # --- state ----------------------------------------------------------------------------------
    def _named_state(self):
        """Parameters then buffers under every name they have (a shared one under each), as
        torch's state_dict keys them."""
        return list(self.named_parameters(remove_duplicate=False)) + \
            list(self.named_buffers(remove_duplicate=False))

    def state_dict(self):
        """Parameters and buffers by dotted name, as host numpy arrays (copies)."""
        state = OrderedDict()
        for name, t in self._named_state():
            state[name] = np.array(t.numpy(), copy=True)
        return state

    def load_state_dict(self, state, strict=True):
        """Copy `state` into the parameters and buffers; name every missing, unexpected or
        mis-shaped entry in one ShapeError (with strict=False only shapes are checked)."""
        own = OrderedDict(self._named_state())
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
                 for name, child in self.named_children()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"


def _host(value):
    return value.numpy() if isinstance(value, Tensor) else value
