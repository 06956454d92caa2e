"""The profiler and the kernel benchmark harness."""
import json
import os

import numpy as np
import pytest

import engine as eg
import engine.nn.functional as F


def test_profile_records_calls_times_and_flops():
    a, b = eg.randn(8, 16, requires_grad=True), eg.randn(16, 4, requires_grad=True)
    x, w = eg.randn(2, 3, 8, 8, requires_grad=True), eg.randn(5, 3, 3, 3, requires_grad=True)
    with eg.profile() as p:
        for _ in range(2):
            (a @ b).relu().sum().backward()
        F.conv2d(x, w, padding=1).sum().backward()
    rows = {}  # per op: its forward and backward may run different variants (a row each)
    for r in p.rows():
        row = rows.setdefault(r["op"], dict.fromkeys(
            ("calls", "backward_calls", "flops", "forward_s", "backward_s"), 0))
        for key in row:
            row[key] += r[key]
    assert rows["matmul"]["calls"] == 2 and rows["matmul"]["backward_calls"] == 2
    # 2 m n k forward and twice that backward, per call
    assert rows["matmul"]["flops"] == 2 * (2 * 8 * 16 * 4) * (1 + 2)
    assert rows["conv2d"]["flops"] == 2 * 2 * 5 * 8 * 8 * 3 * 9 * 3
    assert rows["relu"]["forward_s"] > 0 and rows["conv2d"]["backward_s"] > 0
    table = p.table()
    assert "op" in table.splitlines()[0] and "matmul" in table and "total" in table
    with eg.profile() as q:
        pass
    assert q.rows() == []
    (a @ b).sum()  # outside any profile: nothing recorded
    assert rows["matmul"]["calls"] == 2


def _train_steps(model, x, labels, steps=2, **profile):
    from engine import optim
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    with eg.profile(**profile) as p:
        for _ in range(steps):
            opt.zero_grad()
            F.cross_entropy(model(x), labels).backward()
            opt.step()
    return p


def test_profile_rows_by_shapes_with_optimizer_steps_the_time_outside_and_bytes():
    from engine import nn
    model = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))
    small, big = eg.randn(4, 6), eg.randn(16, 6)
    labels = eg.tensor(np.arange(16) % 3)
    p = _train_steps(model, small, labels[:4], record_shapes=True)
    q = _train_steps(model, big, labels, steps=1, record_shapes=True)
    rows = p.rows() + q.rows()
    linear = {r["shapes"]: r for r in rows if r["op"] == "linear"}
    assert {"4x6, 5x6, 5", "16x6, 5x6, 5", "4x5, 3x5, 3", "16x5, 3x5, 3"} <= set(linear)
    assert linear["4x6, 5x6, 5"]["calls"] == 2 and linear["16x6, 5x6, 5"]["calls"] == 1
    # each forward returned a 4 x 5 float32 array; each backward the gradients of w and b (the
    # input x needs none)
    assert linear["4x6, 5x6, 5"]["bytes"] == 2 * (4 * 5 + 5 * 6 + 5) * 4
    step = next(r for r in p.rows() if r["op"] == "SGD.step")
    assert step["calls"] == 2 and step["step_s"] > 0 and step["forward_s"] == 0
    assert "(outside the ops)" not in {r["op"] for r in p.rows()}
    outside = next(r for r in p.rows(outside=True) if r["op"] == "(outside the ops)")
    assert outside["total_s"] == p.outside_s > 0
    assert abs(sum(r["total_s"] for r in p.rows(outside=True)) - p.wall_s) < 1e-6
    assert "SGD.step" in p.table() and "(outside the ops)" in p.table()
    assert "4x6, 5x6, 5" in p.table()
    assert "16x6" not in _train_steps(model, big, labels, steps=1).table()  # merged by default


def test_profile_memory_reports_each_ops_peak_of_host_memory():
    a = eg.randn(256, 256)
    with eg.profile(memory=True) as p:
        a @ a
        a.relu()
    rows = {r["op"]: r for r in p.rows()}
    assert rows["matmul"]["peak_bytes"] >= 256 * 256 * 4  # its output at least
    assert "peak MB" in p.table()
    with eg.profile() as q:
        a @ a
    assert q.rows()[0]["peak_bytes"] == 0 and "peak MB" not in q.table()


