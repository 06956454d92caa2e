"""State that changes behaviour is per thread: grad mode, profiling, variant choice and scratch
buffers. Two threads training two models get exactly what they get one after the other."""
import contextlib
import os
import subprocess
import sys
import gc
import threading

import numpy as np
import pytest

import engine as eg
from engine import optim, profiler
from engine.course import models
from kernels.cpu import workspace

F = eg.nn.functional

STEPS = 3     # training steps per run
REPEATS = 3   # concurrent runs per test: races are intermittent
BATCH = 16
TIMEOUT = 120  # seconds a thread may take before the test fails instead of hanging


def _problem(seed):
    """A course CNN and its batches, built deterministically (in the calling thread)."""
    eg.manual_seed(seed)
    model = models.CNN()
    rng = np.random.default_rng(seed)
    batches = [(rng.standard_normal((BATCH, 1, 28, 28)).astype(np.float32),
                rng.integers(0, 10, BATCH)) for _ in range(STEPS)]
    return model, batches


def _variant(variant):
    return eg.use_variant(conv2d=variant) if variant else contextlib.nullcontext()


def _train(model, batches, variant=None, barrier=None, check_grads=False):
    """SGD with momentum over the batches; the parameters afterwards as numpy arrays."""
    if barrier is not None:
        barrier.wait(TIMEOUT)
    params = list(model.parameters())
    optimizer = optim.SGD(params, lr=0.05, momentum=0.9)
    with _variant(variant):
        for images, labels in batches:
            loss = F.cross_entropy(model(eg.tensor(images)), eg.tensor(labels))
            optimizer.zero_grad()
            loss.backward()
            if check_grads:
                missing = [i for i, p in enumerate(params) if p.grad is None]
                assert not missing, f"parameters {missing} got no gradient"
            optimizer.step()
    return [p.numpy().copy() for p in params]


