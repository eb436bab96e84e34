"""PPO that learns which edits to a programming prompt make a frozen code model solve the task.

The agent is stable-baselines3's PPO with an MLP policy on :class:`~codegym.envs.PromptOptimizationEnv`
(``MBPPPrompt-v0``): the observation is the all-MiniLM-L6-v2 embedding of the current prompt plus four
scalars (step fraction, current and best pass rate, compiled), the action picks a mutation operator
(submit, EPiC mutation, WordNet synonym, word-vector neighbour, LLM rewrite, restore), and the default
reward is the change in test pass rate. Training runs on the batched vector environment, so the code
model and the embedder are called once per vector step for all ``n_envs`` environments.

This descends from the PROMIS notebooks (PPO, CodeT5+ / CodeLlama, MiniLM, 10 steps) and fixes what
they got wrong: tasks are sampled every episode (PROMIS trained on problem 0 forever), edits accumulate
(PROMIS always edited the original prompt), the policy sees the prompt embedding (PROMIS configured MiniLM
but fed ten hand-made features), and programs run in codegym's sandbox with time and memory limits
(PROMIS ``exec``-ed them in-process without a timeout).

Everything is in this file, top to bottom: hyperparameters (:class:`Args`), environment construction,
the training loop with TensorBoard logging and checkpoints, and evaluation on held-out tasks.

Run it::

    # a real run (downloads nothing: pass local model directories when offline)
    python agents/ppo_prompt.py --backend Salesforce/codet5p-220m-py --total-timesteps 20000
    # a smoke test on a random-weight tiny model
    python agents/ppo_prompt.py --backend tiny-t5 --embedder hashing --total-timesteps 256 --n-steps 32 \
        --train-tasks 16 --eval-tasks 8 --max-new-tokens 16

    tensorboard --logdir runs/
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from codegym.envs.prompt_optimization import DEFAULT_OPERATORS


@dataclass
class Args:
    """Every hyperparameter and setting of a run (the command line mirrors these fields)."""

    # -- experiment
    exp_name: str = "ppo_prompt"
    seed: int = 0
    log_dir: str = "runs"  # TensorBoard logs, checkpoints and the final model go to log_dir/<run name>
    device: str = "cpu"  # the policy is a small MLP; the code model has its own device
    torch_threads: int | None = None  # torch.set_num_threads for this process (None: leave as is)
    # -- environment
    env_id: str = "MBPPPrompt-v0"
    train_split: str = "train"  # MBPP: train 601-974 (374 tasks)
    eval_split: str = "test"  # held-out tasks for evaluate(); MBPP test is 11-510
    train_tasks: int | None = None  # keep only the first N tasks of the train split (quick runs)
    eval_tasks: int | None = 50  # evaluate on the first N held-out tasks (None: all)
    data_path: str | None = None  # local MBPP jsonl (else $CODEGYM_MBPP_PATH or the hub)
    backend: str | None = (
        None  # hub id, local directory, "codegym-small", "tiny-t5"; None: the env id's default
    )
    embedder: str = "minilm"  # "minilm" (384-d all-MiniLM-L6-v2) or "hashing" (instant, no semantics)
    operators: tuple[str, ...] = DEFAULT_OPERATORS
    rewriter: str | None = None  # llm_rewrite model; None: the env id's default (MBPP: Llama-3.2-3B-Instruct)
    reward_mode: str = "delta"  # "delta", "promis" or "final"
    feedback: str = "tests"  # "tests" (hidden tests drive the reward, as PROMIS) or "visible"
    max_steps: int | None = None  # edits per episode; None: the env id's default (MBPP 10 as PROMIS, Synth 4)
    max_new_tokens: int | None = None  # None: the env id's default (MBPP 128, Synth 96)
    # -- PPO
    n_envs: int = 8  # environments stepped together; one batched model call per vector step
    total_timesteps: int = 20_000  # environment steps over all environments
    learning_rate: float = 3e-4
    n_steps: int = 64  # steps per environment per rollout (rollout = n_steps * n_envs)
    batch_size: int = 64
    n_epochs: int = 4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    ent_coef: float = 0.01  # keeps the policy exploring operators
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    net_arch: tuple[int, ...] = (256, 256)
    # -- logging
    checkpoint_freq: int = 2_000  # save a checkpoint every this many environment steps
    eval_deterministic: bool = True

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad setting."""
        for name in (
            "n_envs",
            "total_timesteps",
            "n_steps",
            "batch_size",
            "n_epochs",
            "max_steps",
            "checkpoint_freq",
        ):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if (self.n_steps * self.n_envs) % self.batch_size:
            raise ValueError(
                f"batch_size={self.batch_size} should divide the rollout size n_steps * n_envs = "
                f"{self.n_steps * self.n_envs}"
            )

    @property
    def run_name(self) -> str:
        """Directory name of the run under ``log_dir``."""
        return f"{self.exp_name}__{self.env_id}__seed{self.seed}"


