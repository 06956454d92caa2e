"""What a benchmark ran on, recorded beside its results: the CPU, the threads, numpy's BLAS and
the versions of every library involved."""
import importlib.metadata
import os
import platform


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas():
    """numpy's BLAS: its name and version, as numpy was built with it."""
    import numpy as np
    try:
        found = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{found.get('name')} {found.get('version')}"
    except Exception:  # noqa: BLE001  (older numpy, other builds: not worth failing a run for)
        return "unknown"


def versions(packages=("engine", "numpy", "numba", "numba-cuda", "cupy-cuda12x", "cupy-cuda13x",
                       "torch")):
    found = {}
    for package in packages:
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = None
    return found


def describe(threads=None):
    """A JSON-ready description of this machine and software."""
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "threads": threads, "blas": blas(),
            "python": platform.python_version(), "platform": platform.platform(),
            "versions": versions()}


def subtitle(machine, date):
    """One line for a chart: the machine and the date."""
    return (f"{machine['cpu']}, {machine['threads']} of {machine['cores']} threads, "
            f"{machine['blas']}; {date}")
