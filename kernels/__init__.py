"""Hand-written kernels, one package per backend, all filling the same table of functions.

An op asks `table(device)` for its device's kernels and never branches on the device itself.
A new backend is a new package here that defines the same names as `kernels.cpu`.
"""
import importlib

from engine.errors import DeviceError

DEVICES = ("cpu", "cuda")
_tables = {}


def table(device):
    """The kernel table (a module) of `device`."""
    try:
        return _tables[device]
    except KeyError:
        pass
    if device not in DEVICES:
        raise DeviceError(f"unknown device {device!r}; expected one of {DEVICES}")
    if device == "cuda":
        import engine.cuda
        engine.cuda.require()
    _tables[device] = importlib.import_module(f"kernels.{device}")
    return _tables[device]