# ----------------------------------------------------------------------------------------------------
# Environments
# ----------------------------------------------------------------------------------------------------


def env_kwargs(args: Args, split: str) -> dict[str, Any]:
    """Keyword arguments of :class:`~codegym.envs.prompt_optimization.PromptOptimizationEnv` for a split."""
    kwargs: dict[str, Any] = {
        "split": split,
        "embedder": args.embedder,
        "operators": tuple(args.operators),
        "reward_mode": args.reward_mode,
        "feedback": args.feedback,
    }
    for name in ("backend", "max_steps", "max_new_tokens"):  # unset: the environment id's own value
        if getattr(args, name) is not None:
            kwargs[name] = getattr(args, name)
    if args.rewriter is not None:  # unset: the environment id's own rewriter (SynthPrompt-v0 has one)
        kwargs["rewriter"] = args.rewriter
    if args.data_path is not None:
        kwargs["path"] = args.data_path
    return kwargs


def task_ids_of(args: Args, split: str, limit: int | None) -> list[str] | None:
    """Return the first ``limit`` task ids of a split (``None``: every task)."""
    if limit is None:
        return None
    import gymnasium as gym

    import codegym  # noqa: F401  (registers the environment ids)
    from codegym.envs.prompt_optimization import PromptOptimizationEnv

    registered = dict(gym.spec(args.env_id).kwargs)  # the id's dataset (SynthPrompt-v0: synthesis tasks)
    probe = PromptOptimizationEnv(
        **{**registered, **env_kwargs(args, split), "backend": _Unused(), "embedder": "hashing"}
    )
    return [t.task_id for t in probe.tasks[:limit]]


class _Unused:
    """Placeholder backend for an environment that is only used to list tasks."""

    name = "unused"

    def generate(self, *a: Any, **k: Any) -> list[list[str]]:  # pragma: no cover - never called
        raise RuntimeError("this environment only lists tasks")


def make_vec_env(
    args: Args, split: str, task_ids: Sequence[str] | None = None, backend: Any = None, **over: Any
):
    """Build the batched vector environment for ``split``: ``args.n_envs`` environments, one evaluator.

    Args:
        args: Run settings.
        split: Dataset split.
        task_ids: Restrict to these tasks.
        backend: A loaded generator to use instead of ``args.backend`` (share one model between the
            training and evaluation environments).
        **over: Any other environment argument.

    """
    from codegym.envs.prompt_vec_env import make_prompt_vec_env

    kwargs = env_kwargs(args, split)
    if backend is not None:
        kwargs["backend"] = backend
    if task_ids is not None:
        kwargs["task_ids"] = list(task_ids)
    kwargs.update(over)
    return make_prompt_vec_env(args.env_id, n_envs=args.n_envs, seed=args.seed, **kwargs)


# ----------------------------------------------------------------------------------------------------
# Training
# ----------------------------------------------------------------------------------------------------


