"""The per-op profiler: with eg.profile() as p: ...; print(p.table()); p.export_chrome_trace(f).

Every Function's forward and backward is timed (wall clock, after the kernel returns) and its
floating-point operations counted: an op sets self.flops in forward (GEMM-like ops count
2*m*n*k, elementwise ops default to one per output element) and its backward costs
backward_cost times that. Ops with several implementations get a row per variant that ran
(conv2d[winograd], conv2d[im2col]): "auto" shows as the variant it chose. With
record_shapes=True the rows are split further by the inputs' shapes. Optimizer steps get rows
of their own, and one row holds the time outside them all (Python, graph bookkeeping, data).

Each row counts the bytes of the new arrays its calls returned (outputs, gradients; not views);
with memory=True also the peak of host memory a call used above what it started with (numpy's
allocations, seen through tracemalloc, which slows every allocation: off by default).
On the GPU the rows also count the kernels launched and the host-to-device copies made (each
copy synchronizes: an op that copies cannot overlap the GPU with Python); those columns appear
when something was launched. GPU kernels run asynchronously: an op's time is the time to launch
its kernels unless synchronize=True waits for them after each op.

ENGINE_DEBUG=2 in the environment logs every op's forward and backward to stderr as it runs, as
tinygrad's DEBUG=2 does: the op and variant, the shapes, the time (after the device finished)
and GFLOP/s.

Profiling is per thread: a profile records the ops run by the thread that opened it, and
another thread's ops go to that thread's own profile, if it has one open.
"""
import json
import os
import sys
import threading
import time
import tracemalloc
from collections import defaultdict

from . import backend

# ENGINE_DEBUG=2 logs every op (read once, at import, as the other ENGINE_ variables)
DEBUG = int(os.environ.get("ENGINE_DEBUG") or 0)
OUTSIDE = "(outside the ops)"


class _Active(threading.local):
    profile = None  # the innermost open Profile of this thread


_state = _Active()


def active():
    """The Profile recording this thread's ops now, or None."""
    return _state.profile


def recording():
    """Whether this thread's ops are being watched (a profile is open, or ENGINE_DEBUG=2)."""
    return _state.profile is not None or DEBUG >= 2


def start(device):
    """Called as an op begins while recording(): what finish() needs."""
    if _state.profile is not None:
        _state.profile._op_starting()
    return backend.launch_counts(), time.perf_counter()


def finish(began, op, phase, flops, variant, device, inputs, results, gradient=None):
    """Called as the op ends: records it in the open profile and logs it under ENGINE_DEBUG=2.
    inputs and results are the arrays (or Tensors) in and out, for their shapes and bytes; a
    backward also gives the gradient it was given (a result that views it is no new memory)."""
    profile = _state.profile
    if DEBUG >= 2 or (profile is not None and profile.synchronize):
        backend.synchronize(device)
    seconds = time.perf_counter() - began[1]
    launches, copies = backend.launch_counts()
    counted = (launches - began[0][0], copies - began[0][1])
    shapes = _shapes(inputs)
    # views of an input (a reshape's output) allocate nothing
    given = {_buffer(getattr(a, "data", a)) for a in (*inputs, gradient)}
    nbytes = sum(int(getattr(r, "nbytes", 0)) for r in results
                 if r is not None and _buffer(r) not in given)
    if profile is not None:
        profile.record(op, phase, began[1], seconds, flops, variant, counted, shapes, nbytes)
    if DEBUG >= 2:
        name = op if variant is None else f"{op}[{variant}]"
        out = _shapes(results)
        rate = (flops or 0) / seconds / 1e9 if seconds else 0.0
        gpu = f"  {counted[0]} launches, {counted[1]} copies" if any(counted) else ""
        print(f"{name:<24} {phase:<8} {device:<4} {seconds * 1e3:9.3f} ms {rate:9.2f} GFLOP/s  "
              f"{shapes} -> {out}{gpu}", file=sys.stderr)


def _buffer(a):
    """The identity of the memory a (a view, perhaps) lies in."""
    while getattr(a, "base", None) is not None and hasattr(a.base, "shape"):
        a = a.base
    return id(a)


def _shapes(arrays):
    return ", ".join("x".join(map(str, a.shape)) or "scalar" for a in arrays
                     if hasattr(a, "shape"))