# The Trace Event Format's complete ("X") and metadata ("M") events, as Perfetto and
# chrome://tracing read them.
TRACE_SCHEMA = {
    "type": "object", "required": ["traceEvents"],
    "properties": {
        "displayTimeUnit": {"enum": ["ms", "ns"]},
        "traceEvents": {"type": "array", "minItems": 1, "items": {"oneOf": [
            {"type": "object", "required": ["name", "ph", "ts", "dur", "pid", "tid"],
             "properties": {"name": {"type": "string"}, "cat": {"type": "string"},
                            "ph": {"const": "X"}, "ts": {"type": "number", "minimum": 0},
                            "dur": {"type": "number", "minimum": 0},
                            "pid": {"type": "integer"}, "tid": {"type": "integer"},
                            "args": {"type": "object"}}},
            {"type": "object", "required": ["name", "ph", "pid", "tid", "args"],
             "properties": {"ph": {"const": "M"}, "name": {"enum": ["thread_name",
                                                                    "process_name"]}}}]}}}}


def test_the_chrome_trace_of_a_cnn_training_step_follows_the_trace_event_format(tmp_path):
    import jsonschema
    from engine.course import models
    x = eg.randn(2, 1, 28, 28)
    p = _train_steps(models.CNN(), x, eg.tensor(np.array([3, 7])), steps=1)
    path = p.export_chrome_trace(str(tmp_path / "step.json"))
    trace = json.loads(open(path).read())
    jsonschema.validate(trace, TRACE_SCHEMA)
    complete = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    assert {"forward", "backward", "step"} == {e["cat"] for e in complete}
    assert any(e["name"].startswith("conv2d[") for e in complete)
    starts = [e["ts"] for e in complete]
    assert starts == sorted(starts)  # in the order they ran, on the profile's clock


