"""python -m benchmarks: every op x device x variant, checked, timed, placed on the roofline.

For each case: the variant's output is first checked against kernels/reference.py (on the
small inputs of the op's catalogue case), then the forward and the forward + backward are
timed (warm-up, then medians and inter-quartile ranges, inputs rotated among copies so that
caches do not flatter small sizes), beside PyTorch when it is installed. FLOPs and minimal
bytes give GFLOP/s, GB/s and the fraction of the roofline, whose peaks (a large GEMM, a large
copy) are measured once per run. Then the training benchmark: one step of each course network.
Writes a table, --json, --csv, and roofline.png and ratios.png in --out.
"""
import argparse
import csv
import json
import os
import sys
import time

import numpy as np

import engine as eg
from engine import backend
from engine.check.catalog import BY_NAME, RandomDrawer

from . import training
from .cases import cases
from .timing import copy_bandwidth, measure, sgemm_rate, torch_or_none


def check(case, device):
    """Compare the op with kernels/reference.py on its catalogue case's small inputs."""
    reference = BY_NAME.get(case.catalog)
    if reference is None:
        return "unchecked"
    side = 2 if backend.simulated(device) else 4
    arrays, params = reference.draw(RandomDrawer(np.random.default_rng(0), side=side))
    got = reference.fn(*(eg.tensor(a, device=device) for a in arrays), **params).numpy()
    want = reference.reference(*arrays, **params)
    return "ok" if np.allclose(got, want, rtol=1e-8, atol=1e-8) else "MISMATCH"


def rotated(make, count):
    """A callable cycling through `count` independent copies of the inputs make() builds."""
    copies = [make() for _ in range(count)]
    state = {"i": 0}

    def next_inputs():
        state["i"] = (state["i"] + 1) % count
        return copies[state["i"]]
    return next_inputs


def time_case(case, device, repeats, peaks):
    """The engine's row for a case, and its host inputs and output gradient (for torch)."""
    if backend.variants(case.op, device):
        with eg.use_variant(**{case.op: case.variant}):
            return _time_case(case, device, repeats, peaks)
    return _time_case(case, device, repeats, peaks)


def _time_case(case, device, repeats, peaks):
    rng = np.random.default_rng(0)
    size = sum(int(np.prod(s)) for s in case.shapes) * 4
    copies = 3 if size < 64 * 2**20 else 1  # rotate small inputs so caches do not flatter them
    host = [[rng.standard_normal(s, dtype=np.float32) for s in case.shapes] for _ in range(copies)]
    engine_inputs = rotated(lambda it=iter(host): [eg.tensor(a, device=device, requires_grad=True)
                                                   for a in next(it)], copies)
    out = case.engine(*engine_inputs())
    grad = out.numpy() * 0 + 1

    def forward():
        with eg.no_grad():
            case.engine(*engine_inputs())

    def forward_backward():
        case.engine(*engine_inputs()).backward(grad)

    row = {"op": case.op, "variant": case.variant, "shape": case.label, "device": device,
           "check": check(case, device)}
    median, iqr = measure(forward, repeats=repeats, device=device)
    row.update(forward_ms=median * 1e3, forward_iqr_ms=iqr * 1e3)
    if case.backward:
        median, iqr = measure(forward_backward, repeats=repeats, device=device)
        row.update(forward_backward_ms=median * 1e3, forward_backward_iqr_ms=iqr * 1e3)
    moved = case.bytes(out.shape)
    seconds = row["forward_ms"] / 1e3
    row.update(gflops=case.flops / seconds / 1e9, gbytes_per_s=moved / seconds / 1e9,
               intensity=case.flops / moved)
    roof = min(peaks["gflops"], row["intensity"] * peaks["gbytes_per_s"])
    row["roofline_fraction"] = row["gflops"] / roof
    return row, (host, grad)


def time_torch(case, row, inputs, torch, repeats):
    """PyTorch's CPU times for the same op and inputs, and the engine's ratio to them."""
    host, grad = inputs
    copies = len(host)
    tin = rotated(lambda it=iter(host): [torch.tensor(a, requires_grad=True) for a in next(it)],
                  copies)
    tgrad = torch.tensor(grad)

    def torch_forward():
        with torch.no_grad():
            case.torch(torch, *tin())

    def torch_forward_backward():
        case.torch(torch, *tin()).backward(tgrad)

    row["torch_forward_ms"] = measure(torch_forward, repeats=repeats)[0] * 1e3
    row["ratio_forward"] = row["forward_ms"] / row["torch_forward_ms"]
    if case.backward:
        row["torch_forward_backward_ms"] = measure(torch_forward_backward, repeats=repeats)[0] * 1e3
        row["ratio_forward_backward"] = row["forward_backward_ms"] / row["torch_forward_backward_ms"]


def print_table(rows, peaks):
    print(f"\npeaks: {peaks['gflops']:.0f} GFLOP/s (sgemm 2048), {peaks['gbytes_per_s']:.1f} GB/s "
          f"(copy of 256 MB)")
    header = (f"{'op':<26}{'shape':<34}{'check':<7}{'fwd ms':>9}{'f+b ms':>9}{'GFLOP/s':>9}"
              f"{'GB/s':>7}{'roof':>6}{'torch f+b':>10}{'ratio':>7}")
    print(header)
    print("-" * len(header))
    for r in rows:
        name = r["op"] if r["variant"] == "-" else f"{r['op']}[{r['variant']}]"
        fb = r.get("forward_backward_ms")
        tfb = r.get("torch_forward_backward_ms")
        ratio = r.get("ratio_forward_backward", r.get("ratio_forward"))
        print(f"{name:<26}{r['shape']:<34}{r['check']:<7}{r['forward_ms']:>9.2f}"
              f"{fb if fb is not None else float('nan'):>9.2f}{r['gflops']:>9.1f}"
              f"{r['gbytes_per_s']:>7.1f}{r['roofline_fraction']:>6.0%}"
              f"{tfb if tfb is not None else float('nan'):>10.2f}"
              f"{ratio if ratio is not None else float('nan'):>7.2f}")


