"""The full pipeline in one command: SFT on the reference solutions, then GRPO, then the evaluation.

``codegym train pipeline --model M --env CodeOutputPrediction-v0`` (or :func:`train`) runs
:mod:`codegym.training.sft` on the environment's reference solutions (for output prediction: the items'
expected outputs), then :mod:`codegym.training.grpo` from the SFT model (its merged weights, with fresh
LoRA adapters), and the GRPO run's final evaluation. Layout of ``<output_dir>/<run_name>/``::

    sft/     the SFT run (see codegym.training.run), its model/ is GRPO's starting point
    grpo/    the GRPO run: model/, eval_results.json, ...

Every option of ``grpo`` applies to the GRPO stage and, where it is shared (model, LoRA, data, lengths,
batch size, seed, ...), to the SFT stage; the ``sft_*`` options set the SFT stage's own schedule. With
``resume``, an SFT stage that already wrote its model is not run again.

For output-prediction environments the final evaluation defaults to the environment's ``eval`` split
(or ``val_env_kwargs``; :func:`~codegym.training.evaluation.eval_suites_for`, as for every trainer) and
reports exact and close accuracy besides pass@k.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from codegym.training.common import run_name
from codegym.training.config import TrainConfig, option
from codegym.training.evaluation import eval_suites_for
from codegym.training.grpo import GRPOConfig
from codegym.training.run import TrainResult
from codegym.training.sft import SFTConfig


@dataclass
class PipelineConfig(GRPOConfig):
    """Options of the SFT -> GRPO pipeline (every GRPO option, plus the SFT stage's schedule)."""

    method: ClassVar[str] = "pipeline"

    sft_epochs: int = option(1, "SFT stage: passes over the reference solutions.", group="sft")
    sft_max_steps: int | None = option(
        None, "SFT stage: stop after N optimizer steps (overrides sft_epochs).", group="sft"
    )
    sft_learning_rate: float = option(1e-4, "SFT stage: peak learning rate.", group="sft")
    verify_references: bool = option(
        True, "SFT stage: train only on references the environment accepts.", group="sft"
    )

    def validate(self) -> None:
        """Check the SFT stage's options, then GRPO's."""
        if self.sft_epochs < 1:
            raise ValueError(f"sft_epochs must be >= 1, got {self.sft_epochs}")
        if self.sft_max_steps is not None and self.sft_max_steps < 1:
            raise ValueError(f"sft_max_steps must be >= 1 or None, got {self.sft_max_steps}")
        if self.sft_learning_rate <= 0:
            raise ValueError(f"sft_learning_rate must be > 0, got {self.sft_learning_rate}")
        super().validate()


@dataclass
class PipelineResult:
    """What :func:`train` returns: the pipeline's directory and each stage's :class:`TrainResult`."""

    run_dir: Path
    sft: TrainResult | None
    grpo: TrainResult


def train(cfg: PipelineConfig) -> PipelineResult:
    """Run SFT, then GRPO from the SFT model, then the final evaluation (see the module docstring)."""
    cfg.validate()
    root = Path(cfg.output_dir) / run_name(cfg, cfg.finetune)
    shared = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(TrainConfig)}
    sft_cfg = SFTConfig(
        **{
            **shared,
            "output_dir": str(root),
            "run_name": "sft",
            "epochs": cfg.sft_epochs,
            "max_steps": cfg.sft_max_steps,
            "learning_rate": cfg.sft_learning_rate,
            "merge_adapters": True,
            "final_eval": False,
            "resume": None,
        },
        verify_references=cfg.verify_references,
        num_envs=cfg.num_envs,
    )
    sft_model = root / "sft" / "model"
    sft_result = None
    if not (cfg.resume and (sft_model / "config.json").is_file()):
        from codegym.training import sft

        print(f"[pipeline] stage 1/2: SFT -> {root / 'sft'}")
        sft_result = sft.train(sft_cfg)
        if sft_result.model_dir is None:  # pragma: no cover - merge_adapters is forced on
            raise RuntimeError("the SFT stage wrote no model to start GRPO from")
        sft_model = sft_result.model_dir
    grpo_fields = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(GRPOConfig)}
    grpo_cfg = GRPOConfig(
        **{
            **grpo_fields,
            "model": str(sft_model),
            "tokenizer": None,
            "output_dir": str(root),
            "run_name": "grpo",
            "eval_suites": eval_suites_for(cfg),
        }
    )
    from codegym.training import grpo

    print(f"[pipeline] stage 2/2: GRPO from {sft_model} -> {root / 'grpo'}")
    grpo_result = grpo.train(grpo_cfg)
    return PipelineResult(run_dir=root, sft=sft_result, grpo=grpo_result)