def test_engine_debug_2_logs_every_op_as_it_runs():
    import subprocess
    import sys
    code = ("import engine as eg\n"
            "x = eg.randn(8, 8, requires_grad=True)\n"
            "(x @ x).relu().sum().backward()\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=dict(os.environ, ENGINE_DEBUG="2"), timeout=120)
    lines = [line.split() for line in done.stderr.splitlines()]
    assert [(line[0], line[1]) for line in lines] == [
        ("matmul[blas]", "forward"), ("relu", "forward"), ("sum", "forward"),
        ("sum", "backward"), ("relu[fused]", "backward"), ("matmul[blas]", "backward")]
    assert all(line[2] == "cpu" and line[4] == "ms" and line[6] == "GFLOP/s" for line in lines)
    assert "8x8, 8x8 -> 8x8" in done.stderr


def test_benchmark_harness_checks_times_and_writes_files(tmp_path, capsys):
    from benchmarks.__main__ import main
    out = tmp_path / "charts"
    # a baseline in which add took no time at all: this run is slower, beyond any noise
    baseline = {"ops": [{"op": "add", "variant": "-", "shape": "4,194,304 floats",
                         "device": "cpu", "forward_ms": 1e-6, "forward_iqr_ms": 0.0}]}
    (tmp_path / "baseline.json").write_text(json.dumps(baseline))
    code = main(["--op", "add", "conv2d", "--variant", "-", "fused", "--quick", "--no-training",
                 "--no-torch", "--rounds", "1", "--repeats", "2", "--threads", "1",
                 "--json", str(tmp_path / "b.json"), "--csv", str(tmp_path / "b.csv"),
                 "--out", str(out), "--compare", str(tmp_path / "baseline.json")])
    printed = capsys.readouterr().out
    assert code == 1 and "1 slower than the baseline" in printed
    assert [line.split()[0] for line in printed.splitlines() if "SLOWER" in line] == ["add[-]"]
    report = json.loads((tmp_path / "b.json").read_text())
    names = {(r["op"], r["variant"]) for r in report["ops"]}
    assert ("add", "-") in names and ("conv2d", "fused") in names
    for row in report["ops"]:
        assert row["check"] == "ok" and row["forward_ms"] > 0 and 0 < row["roofline_fraction"]
        assert np.isfinite(row["gflops"]) and row["forward_backward_ms"] > 0
        assert row["threads"] == 1  # each worker process ran on the threads it was given
    assert report["peaks"]["gflops"] > 0 and report["peaks"]["gbytes_per_s"] > 0
    assert (tmp_path / "b.csv").read_text().startswith("added_mb,")
    assert {"roofline.png", "roof.png"} <= set(os.listdir(out))  # roof.png: without PyTorch
    assert report["machine"]["threads"] == 1 and report["machine"]["blas"]
    assert {r["flops_convention"] for r in report["ops"]} == {"direct"}
    assert report["machine"]["versions"]["numpy"] == np.__version__


def test_winograd_cases_count_their_own_multiplications_beside_the_direct_count():
    from benchmarks.cases import cases
    winograd = [c for c in cases() if c.variant == "winograd"]
    assert winograd and all(c.algorithm_flops == pytest.approx(c.flops * 16 / 36)
                            for c in winograd if "28x28" in c.label or "14x14" in c.label)
    assert all(c.algorithm_flops is None for c in cases() if c.variant != "winograd")


def test_compare_flags_only_slowdowns_beyond_the_noise():
    from benchmarks.__main__ import compare

    def op(ms, iqr, ratio=None):
        return {"op": "conv2d", "variant": "im2col", "shape": "8x64 big", "device": "cpu",
                "forward_ms": ms, "forward_iqr_ms": iqr, "ratio_forward": ratio}
    step = {"network": "cnn", "engine_ms": 100.0, "engine_iqr_ms": 1.0, "ratio": 1.5}
    baseline = {"ops": [op(10.0, 0.1, 1.0)], "training": [step]}
    lines, slower = compare([op(11.0, 0.1, 1.1)], [dict(step, engine_ms=103.0)], baseline)
    assert slower == ["conv2d[im2col] 8x64 cpu"]  # +10% against 2% noise; the step +3% only
    assert "+10%" in lines[1] and "1.10  1.00" in lines[1] and "SLOWER" not in lines[2]
    _, slower = compare([op(11.0, 0.5)], [], baseline)  # +10% within 2 x (5% + 1%) of noise
    assert slower == []
    lines, slower = compare([], [], {})
    assert slower == [] and "no item" in lines[-1]


def test_timer_times_callables_and_statements_in_blocks_sized_to_the_statement():
    from benchmarks import Timer
    calls = []
    m = Timer(lambda: calls.append(1), label="append").blocked_autorange(min_run_time=0.02)
    assert len(m.times) >= 3 and m.number_per_run > 100  # a fast statement: many runs a block
    assert len(calls) >= 1 + m.number_per_run * len(m.times)
    assert 0 < m.median < 1e-3 and m.iqr >= 0 and "append" in repr(m)
    slow = Timer("time.sleep(0.004)", setup="import time").blocked_autorange(min_run_time=0.02)
    assert slow.number_per_run == 1 and slow.median >= 0.004
    a = eg.randn(8, 8)
    once = Timer("a @ a", globals={"a": a}).timeit(number=5)
    assert once.number_per_run == 5 and len(once.times) == 1 and once.label == "a @ a"


def test_benchmark_op_times_an_op_at_the_users_shapes_in_its_variants_from_any_folder(tmp_path):
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-m", "benchmarks", "op", "conv2d", "--input", "2,3,9,9",
                           "--weight", "4,3,3,3", "--padding", "1", "--stride", "2,2",
                           "--variants", "auto,im2col", "--backward", "--no-torch", "--rounds", "1",
                           "--repeats", "2", "--json", str(tmp_path / "op.json")],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = json.loads((tmp_path / "op.json").read_text())["ops"]
    assert [(r["op"], r["variant"]) for r in rows] == [("conv2d", "auto"), ("conv2d", "im2col")]
    assert all(r["shape"] == "2x3x9x9 * 4x3x3x3 padding=1 stride=(2, 2)" for r in rows)
    # the direct convolution's count: 2 N Cout Hout Wout Cin kh kw, with 5 x 5 outputs
    assert all(r["gflops"] * r["forward_ms"] / 1e3 * 1e9 == pytest.approx(2 * 2 * 4 * 25 * 27)
               for r in rows)
    assert all(r["forward_backward_ms"] > 0 for r in rows)
    assert "conv2d[im2col]" in done.stdout
    bad = subprocess.run([sys.executable, "-m", "benchmarks", "op", "conv2d", "--input", "2,3,9,9",
                          "--weight", "4,3,3,3", "--variants", "nonesuch"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert bad.returncode == 2 and "has no variant nonesuch" in bad.stderr


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
