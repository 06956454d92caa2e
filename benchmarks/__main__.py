"""python -m benchmarks: every op x device x variant, checked, timed, placed on the roofline,
and the course networks' training steps, each beside PyTorch's CPU build when it is installed.

Each library runs in a fresh process of its own for every item and round (benchmarks.worker):
numpy imported first, then the library, as users write it, with the thread count stated, so
that neither library's thread pools spin over the other's cores. Rounds alternate which side
runs first; the table shows the median over rounds of each process's median after warm-up.
Each op is first checked against kernels/reference on its catalogue case's small inputs; FLOPs
and minimal bytes place it on a roofline whose peaks (a large GEMM, a large copy) are measured
once per run. Training rows show the resident memory a step adds to its process as well.
Writes a table, --json, --csv, and roofline.png and ratios.png in --out.
"""
import argparse
import csv
import importlib.util
import json
import os
import subprocess
import sys
import time

import numpy as np

from engine import backend

from . import training
from .cases import cases, named
from .machine import describe, subtitle
from .timing import copy_bandwidth, sgemm_rate

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def worker(side, kind, item, device, repeats, threads):
    """Run one side of one item in a fresh process and return its JSON row."""
    command = [sys.executable, "-m", "benchmarks.worker", side, kind, str(item), "--device", device,
               "--repeats", str(repeats), "--threads", str(threads)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])))
    if side == "torch":  # it imports the engine for its inputs: not its malloc settings too
        env["ENGINE_MALLOC"] = "default"
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[2:])} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def rounds_median(side, kind, item, device, repeats, threads, rounds, torch_first):
    """Both sides' rows, `rounds` times with alternating order, as medians per field."""
    runs = {s: [] for s in side}
    for r in range(rounds):
        order = list(side) if (r + torch_first) % 2 == 0 else list(reversed(side))
        for s in order:
            runs[s].append(worker(s, kind, item, device, repeats, threads))
    merged = {}
    for s, rows in runs.items():
        for key, value in rows[0].items():
            if isinstance(value, (int, float)):
                merged[(s, key)] = float(np.median([row[key] for row in rows]))
            else:
                merged[(s, key)] = value
    return merged


def op_row(case, index, device, sides, args, peaks, kind="op"):
    """The row of a case: `index` into cases() (kind "op"), or named()'s JSON (kind "call")."""
    got = rounds_median(sides, kind, index, device, args.repeats, args.threads, args.rounds, 0)
    row = {"op": case.op, "variant": case.variant, "shape": case.label, "device": device,
           "check": got[("engine", "check")], "threads": int(got[("engine", "threads")]),
           "forward_ms": got[("engine", "forward_ms")],
           "forward_iqr_ms": got[("engine", "forward_iqr_ms")],
           "added_mb": got[("engine", "added_mb")]}
    if case.backward:
        row["forward_backward_ms"] = got[("engine", "forward_backward_ms")]
    moved = case.bytes(got[("engine", "out_shape")])
    seconds = row["forward_ms"] / 1e3
    row.update(gflops=case.flops / seconds / 1e9, gbytes_per_s=moved / seconds / 1e9,
               intensity=case.flops / moved, flops_convention=case.convention)
    if case.algorithm_flops is not None:
        row["algorithm_gflops"] = case.algorithm_flops / seconds / 1e9
    roof = min(peaks["gflops"], row["intensity"] * peaks["gbytes_per_s"])
    row["roofline_fraction"] = row["gflops"] / roof
    if "torch" in sides:
        row["torch_forward_ms"] = got[("torch", "forward_ms")]
        row["ratio_forward"] = row["forward_ms"] / row["torch_forward_ms"]
        row["torch_added_mb"] = got[("torch", "added_mb")]
        if case.backward:
            row["torch_forward_backward_ms"] = got[("torch", "forward_backward_ms")]
            row["ratio_forward_backward"] = (row["forward_backward_ms"]
                                             / row["torch_forward_backward_ms"])
    return row


