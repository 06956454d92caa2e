"""python -m engine train TASK: train one of the course's networks."""
import os

from . import train


def add_parser(commands):
    fit = commands.add_parser("train", help="train one of the course's networks")
    fit.add_argument("task", choices=train.TASKS)
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
    fit.add_argument("--profile", action="store_true", help="print each op's time after training")
    fit.set_defaults(run=run)


def run(args):
    defaults = train.DEFAULTS[args.task]
    for name in ("epochs", "batch_size", "lr"):
        if getattr(args, name) is None:
            setattr(args, name, getattr(defaults, name))
    args.out = args.out or os.path.join("out", args.task)
    train.train(args)
    return 0
