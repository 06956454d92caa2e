"""python -m engine gradcheck: every catalogue op's gradient checked numerically."""
import json
import sys

import numpy as np

from ..tensor import Tensor
from .catalog import CASES, RandomDrawer
from .gradcheck import format_report, report, tolerances_for

REDRAWS = 3  # inputs drawn again when a check lands on a non-differentiable point


def add_parser(commands):
    check = commands.add_parser("gradcheck", help="check every op's gradient numerically")
    check.add_argument("--op", nargs="+", help="only these ops")
    check.add_argument("--device", default="cpu")
    check.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    check.add_argument("--trials", type=int, default=3, help="random inputs per op")
    check.add_argument("--seed", type=int, default=0)
    check.add_argument("--eps", type=float, help="default: the dtype's (1e-6 for float64)")
    check.add_argument("--atol", type=float, help="default: the dtype's (1e-5 for float64)")
    check.add_argument("--rtol", type=float, help="default: the dtype's (1e-3 for float64)")
    check.add_argument("--full", action="store_true",
                       help="compare whole Jacobians even when the projection screen passes")
    check.add_argument("--json", help="write every check's report to this file")
    check.set_defaults(run=run)


def run(args):
    cases = [c for c in CASES if (args.op is None or c.name in args.op) and c.runs_on(args.device)]
    if not cases:
        sys.exit(f"gradcheck: no op named {args.op}; ops: {', '.join(c.name for c in CASES)}")
    drawer = RandomDrawer(np.random.default_rng(args.seed))
    header = (f"{'op':<34} {'inputs':<28} {'tier':<13} {'max abs err':>11} {'max rel err':>11}"
              f"  result")
    print(header)
    print("-" * len(header))
    results, failed = [], []
    for case in cases:
        for trial in range(args.trials):
            for attempt in range(REDRAWS):
                arrays, params = case.draw(drawer)
                inputs = [Tensor(a.astype(args.dtype), device=args.device, requires_grad=True)
                          for a in arrays]
                result = report(lambda *xs: case.fn(*xs, **params), inputs, args.eps, args.atol,
                                args.rtol, np.random.default_rng([args.seed, trial]),
                                full=args.full)
                if result["status"] != "non-differentiable point":
                    break
                print(format_report(case.name, result) + "  -> drawn again")
            result.update(op=case.name, trial=trial, redraws=attempt)
            results.append(result)
            shapes = " ".join(str(a.shape).replace(" ", "") for a in arrays)
            print(f"{case.name:<34} {shapes:<28} {result['tier']:<13} {result['max_abs_err']:>11.2e} "
                  f"{result['max_rel_err']:>11.2e}  {result['status']}")
            if result["status"] != "pass":
                failed.append(format_report(case.name, result))
    for text in failed:
        print("\n" + text)
    if args.dtype != "float64":
        print(f"\n{args.dtype}: tolerances {tolerances_for(args.dtype)} (looser than float64's)")
    print(f"\n{len(results) - len(failed)} passed, {len(failed)} failed")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 1 if failed else 0