def _in_threads(*jobs):
    """Run each zero-argument job in its own thread; their results, re-raising any failure."""
    results, errors = [None] * len(jobs), [None] * len(jobs)

    def run(i, job):
        try:
            results[i] = job()
        except BaseException as e:  # noqa: BLE001 - handed to the main thread
            errors[i] = e

    threads = [threading.Thread(target=run, args=(i, job), daemon=True)
               for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
        assert not t.is_alive(), "a thread did not finish"
    for e in errors:
        if e is not None:
            raise e
    return results


def _assert_same(got, expected, what):
    for i, (a, b) in enumerate(zip(got, expected)):
        assert np.array_equal(a, b), (f"{what}: parameter {i} differs from the sequential run "
                                      f"by up to {np.max(np.abs(a - b)):.3g}")


@pytest.mark.parametrize("variant", [None, "winograd", "im2col"])
def test_two_threads_train_as_one_after_the_other(variant):
    seeds = (1, 2)
    expected = [_train(*_problem(seed), variant) for seed in seeds]
    for repeat in range(REPEATS):
        problems = [_problem(seed) for seed in seeds]  # built here: the generator is global
        barrier = threading.Barrier(len(problems))
        got = _in_threads(*[lambda p=p: _train(*p, variant, barrier) for p in problems])
        for seed, g, e in zip(seeds, got, expected):
            _assert_same(g, e, f"conv2d={variant or 'default'}, repeat {repeat}, seed {seed}")


def test_no_grad_in_one_thread_loses_no_gradient_in_another():
    expected = _train(*_problem(3))
    problem = _problem(3)
    eg.manual_seed(4)
    other = models.CNN()
    x = eg.tensor(np.random.default_rng(4).standard_normal((4, 1, 28, 28)).astype(np.float32))
    barrier, done = threading.Barrier(2), threading.Event()

    def inference():
        barrier.wait(TIMEOUT)
        loops = 0
        while not done.is_set() or loops < 5:
            with eg.no_grad():
                assert not eg.is_grad_enabled()
                y = other(x)
                assert not y.requires_grad
            loops += 1
        return loops

    def training():
        try:
            return _train(*problem, barrier=barrier, check_grads=True)
        finally:
            done.set()

    got, loops = _in_threads(training, inference)
    assert loops >= 5
    _assert_same(got, expected, "training beside a no_grad loop")
    assert eg.is_grad_enabled()


def test_overlapping_no_grad_blocks_in_two_threads():
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def wait(event):
        assert event.wait(TIMEOUT)

    def thread_a():
        with eg.no_grad():
            seen["a inside"] = eg.is_grad_enabled()
            a_in.set()
            wait(b_in)
            seen["a inside, b inside"] = eg.is_grad_enabled()
        seen["a after"] = eg.is_grad_enabled()
        a_out.set()

    def thread_b():
        wait(a_in)
        seen["b before, a inside"] = eg.is_grad_enabled()
        with eg.no_grad():
            b_in.set()
            wait(a_out)
            seen["b inside, a out"] = eg.is_grad_enabled()
        seen["b after"] = eg.is_grad_enabled()

    def main_thread_while_a_inside():
        wait(a_in)
        seen["main, a inside"] = eg.is_grad_enabled()

    threads = [threading.Thread(target=f, daemon=True) for f in (thread_a, thread_b)]
    for t in threads:
        t.start()
    main_thread_while_a_inside()
    for t in threads:
        t.join(TIMEOUT)
    assert seen == {"a inside": False, "a inside, b inside": False, "a after": True,
                    "b before, a inside": True, "main, a inside": True,
                    "b inside, a out": False, "b after": True}
    assert eg.is_grad_enabled()
    w = eg.ones(3, requires_grad=True)
    assert (w * 2).requires_grad


def test_a_new_thread_starts_with_grad_enabled():
    with eg.no_grad():
        assert _in_threads(eg.is_grad_enabled) == [True]
        assert not eg.is_grad_enabled()
    with eg.no_grad():
        with eg.enable_grad():
            inner = _in_threads(lambda: (eg.is_grad_enabled(), _no_grad_mode()))
        assert not eg.is_grad_enabled()
    assert inner == [(True, False)]


def _no_grad_mode():
    with eg.no_grad():
        return eg.is_grad_enabled()


def test_a_profile_records_only_its_own_threads_ops():
    opened, ran = threading.Event(), threading.Event()
    x = eg.ones(4, 4)

    def profiled():
        with eg.profile() as p:
            opened.set()
            assert ran.wait(TIMEOUT)
            x.relu()
            assert profiler.active() is p
        return p

    def other():
        try:
            assert opened.wait(TIMEOUT)
            assert profiler.active() is None
            for _ in range(3):
                x.exp()
        finally:
            ran.set()

    with eg.profile() as outer:
        p, _ = _in_threads(profiled, other)
        x.sqrt()
    assert profiler.active() is None
    assert {r["op"] for r in p.rows()} == {"relu"}
    assert {r["op"] for r in outer.rows()} == {"sqrt"}
    assert "relu" in p.table()


# --- scratch buffers ------------------------------------------------------------------------------
def test_scratch_buffers_are_per_thread():
    mine = workspace.scratch("test", (64,), np.float32)
    assert workspace.scratch("test", (64,), np.float32) is mine  # reused within a thread
    theirs = _in_threads(lambda: workspace.scratch("test", (64,), np.float32))[0]
    assert not np.shares_memory(mine, theirs)
    workspace.clear()


def _convolve(shapes, variant):
    with eg.use_variant(conv2d=variant):
        for x_shape, w_shape in shapes:
            x = eg.tensor(np.ones(x_shape, np.float32), requires_grad=True)
            w = eg.tensor(np.full(w_shape, 0.01, np.float32), requires_grad=True)
            F.conv2d(x, w, padding=1).sum().backward()
            yield


# im2col column buffers of 18 to 36 MiB each (two per shape: forward and input gradient), together
# well above the default bound; winograd's transformed tiles are a quarter to half of that
LARGE = [((8, 32, 64, 32), (32, 32, 3, 3)), ((8, 64, 64, 32), (32, 64, 3, 3)),
         ((6, 64, 64, 32), (64, 64, 3, 3)), ((2, 64, 64, 32), (16, 64, 3, 3))]


def test_scratch_memory_is_bounded_and_freed():
    eg.empty_cache()
    assert workspace.cached_bytes() == 0
    for variant in ("im2col", "winograd"):
        for _ in _convolve(LARGE, variant):
            assert 0 < workspace.cached_bytes() <= workspace.MAX_BYTES
    eg.empty_cache()
    assert workspace.cached_bytes() == 0


def test_a_buffer_larger_than_the_bound_is_not_cached(monkeypatch):
    monkeypatch.setattr(workspace, "MAX_BYTES", 2**20)
    eg.empty_cache()
    buffer = workspace.scratch("test", (2**20 // 4 + 1,), np.float32)
    assert workspace.cached_bytes() == 0
    assert workspace.scratch("test", buffer.shape, np.float32) is not buffer
    small = [workspace.scratch(f"test{i}", (2**16,), np.float32) for i in range(5)]  # 256 KiB each
    assert workspace.cached_bytes() == 4 * 2**18  # the least recently used one went
    assert workspace.scratch("test4", (2**16,), np.float32) is small[4]
    assert workspace.scratch("test0", (2**16,), np.float32) is not small[0]
    eg.empty_cache()
    assert workspace.cached_bytes() == 0


def test_empty_cache_frees_every_threads_buffers():
    eg.empty_cache()
    filled, emptied = threading.Event(), threading.Event()

    def worker():
        for _ in _convolve(LARGE[:1], "im2col"):
            pass
        before = workspace.cached_bytes()
        filled.set()
        assert emptied.wait(TIMEOUT)
        return before, workspace.cached_bytes()

    def main():
        assert filled.wait(TIMEOUT)
        assert workspace.cached_bytes() == 0  # the worker's buffers are its own
        total = workspace.cached_bytes(all_threads=True)
        eg.empty_cache()
        emptied.set()
        return total

    (before, after), total = _in_threads(worker, main)
    assert before > 0 and total >= before and after == 0


def test_a_finished_thread_leaves_no_buffers():
    eg.empty_cache()
    mine = workspace.scratch("test", (2**16,), np.float32).nbytes
    theirs = _in_threads(lambda: workspace.scratch("test", (2**17,), np.float32).nbytes)[0]
    gc.collect()
    assert workspace.cached_bytes(all_threads=True) == mine != theirs
    eg.empty_cache()


# --- the kernels' thread count ------------------------------------------------------------------
def test_set_num_threads_changes_the_kernels_threads_not_their_results():
    rng = np.random.default_rng(0)
    x0, w0 = rng.standard_normal((3, 4, 9, 7)), rng.standard_normal((6, 4, 3, 3))
    a, b = rng.standard_normal((300, 200)), rng.standard_normal((200, 500))
    before = eg.get_num_threads()
    results = []
    try:
        for n in (1, 2, 3):
            eg.set_num_threads(n)
            assert eg.get_num_threads() == n
            x, w = eg.tensor(x0, requires_grad=True), eg.tensor(w0, requires_grad=True)
            y = F.conv2d(x, w, padding=1, stride=(1, 2))
            y.backward(eg.ones_like(y))
            results.append([y.numpy(), x.grad.numpy(), w.grad.numpy(), (eg.tensor(a) @ eg.tensor(b)).numpy()])
    finally:
        eg.set_num_threads(before)
    for other in results[1:]:
        for got, want in zip(other, results[0]):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    for bad in (0, -1, 2.5, True, "2"):
        with pytest.raises(eg.ArgumentError, match="positive int"):
            eg.set_num_threads(bad)


@pytest.mark.parametrize("order", ["numpy, engine", "engine, numpy"])
def test_numpys_blas_runs_on_one_thread_and_the_engine_calls_it_whatever_the_import_order(order):
    """OpenBLAS's own threads would spin over the kernels' threads after each product."""
    code = (f"import {order}\nfrom kernels.cpu import threads\n"
            "library, prefix, suffix, _ = threads._find_openblas()\n"
            "print(getattr(library, prefix + 'openblas_get_num_threads' + suffix)(), "
            "threads.BLAS_IN_EXTENSION)")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "True"]
