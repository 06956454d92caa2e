"""python -m benchmarks.gpu: the cuda backend checked and timed on a real GPU, in one command.

1. the cuda test suite on the device (ENGINE_TEST_GPU=1 python -m pytest -m cuda);
2. the GPU benchmarks, the engine in one process and PyTorch (when it is installed with CUDA)
   in another, the same code on both sides: the device-to-device copy, elementwise ops,
   reductions, (log-)softmax, the engine's tiled GEMM beside cuBLAS, conv2d forward+backward
   on the MNIST and DnCNN layers, CNN and DnCNN training steps;
3. one JSON and one chart in --out, named by the date and the card, with the issue's targets
   (elementwise >= 80% and reductions >= 70% of the copy bandwidth, GEMM >= 50% of cuBLAS,
   DnCNN conv2d and the CNN step within 2x of PyTorch) marked met or not.

Times are medians after warm-up between CUDA events, so the GPU's idle time while Python
launches kernels counts, as a user sees it. Under NUMBA_ENABLE_CUDASIM=1 the whole check runs
in Numba's simulator with tiny sizes (how CI rehearses it; its times mean nothing).
"""
import numpy as np  # noqa: I001  (first, as users import it)

import argparse
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from types import SimpleNamespace

from engine import backend

from .machine import describe
from .timing import measure, numba_events

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MB = 2 ** 20


def sizes(tiny):
    """Problem sizes: the real ones, or tiny ones for the simulator."""
    if tiny:
        return SimpleNamespace(flat=2 ** 8, square=16, rows=(4, 6), gemm=8,
                               mnist=((1, 1, 5, 5), (2, 1, 3, 3)), dncnn=((1, 2, 5, 5), (2, 2, 3, 3)))
    return SimpleNamespace(flat=2 ** 26, square=8192, rows=(8192, 1000), gemm=4096,
                           mnist=((64, 1, 28, 28), (32, 1, 3, 3)),
                           dncnn=((8, 64, 64, 64), (64, 64, 3, 3)))


def cases(s):
    """(name, label, bytes moved, flops, build) where build(lib) returns (forward, backward or
    None): callables running the op through lib, which is the engine or torch on the GPU."""
    n, (rows, cols), g = s.flat, s.rows, s.gemm

    def pointwise(op):
        def build(lib):
            a, b = lib.rand(n), lib.rand(n)
            return {"add": lambda: a + b, "relu": lambda: a.relu(),
                    "sigmoid": lambda: a.sigmoid()}[op], None
        return build

    def copy(lib):
        a, b = lib.rand(n), lib.rand(n)
        return lambda: lib.copy(b, a), None

    def reduce(dim):
        def build(lib):
            a = lib.rand(n) if dim is None else lib.rand(s.square, s.square)
            return (lambda: a.sum()) if dim is None else (lambda: a.sum(dim=dim)), None
        return build

    def softmax(name):
        def build(lib):
            x = lib.rand(rows, cols, grad=True)
            fn = getattr(lib.F, name)
            grad = lib.rand(rows, cols)
            return lambda: fn(x, dim=1), lambda: fn(x, dim=1).backward(grad)
        return build

    def matmul(lib, reference=False):
        a, b = lib.rand(g, g), lib.rand(g, g)
        return (lambda: lib.cublas(a, b)) if reference else (lambda: lib.tiled(a, b)), None

    def conv(shapes):
        def build(lib):
            x, w = (lib.rand(*shape, grad=True) for shape in shapes)
            out = lib.F.conv2d(x, w, padding=1)
            grad = lib.rand(*out.shape)
            return (lambda: lib.F.conv2d(x, w, padding=1),
                    lambda: lib.F.conv2d(x, w, padding=1).backward(grad))
        return build

    def flops_conv(shapes):
        (batch, cin, h, w), (cout, _, kh, kw) = shapes
        return 2.0 * batch * cout * h * w * cin * kh * kw

    return [
        ("copy", f"{n:,} floats", 8 * n, 0, copy),
        ("add", f"{n:,} floats", 12 * n, n, pointwise("add")),
        ("relu", f"{n:,} floats", 8 * n, n, pointwise("relu")),
        ("sigmoid", f"{n:,} floats", 8 * n, 4 * n, pointwise("sigmoid")),
        ("sum", f"{n:,} floats, all", 4 * n, n, reduce(None)),
        ("sum", f"{s.square}^2 over dim 1", 4 * s.square ** 2, s.square ** 2, reduce(1)),
        ("sum", f"{s.square}^2 over dim 0", 4 * s.square ** 2, s.square ** 2, reduce(0)),
        ("softmax", f"{rows}x{cols} dim 1", 8 * rows * cols, 4 * rows * cols, softmax("softmax")),
        ("log_softmax", f"{rows}x{cols} dim 1", 8 * rows * cols, 4 * rows * cols,
         softmax("log_softmax")),
        ("matmul[tiled]", f"{g}^3 float32", 12 * g * g, 2.0 * g ** 3, matmul),
        ("cublas", f"{g}^3 float32", 12 * g * g, 2.0 * g ** 3,
         lambda lib: matmul(lib, reference=True)),
        ("conv2d", "mnist " + " * ".join("x".join(map(str, v)) for v in s.mnist), 0,
         flops_conv(s.mnist), conv(s.mnist)),
        ("conv2d", "dncnn " + " * ".join("x".join(map(str, v)) for v in s.dncnn), 0,
         flops_conv(s.dncnn), conv(s.dncnn)),
    ]