def training_row(network, sides, args):
    got = rounds_median(sides, "train", network, "cpu", args.repeats, args.threads, args.rounds, 1)
    factory, shape, kind = training.NETWORKS[network]
    row = {"network": network, "batch": list(shape), "engine_ms": got[("engine", "step_ms")],
           "engine_iqr_ms": got[("engine", "step_iqr_ms")], "engine_added_mb": got[("engine", "added_mb")]}
    if "torch" in sides:
        row.update(torch_ms=got[("torch", "step_ms")], torch_added_mb=got[("torch", "added_mb")])
        row["ratio"] = row["engine_ms"] / row["torch_ms"]
        row["memory_ratio"] = row["engine_added_mb"] / max(row["torch_added_mb"], 1e-9)
    return row


def _name(row):
    return row["op"] if row["variant"] == "-" else f"{row['op']}[{row['variant']}]"


ABOVE = {"compute": "above the compute roof: fewer FLOPs than the direct count (fast algorithm)",
         "memory": "above the memory roof: its data was in cache, or the copy measured low"}


def above_roof(row, peaks):
    """None under the roof, else which roof the row is above ("compute" or "memory"). FLOPs are
    counted the direct way (a convolution's 2 N Cout Hout Wout Cin kh kw): an algorithm doing
    fewer (Winograd) shows a rate above the compute roof."""
    if row["roofline_fraction"] <= 1:
        return None
    return "compute" if row["intensity"] * peaks["gbytes_per_s"] >= peaks["gflops"] else "memory"


def print_table(rows, peaks):
    print(f"\npeaks: {peaks['gflops']:.0f} GFLOP/s (sgemm 2048), {peaks['gbytes_per_s']:.1f} GB/s "
          f"(copy of 256 MB), measured at the start of this run")
    header = (f"{'op':<26}{'shape':<34}{'check':<10}{'fwd ms':>9}{'f+b ms':>9}{'GFLOP/s':>9}"
              f"{'GB/s':>7}{'roof':>7}{'torch f+b':>10}{'ratio':>7}")
    print(header)
    print("-" * len(header))
    for r in rows:
        fb = r.get("forward_backward_ms")
        tfb = r.get("torch_forward_backward_ms", r.get("torch_forward_ms"))
        ratio = r.get("ratio_forward_backward", r.get("ratio_forward"))
        roof = f"{r['roofline_fraction']:.0%}" + ("*" if r["roofline_fraction"] > 1 else " ")
        print(f"{_name(r):<26}{r['shape']:<34}{r['check']:<10}{r['forward_ms']:>9.2f}"
              f"{_number(fb, 9)}{_number(r['gflops'] or None, 9, '.1f')}"
              f"{r['gbytes_per_s']:>7.1f}{roof:>7}{_number(tfb, 10)}{_number(ratio, 7)}")
    for roof in sorted({above_roof(r, peaks) for r in rows} - {None}):
        print(f"* {ABOVE[roof]}")
    if any(r["op"].startswith("conv") for r in rows):
        print("GFLOP/s count the direct convolution's FLOPs whatever the algorithm (effective "
              "rates); the JSON's algorithm_gflops counts Winograd's own multiplications")
    if rows and not any("torch_forward_ms" in r for r in rows):
        print("(PyTorch was not timed: pip install -e '.[bench]' for the ratios)")


def _number(value, width, form=".2f"):
    """value in a column, or '-' where there is none (no PyTorch, no backward, no FLOP count)."""
    return f"{value:>{width}{form}}" if value is not None else f"{'-':>{width}}"


def print_training(rows):
    print("\ntraining step (forward, loss, backward, SGD momentum update); memory = resident memory "
          "the steps added to the process")
    header = (f"{'network':<8}{'batch':<18}{'engine ms':>10}{'torch ms':>10}{'ratio':>7}"
              f"{'engine MB':>11}{'torch MB':>10}{'ratio':>7}")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['network']:<8}{'x'.join(map(str, r['batch'])):<18}{r['engine_ms']:>10.2f}"
              f"{_number(r.get('torch_ms'), 10)}{_number(r.get('ratio'), 7)}"
              f"{r['engine_added_mb']:>11.1f}{_number(r.get('torch_added_mb'), 10, '.1f')}"
              f"{_number(r.get('memory_ratio'), 7)}")


