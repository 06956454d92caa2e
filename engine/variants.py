"""Named kernel implementations: pick one per op with use_variant() or an op's variant= keyword.

Each backend lists its variants in its kernel table's VARIANTS, default first, e.g.
kernels.cpu.VARIANTS["conv2d"] == ("im2col", "direct").
"""
import contextlib

_chosen = {}


@contextlib.contextmanager
def use_variant(**choices):
    """Within the block, run each named op with the given variant: use_variant(conv2d="direct")."""
    previous = dict(_chosen)
    _chosen.update(choices)
    try:
        yield
    finally:
        _chosen.clear()
        _chosen.update(previous)


def resolve(op, kernels_table, explicit=None):
    """The variant `op` runs with on this kernel table: explicit, else chosen, else the default."""
    available = kernels_table.VARIANTS[op]
    name = explicit or _chosen.get(op) or available[0]
    if name not in available:
        raise ValueError(f"{op}: no variant {name!r} on this device; variants: {', '.join(available)}")
    return name