def engine_lib():
    import engine as eg
    import engine.nn.functional as F
    from kernels.cuda.device import xp
    rng = np.random.default_rng(0)

    def rand(*shape, grad=False):
        return eg.tensor(rng.standard_normal(shape, dtype=np.float32), device="cuda",
                         requires_grad=grad)
    return SimpleNamespace(
        name="engine", F=F, rand=rand, no_grad=eg.no_grad,
        # the copy and cuBLAS are CuPy's (the engine's array library), as references
        copy=lambda dst, src: xp.copyto(dst.data, src.data),
        cublas=lambda a, b: xp.matmul(a.data, b.data),
        tiled=lambda a, b: _in_variant(eg, lambda: a @ b, matmul="tiled"),
        timer=numba_events, card=_numba_card)


def torch_lib():
    import torch
    import torch.nn.functional as F
    torch.backends.cuda.matmul.allow_tf32 = False  # float32 maths on both sides
    torch.backends.cudnn.allow_tf32 = False
    generator = np.random.default_rng(0)

    def rand(*shape, grad=False):
        return torch.tensor(generator.standard_normal(shape, dtype=np.float32), device="cuda",
                            requires_grad=grad)

    def timer():
        return (lambda: torch.cuda.Event(enable_timing=True), torch.cuda.synchronize,
                lambda start, stop: start.elapsed_time(stop))
    return SimpleNamespace(name="torch", F=F, rand=rand, no_grad=torch.no_grad,
                           copy=lambda dst, src: dst.copy_(src), cublas=lambda a, b: a @ b,
                           tiled=lambda a, b: a @ b,  # torch has no GEMM of its own beside cuBLAS
                           timer=timer, card=lambda: torch.cuda.get_device_name())


def _in_variant(eg, fn, **variant):
    with eg.use_variant(**variant):
        return fn()


def _numba_card():
    if backend.simulated():
        return "Numba CUDA simulator"
    from numba import cuda
    name = cuda.get_current_device().name
    return name.decode() if isinstance(name, bytes) else name


def median_ms(fn, lib, warmup, repeats):
    """The median of fn()'s times in ms between the library's CUDA events (the wall clock in
    the simulator)."""
    median, _ = measure(fn, warmup, repeats, device="cuda", events=lib.timer)
    return 1e3 * median