def charts(rows, training_rows, peaks, folder, subtitle):
    """roofline.png, and ratios.png beside PyTorch (or, without it, roof.png: the engine alone);
    returns the files written."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch
    written = []

    def save(fig, name):
        fig.tight_layout()
        fig.savefig(os.path.join(folder, name), dpi=120)
        plt.close(fig)
        written.append(name)

    fig, ax = plt.subplots(figsize=(8, 5.5))
    intensity = np.logspace(-2, 3, 200)
    ax.loglog(intensity, np.minimum(peaks["gflops"], intensity * peaks["gbytes_per_s"]), "k-",
              label=f"roof: {peaks['gflops']:.0f} GFLOP/s sgemm, {peaks['gbytes_per_s']:.1f} GB/s "
                    "copy (measured)")
    counted = [r for r in rows if r["gflops"] > 0]
    for roof, marker, color in ((None, "o", "tab:blue"), ("compute", "^", "tab:red"),
                                ("memory", "v", "tab:purple")):
        chosen = [r for r in counted if above_roof(r, peaks) == roof]
        if chosen:
            ax.scatter([r["intensity"] for r in chosen], [r["gflops"] for r in chosen], s=25,
                       marker=marker, color=color, label=ABOVE.get(roof, "forward pass of an op"))
    for r in counted:
        ax.annotate(f"{_name(r)} {r['shape'].split()[0]} {r['roofline_fraction']:.0%}",
                    (r["intensity"], r["gflops"]), fontsize=6, xytext=(3, 2),
                    textcoords="offset points")
    ax.set(xlabel="arithmetic intensity (FLOP per byte moved at least)",
           ylabel="GFLOP/s (forward)")
    ax.set_title(f"Engine kernels on the roofline\n{subtitle}", fontsize=9)
    ax.legend(loc="lower right", fontsize=7)
    save(fig, "roofline.png")

    compared = [(f"{_name(r)} {r['shape'].split()[0]}",
                 r.get("ratio_forward_backward", r["ratio_forward"]))
                for r in rows if "ratio_forward" in r]
    compared += [(f"training step: {r['network']}", r["ratio"]) for r in training_rows
                 if "ratio" in r]
    if compared:
        labels, values = zip(*compared)
        xlabel = "engine time / PyTorch time (forward + backward where timed; < 1 is faster)"
        title = "Engine against PyTorch, each in its own process"
        colors = ["tab:green" if v <= 1 else "tab:orange" for v in values]
        legend = [Patch(color="tab:green", label="engine faster"),
                  Patch(color="tab:orange", label="PyTorch faster")]
        name, text = "ratios.png", "{:.2f}x"
    elif counted:  # without PyTorch: each op's fraction of its roof
        labels = [f"{_name(r)} {r['shape'].split()[0]}" for r in counted]
        values = [r["roofline_fraction"] for r in counted]
        xlabel = "fraction of the roof (forward)"
        title = "Engine kernels alone (PyTorch is not installed: pip install -e '.[bench]')"
        shade = {None: "tab:blue", "compute": "tab:red", "memory": "tab:purple"}
        roofs = [above_roof(r, peaks) for r in counted]
        colors = [shade[roof] for roof in roofs]
        legend = [Patch(color=shade[roof], label=ABOVE.get(roof, "under the roof"))
                  for roof in dict.fromkeys([None] + roofs)]
        name, text = "roof.png", "{:.0%}"
    else:
        return written
    fig, ax = plt.subplots(figsize=(8, 0.3 * len(values) + 0.25 * len(legend) + 2))
    values = tuple(values)
    bars = ax.barh(labels, values, color=colors)
    ax.bar_label(bars, labels=[text.format(v) for v in values], fontsize=7, padding=2)
    ax.axvline(1, color="k", linewidth=1)
    ax.set_xscale("log")
    ax.set_xlim(min(values + (1,)) / 1.5, max(values + (1,)) * 2)
    ax.xaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1, 2, 5)))
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(plt.FuncFormatter(lambda v, _: ""))
    ax.set_xlabel(xlabel)
    ax.set_title(f"{title}\n{subtitle}", fontsize=9)
    ax.legend(handles=legend, loc="upper center", bbox_to_anchor=(0.5, -0.3), fontsize=7,
              frameon=False)  # below the axis, never over a bar
    ax.tick_params(axis="y", labelsize=7)
    ax.invert_yaxis()  # in the table's order, top down
    save(fig, name)
    return written


def compare(rows, training_rows, baseline, threshold=0.05):
    """Each time of this run against the baseline's (a --json file of an earlier run): the
    change, and SLOWER where it grew by more than `threshold` and by more than twice the two
    runs' spread (their IQRs relative to their medians, added). Returns (lines, slowdowns)."""
    def keyed(items, key):
        return {key(r): r for r in items}
    pairs = []  # (name, new ms, new iqr, old ms, old iqr, new ratio, old ratio)
    old_ops = keyed(baseline.get("ops", []), lambda r: (r["op"], r["variant"], r["shape"],
                                                        r["device"]))
    for r in rows:
        o = old_ops.get((r["op"], r["variant"], r["shape"], r["device"]))
        if o:
            name = f"{r['op']}[{r['variant']}] {r['shape'].split()[0]} {r['device']}"
            pairs.append((name, r["forward_ms"], r.get("forward_iqr_ms", 0), o["forward_ms"],
                          o.get("forward_iqr_ms", 0), r.get("ratio_forward"),
                          o.get("ratio_forward")))
    old_steps = keyed(baseline.get("training", []), lambda r: r["network"])
    for r in training_rows:
        o = old_steps.get(r["network"])
        if o:
            pairs.append((f"training step {r['network']}", r["engine_ms"],
                          r.get("engine_iqr_ms", 0), o["engine_ms"], o.get("engine_iqr_ms", 0),
                          r.get("ratio"), o.get("ratio")))
    lines = [f"{'compared with the baseline':<44}{'ms':>9}{'was':>9}{'change':>8}{'noise':>7}"
             f"{'ratio':>7}{'was':>6}"]
    slowdowns = []
    for name, new, new_iqr, old, old_iqr, ratio, old_ratio in pairs:
        change = new / old - 1
        noise = new_iqr / new + old_iqr / old
        slower = change > max(threshold, 2 * noise)
        slowdowns += [name] if slower else []
        ratios = (f"{ratio:>7.2f}{old_ratio:>6.2f}" if ratio is not None and old_ratio is not None
                  else f"{'-':>7}{'-':>6}")
        lines.append(f"{name:<44}{new:>9.2f}{old:>9.2f}{change:>+8.0%}{noise:>7.0%}{ratios}"
                     + ("  SLOWER" if slower else ""))
    if not pairs:
        lines.append("(no item of this run is in the baseline)")
    return lines, slowdowns


