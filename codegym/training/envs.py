"""The trainers' view of a code-generation environment: prompts by task id, rewards for completions.

Trainers never look inside an environment: they make it with ``gymnasium.make(env_id, **kwargs)``,
read the task list from ``env.unwrapped.tasks``, get each prompt from ``reset(options={"task_id": ...})``
(the observation) and each reward from ``step(completion)`` (the reward, with the verdicts and every
reward term from ``info``). So any registered code-generation environment and any reward preset works.

A batch of completions is scored by a small pool of identical environments stepped from threads: the
environment's work is waiting for the sandboxed execution engine, which runs candidates in child
processes, so the threads overlap those waits.

Output-prediction environments (``CodeOutputPrediction-v0``) are read the same way through a small
adapter: their items (``env.unwrapped.items``) become tasks whose reference solution is the item's
expected output, prompts come from ``reset(options={"item_id": ...})``, ``passed`` is an exact prediction
and ``close`` a close one (exact included). Their reward preset defaults to ``"unit"`` (exact 1, close
0.5) rather than the env's 10/5 scale, so that RL step sizes match the code-generation rewards; pass
``env_kwargs={"reward": ...}`` to choose another.
"""

from __future__ import annotations

import queue
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Scored:
    """The environment's verdict on one completion.

    Attributes:
        task_id: The task answered.
        reward: The environment's scalar reward.
        passed: Every hidden test passed.
        pass_fraction: Fraction of hidden tests passed.
        terms: Every reward term (``info["reward_terms"]``), unweighted.
        valid: False when the execution engine itself failed (the reward says nothing about the code).
        status: The engine's overall outcome (``"passed"``, ``"failed"``, ``"syntax_error"``, ...).
        message: The engine's message (why it failed, for invalid results).
        close: For output prediction, an exact or close prediction; ``None`` for code generation.

    """

    task_id: str
    reward: float
    passed: bool
    pass_fraction: float
    terms: Mapping[str, float] = field(default_factory=dict)
    valid: bool = True
    status: str = ""
    message: str = ""
    close: bool | None = None


#: Reward preset of output-prediction environments when ``env_kwargs`` names none (exact 1, close 0.5).
OUTPUT_PREDICTION_REWARD = "unit"


@dataclass(frozen=True)
class PredictionTask:
    """An output-prediction item seen as a task: its reference solution is the expected output."""

    task_id: str
    reference_solution: str


