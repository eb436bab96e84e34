"""Supervised fine-tuning on reference solutions.

Run it as a script: ``python agents/llm/sft.py --model ... --env ...``.

The algorithm is one readable file, ``codegym/training/sft.py`` (its config dataclass first, then the
loss and the training loop); it lives inside the package so that ``codegym train sft`` works wherever
codegym is installed. This script takes the same options as ``codegym train sft --help``.
"""

from __future__ import annotations

import sys

from codegym.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", "sft", *sys.argv[1:]]))