def _callbacks(args: Args, run_dir: Path) -> list[Any]:
    from stable_baselines3.common.callbacks import BaseCallback, CheckpointCallback

    class PromptStats(BaseCallback):
        """Log per-episode prompt-optimization metrics to TensorBoard (``prompt/*``)."""

        def __init__(self) -> None:
            super().__init__()
            self.t0 = time.perf_counter()

        def _on_step(self) -> bool:
            for info, done in zip(self.locals["infos"], self.locals["dones"], strict=True):
                if done:
                    self.logger.record_mean("prompt/final_pass_rate", info["pass_rate"])
                    self.logger.record_mean("prompt/hidden_pass_rate", info["hidden_pass_rate"])
                    self.logger.record_mean("prompt/solved", float(info["hidden_pass_rate"] >= 1.0))
                    self.logger.record_mean("prompt/best_pass_rate", info["best_pass_rate"])
                    self.logger.record_mean("prompt/model_calls", info["model_calls"])
                    self.logger.record_mean("prompt/episode_steps", info["step"])
                self.logger.record_mean(f"actions/{info['operator']}", 1.0)
            return True

        def _on_rollout_end(self) -> None:
            stats = self.training_env.unwrapped.evaluators[0].stats
            for key, value in stats.as_dict().items():
                self.logger.record(f"evaluator/{key}", value)
            self.logger.record("time/env_steps_per_s", self.num_timesteps / (time.perf_counter() - self.t0))

    checkpoint = CheckpointCallback(
        save_freq=max(args.checkpoint_freq // args.n_envs, 1),
        save_path=str(run_dir / "checkpoints"),
        name_prefix="ppo_prompt",
    )
    return [checkpoint, PromptStats()]


def train(args: Args, venv: Any = None, callbacks: Sequence[Any] = ()):
    """Train PPO; returns ``(model, run_dir)``.

    Writes TensorBoard logs, periodic checkpoints (``checkpoints/``), the final policy
    (``final_model.zip``) and the settings (``args.json``) to ``args.log_dir/args.run_name``.

    Args:
        args: Run settings.
        venv: A vector environment to train on (default: :func:`make_vec_env` on ``args.train_split``).
        callbacks: More stable-baselines3 callbacks (progress reports, early stopping...).

    """
    from stable_baselines3 import PPO

    args.validate()
    if args.torch_threads is not None:
        import torch

        torch.set_num_threads(args.torch_threads)
    run_dir = Path(args.log_dir) / args.run_name
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "args.json").write_text(json.dumps(dataclasses.asdict(args), indent=2))
    if venv is None:
        venv = make_vec_env(args, args.train_split, task_ids_of(args, args.train_split, args.train_tasks))
    from stable_baselines3.common.vec_env import VecMonitor

    model = PPO(
        "MlpPolicy",
        VecMonitor(venv),  # episode returns and lengths in rollout/ep_rew_mean, rollout/ep_len_mean
        learning_rate=args.learning_rate,
        n_steps=args.n_steps,
        batch_size=args.batch_size,
        n_epochs=args.n_epochs,
        gamma=args.gamma,
        gae_lambda=args.gae_lambda,
        clip_range=args.clip_range,
        ent_coef=args.ent_coef,
        vf_coef=args.vf_coef,
        max_grad_norm=args.max_grad_norm,
        policy_kwargs={"net_arch": list(args.net_arch)},
        tensorboard_log=str(run_dir),
        seed=args.seed,
        device=args.device,
        verbose=0,
    )
    model.learn(
        total_timesteps=args.total_timesteps,
        callback=[*_callbacks(args, run_dir), *callbacks],
        tb_log_name="ppo",
    )
    model.save(run_dir / "final_model")
    return model, run_dir


# ----------------------------------------------------------------------------------------------------
# Evaluation
# ----------------------------------------------------------------------------------------------------