def charts(rows, peaks, folder):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 5.5))
    intensity = np.logspace(-2, 3, 200)
    ax.loglog(intensity, np.minimum(peaks["gflops"], intensity * peaks["gbytes_per_s"]), "k-",
              label="roofline (measured peaks)")
    for r in rows:
        name = r["op"] if r["variant"] == "-" else f"{r['op']}[{r['variant']}]"
        ax.scatter(r["intensity"], r["gflops"], s=25)
        ax.annotate(f"{name} {r['shape'].split()[0]}", (r["intensity"], r["gflops"]), fontsize=6,
                    xytext=(3, 2), textcoords="offset points")
    ax.set(xlabel="arithmetic intensity (FLOP per byte)", ylabel="GFLOP/s (forward)",
           title="Engine kernels on the roofline")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(os.path.join(folder, "roofline.png"), dpi=120)
    plt.close(fig)
    compared = [r for r in rows if "ratio_forward" in r]
    if compared:
        fig, ax = plt.subplots(figsize=(8, 0.3 * len(compared) + 1.5))
        labels = [f"{r['op']}[{r['variant']}] {r['shape'].split()[0]}" for r in compared]
        ratios = [r.get("ratio_forward_backward", r["ratio_forward"]) for r in compared]
        ax.barh(labels, ratios, color=["tab:green" if v <= 1 else "tab:orange" for v in ratios])
        ax.axvline(1, color="k", linewidth=1)
        ax.set_xscale("log")
        ax.set(xlabel="engine time / PyTorch time (forward + backward; < 1 is faster)",
               title="Engine against PyTorch (CPU)")
        ax.tick_params(axis="y", labelsize=7)
        fig.tight_layout()
        fig.savefig(os.path.join(folder, "ratios.png"), dpi=120)
        plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer cases and repeats (< 2 min)")
    parser.add_argument("--op", nargs="+", help="only these ops (e.g. conv2d matmul)")
    parser.add_argument("--device", nargs="+", default=["cpu"])
    parser.add_argument("--variant", nargs="+", help="only these variants (e.g. im2col winograd)")
    parser.add_argument("--repeats", type=int, help="timed runs per case (default 15, quick 5)")
    parser.add_argument("--no-training", action="store_true", help="skip the training benchmark")
    parser.add_argument("--json", help="write every row to this file")
    parser.add_argument("--csv", help="write the op rows to this CSV file")
    parser.add_argument("--out", default=os.path.join("out", "bench"), help="folder for the charts")
    args = parser.parse_args(argv)
    repeats = args.repeats or (5 if args.quick else 15)
    started = time.perf_counter()
    peaks = {"gflops": sgemm_rate(), "gbytes_per_s": copy_bandwidth()}
    selected = [c for c in cases() if (not args.quick or c.quick)
                and (args.op is None or c.op in args.op)
                and (args.variant is None or c.variant in args.variant)]
    rows, timed = [], []
    for device in args.device:
        for case in selected:
            if backend.variants(case.op, device) and not backend.runs_on(case.op, case.variant, device):
                continue  # variants exist per device
            print(f"  {case.name} {case.label} on {device}", file=sys.stderr, flush=True)
            row, inputs = time_case(case, device, repeats, peaks)
            rows.append(row)
            timed.append((case, row, inputs))
    # PyTorch is imported only now: its OpenMP and MKL runtimes slow the engine's kernels by up
    # to 30% once loaded, so each side is timed without the other's threads around.
    torch = torch_or_none()
    if torch is None:
        print("PyTorch is not installed: the engine alone was timed (pip install -e '.[bench]')")
    else:
        torch.set_num_threads(os.cpu_count())
        for case, row, inputs in timed:
            if case.torch is not None and row["device"] == "cpu":  # torch's CPU build
                time_torch(case, row, inputs, torch, repeats)
    print_table(rows, peaks)
    training_rows = []
    if not args.no_training and args.op is None:
        networks = ["mlp", "cnn"] if args.quick else list(training.NETWORKS)
        training_rows = training.run(networks, repeats)
        print("\ntraining step (forward, loss, backward, SGD update)")
        for r in training_rows:
            line = f"  {r['network']:<6} engine {1e3 / r['engine_ms']:8.1f} steps/s"
            if "torch_ms" in r:
                line += f"  torch {1e3 / r['torch_ms']:8.1f} steps/s  ratio {r['ratio']:.2f}"
            print(line)
    os.makedirs(args.out, exist_ok=True)
    charts(rows, peaks, args.out)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"peaks": peaks, "ops": rows, "training": training_rows}, f, indent=2,
                      default=str)
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=sorted({k for r in rows for k in r}))
            writer.writeheader()
            writer.writerows(rows)
    mismatches = [r for r in rows if r["check"] == "MISMATCH"]
    print(f"\n{len(rows)} cases in {time.perf_counter() - started:.0f} s; charts in {args.out}"
          + (f"; {len(mismatches)} reference MISMATCH" if mismatches else ""))
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