def run_side(side, tiny, repeats, networks):
    """Every case and training step on one side, in this process: a JSON-ready dict."""
    from . import training
    lib = engine_lib() if side == "engine" else torch_lib()
    warmup = 0 if tiny else 3
    result = {"card": lib.card(), "rows": {}, "training": {}}
    for name, label, _, _, build in cases(sizes(tiny)):
        if side == "torch" and name == "cublas":
            continue  # torch's matmul is cuBLAS already
        key = f"{name} {label}"
        print(f"  {side}: {key}", file=sys.stderr, flush=True)
        try:
            forward, backward = build(lib)

            def no_grad_forward(forward=forward):
                with lib.no_grad():
                    forward()
            row = {"forward_ms": median_ms(no_grad_forward, lib, warmup, repeats)}
            if backward is not None:
                row["forward_backward_ms"] = median_ms(backward, lib, warmup, repeats)
        except Exception as e:  # noqa: BLE001  (one failing case must not hide the others)
            row = {"error": f"{type(e).__name__}: {e}"[:500]}
        result["rows"][key] = row
    for network in networks:
        print(f"  {side}: training step {network}", file=sys.stderr, flush=True)
        try:
            step = training.step(side, network, device="cuda", tiny=tiny)
            result["training"][network] = {"step_ms": median_ms(step, lib, warmup, repeats)}
        except Exception as e:  # noqa: BLE001
            result["training"][network] = {"error": f"{type(e).__name__}: {e}"[:500]}
    return result


