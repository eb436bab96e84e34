"""A training run's directory and bookkeeping, shared by the three trainers.

``Run`` owns everything around the optimisation itself, so that each algorithm file shows only its
algorithm: the run directory and its ``config.yaml``, metric logging, resumable checkpoints,
validation with early stopping, the adapter merge and the final pass@k evaluation (on
:func:`~codegym.training.evaluation.eval_suites_for`: the configured suites, or an output-prediction
environment's own ``eval`` split when they are left at the default).

Layout of ``<output_dir>/<run_name>/``::

    config.yaml            the options of the run
    metrics.jsonl          every logged metric (also in tensorboard/ and W&B when enabled)
    checkpoints/step-N/    resumable: model/ (adapters or weights) and trainer_state.pt
    best/                  the best validated weights (with validation)
    adapter/               the final LoRA adapters (LoRA / QLoRA)
    model/                 the final standalone model (adapters merged), loadable by from_pretrained
    eval_results.json      pass@k of the final evaluation (plus *.samples.jsonl with every completion)
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from codegym.training.common import (
    EarlyStopping,
    Policy,
    RunLogger,
    crossed,
    find_checkpoint,
    load_checkpoint,
    load_model_weights,
    merge_and_save,
    prune_checkpoints,
    run_name,
    save_checkpoint,
    save_model,
)
from codegym.training.config import TrainConfig
from codegym.training.envs import EnvTasks
from codegym.training.evaluation import (
    SuiteResult,
    eval_suites_for,
    evaluate_policy,
    evaluate_tasks,
    format_table,
)

log = logging.getLogger("codegym.training")


@dataclass
class TrainResult:
    """What a trainer returns.

    Attributes:
        run_dir: The run directory.
        steps: Optimizer steps taken (in total, across resumes).
        model_dir: The standalone model (merged adapters, or the fully fine-tuned weights), if written.
        adapter_dir: The LoRA adapters, for LoRA / QLoRA.
        eval_results: Final pass@k per suite (empty when ``final_eval`` is off).
        best_val: Best validation pass@1 (``None`` without validation).
        stopped_early: True if early stopping ended the run.
        validations: Every validation: ``{"step": ..., "val/pass@1": ..., ...}``.

    """

    run_dir: Path
    steps: int
    model_dir: Path | None = None
    adapter_dir: Path | None = None
    eval_results: dict[str, SuiteResult] = field(default_factory=dict)
    best_val: float | None = None
    stopped_early: bool = False
    validations: list[dict[str, float]] = field(default_factory=list)


class Run:
    """The bookkeeping of one training run (see the module docstring for the directory layout).

    Args:
        cfg: The run's options.
        policy: The model being trained.
        extra_modules: Trained modules besides the model (PPO's value head), saved in checkpoints.

    """

    def __init__(
        self, cfg: TrainConfig, policy: Policy, extra_modules: Mapping[str, nn.Module] | None = None
    ) -> None:
        self.cfg = cfg
        self.policy = policy
        self.extra = dict(extra_modules or {})
        self.name = run_name(cfg, policy.finetune)
        self.dir = Path(cfg.output_dir) / self.name
        self.dir.mkdir(parents=True, exist_ok=True)
        cfg.save_yaml(self.dir / "config.yaml")
        sinks = [r for r in cfg.report_to if r != "none"]
        self.logger = RunLogger(self.dir, sinks, cfg.to_dict(), cfg.wandb_project)
        self.val_tasks = (
            EnvTasks(cfg.env, cfg.val_env_kwargs, max_tasks=cfg.max_val_tasks)
            if cfg.val_env_kwargs is not None
            else None
        )
        self.stopper = EarlyStopping(cfg.early_stopping_patience)
        self.validations: list[dict[str, float]] = []

    @property
    def max_prompt_tokens(self) -> int:
        """Room left for the prompt: ``max_length - max_new_tokens``."""
        return self.cfg.max_length - self.cfg.max_new_tokens

    # -- checkpoints ---------------------------------------------------------------------------------
    def resume(self, optimizer: Any, scheduler: Any, scaler: Any) -> dict[str, Any] | None:
        """Load the checkpoint named by ``cfg.resume`` (``None`` when not resuming); returns its counters."""
        if not self.cfg.resume:
            return None
        path = find_checkpoint(self.dir, self.cfg.resume)
        state = load_checkpoint(path, self.policy, optimizer, scheduler, scaler, self.extra)
        if "early_stopping" in state:
            self.stopper.load(state["early_stopping"])
        self.validations = list(state.get("validations", []))
        log.info("resumed from %s at step %s", path, state.get("step"))
        return state

    def save(self, step: int, optimizer: Any, scheduler: Any, scaler: Any, state: Mapping[str, Any]) -> Path:
        """Write ``checkpoints/step-<step>`` and delete checkpoints beyond ``save_total_limit``."""
        full_state = {
            **state,
            "step": step,
            "early_stopping": self.stopper.state(),
            "validations": self.validations,
        }
        path = save_checkpoint(
            self.dir / "checkpoints" / f"step-{step}",
            self.policy,
            optimizer,
            scheduler,
            scaler,
            full_state,
            self.extra,
        )
        prune_checkpoints(self.dir, self.cfg.save_total_limit)
        return path

    # -- validation ----------------------------------------------------------------------------------
    def should_validate(self, step: int, end_of_epoch: bool, previous_step: int | None = None) -> bool:
        """Tell whether validation is due.

        It is when a multiple of ``eval_every`` was passed since ``previous_step`` (default ``step - 1``),
        or at each epoch's end when ``eval_every`` is 0.
        """
        if self.val_tasks is None:
            return False
        if self.cfg.eval_every > 0:
            return crossed(step, step - 1 if previous_step is None else previous_step, self.cfg.eval_every)
        return end_of_epoch

    def validate(self, step: int) -> dict[str, float]:
        """Measure (and log) validation pass@1; save the weights to ``best/`` when it improves."""
        if self.val_tasks is None:
            return {}
        cfg = self.cfg
        result = evaluate_tasks(
            self.policy,
            self.val_tasks,
            n_samples=cfg.val_samples,
            temperature=cfg.val_temperature,
            ks=(1,),
            batch_size=cfg.eval_batch_size,
            max_new_tokens=cfg.max_new_tokens,
            max_prompt_tokens=self.max_prompt_tokens,
            seed=cfg.seed + 7919,
            suite="validation",
        )
        score = result.pass_at_k["pass@1"]
        improved = self.stopper.update(score, step)
        if improved and cfg.load_best_at_end:
            save_model(self.policy, self.dir / "best")
            for key, module in self.extra.items():
                torch.save(module.state_dict(), self.dir / "best" / f"{key}.pt")
        metrics = {
            "val/pass@1": score,
            "val/mean_reward": result.mean_reward,
            "val/best_pass@1": self.stopper.best or 0.0,
        }
        self.logger.log(metrics, step)
        self.validations.append({"step": float(step), **metrics})
        return metrics

    @property
    def should_stop(self) -> bool:
        """Early stopping's verdict."""
        return self.stopper.should_stop

    # -- end of an epoch / of the run ------------------------------------------------------------------
    def end_epoch(self, epoch: int) -> None:
        """With ``merge_every_epoch``, write ``epoch-<n>/adapter`` and ``epoch-<n>/model``."""
        if not self.cfg.merge_every_epoch:
            return
        out = self.dir / f"epoch-{epoch + 1}"
        if self.policy.uses_adapters:
            save_model(self.policy, out / "adapter")
            merge_and_save(self.policy, out / "adapter", out / "model")
        else:
            save_model(self.policy, out / "model")

    def finish(self, step: int, stopped_early: bool = False) -> TrainResult:
        """Restore the best validated weights (if any), save and merge, evaluate, close the logger."""
        cfg = self.cfg
        best_dir = self.dir / "best"
        if self.val_tasks is not None and cfg.load_best_at_end and best_dir.is_dir():
            load_model_weights(self.policy, best_dir)
            for key, module in self.extra.items():
                if (best_dir / f"{key}.pt").is_file():
                    module.load_state_dict(
                        torch.load(best_dir / f"{key}.pt", map_location=self.policy.device)
                    )
            log.info("restored the best validated weights (step %s)", self.stopper.best_step)
        adapter_dir = model_dir = None
        if self.policy.uses_adapters:
            adapter_dir = self.dir / "adapter"
            save_model(self.policy, adapter_dir)
        for key, module in self.extra.items():
            torch.save(module.state_dict(), self.dir / f"{key}.pt")
        if cfg.merge_adapters or not self.policy.uses_adapters:
            model_dir = merge_and_save(self.policy, adapter_dir or self.dir / "adapter", self.dir / "model")
        results: dict[str, SuiteResult] = {}
        suites = eval_suites_for(cfg)  # the environment's own evaluation unless --eval-suites says otherwise
        if cfg.final_eval and suites:
            results = evaluate_policy(
                self.policy,
                suites,
                n_samples=cfg.eval_samples,
                temperature=cfg.eval_temperature,
                ks=cfg.eval_k,
                max_tasks=cfg.eval_max_tasks,
                batch_size=cfg.eval_batch_size,
                max_new_tokens=cfg.max_new_tokens,
                max_prompt_tokens=self.max_prompt_tokens,
                seed=cfg.seed,
                progress=cfg.progress,
                output=self.dir / "eval_results.json",
            )
            print(format_table(results))
            self.logger.log(
                {
                    f"eval/{suite}/{k}": v
                    for suite, r in results.items()
                    for k, v in {**r.pass_at_k, **{f"{a}_accuracy": x for a, x in r.accuracy.items()}}.items()
                },
                step,
            )
        self.logger.close()
        if self.val_tasks is not None:
            self.val_tasks.close()
        return TrainResult(
            run_dir=self.dir,
            steps=step,
            model_dir=model_dir,
            adapter_dir=adapter_dir,
            eval_results=results,
            best_val=self.stopper.best,
            stopped_early=stopped_early,
            validations=list(self.validations),
        )
