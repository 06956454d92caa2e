"""Containers and small utility layers, with PyTorch's constructor arguments."""
import numbers
from collections.abc import Iterable, Mapping

from .. import backend
from ..arguments import number
from ..errors import ArgumentError, ShapeError
from ..random import generator
from ..tensor import Tensor
from .module import Module


class ModuleList(Module):
    """Modules held in a list, each registered (their parameters are the list's), keyed "0", "1"...
    Unlike Sequential it has no forward: the owner decides how to call them."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _index(self, idx):
        if not isinstance(idx, numbers.Integral) or isinstance(idx, bool):
            raise ArgumentError(f"ModuleList: indices must be ints or slices, got {idx!r}")
        if not -len(self) <= idx < len(self):
            raise IndexError(f"ModuleList: index {idx} is out of range for {len(self)} modules")
        return str(idx % len(self))

    def _renumber(self, modules):
        self._modules.clear()
        for module in modules:
            self.append(module)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return ModuleList(list(self._modules.values())[idx])
        return self._modules[self._index(idx)]

    def __setitem__(self, idx, module):
        self.add_module(self._index(idx), module)

    def __delitem__(self, idx):
        modules = list(self._modules.values())
        del modules[idx if isinstance(idx, slice) else int(self._index(idx))]
        self._renumber(modules)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __iadd__(self, modules):
        return self.extend(modules)

    def __add__(self, other):
        return ModuleList(list(self) + list(other))

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        if not isinstance(modules, Iterable):
            raise ArgumentError("ModuleList.extend: expected an iterable of Modules, got "
                                f"{type(modules).__name__}")
        for module in list(modules):
            self.append(module)
        return self

    def insert(self, index, module):
        modules = list(self._modules.values())
        modules.insert(index, module)
        self._renumber(modules)

    def pop(self, idx=-1):
        module = self[idx]
        del self[idx]
        return module


class ModuleDict(Module):
    """Modules held in an ordered dict under string keys, each registered."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __delitem__(self, key):
        del self._modules[key]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def clear(self):
        self._modules.clear()

    def pop(self, key):
        module = self[key]
        del self[key]
        return module

    def keys(self):
        return self._modules.keys()

    def items(self):
        return self._modules.items()

    def values(self):
        return self._modules.values()

    def update(self, modules):
        """Add (or replace) entries from a mapping or an iterable of (key, module) pairs."""
        if isinstance(modules, (Mapping, ModuleDict)):
            pairs = modules.items()
        elif isinstance(modules, Iterable):
            pairs = []
            for i, pair in enumerate(modules):
                if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                    raise ArgumentError(f"ModuleDict.update: element {i} should be a (key, "
                                        f"module) pair, got {pair!r}")
                pairs.append(pair)
        else:
            raise ArgumentError("ModuleDict.update: expected a mapping or an iterable of (key, "
                                f"module) pairs, got {type(modules).__name__}")
        for key, module in pairs:
            self[key] = module


class Identity(Module):
    """Returns its input; takes (and ignores) any constructor arguments, as torch's."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Unflatten(Module):
    """Splits dimension dim into unflattened_size (one entry may be -1)."""

    def __init__(self, dim, unflattened_size):
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, input):
        return input.unflatten(self.dim, self.unflattened_size)

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class Dropout2d(Module):
    """Zeroes whole channels of an (N, C, H, W) or (N, C, L) input with probability p and scales
    the rest by 1 / (1 - p) in training; the identity in eval."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        self.p = number("Dropout2d", "dropout probability", p, high=1.0)
        if inplace:
            raise ArgumentError("Dropout2d: inplace=True is not supported (tensors are not "
                                "written in place here)")
        self.inplace = False

    def forward(self, input):
        if input.ndim not in (3, 4):
            raise ShapeError(f"Dropout2d: expected a 3-D (N, C, L) or 4-D (N, C, H, W) input, "
                             f"got shape {input.shape}")
        if not self.training or self.p == 0:
            return input
        if self.p == 1:
            return input * 0
        seed = int(generator().integers(2 ** 31))
        mask_shape = input.shape[:2] + (1,) * (input.ndim - 2)  # one draw per channel
        mask = backend.table(input.device).dropout_mask(mask_shape, self.p, seed, input.dtype)
        return input * Tensor._from_array(mask, input.device)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"

__all__ = ["ModuleList", "ModuleDict", "Identity", "Unflatten", "Dropout2d"]