@dataclass
class EvalReport:
    """Per-task outcomes of a policy on held-out tasks.

    Attributes:
        episodes: One dict per task (the last step's ``info`` plus ``return``, ``steps``...).
        pass_at_1: Fraction of tasks whose final program passes every hidden test.
        soft_pass: Mean fraction of hidden tests passed by the final programs.
        model_calls: Mean model calls per task (code model plus rewriter).

    """

    episodes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def pass_at_1(self) -> float:  # noqa: D102
        return float(np.mean([e["hidden_pass_rate"] >= 1.0 for e in self.episodes])) if self.episodes else 0.0

    @property
    def soft_pass(self) -> float:  # noqa: D102
        return float(np.mean([e["hidden_pass_rate"] for e in self.episodes])) if self.episodes else 0.0

    @property
    def model_calls(self) -> float:  # noqa: D102
        return float(np.mean([e["model_calls"] for e in self.episodes])) if self.episodes else 0.0

    def summary(self) -> dict[str, float]:
        """``pass@1``, ``soft_pass``, ``model_calls`` and the number of tasks."""
        return {
            "pass@1": self.pass_at_1,
            "soft_pass": self.soft_pass,
            "model_calls": self.model_calls,
            "tasks": len(self.episodes),
        }


def evaluate(
    model: Any, venv: Any, task_ids: Sequence[str], *, deterministic: bool = True, seed: int = 0
) -> EvalReport:
    """Run the policy once on each task (batched over the vector environment's slots).

    The final program of an episode (the current prompt's when it ends by submitting, solving or
    running out of steps) is what pass@1 and the soft pass rate score, on the task's hidden tests.
    """

    def policy(obs: np.ndarray) -> np.ndarray:
        actions, _ = model.predict(obs, deterministic=deterministic)
        return actions

    return EvalReport(venv.run_episodes(policy, task_ids, seed=seed))


def load_policy(path: str | Path, device: str = "cpu") -> Any:
    """Load a saved PPO policy (``final_model.zip`` or a checkpoint)."""
    from stable_baselines3 import PPO

    return PPO.load(str(path), device=device)


# ----------------------------------------------------------------------------------------------------
# Command line
# ----------------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> Args:
    """Build :class:`Args` from ``--field-name value`` options (tuples take several values)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for f in dataclasses.fields(Args):
        default = f.default
        flag = "--" + f.name.replace("_", "-")
        if isinstance(default, bool):
            parser.add_argument(flag, type=lambda s: s.lower() in ("1", "true", "yes"), default=default)
        elif isinstance(default, tuple):
            kind = type(default[0]) if default else str
            parser.add_argument(flag, nargs="+", type=kind, default=default)
        elif default is None or "None" in str(f.type):
            parser.add_argument(flag, type=_optional(f.type), default=default)
        else:
            parser.add_argument(flag, type=type(default), default=default)
    ns = parser.parse_args(argv)
    values = {k: (tuple(v) if isinstance(v, list) else v) for k, v in vars(ns).items()}
    return Args(**values)


def _optional(annotation: Any) -> Any:
    text = str(annotation)
    if "int" in text:
        return lambda s: None if s.lower() == "none" else int(s)
    return lambda s: None if s.lower() == "none" else s


def main(argv: Sequence[str] | None = None) -> EvalReport:
    """Train, then evaluate on the held-out split; print the summary."""
    args = parse_args(argv)
    train_venv = make_vec_env(args, args.train_split, task_ids_of(args, args.train_split, args.train_tasks))
    model, run_dir = train(args, train_venv)
    backend = train_venv.evaluators[0].backend
    eval_venv = make_vec_env(
        args, args.eval_split, task_ids_of(args, args.eval_split, args.eval_tasks), backend=backend
    )
    task_ids = [t.task_id for t in eval_venv.envs[0].tasks]
    report = evaluate(model, eval_venv, task_ids, deterministic=args.eval_deterministic, seed=args.seed)
    summary = report.summary()
    (run_dir / "eval.json").write_text(json.dumps(summary, indent=2))
    print(f"run: {run_dir}")
    print(json.dumps(summary, indent=2))
    train_venv.close()
    return report


if __name__ == "__main__":
    main()
