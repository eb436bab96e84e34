"""PPO with a value head, GAE and an adaptive KL penalty.

Run it as a script: ``python agents/llm/ppo.py --model ... --env ...``.

The algorithm is one readable file, ``codegym/training/ppo.py`` (its config dataclass first, then the
loss and the training loop); it lives inside the package so that ``codegym train ppo`` works wherever
codegym is installed. This script takes the same options as ``codegym train ppo --help``.
"""

from __future__ import annotations

import sys

from codegym.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", "ppo", *sys.argv[1:]]))
