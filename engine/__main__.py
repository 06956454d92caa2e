"""Command line: python -m engine {train,gradcheck} ... (see --help)."""
import argparse
import sys

from .check import cli as check_cli
from .course import cli as course_cli


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m engine")
    commands = parser.add_subparsers(dest="command", required=True)
    course_cli.add_parser(commands)
    check_cli.add_parser(commands)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
