"""Command line: python -m engine {train,gradcheck} ... (see --help).

Every error prints one line, `error: ...`, on stderr: status 2 for a command line to fix
(argparse's own errors, options that contradict each other or the checkpoint they resume),
1 for everything else (files, data, devices, training). --debug shows the traceback instead.
Ctrl-C exits with status 130 after saying what was saved and how to resume.
"""
import argparse
import sys

from .check import cli as check_cli
from .course import cli as course_cli
from .errors import EngineError

INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a command stopped by Ctrl-C


class _Parser(argparse.ArgumentParser):
    """argparse, but its errors are one line like every other error of the command line."""

    def error(self, message):
        self.exit(2, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


def parser():
    top = _Parser(prog="python -m engine")
    top.add_argument("--debug", action="store_true", help="show the traceback of an error")
    commands = top.add_subparsers(dest="command", required=True)
    course_cli.add_parser(commands)
    check_cli.add_parser(commands)
    for command in commands.choices.values():  # --debug also after the command's name
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                             help="show the traceback of an error")
    return top


def main(argv=None):
    """Parse and run; errors propagate (cli() is the command line's one-line reporting)."""
    args = parser().parse_args(argv)
    return args.run(args)


def one_line(error):
    """An exception as the single line the command line prints."""
    if isinstance(error, OSError) and error.strerror and error.filename:
        text = f"{error.filename}: {error.strerror}"
    else:
        text = str(error)
    if isinstance(error, KeyError) or not text:  # str(KeyError('x')) is just "'x'"
        text = f"{type(error).__name__}: {text}".rstrip(": ")
    elif not isinstance(error, (EngineError, OSError, ValueError, ImportError)):
        text = f"{type(error).__name__}: {text} (--debug shows where)"
    return " ".join(text.split())


def cli(argv=None):
    """python -m engine: one `error: ...` line and a non-zero status for every error."""
    args = parser().parse_args(argv)
    if args.debug:
        return args.run(args)
    try:
        return args.run(args)
    except KeyboardInterrupt as e:
        print(str(e) or "interrupted", file=sys.stderr)
        return INTERRUPTED
    except Exception as e:  # noqa: BLE001  (each is reported; --debug shows the traceback)
        print(f"error: {one_line(e)}", file=sys.stderr)
        return getattr(e, "exit_code", 1)


if __name__ == "__main__":
    sys.exit(cli())
