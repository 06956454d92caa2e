"""benchmarks.distributed: the ring-allreduce model on hand-computed numbers, and a --quick run
on 1 and 2 ranks (the mpich wheel's mpiexec) whose JSON and chart are checked for sanity."""
import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import training
from benchmarks.distributed import (EFFICIENCY_FLOOR, JSON_NAME, PNG_NAME, WORKERS,
                                    find_mpiexec, fit_alpha_beta, largest_workers, project,
                                    ring_allreduce_s)

ROOT = Path(__file__).resolve().parents[1]
needs_mpi = pytest.mark.skipif(
    importlib.util.find_spec("mpi4py") is None or find_mpiexec() is None,
    reason='needs mpi4py and mpiexec: pip install -e ".[dist]"')


# --- the model -----------------------------------------------------------------------------------
def test_one_worker_communicates_nothing():
    assert ring_allreduce_s(1, 10**9, buckets=7, alpha_s=1e-3, bandwidth=1e6) == 0


def test_ring_allreduce_by_hand():
    # 4 workers, 8 MB in 2 buckets, 10 us, 1 GB/s: 2*3*10us*2 + 2*3/4*8e6/1e9 = 120 us + 12 ms
    assert ring_allreduce_s(4, 8e6, 2, 10e-6, 1e9) == pytest.approx(120e-6 + 12e-3)


def test_infinite_bandwidth_leaves_only_latency():
    assert ring_allreduce_s(8, 1e9, 3, 5e-6, math.inf) == pytest.approx(2 * 7 * 5e-6 * 3)


def test_bandwidth_term_tends_to_twice_the_bytes():
    # each worker sends 2 (p-1)/p of the gradient: at most twice it, however many workers
    assert ring_allreduce_s(1024, 1e6, 1, 0, 1e6) == pytest.approx(2 * 1023 / 1024)


COMPUTE = {"step_s": 0.1, "backward_s": 0.06, "first_bucket_s": 0.01,
           "parameter_bytes": 4e6, "buckets": 2}


def test_communication_hidden_behind_backward_costs_nothing():
    # 2 workers at 1 GB/s: 2 * 1 * 1us * 2 + 4 ms = 4.004 ms < the 50 ms of backward after the
    # first bucket
    r = project(2, COMPUTE, 1e-6, 1e9)
    assert r["comm_s"] == pytest.approx(4.004e-3)
    assert r["exposed_s"] == 0 and r["efficiency"] == 1


def test_only_what_backward_cannot_hide_is_exposed():
    r = project(2, COMPUTE, 1e-6, 1e8)  # 2*1*1us*2 + 1*4e6/1e8 = 4 us + 40 ms, under 50 ms
    assert r["exposed_s"] == 0
    r = project(4, COMPUTE, 1e-6, 1e8)  # 2*3*1us*2 + 1.5*4e6/1e8 = 12 us + 60 ms
    assert r["exposed_s"] == pytest.approx(12e-6 + 60e-3 - 50e-3)
    assert r["efficiency"] == pytest.approx(0.1 / (0.1 + r["exposed_s"]))


def test_largest_workers_at_the_floor():
    assert largest_workers({"workers": [2, 4, 8], "efficiency": [0.99, 0.8, 0.5]}) == 4
    assert largest_workers({"workers": [2, 4], "efficiency": [0.7, 0.5]}) == 1


def test_fit_recovers_alpha_and_bandwidth():
    sizes = [2**k for k in range(12, 27)]
    alpha, bandwidth = fit_alpha_beta(sizes, [5e-6 + n / 4e9 for n in sizes])
    assert alpha == pytest.approx(5e-6) and bandwidth == pytest.approx(4e9)


# --- a quick run ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("distributed")
    done = subprocess.run([sys.executable, "-m", "benchmarks.distributed", "--quick", "--out",
                           str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return out, json.loads((out / JSON_NAME).read_text()), done.stdout


@needs_mpi
def test_quick_run_measures_both_worlds(quick):
    out, report, printed = quick
    assert (out / PNG_NAME).stat().st_size > 10_000
    assert "most workers at efficiency" in printed
    assert set(report["measured"]) == {"cnn", "dncnn"}
    assert set(report["compute"]) == set(training.NETWORKS)
    for name, worlds in report["measured"].items():
        one, two = worlds["1"], worlds["2"]
        assert (one["world"], two["world"]) == (1, 2)
        assert two["batch_per_rank"] * 2 == one["batch_per_rank"] == training.NETWORKS[name][1][0]
        assert 0 < two["efficiency"] <= 1.5
        assert 0 <= two["overlap"] <= 1
        assert 0 <= two["wait_s"] and 0 < two["allreduce_s"] < two["step_s"]
        # float32 gradients, plus the one count per parameter DDP reduces beside them
        eg_model = training.NETWORKS[name][0]()
        parameters = list(eg_model.parameters())
        assert two["parameter_bytes"] == 4 * sum(p.numel() for p in parameters)
        assert two["bytes"] == two["parameter_bytes"] + 4 * len(parameters)
        # the buckets the model projects with are the ones DDP made
        assert two["buckets"] == two["model_buckets"] == report["compute"][name]["buckets"]
        assert 0 <= two["overlapped_buckets"] <= two["buckets"]


@needs_mpi
def test_quick_run_fits_and_projects(quick):
    _, report, _ = quick
    assert report["fit"]["alpha_s"] > 0 and report["fit"]["bandwidth"] > 0
    assert len(report["allreduce"]["bytes"]) == len(report["allreduce"]["seconds"])
    for link, networks in report["projections"].items():
        for name, entry in networks.items():
            assert entry["workers"] == WORKERS
            efficiency = entry["efficiency"]
            assert all(0 < e <= 1 for e in efficiency)
            assert all(a >= b for a, b in zip(efficiency, efficiency[1:])), (link, name)
            floor = entry["largest_workers_at_floor"]
            assert floor == 1 or efficiency[WORKERS.index(floor)] >= EFFICIENCY_FLOOR