def side_in_process(side, args):
    """run_side in a fresh process (each library its own CUDA context and allocator)."""
    command = [sys.executable, "-m", "benchmarks.gpu", "--side", side, "--repeats",
               str(args.repeats), "--network", *args.network] + (["--tiny"] if args.tiny else [])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])))
    try:
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env,
                              timeout=args.bench_timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {args.bench_timeout} s"}
    sys.stderr.write(done.stderr[-2000:] if done.returncode else "")
    if done.returncode != 0:
        return {"error": done.stderr[-3000:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_tests(args, log_path):
    """The cuda test suite on the device: counts, failures and the time it took; the whole
    output goes to log_path. Verbose lines keep what passed and failed if it runs out of time."""
    env = dict(os.environ)
    if not backend.simulated():
        env["ENGINE_TEST_GPU"] = "1"
    command = [sys.executable, "-m", "pytest", "-v", "-rfE", "--tb=short", "-p", "no:cacheprovider",
               "-m", "cuda", *(args.tests or ["tests"])]
    if importlib.util.find_spec("xdist") is not None and not args.tiny:
        command += ["-n", str(min(8, os.cpu_count() or 1))]
    started = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env,
                              timeout=args.test_timeout)
        output, code = done.stdout + done.stderr, done.returncode
    except subprocess.TimeoutExpired as e:
        output = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        code = "timeout"
    with open(log_path, "w") as f:
        f.write(output)
    outcomes = re.findall(r"(PASSED|FAILED|ERROR|SKIPPED) (tests/\S+)|(tests/\S+) (PASSED|FAILED|ERROR|SKIPPED)",
                          output)
    outcomes = {(test or test2): (status or status2) for status, test, test2, status2 in outcomes}
    counts = {}
    for status in outcomes.values():
        counts[status.lower()] = counts.get(status.lower(), 0) + 1
    return {"command": " ".join(command[1:]), "returncode": code, "counts": counts,
            "failures": sorted(t for t, s in outcomes.items() if s in ("FAILED", "ERROR"))[:200],
            "seconds": round(time.perf_counter() - started, 1), "log": os.path.basename(log_path)}


def environment():
    """The machine and versions (benchmarks.machine), and the NVVM that compiled the kernels."""
    nvvm = None
    if not backend.simulated():
        try:
            from numba.cuda.cudadrv import nvvm as numba_nvvm
            nvvm = ".".join(map(str, numba_nvvm.NVVM().get_version()))
        except Exception as e:  # noqa: BLE001
            nvvm = f"unavailable: {e}"
    return {"machine": describe(), "nvvm": nvvm, "simulated": backend.simulated()}


def report(engine, torch, s):
    """The rows side by side, with bandwidths, rates, ratios and the targets."""
    rows = []
    copy_gbs = None
    for name, label, moved, flops, _ in cases(s):
        key = f"{name} {label}"
        e, t = engine["rows"].get(key, {}), torch.get("rows", {}).get(key, {})
        row = {"op": name, "shape": label, **e}
        for prefix, side in (("", e), ("torch_", t)):
            for field in ("forward_ms", "forward_backward_ms", "error"):
                if field in side:
                    row[prefix + field] = side[field]
        ms = row.get("forward_ms")
        if ms:
            if moved:
                row["gbytes_per_s"] = moved / ms / 1e6
            if flops:
                row["gflops"] = flops / ms / 1e6
        if name == "copy" and "gbytes_per_s" in row:
            copy_gbs = row["gbytes_per_s"]
        best = "forward_backward_ms" if "torch_forward_backward_ms" in row else "forward_ms"
        if row.get(best) and row.get("torch_" + best):
            row["ratio"] = row[best] / row["torch_" + best]
        rows.append(row)
    training = []
    for network, e in engine.get("training", {}).items():
        t = torch.get("training", {}).get(network, {})
        row = {"network": network, **e}
        if "step_ms" in t:
            row["torch_step_ms"] = t["step_ms"]
            if "step_ms" in e:
                row["ratio"] = e["step_ms"] / t["step_ms"]
        training.append(row)
    return rows, training, targets(rows, training, copy_gbs)


def targets(rows, training, copy_gbs):
    def find(op, shape_start=""):
        return next((r for r in rows if r["op"] == op and r["shape"].startswith(shape_start)), {})

    def fraction(row):
        return row.get("gbytes_per_s", 0) / copy_gbs if copy_gbs else None
    cnn = next((r for r in training if r["network"] == "cnn"), {})
    gemm, cublas = find("matmul[tiled]"), find("cublas")
    checks = [
        ("elementwise add >= 80% of copy bandwidth", fraction(find("add")), 0.8, ">="),
        ("sum over all >= 70% of copy bandwidth", fraction(find("sum")), 0.7, ">="),
        ("tiled GEMM >= 50% of cuBLAS", (gemm.get("gflops", 0) / cublas["gflops"])
         if cublas.get("gflops") else None, 0.5, ">="),
        ("conv2d f+b on the DnCNN layer within 2x of PyTorch", find("conv2d", "dncnn").get("ratio"),
         2.0, "<="),
        ("CNN training step within 2x of PyTorch", cnn.get("ratio"), 2.0, "<="),
    ]
    return [{"target": what, "value": value,
             "met": None if value is None else (value >= goal if sense == ">=" else value <= goal)}
            for what, value, goal, sense in checks]


def print_report(rows, training, goals):
    nan = float("nan")
    header = (f"{'op':<12}{'shape':<34}{'fwd ms':>9}{'f+b ms':>9}{'GB/s':>8}{'GFLOP/s':>10}"
              f"{'torch fwd':>10}{'torch f+b':>10}{'ratio':>7}")
    print(header)
    print("-" * len(header))
    for r in rows:
        if "error" in r:
            print(f"{r['op']:<12}{r['shape']:<34}ERROR {r['error'][:120]}")
            continue
        print(f"{r['op']:<12}{r['shape']:<34}{r.get('forward_ms', nan):>9.3f}"
              f"{r.get('forward_backward_ms', nan):>9.3f}{r.get('gbytes_per_s', nan):>8.0f}"
              f"{r.get('gflops', nan):>10.0f}{r.get('torch_forward_ms', nan):>10.3f}"
              f"{r.get('torch_forward_backward_ms', nan):>10.3f}{r.get('ratio', nan):>7.2f}")
    for r in training:
        print(f"training step {r['network']:<8} engine {r.get('step_ms', nan):.2f} ms, torch "
              f"{r.get('torch_step_ms', nan):.2f} ms, ratio {r.get('ratio', nan):.2f}"
              + (f"  ERROR {r['error'][:200]}" if "error" in r else ""))
    for g in goals:
        value = "n/a" if g["value"] is None else f"{g['value']:.2f}"
        print(f"target: {g['target']}: {value} -> {'met' if g['met'] else 'NOT met' if g['met'] is False else 'n/a'}")


def chart(rows, training, card, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    compared = [(f"{r['op']} {r['shape']}", r["ratio"]) for r in rows if "ratio" in r]
    compared += [(f"training step {r['network']}", r["ratio"]) for r in training if "ratio" in r]
    bandwidth = [(f"{r['op']} {r['shape']}", r["gbytes_per_s"]) for r in rows
                 if "gbytes_per_s" in r and r["op"] not in ("matmul[tiled]", "cublas")]
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 0.32 * max(len(compared), len(bandwidth)) + 2))
    if compared:
        labels, ratios = zip(*compared)
        left.barh(labels, ratios, color=["tab:green" if v <= 1 else "tab:orange" for v in ratios])
        left.axvline(1, color="k", linewidth=1)
        left.set_xscale("log")
    left.set(xlabel="engine time / PyTorch time (< 1 is faster)", title=f"Engine against PyTorch, {card}")
    if bandwidth:
        labels, rates = zip(*bandwidth)
        right.barh(labels, rates, color="tab:blue")
    right.set(xlabel="GB/s (bytes read + written, forward)", title="Memory-bound kernels")
    for ax in (left, right):
        ax.tick_params(axis="y", labelsize=7)
        ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results"),
                        help="folder for the JSON and the chart")
    parser.add_argument("--tiny", action="store_true", default=backend.simulated(),
                        help="tiny sizes (the default in the simulator)")
    parser.add_argument("--repeats", type=int, help="timed runs per case (20; tiny: 1)")
    parser.add_argument("--network", nargs="*", default=["cnn", "dncnn"], help="training steps")
    parser.add_argument("--tests", nargs="*", help="test paths (default: every cuda test)")
    parser.add_argument("--no-tests", action="store_true", help="skip the test suite")
    parser.add_argument("--no-torch", action="store_true", help="time the engine alone")
    parser.add_argument("--test-timeout", type=float, default=240)
    parser.add_argument("--bench-timeout", type=float, default=240)
    parser.add_argument("--side", choices=["engine", "torch"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.repeats = args.repeats or (1 if args.tiny else 20)
    if args.side:  # one side, in a process of its own (see side_in_process)
        json.dump(run_side(args.side, args.tiny, args.repeats, args.network), sys.stdout)
        print()
        return 0
    started = time.perf_counter()
    result = {"date": time.strftime("%Y-%m-%d"), **environment()}
    print(json.dumps(result), flush=True)
    if not args.no_tests:
        print("cuda test suite on the device ...", flush=True)
        os.makedirs(args.out, exist_ok=True)
        result["tests"] = run_tests(args, os.path.join(args.out, "tests.log"))
        print(f"tests: {result['tests']['counts']} in {result['tests']['seconds']} s "
              f"(return code {result['tests']['returncode']})", flush=True)
    print("benchmarks: the engine ...", flush=True)
    engine = side_in_process("engine", args)
    torch = {}
    if not args.no_torch and importlib.util.find_spec("torch") is not None and not backend.simulated():
        print("benchmarks: PyTorch ...", flush=True)
        torch = side_in_process("torch", args)
    engine = engine if "rows" in engine else {"rows": {}, **engine}
    result["card"] = engine.get("card") or torch.get("card") or "unknown card"
    result["torch_card"] = torch.get("card")
    for side, got in (("engine", engine), ("torch", torch)):
        if "error" in got:
            result[f"{side}_error"] = got["error"]
            print(f"{side} side failed: {got['error'][-1500:]}")
    rows, training, goals = report(engine, torch, sizes(args.tiny))
    result.update(rows=rows, training=training, targets=goals,
                  seconds=round(time.perf_counter() - started, 1))
    print_report(rows, training, goals)
    os.makedirs(args.out, exist_ok=True)
    stem = os.path.join(args.out, f"{result['date']}-{re.sub(r'[^A-Za-z0-9]+', '-', result['card']).strip('-').lower()}")
    with open(stem + ".json", "w") as f:
        json.dump(result, f, indent=2)
    chart(rows, training, result["card"], stem + ".png")
    print(f"wrote {stem}.json and {stem}.png in {result['seconds']} s")
    failed = result.get("tests", {}).get("returncode") not in (0, None) or "engine_error" in result
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
