"""Timing with warm-up and medians, and the machine's measured GEMM rate."""
import time

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
