"""Every Gymnasium id codegym provides, registered by string entry point.

``import codegym`` runs :func:`register_envs`, so ``gymnasium.make("MBPPCodeGen-v0")`` works after it,
and ``gymnasium.make("codegym:MBPPCodeGen-v0")`` works without it (Gymnasium imports ``codegym`` first).
Entry points are strings so that registering imports nothing heavy; each environment module loads when
an environment is made. To add an environment, append an :class:`EnvSpec` line to :data:`ENVIRONMENTS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import gymnasium

__all__ = ["ENVIRONMENTS", "EnvSpec", "register_envs"]


@dataclass(frozen=True)
class EnvSpec:
    """One registered id.

    Attributes:
        id: The Gymnasium id (``"MBPPCodeGen-v0"``).
        entry_point: ``"module:Class"``, imported only when the environment is made.
        kwargs: Default constructor arguments; ``gymnasium.make(id, **overrides)`` overrides them.
        description: One line for listings and the docs.
        max_episode_steps: Gymnasium's time limit, if any.

    """

    id: str
    entry_point: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    max_episode_steps: int | None = None


_CODE_GENERATION = "codegym.envs.code_generation:CodeGenerationEnv"
_PROMPT_OPTIMIZATION = "codegym.envs.prompt_optimization:PromptOptimizationEnv"
_OUTPUT_PREDICTION = "codegym.envs.output_prediction:CodeOutputPredictionEnv"


def _synth_prompt_kwargs() -> dict[str, Any]:
    """Return ``SynthPrompt-v0``'s defaults: the small model and the phrasing-catalogue rewriter.

    Cheap: the objects load nothing until the environment first calls them (no torch import here).
    """
    from codegym.models.benchmark import benchmark_env_kwargs

    return benchmark_env_kwargs()


#: Every environment id, in documentation order.
ENVIRONMENTS: tuple[EnvSpec, ...] = (
    EnvSpec(
        "MBPPCodeGen-v0",
        _CODE_GENERATION,
        {"dataset": "mbpp", "split": "test"},
        "MBPP: write a Python function from a one-line description and a visible test",
    ),
    EnvSpec(
        "HumanEvalCodeGen-v0",
        _CODE_GENERATION,
        {"dataset": "humaneval", "split": None},
        "HumanEval: complete a Python function from its signature and docstring",
    ),
    EnvSpec(
        "SynthCodeGen-v0",
        _CODE_GENERATION,
        {"dataset": "procedural/synthesis", "split": "train"},
        "Procedural function synthesis: write a small Python function from a description (offline)",
    ),
    EnvSpec(
        "MBPPPrompt-v0",
        _PROMPT_OPTIMIZATION,
        {"dataset": "mbpp", "split": "test"},
        "MBPP: edit a task description until a frozen code model solves the task",
    ),
    EnvSpec(
        "HumanEvalPrompt-v0",
        _PROMPT_OPTIMIZATION,
        {"dataset": "humaneval", "split": None},
        "HumanEval: edit a docstring's description until a frozen code model solves the task",
    ),
    EnvSpec(
        "SynthPrompt-v0",
        _PROMPT_OPTIMIZATION,
        _synth_prompt_kwargs(),
        "Benchmark, CPU and offline: reword procedural tasks, phrased in ways codegym's small code model "
        "was not trained on, until it solves them",
    ),
    EnvSpec(
        "CodeOutputPrediction-v0",
        _OUTPUT_PREDICTION,
        {},
        "Procedural programs (Python, JavaScript, C++, Rust): predict exactly what the program prints "
        "(offline)",
    ),
)


def register_envs() -> None:
    """Register every id of :data:`ENVIRONMENTS` with Gymnasium (idempotent)."""
    for spec in ENVIRONMENTS:
        if spec.id in gymnasium.registry:
            continue
        gymnasium.register(
            id=spec.id,
            entry_point=spec.entry_point,
            kwargs=dict(spec.kwargs),
            max_episode_steps=spec.max_episode_steps,
        )
