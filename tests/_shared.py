"""Helpers that tests in several folders use (``tests/`` is on ``sys.path``: it holds the root conftest)."""

from __future__ import annotations

import random

import pytest

from codegym.execution.toolchains import ToolchainMissing, find_toolchain
from codegym.models.small import SmallModelRecipe
from codegym.tasks.procedural.programs import Program

#: The small model's default recipe shrunk to seconds: 40 tasks, a 1-layer 32-wide model, 6 steps.
TINY_SMALL_RECIPE = SmallModelRecipe(
    name="test-small",
    num_tasks=40,
    vocab_size=400,
    d_model=32,
    num_heads=2,
    d_ff=64,
    num_layers=1,
    batch_size=8,
    max_steps=6,
    warmup_steps=1,
    max_new_tokens=24,
)


def toolchain_param(lang: str):
    """``pytest.param(lang)``, skipped with the toolchain's own message when it is not installed."""
    try:
        find_toolchain(lang)
        return pytest.param(lang, id=lang)
    except ToolchainMissing as exc:
        return pytest.param(lang, id=lang, marks=pytest.mark.skip(reason=str(exc)))


def every_output_variant(first_seeds: int) -> list[Program]:
    """Output-prediction programs of every family and level: ``first_seeds`` seeds, plus every variant."""
    from codegym.tasks.procedural import OUTPUT_FAMILIES

    programs = []
    for family in OUTPUT_FAMILIES:
        for level in family.difficulties:
            topics: set[str] = set()
            for seed in range(200):
                program = family.draw(random.Random(seed), level)
                if seed < first_seeds or program.topic not in topics:
                    programs.append(program)
                    topics.add(program.topic)
    return programs