class Profile:
    def __init__(self, record_shapes=False, memory=False, synchronize=False):
        self.record_shapes, self.memory, self.synchronize = record_shapes, memory, synchronize
        self.stats = defaultdict(lambda: {"calls": 0, "forward_s": 0.0, "backward_s": 0.0,
                                          "backward_calls": 0, "step_s": 0.0, "flops": 0.0,
                                          "launches": 0, "copies": 0, "bytes": 0,
                                          "peak_bytes": 0})
        self.events = []  # (name, phase, start s, seconds, args) for the trace
        self.wall_s = None

    def __enter__(self):
        self._outer, _state.profile = _state.profile, self
        self._tracing = self.memory and not tracemalloc.is_tracing()
        if self._tracing:
            tracemalloc.start()
        self._started = time.perf_counter()
        self._thread = threading.get_ident()
        return self

    def __exit__(self, *exc):
        self.wall_s = time.perf_counter() - self._started
        _state.profile = self._outer
        if self._tracing:
            tracemalloc.stop()

    def _op_starting(self):
        if self.memory and tracemalloc.is_tracing():
            tracemalloc.reset_peak()
            self._memory_before = tracemalloc.get_traced_memory()[0]

    def record(self, op, phase, started, seconds, flops, variant=None, counted=(0, 0),
               shapes="", nbytes=0):
        """One forward, backward or optimizer step ("step") of op, begun at perf_counter
        `started`; counted is its (kernel launches, host-to-device copies)."""
        entry = self.stats[op, variant, shapes if self.record_shapes else None]
        if phase == "forward":
            entry["calls"] += 1
        entry[f"{phase}_s"] += seconds
        if phase == "backward":
            entry["backward_calls"] += 1
        if phase == "step":
            entry["calls"] += 1
        entry["flops"] += flops or 0
        entry["launches"] += counted[0]
        entry["copies"] += counted[1]
        entry["bytes"] += nbytes
        if self.memory and tracemalloc.is_tracing():
            peak = tracemalloc.get_traced_memory()[1] - self._memory_before
            entry["peak_bytes"] = max(entry["peak_bytes"], peak)
        name = op if variant is None else f"{op}[{variant}]"
        self.events.append((name, phase, started, seconds,
                            {"shapes": shapes, "flops": flops or 0, "launches": counted[0],
                             "copies": counted[1], "bytes": nbytes}))

    def rows(self, outside=False):
        """One dict per op and variant (None for ops with one implementation; and input shapes
        with record_shapes) and per optimizer's steps, the most expensive first; "name" is
        op[variant]. outside=True adds a row for the time outside them all (as the table)."""
        rows = []
        for (op, variant, shapes), e in self.stats.items():
            total = e["forward_s"] + e["backward_s"] + e["step_s"]
            name = op if variant is None else f"{op}[{variant}]"
            rows.append(dict(op=op, variant=variant, shapes=shapes, name=name, total_s=total,
                             gflops_per_s=e["flops"] / total / 1e9 if total else 0.0, **e))
        if outside and rows:
            rows.append(dict(op=OUTSIDE, variant=None, shapes=None, name=OUTSIDE,
                             total_s=self.outside_s, gflops_per_s=0.0,
                             **{k: 0 for k in self.stats.default_factory()}))
        return sorted(rows, key=lambda r: -r["total_s"])

    @property
    def outside_s(self):
        """The profile's time outside the ops and optimizer steps: Python, graph bookkeeping,
        data loading (0 when the recorded calls nest, so that their times overlap)."""
        wall = self.wall_s if self.wall_s is not None else time.perf_counter() - self._started
        inside = sum(e["forward_s"] + e["backward_s"] + e["step_s"] for e in self.stats.values())
        return max(0.0, wall - inside)

    def table(self, limit=None):
        everything = self.rows(outside=True)
        rows = everything[:limit]
        total = sum(r["total_s"] for r in everything) or 1.0
        gpu = any(r["launches"] or r["copies"] for r in everything)  # columns for the GPU only
        peak = any(r["peak_bytes"] for r in everything)
        width = max([34] + [len(self._label(r)) + 2 for r in rows])
        header = (f"{'op':<{width}}{'calls':>7}{'forward ms':>12}{'backward ms':>13}"
                  f"{'total ms':>11}{'share':>8}{'GFLOP':>10}{'GFLOP/s':>10}{'out MB':>9}"
                  + (f"{'peak MB':>9}" if peak else "")
                  + (f"{'launches':>10}{'copies':>8}" if gpu else ""))
        lines = [header, "-" * len(header)]
        for r in rows:
            lines.append(f"{self._label(r):<{width}}{r['calls'] or '':>7}"
                         f"{self._ms(r['forward_s']):>12}{self._ms(r['backward_s']):>13}"
                         f"{r['total_s'] * 1e3:>11.2f}{r['total_s'] / total:>8.1%}"
                         f"{r['flops'] / 1e9:>10.3f}{r['gflops_per_s']:>10.1f}"
                         f"{r['bytes'] / 2**20:>9.2f}"
                         + (f"{r['peak_bytes'] / 2**20:>9.2f}" if peak else "")
                         + (f"{r['launches']:>10}{r['copies']:>8}" if gpu else ""))
        lines.append(f"{'total':<{width}}{sum(r['calls'] for r in everything):>7}"
                     f"{sum(r['forward_s'] for r in everything) * 1e3:>12.2f}"
                     f"{sum(r['backward_s'] for r in everything) * 1e3:>13.2f}{total * 1e3:>11.2f}"
                     + (f"{'':>{46 if peak else 37}}{sum(r['launches'] for r in everything):>10}"
                        f"{sum(r['copies'] for r in everything):>8}" if gpu else ""))
        return "\n".join(lines)

    @staticmethod
    def _label(row):
        return row["name"] + (f" ({row['shapes']})" if row["shapes"] else "")

    @staticmethod
    def _ms(seconds):
        return f"{seconds * 1e3:.2f}" if seconds else "-"

    def export_chrome_trace(self, path):
        """Write the recorded calls as a Chrome trace (the Trace Event Format's JSON), which
        Perfetto (ui.perfetto.dev) and chrome://tracing open: one complete event per forward,
        backward and optimizer step, with its shapes, FLOPs, bytes and GPU counts as args."""
        pid = os.getpid()
        events = [{"name": name, "cat": phase, "ph": "X", "pid": pid, "tid": self._thread,
                   "ts": (started - self._started) * 1e6, "dur": seconds * 1e6, "args": args}
                  for name, phase, started, seconds, args in self.events]
        events.append({"name": "thread_name", "ph": "M", "pid": pid, "tid": self._thread,
                       "args": {"name": "engine ops"}})
        with open(path, "w") as f:
            json.dump({"traceEvents": events, "displayTimeUnit": "ms"}, f)
        return path


def profile(record_shapes=False, memory=False, synchronize=False):
    """A context manager that records every op run inside it (see the module docstring)."""
    return Profile(record_shapes, memory, synchronize)
