"""One library's side of one benchmark item, in a process of its own.

    python -m benchmarks.worker {engine,torch} {op,call,train} ITEM [--device D] [--repeats N]
                                [--threads T]

ITEM is an index into benchmarks.cases.cases() (op), a JSON object of benchmarks.cases.named's
arguments (call: an op at shapes the user named), or a network name (train).

`python -m benchmarks` starts a fresh process for each library, item and round, so that no
library's thread pool spins over another's cores and each process's resident memory is its
own. numpy is imported first and the library second, as users write it; the PyTorch process
imports the engine's case list and models (to build the same inputs and weights) but runs none
of its kernels. Prints one JSON object: medians after warm-up, the threads used and the
resident memory that running the item added to the process once its inputs existed.
"""
import numpy as np  # noqa: I001  (first, as users import it)

import argparse
import contextlib
import json
import os
import sys


def resident_mb():
    """The process's resident memory in MiB (Linux), or nan."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        return float("nan")


def rotated(make, count):
    """A callable cycling through `count` independent copies of the inputs make() builds."""
    copies = [make() for _ in range(count)]
    state = {"i": 0}

    def next_inputs():
        state["i"] = (state["i"] + 1) % count
        return copies[state["i"]]
    return next_inputs


def host_inputs(case):
    """The case's float32 inputs, the same in every process; small ones in 3 copies that the
    timed runs rotate through so that caches do not flatter them."""
    rng = np.random.default_rng(0)
    size = sum(int(np.prod(s)) for s in case.shapes) * 4
    copies = 3 if size < 64 * 2**20 else 1
    return [[rng.standard_normal(s, dtype=np.float32) for s in case.shapes] for _ in range(copies)]


def variant_choice(case, device):
    """The context that runs the case's variant (on a device that has variants of its op)."""
    import engine as eg
    from engine import backend
    if case.variant != "-" and backend.variants(case.op, device):
        return eg.use_variant(**{case.op: case.variant})
    return contextlib.nullcontext()


def engine_op(case, device):
    import engine as eg
    from .timing import reference_check
    host = host_inputs(case)
    inputs = rotated(lambda it=iter(host): [eg.tensor(a, device=device, requires_grad=True)
                                            for a in next(it)], len(host))
    before = resident_mb()
    out = case.engine(*inputs())
    grad = np.ones(out.shape, np.float32)

    def forward():
        with eg.no_grad():
            case.engine(*inputs())

    def forward_backward():
        case.engine(*inputs()).backward(grad)

    row = {"check": reference_check(case, device), "out_shape": list(out.shape),
           "before_mb": before}
    return row, forward, forward_backward if case.backward else None


def torch_op(case):
    import torch
    host = host_inputs(case)
    inputs = rotated(lambda it=iter(host): [torch.tensor(a, requires_grad=True) for a in next(it)],
                     len(host))
    before = resident_mb()
    grad = torch.ones(case.torch(torch, *inputs()).shape)

    def forward():
        with torch.no_grad():
            case.torch(torch, *inputs())

    def forward_backward():
        case.torch(torch, *inputs()).backward(grad)
    return {"before_mb": before}, forward, forward_backward if case.backward else None


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.worker", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("side", choices=["engine", "torch"])
    parser.add_argument("kind", choices=["op", "call", "train"])
    parser.add_argument("item", help="an index into benchmarks.cases.cases(), a JSON object of "
                        "benchmarks.cases.named's arguments, or a network name")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args(argv)
    if args.side == "torch":
        import torch
        torch.set_num_threads(args.threads)
        threads = torch.get_num_threads()
    import engine as eg
    if args.side == "engine":
        eg.set_num_threads(args.threads)
        threads = eg.get_num_threads()
    from . import training
    from .cases import cases, named
    from .timing import measure

    if args.kind in ("op", "call"):
        case = cases()[int(args.item)] if args.kind == "op" else named(**json.loads(args.item))
        engine_side = args.side == "engine"
        # the variant is chosen for the timed runs too, not only while the inputs are built
        with variant_choice(case, args.device) if engine_side else contextlib.nullcontext():
            row, forward, forward_backward = (engine_op(case, args.device) if engine_side
                                              else torch_op(case))
            row["forward_ms"], row["forward_iqr_ms"] = (1e3 * t for t in measure(
                forward, repeats=args.repeats, device=args.device))
            if forward_backward is not None:
                row["forward_backward_ms"], row["forward_backward_iqr_ms"] = (
                    1e3 * t for t in measure(forward_backward, repeats=args.repeats,
                                             device=args.device))
    else:
        step = training.step(args.side, args.item)
        row = {"before_mb": resident_mb()}
        ms, iqr = measure(step, repeats=args.repeats)
        row.update(step_ms=ms * 1e3, step_iqr_ms=iqr * 1e3)
    row.update(threads=threads, added_mb=resident_mb() - row.pop("before_mb"))
    json.dump(row, sys.stdout)
    print()


if __name__ == "__main__":
    main()