def _shape(text):
    try:
        return tuple(int(n) for n in text.split(",") if n)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a shape such as 8,64,64,64, got {text!r}")


def _value(text):
    """A keyword argument from the command line: an int, a float, a tuple of ints, or a word."""
    for parse in (int, float, lambda t: tuple(int(n) for n in t.split(",") if n) if "," in t
                  else None):
        try:
            value = parse(text)
            if value is not None:
                return value
        except ValueError:
            pass
    return {"True": True, "False": False, "None": None}.get(text, text)


def _keywords(extra):
    """--name value pairs (a lone --flag is True) as keyword arguments of the op."""
    kwargs, key = {}, None
    for word in extra:
        if word.startswith("--"):
            key = word[2:].replace("-", "_")
            kwargs[key] = True
        elif key is None:
            raise SystemExit(f"unexpected argument {word!r}: keyword arguments go as --name value")
        else:
            kwargs[key], key = _value(word), None
    return kwargs


def op_command(argv):
    """python -m benchmarks op NAME --input SHAPE [--weight SHAPE] [--bias SHAPE] [--other SHAPE]
    [--KEYWORD VALUE ...]: one op at the shapes you name, every variant you ask for, beside
    PyTorch, each side in its own process (as the full benchmark)."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks op", description=op_command.__doc__,
        epilog="Other --name value pairs are the op's keyword arguments (--padding 1, --stride 2,2, "
               "--mode bilinear). Example: python -m benchmarks op conv2d --input 8,64,64,64 "
               "--weight 64,64,3,3 --padding 1 --variants all --backward")
    parser.add_argument("op", help="a function of engine.nn.functional or engine (conv2d, matmul, "
                        "add, log_softmax, ...), called with float32 tensors of the given shapes")
    for name in ("input", "weight", "bias", "other"):  # in the order the op takes them
        parser.add_argument(f"--{name}", type=_shape, metavar="SHAPE")
    parser.add_argument("--variants", default=None,
                        help="'all', or variant names with commas (default: the default one)")
    parser.add_argument("--backward", action="store_true", help="time forward + backward too")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=15, help="timed runs per process")
    parser.add_argument("--rounds", type=int, default=3, help="processes per side")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--no-torch", action="store_true", help="time the engine alone")
    parser.add_argument("--json", help="write the rows to this file")
    args, extra = parser.parse_known_args(argv)
    kwargs = _keywords(extra)
    shapes = [s for s in (args.input, args.weight, args.bias, args.other) if s is not None]
    if not shapes:
        parser.error("give the shape of at least one tensor (--input 8,64,64,64)")
    names = backend.variants(args.op, args.device)
    if args.variants == "all":
        chosen = list(names) or ["-"]
    elif args.variants:
        chosen = args.variants.split(",")
        unknown = [v for v in chosen if v not in names]
        if unknown:
            parser.error(f"{args.op} on {args.device} has no variant {', '.join(unknown)}; "
                         f"it has {', '.join(names) or 'none'}")
    else:
        chosen = ["-"]
    torch_present = not args.no_torch and importlib.util.find_spec("torch") is not None
    print(f"{args.threads} threads per library, {args.rounds} rounds of {args.repeats} timed runs, "
          "each library in its own process" + ("" if torch_present else "; PyTorch not timed"),
          flush=True)
    machine = describe(args.threads)
    print(f"on {subtitle(machine, time.strftime('%Y-%m-%d'))}", flush=True)
    peaks = {"gflops": sgemm_rate(), "gbytes_per_s": copy_bandwidth()}
    rows, torch_row = [], None
    for variant in chosen:
        spec = {"op": args.op, "shapes": shapes, "kwargs": kwargs, "variant": variant,
                "backward": args.backward}
        case = named(**spec)
        # PyTorch has no variants: timed once, beside the first
        sides = ("engine", "torch") if torch_present and torch_row is None else ("engine",)
        row = op_row(case, json.dumps(spec), args.device, sides, args, peaks, kind="call")
        torch_row = torch_row or {k: v for k, v in row.items() if k.startswith("torch_")}
        _compare(row, torch_row)
        rows.append(row)
    print_table(rows, peaks)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine, "date": time.strftime("%Y-%m-%d"), "peaks": peaks,
                       "threads": args.threads, "ops": rows}, f, indent=2)
    return 0


def _compare(row, torch_row):
    """Fill in PyTorch's times and the ratios from the row that timed them."""
    row.update(torch_row)
    if "torch_forward_ms" in row:
        row["ratio_forward"] = row["forward_ms"] / row["torch_forward_ms"]
        if "torch_forward_backward_ms" in row and "forward_backward_ms" in row:
            row["ratio_forward_backward"] = (row["forward_backward_ms"]
                                             / row["torch_forward_backward_ms"])


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["op"]:
        return op_command(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer cases, repeats and rounds")
    parser.add_argument("--op", nargs="+", help="only these ops (e.g. conv2d matmul)")
    parser.add_argument("--device", nargs="+", default=["cpu"])
    parser.add_argument("--variant", nargs="+", help="only these variants (e.g. im2col winograd)")
    parser.add_argument("--repeats", type=int, help="timed runs per process (default 15, quick 5)")
    parser.add_argument("--rounds", type=int, help="processes per side and item (default 5, quick 2)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="threads for each library (default: every core)")
    parser.add_argument("--network", nargs="+", choices=list(training.NETWORKS),
                        help="training steps to time (default: all)")
    parser.add_argument("--no-training", action="store_true", help="skip the training steps")
    parser.add_argument("--no-ops", action="store_true", help="only the training steps")
    parser.add_argument("--no-torch", action="store_true", help="time the engine alone")
    parser.add_argument("--json", help="write every row to this file")
    parser.add_argument("--csv", help="write the op rows to this CSV file")
    parser.add_argument("--compare", metavar="BASELINE", help="a --json file of an earlier run: "
                        "print each time's change and flag slowdowns beyond the noise (exit 1)")
    parser.add_argument("--out", default=os.path.join("out", "bench"), help="folder for the charts")
    args = parser.parse_args(argv)
    args.repeats = args.repeats or (5 if args.quick else 15)
    args.rounds = args.rounds or (2 if args.quick else 5)
    started = time.perf_counter()
    torch_present = not args.no_torch and importlib.util.find_spec("torch") is not None
    if not torch_present and not args.no_torch:
        print("PyTorch is not installed: the engine alone is timed (pip install -e '.[bench]')")
    print(f"{args.threads} threads per library, {args.rounds} rounds of {args.repeats} timed runs, "
          "each library in its own process", flush=True)
    machine, date = describe(args.threads), time.strftime("%Y-%m-%d")
    print(f"on {subtitle(machine, date)}", flush=True)
    peaks = {"gflops": sgemm_rate(), "gbytes_per_s": copy_bandwidth()}
    rows = []
    for device in [] if args.no_ops else args.device:
        sides = ("engine", "torch") if torch_present and device == "cpu" else ("engine",)
        for index, case in enumerate(cases()):
            if ((args.quick and not case.quick) or (args.op and case.op not in args.op)
                    or (args.variant and case.variant not in args.variant)):
                continue
            if (case.variant != "-" and backend.variants(case.op, device)
                    and not backend.runs_on(case.op, case.variant, device)):
                continue  # variants exist per device; "-" runs the default
            print(f"  {case.name} {case.label} on {device}", file=sys.stderr, flush=True)
            rows.append(op_row(case, index, device, sides if case.torch else ("engine",), args, peaks))
    print_table(rows, peaks)
    training_rows = []
    if not args.no_training and args.op is None:
        sides = ("engine", "torch") if torch_present else ("engine",)
        for network in args.network or list(training.NETWORKS):
            print(f"  training step: {network}", file=sys.stderr, flush=True)
            training_rows.append(training_row(network, sides, args))
        print_training(training_rows)
    os.makedirs(args.out, exist_ok=True)
    written = charts(rows, training_rows, peaks, args.out, subtitle(machine, date))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine, "date": date, "peaks": peaks, "threads": args.threads,
                       "ops": rows, "training": training_rows}, f, indent=2, default=str)
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=sorted({k for r in rows for k in r}))
            writer.writeheader()
            writer.writerows(rows)
    slowdowns = []
    if args.compare:
        with open(args.compare) as f:
            lines, slowdowns = compare(rows, training_rows, json.load(f))
        print("\n" + "\n".join(lines))
    mismatches = [r for r in rows if r["check"] == "MISMATCH"]
    print(f"\n{len(rows)} cases, {len(training_rows)} training steps in "
          f"{time.perf_counter() - started:.0f} s; {', '.join(written)} in {args.out}"
          + (f"; {len(mismatches)} reference MISMATCH" if mismatches else "")
          + (f"; {len(slowdowns)} slower than the baseline" if slowdowns else ""))
    return 1 if mismatches or slowdowns else 0


if __name__ == "__main__":
    sys.exit(main())
