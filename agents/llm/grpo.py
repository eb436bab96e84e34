"""GRPO (group-relative policy optimisation) against execution rewards.

Run it as a script: ``python agents/llm/grpo.py --model ... --env ...``.

The algorithm is one readable file, ``codegym/training/grpo.py`` (its config dataclass first, then the
loss and the training loop); it lives inside the package so that ``codegym train grpo`` works wherever
codegym is installed. This script takes the same options as ``codegym train grpo --help``.
"""

from __future__ import annotations

import sys

from codegym.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", "grpo", *sys.argv[1:]]))
