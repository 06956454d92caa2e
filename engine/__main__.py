"""Command line: python -m engine {train,gradcheck} ... (see --help)."""
import argparse
import os
import sys

import numpy as np

from .catalog import CASES, RandomDrawer
from .gradcheck import jacobians
from .tensor import Tensor


def gradcheck_command(args):
    cases = [c for c in CASES if args.op is None or c.name in args.op]
    if not cases:
        sys.exit(f"gradcheck: no op named {args.op}; ops: {', '.join(c.name for c in CASES)}")
    drawer = RandomDrawer(np.random.default_rng(args.seed))
    header = f"{'op':<34} {'inputs':<30} {'max abs err':>12} {'max rel err':>12}  result"
    print(header)
    print("-" * len(header))
    failures = 0
    for case in cases:
        for _ in range(args.trials):
            arrays, params = case.draw(drawer)
            inputs = [Tensor(a, device=args.device, requires_grad=True) for a in arrays]
            results = jacobians(lambda *xs: case.fn(*xs, **params), inputs, args.eps)
            abs_err = max((np.max(np.abs(a - n), initial=0) for a, n in results.values()), default=0)
            rel_err = max((np.max(np.abs(a - n) / np.maximum(np.abs(n), args.atol), initial=0)
                           for a, n in results.values()), default=0)
            ok = all(np.all(np.abs(a - n) <= args.atol + args.rtol * np.abs(n))
                     for a, n in results.values())
            failures += not ok
            shapes = " ".join(str(a.shape).replace(" ", "") for a in arrays)
            print(f"{case.name:<34} {shapes:<30} {abs_err:>12.2e} {rel_err:>12.2e}  "
                  f"{'pass' if ok else 'FAIL'}")
    total = len(cases) * args.trials
    print(f"\n{total - failures} passed, {failures} failed")
    return 1 if failures else 0


def train_command(args):
    from . import train
    defaults = train.DEFAULTS[args.task]
    for name in ("epochs", "batch_size", "lr"):
        if getattr(args, name) is None:
            setattr(args, name, getattr(defaults, name))
    args.out = args.out or os.path.join("out", args.task)
    train.train(args)
    return 0


def main(argv=None):
    from .train import TASKS
    parser = argparse.ArgumentParser(prog="python -m engine")
    commands = parser.add_subparsers(dest="command", required=True)
    fit = commands.add_parser("train", help="train one of the course's networks")
    fit.add_argument("task", choices=TASKS)
    fit.add_argument("--epochs", type=int, help="default: the task's (a few minutes on 2 cores)")
    fit.add_argument("--batch-size", type=int)
    fit.add_argument("--lr", type=float)
    fit.add_argument("--device", default="cpu")
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument("--out", help="folder for checkpoint and pictures (default out/TASK)")
    fit.add_argument("--json", help="write the final metrics to this file as one JSON object")
    fit.add_argument("--resume", metavar="CHECKPOINT", help="continue from a checkpoint.npz")
    fit.add_argument("--data", help="folder of MNIST IDX files (default: the bundled sample)")
    fit.add_argument("--quiet", action="store_true", help="no progress bar")
    fit.set_defaults(run=train_command)
    check = commands.add_parser("gradcheck", help="check every op's gradient numerically")
    check.add_argument("--op", nargs="+", help="only these ops")
    check.add_argument("--device", default="cpu")
    check.add_argument("--trials", type=int, default=3, help="random inputs per op")
    check.add_argument("--seed", type=int, default=0)
    check.add_argument("--eps", type=float, default=1e-6)
    check.add_argument("--atol", type=float, default=1e-5)
    check.add_argument("--rtol", type=float, default=1e-3)
    check.set_defaults(run=gradcheck_command)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
