"""The ``codegym`` command line.

Each command group lives in its own module under :mod:`codegym.cli` and exposes
``register(subparsers)``, which adds its sub-command(s) and sets ``func`` on the parser defaults.
Modules are imported lazily by the commands themselves, so ``codegym --help`` does not import torch.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Command modules, in the order they appear in ``codegym --help``.
COMMAND_MODULES = [
    "codegym.cli.setup_cmd",
    "codegym.cli.tasks_cmd",
    "codegym.cli.eval_cmd",
    "codegym.cli.exec_cmd",
    "codegym.cli.serve_cmd",
    "codegym.cli.data_cmd",
    "codegym.cli.train_cmd",
    "codegym.cli.model_cmd",
]


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every command group registered."""
    parser = argparse.ArgumentParser(
        prog="codegym",
        description=(
            "codegym: Gymnasium environments for LLM code generation and prompt optimization.\n"
            "Run 'codegym COMMAND --help' for the options of a command."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from codegym import __version__

    parser.add_argument("--version", action="version", version=f"codegym {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``codegym`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (``codegym tasks list | head``): stop quietly, as Unix tools do.
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except (FileNotFoundError, ValueError) as exc:
        # User errors (missing data, bad arguments) get one clear line, not a traceback.
        print(f"codegym: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
