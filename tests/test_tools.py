"""The profiler and the kernel benchmark harness."""
import json
import os

import numpy as np

import engine as eg
import engine.nn.functional as F


def test_profile_records_calls_times_and_flops():
    a, b = eg.randn(8, 16, requires_grad=True), eg.randn(16, 4, requires_grad=True)
    x, w = eg.randn(2, 3, 8, 8, requires_grad=True), eg.randn(5, 3, 3, 3, requires_grad=True)
    with eg.profile() as p:
        for _ in range(2):
            (a @ b).relu().sum().backward()
        F.conv2d(x, w, padding=1).sum().backward()
    rows = {r["op"]: r for r in p.rows()}
    assert rows["matmul"]["calls"] == 2 and rows["matmul"]["backward_calls"] == 2
    # 2 m n k forward and twice that backward, per call
    assert rows["matmul"]["flops"] == 2 * (2 * 8 * 16 * 4) * (1 + 2)
    assert rows["conv2d"]["flops"] == 2 * 2 * 5 * 8 * 8 * 3 * 9 * 3
    assert rows["relu"]["forward_s"] > 0 and rows["conv2d"]["backward_s"] > 0
    table = p.table()
    assert "op" in table.splitlines()[0] and "matmul" in table and "all ops" in table
    with eg.profile() as q:
        pass
    assert q.rows() == []
    (a @ b).sum()  # outside any profile: nothing recorded
    assert rows["matmul"]["calls"] == 2


def test_benchmark_harness_checks_times_and_writes_files(tmp_path):
    from benchmarks.__main__ import main
    out = tmp_path / "charts"
    code = main(["--op", "add", "conv2d", "--variant", "-", "fused", "--quick", "--no-training",
                 "--no-torch", "--rounds", "1", "--repeats", "2", "--threads", "1",
                 "--json", str(tmp_path / "b.json"), "--csv", str(tmp_path / "b.csv"),
                 "--out", str(out)])
    assert code == 0
    report = json.loads((tmp_path / "b.json").read_text())
    names = {(r["op"], r["variant"]) for r in report["ops"]}
    assert ("add", "-") in names and ("conv2d", "fused") in names
    for row in report["ops"]:
        assert row["check"] == "ok" and row["forward_ms"] > 0 and 0 < row["roofline_fraction"]
        assert np.isfinite(row["gflops"]) and row["forward_backward_ms"] > 0
        assert row["threads"] == 1  # each worker process ran on the threads it was given
    assert report["peaks"]["gflops"] > 0 and report["peaks"]["gbytes_per_s"] > 0
    assert (tmp_path / "b.csv").read_text().startswith("added_mb,")
    assert "roofline.png" in os.listdir(out)


def test_benchmark_worker_times_a_training_step_in_a_process_of_its_own():
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run([sys.executable, "-m", "benchmarks.worker", "engine", "train", "mlp",
                           "--repeats", "2", "--threads", "2"], capture_output=True, text=True,
                          cwd=root, timeout=300)
    assert done.returncode == 0, done.stderr
    row = json.loads(done.stdout)
    assert row["step_ms"] > 0 and row["threads"] == 2 and np.isfinite(row["added_mb"])


def test_gpu_check_runs_end_to_end_in_the_simulator(tmp_path):
    """python -m benchmarks.gpu rehearsed in Numba's simulator at tiny sizes: the test stage,
    both benchmark stages, the report's targets, the JSON and the chart."""
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    one_test = "tests/test_cuda.py::test_transfers_round_trip_and_carry_gradients"
    done = subprocess.run([sys.executable, "-m", "benchmarks.gpu", "--out", str(tmp_path),
                           "--tests", one_test, "--network", "mlp"], capture_output=True,
                          text=True, cwd=root, timeout=600,
                          env=dict(os.environ, NUMBA_ENABLE_CUDASIM="1"))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    [name] = [f for f in os.listdir(tmp_path) if f.endswith(".json")]
    assert name.endswith("-numba-cuda-simulator.json")
    report = json.loads((tmp_path / name).read_text())
    assert report["simulated"] and report["tests"]["counts"] == {"passed": 1}
    ops = {r["op"] for r in report["rows"]}
    assert {"copy", "add", "sum", "log_softmax", "matmul[tiled]", "cublas", "conv2d"} <= ops
    for row in report["rows"]:
        assert "error" not in row and row["forward_ms"] > 0, row
    assert all(r["forward_backward_ms"] > 0 for r in report["rows"] if r["op"] == "conv2d")
    [mlp] = report["training"]
    assert mlp["network"] == "mlp" and mlp["step_ms"] > 0
    assert len(report["targets"]) == 5
    assert (tmp_path / name.replace(".json", ".png")).stat().st_size > 0
    assert (tmp_path / "tests.log").read_text().count("PASSED") == 1
