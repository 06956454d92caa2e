"""python -m benchmarks.distributed: data-parallel training, measured on this machine's cores and
projected to clusters with a ring-allreduce model.

Measured: mpiexec -n 1 and mpiexec -n 2 of this module's worker mode, one engine thread per rank.
Each network of --networks trains from one seed's weights on random inputs under
engine.distributed.DistributedDataParallel, at the global batch of benchmarks.training.NETWORKS
(with 2 ranks each rank takes half of it): forward, loss, backward, SGD momentum step, medians of
the timed steps after warm-up, on rank 0, then medians over --rounds alternating runs of the two
worlds. Beside the step time and the scaling efficiency, DDP's
own timings of the gradient allreduce: its whole span, and the part left exposed at the end of
backward. Raw MPI Allreduce times of 4 KB .. 64 MB on 2 ranks fit t(n) = alpha + n / bandwidth
of the shared-memory link.

Projected: ring_allreduce_s and project() below, on the links of LINKS and the measured one, for
2 .. 512 workers at a fixed per-worker batch (weak scaling); every network's compute comes from
its 1-rank run. "Where data parallelism stops paying": the most workers whose efficiency stays at
EFFICIENCY_FLOOR or above.

    python -m benchmarks.distributed [--networks cnn,dncnn] [--steps N] [--rounds R]
                                     [--out DIR] [--quick]

Writes distributed-2cores.json and distributed-scaling.png in --out and prints a table.
"""
import numpy as np  # noqa: I001  (before the engine, as users import it)

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from . import training
from .machine import describe, subtitle

GBIT = 1e9 / 8  # bytes per second in 1 Gb/s
# The links projected to: (alpha_s, bandwidth). alpha_s is the latency of one message of a ring
# step, bandwidth the bytes per second each worker sends (and receives) at the same time.
LINKS = {
    "10 Gb/s Ethernet": (30e-6, 10 * GBIT),      # TCP through a commodity switch
    "100 Gb/s InfiniBand": (5e-6, 100 * GBIT),   # RDMA NICs, EDR-class (or 100 GbE with RoCE)
    "NVLink": (2e-6, 300e9),                     # NVLink-class GPU-to-GPU links
}
MEASURED_LINK = "shared memory (measured)"  # from this machine's fit, added at run time
WORKERS = [2 ** k for k in range(1, 10)]    # 2 .. 512 projected workers
EFFICIENCY_FLOOR = 0.8
# These networks' gradients are 0.2-1.7 MB: with the engine's 4 MB default each fits one bucket,
# which can only start once backward ends, so nothing could overlap. 0.1 MB gives 3-10 buckets.
BUCKET_CAP_MB = 0.1

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JSON_NAME, PNG_NAME = "distributed-2cores.json", "distributed-scaling.png"


# --- the model -----------------------------------------------------------------------------------
def ring_allreduce_s(p, nbytes, buckets, alpha_s, bandwidth):
    """Seconds for p workers to sum nbytes of gradients, sent as `buckets` messages, by ring
    allreduce (a reduce-scatter then an all-gather, p - 1 steps each): every bucket pays
    2 (p - 1) latencies alpha_s, and every worker sends 2 (p - 1) / p of the bytes at `bandwidth`
    bytes/s. One worker sends nothing."""
    return 2 * (p - 1) * alpha_s * buckets + 2 * (p - 1) / p * nbytes / bandwidth


def project(p, compute, alpha_s, bandwidth):
    """One step of p workers, each on the batch `compute` was measured at (weak scaling).

    compute: step_s (the 1-rank step), backward_s, first_bucket_s (from the start of backward
    until the first bucket's gradients are all there), parameter_bytes and buckets. The
    allreduce can hide behind what is left of backward once the first bucket is ready; the rest
    is exposed and adds to the step: efficiency = step_s / (step_s + exposed)."""
    comm = ring_allreduce_s(p, compute["parameter_bytes"], compute["buckets"], alpha_s, bandwidth)
    overlappable = compute["backward_s"] - compute["first_bucket_s"]
    exposed = max(0.0, comm - overlappable)
    step = compute["step_s"] + exposed
    return {"comm_s": comm, "exposed_s": exposed, "step_s": step,
            "efficiency": compute["step_s"] / step}


