"""python -m engine train TASK: train one of the course's networks (data-parallel when started
by mpiexec: mpiexec -n 2 python -m engine train cnn)."""
import argparse
import math
import os

from . import train


def _whole_number(low):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {low}, got {value}")
        return value
    parse.__name__ = "whole number"  # what argparse calls the type in its messages
    return parse


def _learning_rate(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


def add_parser(commands):
    fit = commands.add_parser("train", help="train one of the course's networks")
    fit.add_argument("task", choices=train.TASKS)
    fit.add_argument("--epochs", type=_whole_number(1),
                     help="total epochs, those before a resumed checkpoint included (default: "
                          "the task's, a few minutes on 2 cores; the checkpoint's with --resume)")
    fit.add_argument("--batch-size", type=_whole_number(1))
    fit.add_argument("--lr", type=_learning_rate)
    fit.add_argument("--device", default="cpu")
    fit.add_argument("--seed", type=_whole_number(0), help="default 0 (the checkpoint's with --resume)")
    fit.add_argument("--out", help="folder for checkpoint and pictures (default out/TASK)")
    fit.add_argument("--json", help="write the final metrics to this file as one JSON object")
    fit.add_argument("--resume", metavar="CHECKPOINT",
                     help="continue from a checkpoint.npz (options left out take its values)")
    fit.add_argument("--data", help="folder of MNIST IDX files (default: the bundled sample)")
    fit.add_argument("--quiet", action="store_true", help="no progress bar")
    fit.add_argument("--sync-bn", action="store_true",
                     help="under mpiexec: batch norm statistics of the whole global batch "
                     "(SyncBatchNorm) rather than of each process's part")
    fit.add_argument("--profile", action="store_true",
                     help="print each op's time after training and write trace.json (a Chrome "
                     "trace of every op) to --out")
    fit.set_defaults(run=run)


def run(args):
    """Options left out take the task's defaults, or the checkpoint's with --resume (train.resolve)."""
    args.out = args.out or os.path.join("out", args.task)
    train.train(args)
    return 0
