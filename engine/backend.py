"""The one place that knows devices: which exist, whether each can be used (and why not), their
kernel tables, moving arrays between them, and which variant of a kernel runs.

An op never branches on a device: its Function carries the kernel table of its inputs' device
(`backend.table`), and asks `resolve` for the kernels of a variant family (conv2d, matmul, or a
composite a backend overrides with a fused kernel). "auto" is decided here, once per call, by
the backend's own rule; the Function records the concrete variant, which the profiler shows.
"""
import contextlib
import functools
import importlib
import os
import sys
import threading

from kernels import KernelTable

from .errors import DeviceError, VariantError

# device -> the kernels package that implements it
PACKAGES = {"cpu": "kernels.cpu", "cuda": "kernels.cuda"}
DEVICES = tuple(PACKAGES)
HOST = "cpu"  # where numpy arrays live; tensors elsewhere say their device when printed
AUTO = "auto"


def simulated(device="cuda"):
    """True when `device` runs in a simulator: Numba's CUDA simulator stands in for a GPU when
    NUMBA_ENABLE_CUDASIM=1, running the very same kernels on numpy arrays on any machine."""
    return device == "cuda" and os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"


def launch_counts():
    """(kernel launches, host-to-device copies) this thread has made on the GPU so far: (0, 0)
    until the cuda backend is loaded (asking never loads it)."""
    device = sys.modules.get("kernels.cuda.device")
    return (device.counts.launches, device.counts.copies) if device else (0, 0)


def synchronize(device):
    """Wait for the work queued on `device` (a no-op on the host and in the simulator)."""
    if device == "cuda" and not simulated():
        from numba import cuda
        cuda.synchronize()


def why_unavailable(device):
    """None when `device` can be used, else the reason it cannot (checked afresh each call)."""
    if device not in PACKAGES:
        return f"unknown device {device!r}; expected one of {DEVICES}"
    if device == HOST:
        return None
    try:
        from numba import cuda
    except ImportError:
        return "Numba's CUDA target is not installed (pip install -e '.[cuda]')"
    if simulated():
        return None
    try:
        import cupy  # noqa: F401
    except ImportError:
        return ("CuPy is not installed (pip install -e '.[cuda]'); or set NUMBA_ENABLE_CUDASIM=1 "
                "to run the CUDA kernels in Numba's simulator")
    try:
        if not cuda.is_available():
            return "no CUDA driver or GPU was found"
    except Exception as e:  # noqa: BLE001  (a broken driver says so in many ways)
        return f"the CUDA driver failed: {e}"
    return None


@functools.lru_cache(maxsize=None)
def _availability(device):
    return why_unavailable(device)


def is_available(device):
    return _availability(device) is None


@functools.lru_cache(maxsize=None)
def _load(device):
    why = _availability(device)
    if why is not None:
        raise DeviceError(why if device not in PACKAGES else f"{device} device unavailable: {why}")
    return KernelTable(importlib.import_module(PACKAGES[device]))


def table(device):
    """The kernel table of `device`; DeviceError, saying why, when it is unknown or unusable."""
    return _load(device)


def common_device(op, tensors):
    """The one device of `tensors` (the host when there are none), or DeviceError."""
    devices = {t.device for t in tensors}
    if len(devices) > 1:
        raise DeviceError(f"{op}: tensors on different devices {sorted(devices)}; "
                          "move them to one device with .to(device)")
    return devices.pop() if devices else HOST


def move(array, source, target):
    """An array of device `source` as a new array on device `target`."""
    return table(target).from_host(table(source).to_host(array))


# --- variants ------------------------------------------------------------------------------------
_state = threading.local()  # each thread's use_variant choices


def _choices():
    if not hasattr(_state, "choices"):
        _state.choices = {}
    return _state.choices


@contextlib.contextmanager
def use_variant(**choices):
    """Within the block (in this thread), run each named family with the given variant:
    use_variant(conv2d="direct"), use_variant(matmul="tiled")."""
    chosen = _choices()
    previous = dict(chosen)
    chosen.update(choices)
    try:
        yield
    finally:
        chosen.clear()
        chosen.update(previous)


def variants(family, device):
    """The variant names of `family` on `device`, the default first ("auto" where it has a rule)."""
    k = table(device)
    names = tuple(k.variants.get(family, ()))
    return ((AUTO,) if family in k.auto else ()) + names


def all_variants(family):
    """The variant names of `family` on every usable device, each once (for tests, benchmarks)."""
    names = []
    for device in DEVICES:
        if is_available(device):
            names += [n for n in variants(family, device) if n not in names]
    return tuple(names)


def runs_on(family, name, device):
    """Whether `device` has the variant `name` of `family` ("auto" runs everywhere)."""
    return name == AUTO or name in table(device).variants.get(family, ())


def resolve(k, family, explicit=None, **context):
    """(name, implementation) of the variant of `family` that runs on kernel table `k`: the
    explicit one, else this thread's use_variant choice, else the default; "auto" is decided
    here by the backend's rule for the call's `context` (shapes and parameters). A kernel with
    one implementation on this backend is (None, that implementation)."""
    available = k.variants.get(family)
    if available is None:
        if explicit not in (None, AUTO):
            raise VariantError(f"{family}: no variant {explicit!r} on this device; it has one "
                               "implementation")
        return None, getattr(k, family)
    default = AUTO if family in k.auto else next(iter(available))
    name = explicit or _choices().get(family) or default
    if name == AUTO:  # the backend's rule, or its default where it has none
        name = k.auto[family](**context) if family in k.auto else next(iter(available))
    if name not in available:
        names = ((AUTO,) if family in k.auto else ()) + tuple(available)
        raise VariantError(f"{family}: no variant {name!r} on this device; variants: "
                           f"{', '.join(names)}")
    return name, available[name]