class EnvTasks:
    """A pool of identical environments driven in batches.

    Args:
        env_id: A registered code-generation environment id (``"MBPPCodeGen-v0"``).
        env_kwargs: ``gymnasium.make`` keyword arguments (``split``, ``reward``, ``tasks``, ...).
        max_tasks: Keep only the first ``max_tasks`` tasks.
        num_envs: Environments stepped concurrently when scoring a batch.

    Attributes:
        kind: ``"codegen"`` (tasks with hidden tests) or ``"output_prediction"`` (items with an expected
            output; see the module docstring).

    Raises:
        ValueError: The environment exposes neither tasks (``env.unwrapped.tasks``) nor output-prediction
            items (``env.unwrapped.items``), or has none.

    """

    def __init__(
        self,
        env_id: str,
        env_kwargs: Mapping[str, Any] | None = None,
        *,
        max_tasks: int | None = None,
        num_envs: int = 4,
    ) -> None:
        import gymnasium as gym

        import codegym  # noqa: F401 - registers the environment ids
        import codegym.tasks.procedural  # noqa: F401 - registers the procedural datasets

        self.env_id = env_id
        self.env_kwargs = dict(env_kwargs or {})
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        self.kind = "output_prediction" if is_output_prediction(env_id) else "codegen"
        if self.kind == "output_prediction":
            self.env_kwargs.setdefault("reward", OUTPUT_PREDICTION_REWARD)
        try:
            first = gym.make(env_id, **self.env_kwargs)
        except gym.error.Error as exc:
            raise ValueError(f"cannot make environment {env_id!r}: {exc}") from exc
        if self.kind == "output_prediction":
            if getattr(first.unwrapped, "observation_mode", "question") == "dict":
                raise ValueError(
                    f"{env_id!r} with observation='dict' has no text prompt; the trainers need "
                    "observation='question' (the default) or 'program'"
                )
            items = getattr(first.unwrapped, "items", None) or []
            tasks = [PredictionTask(i.item_id, i.expected_output) for i in items]
        else:
            tasks = getattr(first.unwrapped, "tasks", None)
        if not tasks:
            raise ValueError(
                f"environment {env_id!r} does not list its tasks in env.unwrapped.tasks; the trainers need "
                "a code-generation or output-prediction environment (see codegym.envs)"
            )
        self._reset_key = "item_id" if self.kind == "output_prediction" else "task_id"
        self.tasks = list(tasks)[:max_tasks] if max_tasks is not None else list(tasks)
        if not self.tasks:
            raise ValueError(f"max_tasks={max_tasks} leaves no task in {env_id!r}")
        self.task_ids = [t.task_id for t in self.tasks]
        self.task_by_id = {t.task_id: t for t in self.tasks}
        self._envs = [first] + [gym.make(env_id, **self.env_kwargs) for _ in range(num_envs - 1)]
        self._free: queue.SimpleQueue[Any] = queue.SimpleQueue()
        for env in self._envs:
            self._free.put(env)
        self._prompts: dict[str, str] = {}
        self._pool = ThreadPoolExecutor(max_workers=num_envs) if num_envs > 1 else None

    def __len__(self) -> int:
        return len(self.task_ids)

    def prompt(self, task_id: str) -> str:
        """Return the observation of ``reset(options={"task_id": task_id})`` (cached)."""
        if task_id not in self._prompts:
            env = self._free.get()
            try:
                observation, _ = env.reset(options={self._reset_key: task_id})
            finally:
                self._free.put(env)
            self._prompts[task_id] = observation if isinstance(observation, str) else observation["prompt"]
        return self._prompts[task_id]

    def prompts(self, task_ids: Sequence[str]) -> list[str]:
        """:meth:`prompt` for each id."""
        return [self.prompt(t) for t in task_ids]

    def _score_one(self, item: tuple[str, str]) -> Scored:
        task_id, completion = item
        env = self._free.get()
        try:
            env.reset(options={self._reset_key: task_id})
            _, reward, _, _, info = env.step(completion)
        finally:
            self._free.put(env)
        if self.kind == "output_prediction":
            exact = bool(info["exact"])
            return Scored(
                task_id=task_id,
                reward=float(reward),
                passed=exact,
                pass_fraction=float(exact),
                status=str(info["verdict"]),
                close=bool(info["close"]),
            )
        return Scored(
            task_id=task_id,
            reward=float(reward),
            passed=bool(info.get("passed", False)),
            pass_fraction=float(info.get("pass_fraction", 0.0)),
            terms=dict(info.get("reward_terms", {})),
            valid=bool(info.get("reward_valid", True)),
            status=str(info.get("status", "")),
            message=str(info.get("error", "")),
        )

    def score(self, task_ids: Sequence[str], completions: Sequence[str]) -> list[Scored]:
        """Step one episode per ``(task_id, completion)`` pair; results in the same order."""
        if len(task_ids) != len(completions):
            raise ValueError(
                f"{len(task_ids)} task ids but {len(completions)} completions; give one per completion"
            )
        items = list(zip(task_ids, completions, strict=True))
        if self._pool is None:
            return [self._score_one(item) for item in items]
        return list(self._pool.map(self._score_one, items))

    def close(self) -> None:
        """Close the environments and the thread pool."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        for env in self._envs:
            env.close()


def is_output_prediction(env_id: str) -> bool:
    """Tell whether ``env_id`` is registered with an output-prediction environment class."""
    import gymnasium as gym

    import codegym  # noqa: F401 - registers the environment ids
    from codegym.envs.output_prediction import CodeOutputPredictionEnv

    try:
        spec = gym.spec(env_id)
    except gym.error.Error:
        return False
    entry = spec.entry_point
    if isinstance(entry, str):
        module, _, name = entry.partition(":")
        try:
            import importlib

            entry = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            return False
    return isinstance(entry, type) and issubclass(entry, CodeOutputPredictionEnv)


def check_valid(scored: Sequence[Scored], max_invalid_fraction: float = 0.5) -> None:
    """Raise when the execution engine failed on more than ``max_invalid_fraction`` of a batch.

    A failed engine run is not a verdict on the completion; a batch made mostly of them would train (or
    evaluate) on noise, so it stops the run with the engine's message.
    """
    invalid = [s for s in scored if not s.valid]
    if scored and len(invalid) > max_invalid_fraction * len(scored):
        raise RuntimeError(
            f"the execution engine failed on {len(invalid)} of {len(scored)} completions "
            f"(first: {invalid[0].task_id}: {invalid[0].message or invalid[0].status}); check the sandbox "
            "with 'codegym exec' or the execution tests"
        )


def reward_summary(scored: Sequence[Scored], prefix: str = "reward") -> dict[str, float]:
    """Mean reward, pass rate and every reward term over a batch, as ``{name: value}`` for logging."""
    valid = [s for s in scored if s.valid]
    if not valid:
        return {f"{prefix}/invalid_fraction": 1.0}
    out = {
        f"{prefix}/mean": sum(s.reward for s in valid) / len(valid),
        f"{prefix}/pass_rate": sum(s.passed for s in valid) / len(valid),
        f"{prefix}/pass_fraction": sum(s.pass_fraction for s in valid) / len(valid),
        f"{prefix}/invalid_fraction": 1 - len(valid) / len(scored),
    }
    closes = [s.close for s in valid if s.close is not None]
    if closes:
        out[f"{prefix}/exact_accuracy"] = out[f"{prefix}/pass_rate"]
        out[f"{prefix}/close_accuracy"] = sum(closes) / len(closes)
    names = sorted({name for s in valid for name in s.terms})
    for name in names:
        out[f"{prefix}/term/{name}"] = sum(float(s.terms.get(name, 0.0)) for s in valid) / len(valid)
    return out
