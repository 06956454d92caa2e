"""python -m engine gradcheck: every catalogue op's gradient checked numerically."""
import json
import sys
import textwrap

import numpy as np

from ..tensor import Tensor
from .catalog import CASES, FAMILIES, RandomDrawer
from .gradcheck import check_order, format_report, tolerances_for

REDRAWS = 3  # inputs drawn again when a check lands on a non-differentiable point


def add_parser(commands):
    check = commands.add_parser("gradcheck", help="check every op's gradient numerically")
    check.add_argument("--op", nargs="+", help="only these ops")
    check.add_argument("--device", default="cpu")
    check.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    check.add_argument("--order", type=int, default=1, choices=[1, 2],
                       help="1: gradients (gradcheck); 2: second derivatives (gradgradcheck)")
    check.add_argument("--trials", type=int, default=3, help="random inputs per op")
    check.add_argument("--seed", type=int, default=0)
    check.add_argument("--eps", type=float, help="default: the dtype's (1e-6 for float64)")
    check.add_argument("--atol", type=float, help="default: the dtype's (1e-5 for float64)")
    check.add_argument("--rtol", type=float, help="default: the dtype's (1e-3 for float64)")
    tier = check.add_mutually_exclusive_group()
    tier.add_argument("--fast", dest="full", action="store_false",
                      help="screen with random projections first, as the API's fast_mode "
                           "(the default)")
    tier.add_argument("--full", action="store_true",
                      help="compare whole Jacobians even when the projection screen passes")
    check.add_argument("--json", help="write every check's report to this file")
    check.add_argument("--list", action="store_true",
                       help="list the catalogue's ops by family and how many run on the device")
    check.set_defaults(run=run, full=False)


def list_cases(device):
    """The catalogue by family; a case pinned to a variant the device lacks is marked."""
    for family, cases in FAMILIES.items():
        names = [c.name if c.runs_on(device) else f"({c.name})" for c in cases]
        print(f"{family} ({sum(c.runs_on(device) for c in cases)}):")
        print(textwrap.fill(" ".join(names), width=96, initial_indent="  ", subsequent_indent="  "))
    runnable = sum(c.runs_on(device) for c in CASES)
    print(f"\n{runnable} of {len(CASES)} cases run on {device}"
          + ("; (parenthesized) ones need a variant it lacks" if runnable < len(CASES) else ""))


def run(args):
    if args.list:
        list_cases(args.device)
        return 0
    cases = [c for c in CASES if (args.op is None or c.name in args.op) and c.runs_on(args.device)]
    if not cases:
        sys.exit(f"error: gradcheck: no op named {args.op}; ops: {', '.join(c.name for c in CASES)}")
    drawer = RandomDrawer(np.random.default_rng(args.seed))
    header = (f"{'op':<34} {'inputs':<28} {'tier':<13} {'max abs err':>11} {'max rel err':>11}"
              f"  result")
    if args.order == 2:
        print("second derivatives (gradgradcheck): the first gradient's derivative against "
              "central differences of it")
    print(header)
    print("-" * len(header))
    results, failed, skipped = [], [], []
    for case in cases:
        for trial in range(args.trials):
            for attempt in range(REDRAWS):
                arrays, params = case.draw(drawer)
                inputs = [Tensor(a.astype(args.dtype), device=args.device, requires_grad=True)
                          for a in arrays]
                try:
                    result = check_order(lambda *xs: case.fn(*xs, **params), inputs, args.eps,
                                         args.atol, args.rtol,
                                         np.random.default_rng([args.seed, trial]),
                                         full=args.full, order=args.order)
                except Exception as e:  # noqa: BLE001  (an op with no second derivative yet)
                    if args.order == 1:
                        raise
                    result = e
                    break
                if result.status != "non-differentiable point":
                    break
                print(format_report(case.name, result) + "  -> drawn again")
            if isinstance(result, Exception):
                note = f"{type(result).__name__}: {' '.join(str(result).split())}"
                print(f"{case.name:<34} skipped: no second derivative ({note})")
                skipped.append(case.name)
                break
            row = dict(result.to_dict(), op=case.name, trial=trial, redraws=attempt)
            results.append(row)
            shapes = " ".join(str(a.shape).replace(" ", "") for a in arrays)
            print(f"{case.name:<34} {shapes:<28} {result.tier:<13} {result.max_abs_err:>11.2e} "
                  f"{result.max_rel_err:>11.2e}  {result.status}")
            if result.status != "pass":
                failed.append(format_report(case.name, result))
    for text in failed:
        print("\n" + text)
    if args.dtype != "float64":
        print(f"\n{args.dtype}: tolerances {tolerances_for(args.dtype)} (looser than float64's)")
    summary = f"\n{len(results) - len(failed)} passed, {len(failed)} failed"
    if skipped:
        summary += f", {len(skipped)} skipped (no second derivative: {', '.join(skipped)})"
    print(summary)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 1 if failed else 0
