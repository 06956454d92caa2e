"""The per-op profiler: with eg.profile() as p: ...; print(p.table()).

Every Function's forward and backward is timed (wall clock, after the kernel returns) and its
floating-point operations counted: an op sets self.flops in forward (GEMM-like ops count
2*m*n*k, elementwise ops default to one per output element) and its backward costs
backward_cost times that. Ops with several implementations get a row per variant that ran
(conv2d[winograd], conv2d[im2col]): "auto" shows as the variant it chose.

On the GPU the rows also count the kernels launched and the host-to-device copies made (each
copy synchronizes: an op that copies cannot overlap the GPU with Python), forward and backward
together; the columns appear when something was launched.

Profiling is per thread: a profile records the ops run by the thread that opened it, and
another thread's ops go to that thread's own profile, if it has one open.
"""
import threading
import time
from collections import defaultdict

from . import backend


class _Active(threading.local):
    profile = None  # the innermost open Profile of this thread


_state = _Active()


def active():
    """The Profile recording this thread's ops now, or None."""
    return _state.profile


class Profile:
    def __init__(self):
        self.stats = defaultdict(lambda: {"calls": 0, "forward_s": 0.0, "backward_s": 0.0,
                                          "backward_calls": 0, "flops": 0.0,
                                          "launches": 0, "copies": 0})

    def __enter__(self):
        self._outer, _state.profile = _state.profile, self
        self._started = time.perf_counter()
        return self

    def __exit__(self, *exc):
        _state.profile = self._outer
        self.wall_s = time.perf_counter() - self._started

    def record(self, op, phase, seconds, flops, variant=None, counted=(0, 0)):
        """One forward or backward of op; counted is backend.launch_counts() when it began."""
        entry = self.stats[op, variant]
        launches, copies = backend.launch_counts()
        entry["launches"] += launches - counted[0]
        entry["copies"] += copies - counted[1]
        if phase == "forward":
            entry["calls"] += 1
            entry["forward_s"] += seconds
        else:
            entry["backward_calls"] += 1
            entry["backward_s"] += seconds
        entry["flops"] += flops or 0

    def rows(self):
        """One dict per op and variant (None for ops with one implementation), the most
        expensive first; "name" is op[variant]."""
        rows = []
        for (op, variant), e in self.stats.items():
            total = e["forward_s"] + e["backward_s"]
            name = op if variant is None else f"{op}[{variant}]"
            rows.append(dict(op=op, variant=variant, name=name, total_s=total, gflops_per_s=e["flops"] / total / 1e9 if total else 0.0,
                             **e))
        return sorted(rows, key=lambda r: -r["total_s"])

    def table(self, limit=None):
        everything = self.rows()
        rows = everything[:limit]
        total = sum(r["total_s"] for r in everything) or 1.0
        gpu = any(r["launches"] or r["copies"] for r in everything)  # columns for the GPU only
        header = (f"{'op':<34}{'calls':>7}{'forward ms':>12}{'backward ms':>13}{'total ms':>11}"
                  f"{'share':>8}{'GFLOP':>10}{'GFLOP/s':>10}"
                  + (f"{'launches':>10}{'copies':>8}" if gpu else ""))
        lines = [header, "-" * len(header)]
        for r in rows:
            lines.append(f"{r['name']:<34}{r['calls']:>7}{r['forward_s'] * 1e3:>12.2f}"
                         f"{r['backward_s'] * 1e3:>13.2f}{r['total_s'] * 1e3:>11.2f}"
                         f"{r['total_s'] / total:>8.1%}{r['flops'] / 1e9:>10.3f}"
                         f"{r['gflops_per_s']:>10.1f}"
                         + (f"{r['launches']:>10}{r['copies']:>8}" if gpu else ""))
        lines.append(f"{'all ops':<34}{sum(r['calls'] for r in everything):>7}"
                     f"{sum(r['forward_s'] for r in everything) * 1e3:>12.2f}"
                     f"{sum(r['backward_s'] for r in everything) * 1e3:>13.2f}{total * 1e3:>11.2f}"
                     + (f"{'':>26}{sum(r['launches'] for r in everything):>10}"
                        f"{sum(r['copies'] for r in everything):>8}" if gpu else ""))
        return "\n".join(lines)


def profile():
    """A context manager that records every op run inside it (see the module docstring)."""
    return Profile()