def fit_alpha_beta(sizes, seconds):
    """(alpha_s, bandwidth) of t(n) = alpha_s + n / bandwidth, by least squares on the relative
    error, so that the small messages (latency) count as much as the large ones (bandwidth)."""
    n, t = np.asarray(sizes, float), np.asarray(seconds, float)
    rows = np.stack([np.ones_like(n), n], axis=1) / t[:, None]
    (alpha, inverse_bandwidth), *_ = np.linalg.lstsq(rows, np.ones_like(t), rcond=None)
    return float(alpha), float(1 / inverse_bandwidth)


def largest_workers(projection, floor=EFFICIENCY_FLOOR):
    """The most workers whose efficiency is at floor or above, or 1 when not even 2 are."""
    return max([1] + [p for p, e in zip(projection["workers"], projection["efficiency"])
                      if e >= floor])


# --- the worker: one process per rank under mpiexec --------------------------------------------
def train(name, steps, warmup, bucket_cap_mb):
    """Time `steps` training steps of network `name` after `warmup` under DDP; rank 0's medians."""
    import engine as eg
    import engine.distributed as dist
    from engine import optim
    F = eg.nn.functional
    rank, world = dist.init()
    factory, shape, kind = training.NETWORKS[name]
    batch = shape[0] // world
    eg.manual_seed(0)
    model = factory()
    ddp = dist.DistributedDataParallel(model, bucket_cap_mb=bucket_cap_mb)
    optimizer = optim.SGD(ddp.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(rank)  # each rank its own random shard
    x = eg.tensor(rng.random((batch, *shape[1:]), dtype=np.float32))
    target = eg.tensor(rng.integers(0, 10, batch) if kind == "classes"
                       else rng.random((batch, *shape[1:]), dtype=np.float32))
    # when each gradient is final: the first bucket's readiness bounds what backward can hide
    ready = {}

    def mark(p):
        ready[id(p)] = time.perf_counter()
    for p in model.parameters():
        p.register_post_accumulate_grad_hook(mark)
    groups = dist.DistributedDataParallel.bucket_groups(model, bucket_cap_mb)
    records = []
    for i in range(warmup + steps):
        dist.barrier()  # every rank starts the step together
        start = time.perf_counter()
        out = ddp(x)
        loss = F.cross_entropy(out, target) if kind == "classes" else F.mse_loss(out, target)
        optimizer.zero_grad()
        backward_start = time.perf_counter()
        loss.backward()
        backward_end = time.perf_counter()
        optimizer.step()
        end = time.perf_counter()
        if i >= warmup:
            records.append({
                "step_s": end - start, "forward_s": backward_start - start,
                "backward_s": backward_end - backward_start,
                "first_bucket_s": max(ready[id(p)] for p in groups[0]) - backward_start,
                "allreduce_s": ddp.last_allreduce_s, "wait_s": ddp.last_wait_s,
                "copy_s": ddp.last_copy_s})
    median = {key: float(np.median([r[key] for r in records])) for key in records[0]}
    return {**median, "world": world, "batch_per_rank": batch, "global_batch": shape[0],
            "samples_per_s": shape[0] / median["step_s"], "steps": steps,
            "parameters": sum(p.numel() for p in model.parameters()),
            "parameter_bytes": sum(p.numel() * p.dtype.itemsize for p in model.parameters()),
            "buckets": ddp.last_buckets, "overlapped_buckets": ddp.last_overlapped_buckets,
            "bytes": ddp.last_bytes, "model_buckets": len(groups)}


def allreduce_sweep(sizes, repeats):
    """Median seconds of an in-place float32 MPI Allreduce (sum) of each size in bytes."""
    from mpi4py import MPI

    import engine.distributed as dist
    comm = dist._get_world().comm
    medians = []
    for nbytes in sizes:
        buffer = np.zeros(nbytes // 4, np.float32)
        times = []
        for _ in range(2 + (repeats if nbytes <= 2 ** 20 else max(3, repeats // 4))):
            comm.Barrier()
            start = time.perf_counter()
            comm.Allreduce(MPI.IN_PLACE, buffer, op=MPI.SUM)
            times.append(time.perf_counter() - start)
        medians.append(float(np.median(times[2:])))  # the first 2 set up the buffers
    return medians


def worker(args):
    """One rank: every network at 1 rank (those outside --networks with fewer steps, for their
    compute time only), or --networks and the allreduce sweep at 2; rank 0 writes the JSON."""
    import engine as eg
    import engine.distributed as dist
    eg.set_num_threads(1)
    rank, world = dist.init()
    names = args.networks if world > 1 else list(training.NETWORKS)
    result = {"world": world, "networks": {}}
    for name in names:
        steps = args.steps if name in args.networks else max(2, args.steps // 5)
        result["networks"][name] = train(name, steps, args.warmup, args.bucket_cap_mb)
    if world > 1:
        sizes = [2 ** k for k in range(12, 19 if args.quick else 27)]  # 4 KB .. 256 KB or 64 MB
        result["allreduce"] = {"bytes": sizes,
                               "seconds": allreduce_sweep(sizes, 5 if args.quick else 20)}
    if rank == 0:
        with open(args.json, "w") as f:
            json.dump(result, f)


# --- the parent ----------------------------------------------------------------------------------
def find_mpiexec():
    beside = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    return beside if os.path.exists(beside) else shutil.which("mpiexec")


def launch(world, args, folder):
    """Run the worker on `world` ranks; rank 0's JSON."""
    mpiexec = find_mpiexec()
    if mpiexec is None:
        raise SystemExit('benchmarks.distributed: no mpiexec; pip install -e ".[dist]"')
    path = os.path.join(folder, f"world{world}.json")
    command = [mpiexec, "-n", str(world), sys.executable, "-m", "benchmarks.distributed",
               "--worker", "--json", path, "--networks", ",".join(args.networks),
               "--steps", str(args.steps), "--warmup", str(args.warmup),
               "--bucket-cap-mb", str(args.bucket_cap_mb)] + (["--quick"] if args.quick else [])
    # one thread per rank, BLAS included, so that the ranks do not spin over each other's cores
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])))
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    if done.returncode != 0 or not os.path.exists(path):
        raise RuntimeError(f"mpiexec -n {world} failed ({done.returncode}):\n"
                           f"{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    with open(path) as f:
        return json.load(f)


def merge_rounds(results):
    """The workers' reports of several rounds as one: the median of every number that varies."""
    first = results[0]
    if isinstance(first, dict):
        return {k: merge_rounds([r[k] for r in results]) for k in first}
    if isinstance(first, list):
        return [merge_rounds(list(column)) for column in zip(*results)]
    if all(r == first for r in results):
        return first
    return float(np.median(results))


def revision():
    """The checkout's commit, and whether engine/ has changes not committed (this measures the
    engine as it is on disk)."""
    def git(*command):
        done = subprocess.run(["git", *command], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else None
    commit = git("rev-parse", "--short", "HEAD")
    changed = git("status", "--porcelain", "--", "engine", "kernels")
    return f"{commit}{' + uncommitted changes in engine/ or kernels/' if changed else ''}"


def summarize(one, two, link):
    """Per network of the 2-rank run: both worlds' measurements, efficiency, overlap, and what
    the ring model gives for its allreduce on the measured link (alpha_s, bandwidth)."""
    networks = {}
    for name, second in two["networks"].items():
        first = one["networks"][name]
        second["efficiency"] = second["samples_per_s"] / (2 * first["samples_per_s"])
        second["model_allreduce_s"] = ring_allreduce_s(2, second["parameter_bytes"],
                                                       second["buckets"], *link)
        # the allreduce starts inside the final wait when no bucket overlapped: then wait can
        # exceed the span by a hair, which is no overlap, not a negative one
        second["overlap"] = (max(0.0, 1 - second["wait_s"] / second["allreduce_s"])
                             if second["allreduce_s"] > 0 else 0.0)
        first["efficiency"] = 1.0
        networks[name] = {"1": first, "2": second}
    return networks


def projections(compute, links):
    """{link: {network: workers, step, exposed communication and efficiency per count, and the
    most workers at the efficiency floor}}."""
    result = {}
    for link, (alpha, bandwidth) in links.items():
        result[link] = {}
        for name, c in compute.items():
            rows = [project(p, c, alpha, bandwidth) for p in WORKERS]
            entry = {"workers": WORKERS, **{k: [r[k] for r in rows] for k in rows[0]}}
            entry["largest_workers_at_floor"] = largest_workers(entry)
            result[link][name] = entry
    return result


def chart(report, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    links = [MEASURED_LINK] + sorted(LINKS, key=lambda k: -LINKS[k][1])
    colors = dict(zip(report["compute"], plt.get_cmap("tab10").colors))
    measured_top = max([1.0] + [w["2"]["efficiency"] for w in report["measured"].values()])
    fig, axes = plt.subplots(2, 2, figsize=(11, 8), sharex=True, sharey=True)
    for ax, link in zip(axes.flat, links):
        alpha, bandwidth = report["links"][link]
        for name, entry in report["projections"][link].items():
            ax.plot(entry["workers"], entry["efficiency"], "o-", ms=3, color=colors[name],
                    label=name)
        if link == MEASURED_LINK:
            for name, worlds in report["measured"].items():
                ax.plot(2, worlds["2"]["efficiency"], "*", ms=14, color=colors[name],
                        markeredgecolor="k", label=f"{name}: measured, 2 ranks, global batch")
        ax.axhline(EFFICIENCY_FLOOR, color="gray", ls="--", lw=1)
        ax.set_xscale("log", base=2)
        ax.set_xticks(WORKERS, [str(p) for p in WORKERS])
        ax.set_ylim(0, max(1.05, measured_top + 0.05))
        ax.set_title(f"{link}: alpha {alpha * 1e6:.3g} us, {bandwidth / 1e9:.3g} GB/s",
                     fontsize=10)
        ax.grid(alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("workers (per-worker batch fixed)")
    for ax in axes[:, 0]:
        ax.set_ylabel("scaling efficiency")
    axes[0, 0].legend(fontsize=8, loc="lower left")
    fig.suptitle("Data-parallel efficiency by the ring-allreduce model, per-worker batch fixed "
                 f"(compute: 1-thread steps measured here; dashed: {EFFICIENCY_FLOOR})\n"
                 f"{subtitle(report['machine'], report['date'])}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def table(report):
    lines = [f"measured: 1 thread per rank, gradient buckets of {report['bucket_cap_mb']} MB, "
             f"engine at {report['revision']}",
             f"{'network':8} {'ranks':>5} {'batch/rank':>10} {'step ms':>8} {'samples/s':>9} "
             f"{'eff.':>5} {'allreduce ms':>12} {'(model)':>7} {'exposed ms':>10} "
             f"{'overlap':>7} {'KB/step':>7} {'buckets (overlapped)':>20}"]
    for name, worlds in report["measured"].items():
        for world, m in worlds.items():
            comm = (f"{m['allreduce_s'] * 1e3:12.2f} {m['model_allreduce_s'] * 1e3:7.2f} "
                    f"{m['wait_s'] * 1e3:10.2f} {m['overlap']:7.2f} {m['bytes'] / 1024:7.0f} "
                    f"{m['buckets']:>16} ({m['overlapped_buckets']})"
                    if world == "2" else
                    f"{'-':>12} {'-':>7} {'-':>10} {'-':>7} {'-':>7} {'-':>20}")
            lines.append(f"{name:8} {world:>5} {m['batch_per_rank']:>10} "
                         f"{m['step_s'] * 1e3:8.1f} {m['samples_per_s']:9.0f} "
                         f"{m['efficiency']:5.2f} {comm}")
    fit = report["fit"]
    lines.append(f"\nMPI Allreduce on 2 ranks: t(n) = {fit['alpha_s'] * 1e6:.1f} us + "
                 f"n / {fit['bandwidth'] / 1e9:.2f} GB/s")
    links = [MEASURED_LINK] + sorted(LINKS, key=lambda k: -LINKS[k][1])
    lines.append(f"\nmost workers at efficiency >= {EFFICIENCY_FLOOR} (weak scaling, ring "
                 f"allreduce; efficiency at {WORKERS[-1]} in brackets)")
    lines.append(f"{'network':8} {'MB':>5} {'step ms':>8} " + " ".join(f"{k:>24}" for k in links))
    for name, c in report["compute"].items():
        cells = []
        for link in links:
            entry = report["projections"][link][name]
            p = entry["largest_workers_at_floor"]
            cells.append(f"{(str(p) + '+') if p == WORKERS[-1] else p:>16} "
                         f"({entry['efficiency'][-1]:.2f})".rjust(24))
        lines.append(f"{name:8} {c['parameter_bytes'] / 2**20:5.2f} {c['step_s'] * 1e3:8.1f} "
                     + " ".join(cells))
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.distributed",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--networks", default="cnn,dncnn",
                        help="networks trained on 1 and 2 ranks (comma-separated)")
    parser.add_argument("--steps", type=int, help="timed steps (default 30, --quick 3)")
    parser.add_argument("--warmup", type=int, help="warm-up steps (default 5, --quick 1)")
    parser.add_argument("--rounds", type=int, help="runs of each world, medians over them "
                        "(default 3, --quick 1)")
    parser.add_argument("--bucket-cap-mb", type=float, default=BUCKET_CAP_MB)
    parser.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results"))
    parser.add_argument("--quick", action="store_true", help="few steps and small messages")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--json", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.networks = args.networks.split(",")
    unknown = sorted(set(args.networks) - set(training.NETWORKS))
    if unknown:
        parser.error(f"unknown networks {unknown}; choose from {sorted(training.NETWORKS)}")
    args.steps = args.steps or (3 if args.quick else 30)
    args.warmup = args.warmup if args.warmup is not None else (1 if args.quick else 5)
    args.rounds = args.rounds or (1 if args.quick else 3)
    if args.worker:
        return worker(args)

    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        rounds = {1: [], 2: []}
        # rounds alternate the two worlds, so that a slow spell of the machine hits both
        for r in range(args.rounds):
            for world in (1, 2):
                print(f"round {r + 1}/{args.rounds}: mpiexec -n {world}", file=sys.stderr,
                      flush=True)
                rounds[world].append(launch(world, args, folder))
    runs = {world: merge_rounds(results) for world, results in rounds.items()}
    compute = {name: {k: m[k] for k in ("step_s", "forward_s", "backward_s", "first_bucket_s",
                                        "parameters", "parameter_bytes", "global_batch")}
               | {"buckets": m["model_buckets"]}
               for name, m in runs[1]["networks"].items()}
    sweep = runs[2]["allreduce"]
    alpha, bandwidth = fit_alpha_beta(sweep["bytes"], sweep["seconds"])
    # ring allreduce on 2 ranks: 2 latencies and the whole buffer, so alpha_link = alpha / 2
    links = {MEASURED_LINK: (alpha / 2, bandwidth), **LINKS}
    date = time.strftime("%Y-%m-%d")
    report = {
        "benchmark": "distributed", "date": date, "machine": describe(threads=1),
        "revision": revision(),
        "load_average": os.getloadavg(),
        "settings": {"networks": args.networks, "steps": args.steps, "warmup": args.warmup,
                     "rounds": args.rounds, "quick": args.quick},
        "bucket_cap_mb": args.bucket_cap_mb,
        "measured": summarize(runs[1], runs[2], links[MEASURED_LINK]),
        "compute": compute,
        "allreduce": sweep,
        "fit": {"alpha_s": alpha, "bandwidth": bandwidth,
                "model": "t(n) = alpha_s + n / bandwidth"},
        "links": links,
        "efficiency_floor": EFFICIENCY_FLOOR,
        "projections": projections(compute, links),
    }
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, JSON_NAME), "w") as f:
        json.dump(report, f, indent=1)
    chart(report, os.path.join(args.out, PNG_NAME))
    print(f"on {subtitle(report['machine'], date)}")
    print(table(report))
    print(f"\nwrote {JSON_NAME} and {PNG_NAME} in {args.out} "
          f"({time.perf_counter() - began:.0f} s)")


if __name__ == "__main__":
    main()
