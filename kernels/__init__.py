"""Hand-written kernels on raw arrays, one package per backend; nothing here knows the graph.

kernels/contract.py declares the primitives every backend provides, kernels/composite.py writes
everything else once over them, and KernelTable puts one backend's together: an attribute per
primitive and composite, and the named variants of its variant families. The engine (its
backend module) decides which device uses which package and which variant runs.
"""
import functools

from . import composite, contract


class KernelTable:
    """One backend's kernels. `variants[family]` maps each variant name to its implementation,
    the default first; an overridden composite stays there as the variant "composite"."""

    differentiable = False  # kernels on raw arrays (the engine has a differentiable twin)

    def __init__(self, package):
        self.name = package.__name__
        missing = [p for p in contract.PRIMITIVES if not callable(getattr(package, p, None))]
        if missing:
            raise ImportError(f"{self.name} does not provide the primitives {missing} "
                              "(see kernels/contract.py)")
        for p in contract.PRIMITIVES:
            setattr(self, p, getattr(package, p))
        self.variants = {family: dict(impls) for family, impls in package.VARIANTS.items()}
        self.auto = dict(getattr(package, "AUTO", {}))
        for name in composite.COMPOSITES:
            written_once = functools.partial(getattr(composite, name), self)
            if name in self.variants:
                self.variants[name]["composite"] = written_once
            setattr(self, name, self.variants[name][next(iter(self.variants[name]))]
                    if name in self.variants else written_once)

    def __repr__(self):
        return f"<kernel table of {self.name}>"
