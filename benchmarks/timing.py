"""Timing with warm-up and medians (measure, Timer), and the machine's measured peaks."""
import time
from dataclasses import dataclass

import numpy as np


def measure(fn, warmup=3, repeats=15, device="cpu", events=None):
    """Median and inter-quartile range of fn()'s time in seconds, after warm-up.

    On a GPU each call is bracketed by CUDA events and the device is synchronized once, after
    the loop, so that no synchronization sits inside the timed region; elsewhere (the CPU, or
    Numba's simulator) the wall clock is used. `events()` gives (new event, synchronize, elapsed
    ms between two events) of the library whose stream fn runs on: Numba's by default,
    PyTorch's for PyTorch's kernels.
    """
    from engine import backend
    for _ in range(warmup):
        fn()
    if device == "cuda" and not backend.simulated():
        times = _cuda_event_times(fn, repeats, (events or numba_events)())
    else:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    q1, median, q3 = np.percentile(times, [25, 50, 75])
    return median, q3 - q1


@dataclass
class Measurement:
    """What a Timer measured: the time of one run of the statement, in seconds, for each block
    of `number_per_run` runs (a block's time / number_per_run)."""
    times: list
    number_per_run: int
    label: str = ""

    @property
    def median(self):
        return float(np.median(self.times))

    @property
    def mean(self):
        return float(np.mean(self.times))

    @property
    def iqr(self):
        q1, q3 = np.percentile(self.times, [25, 50 + 25])
        return float(q3 - q1)

    def __repr__(self):
        unit, scale = next((u, s) for u, s in (("s", 1), ("ms", 1e3), ("us", 1e6), ("ns", 1e9))
                           if self.median * s >= 1 or u == "ns")
        return (f"<Measurement {self.label or 'stmt'}: median {self.median * scale:.3g} {unit}, "
                f"IQR {self.iqr * scale:.3g} {unit}, {len(self.times)} blocks of "
                f"{self.number_per_run} runs>")


class Timer:
    """Times a statement as torch.utils.benchmark.Timer does: a callable, or Python source run
    with `globals` after `setup`. On the cuda device each block of runs is bracketed by CUDA
    events (no synchronization inside the timed region); elsewhere, and in Numba's simulator,
    by the wall clock.

        t = Timer(lambda: F.conv2d(x, w, padding=1), label="conv2d")
        m = t.blocked_autorange(min_run_time=0.5)   # m.median, m.iqr, m.times
    """

    def __init__(self, stmt, setup="", globals=None, device="cpu", label=""):
        if callable(stmt):
            self._run = stmt
        else:
            namespace = dict(globals or {})
            exec(compile(setup, "<setup>", "exec"), namespace)
            code = compile(stmt, "<stmt>", "exec")
            self._run = lambda: exec(code, namespace)  # noqa: S102  (the user's statement)
        self.device, self.label = device, label or (stmt if isinstance(stmt, str) else "")

    def _block(self, number):
        """Seconds for `number` runs in a row."""
        from engine import backend

        def runs():
            for _ in range(number):
                self._run()
        if self.device == "cuda" and not backend.simulated():
            return _cuda_event_times(runs, 1, numba_events())[0]
        start = time.perf_counter()
        runs()
        return time.perf_counter() - start

    def timeit(self, number=100):
        """One warm-up run, then one block of `number` runs."""
        self._run()
        return Measurement([self._block(number) / number], number, self.label)

    def blocked_autorange(self, min_run_time=0.2, warmup=1):
        """After `warmup` runs, blocks of runs (as many runs a block as make it last at least a
        50th of min_run_time, and 1 ms) until min_run_time has passed and 3 blocks at least: a
        fast statement is timed over many runs, a slow one run by run."""
        for _ in range(warmup):
            self._run()
        target, number = max(min_run_time / 50, 1e-3), 1
        while (took := self._block(number)) < target and number < 10 ** 9:
            number *= max(2, min(10, int(target / max(took, 1e-9))))
        times, total = [took / number], took
        while total < min_run_time or len(times) < 3:
            took = self._block(number)
            times.append(took / number)
            total += took
        return Measurement(times, number, self.label)


def numba_events():
    from numba import cuda
    return cuda.event, cuda.synchronize, cuda.event_elapsed_time


def _cuda_event_times(fn, repeats, events):
    event, synchronize, elapsed_ms = events
    synchronize()
    marks = [(event(), event()) for _ in range(repeats)]
    for start, stop in marks:
        start.record()
        fn()
        stop.record()
    synchronize()
    return [elapsed_ms(start, stop) / 1e3 for start, stop in marks]


def sgemm_rate(n=2048):
    """GFLOP/s of the engine's float32 matrix product (numpy's BLAS on the kernels' threads) on
    square n x n matrices."""
    from kernels.cpu.linalg import matmul
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    median, _ = measure(lambda: matmul(a, a), warmup=2, repeats=5)
    return 2 * n ** 3 / median / 1e9


def copy_bandwidth(megabytes=256):
    """GB/s of a large array copy (bytes read plus bytes written)."""
    source = np.ones(megabytes * 2**20 // 4, np.float32)
    target = np.empty_like(source)
    median, _ = measure(lambda: np.copyto(target, source), warmup=2, repeats=5)
    return 2 * source.nbytes / median / 1e9


def reference_check(case, device):
    """"ok" when the case's op agrees with kernels/reference on its catalogue case's small
    inputs, "MISMATCH" when not, "unchecked" without a catalogue case."""
    import engine as eg
    from engine import backend
    from engine.check.catalog import BY_NAME, RandomDrawer
    reference = BY_NAME.get(case.catalog)
    if reference is None:
        return "unchecked"
    side = 2 if backend.simulated(device) else 4
    arrays, params = reference.draw(RandomDrawer(np.random.default_rng(0), side=side))
    got = reference.fn(*(eg.tensor(a, device=device) for a in arrays), **params).numpy()
    want = reference.reference(*arrays, **params)
    return "ok" if np.allclose(got, want, rtol=1e-8, atol=1e-8) else "MISMATCH"
