"""The execution engine's API and semantics on well-behaved programs."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import threading
import time

import pytest

from codegym.execution import (
    ExecutionRequest,
    ExecutionResult,
    Limits,
    Outcome,
    SandboxExecutor,
    available_languages,
    get_default_executor,
)
from codegym.execution.bench import _children
from codegym.tasks.base import Task

from .hostile import sandbox_processes

ADD = "def add(a, b):\n    return a + b\n"


@pytest.fixture(scope="module")
def ex():
    with SandboxExecutor(workers=2, limits=Limits(timeout_s=3.0)) as executor:
        yield executor


def test_correct_code_passes(ex: SandboxExecutor) -> None:
    r = ex.run(ADD, ["assert add(1, 2) == 3", "assert add('a', 'b') == 'ab'"])
    assert isinstance(r, ExecutionResult)
    assert r.status is Outcome.PASSED and r.passed and r.compiled
    assert [t.outcome for t in r.tests] == [Outcome.PASSED, Outcome.PASSED]
    assert [t.index for t in r.tests] == [0, 1]
    assert all(t.duration_s >= 0 for t in r.tests)
    assert r.pass_fraction == 1.0 and not r.cached


def test_per_test_verdicts_keep_going_after_failures(ex: SandboxExecutor) -> None:
    r = ex.run(ADD, ["assert add(1, 1) == 3", "assert add(1) == 1", "assert add(2, 2) == 4", "assert nope"])
    outcomes = [t.outcome for t in r.tests]
    assert outcomes == [Outcome.FAILED, Outcome.ERROR, Outcome.PASSED, Outcome.ERROR]
    assert r.status is Outcome.FAILED
    assert r.tests[0].exception == "AssertionError"
    assert r.tests[1].exception == "TypeError" and "missing 1 required" in r.tests[1].message
    assert r.tests[3].exception == "NameError"
    assert r.num_passed == 1 and r.pass_fraction == 0.25


def test_assert_message_is_reported(ex: SandboxExecutor) -> None:
    r = ex.run(ADD, ["assert add(1, 1) == 3, 'one plus one'"])
    assert r.tests[0].outcome is Outcome.FAILED and r.tests[0].message == "one plus one"


def test_durations_are_measured(ex: SandboxExecutor) -> None:
    r = ex.run(
        "import time\ndef nap(s):\n    time.sleep(s)\n    return s",
        ["assert nap(0.3) == 0.3", "assert nap(0) == 0"],
    )
    assert r.passed
    assert 0.25 <= r.tests[0].duration_s < 2.5
    assert r.tests[1].duration_s < 0.25
    assert r.duration_s >= r.tests[0].duration_s


def test_syntax_error(ex: SandboxExecutor) -> None:
    r = ex.run("def f(:\n    pass", ["assert f() is None", "assert True"])
    assert r.status is Outcome.SYNTAX_ERROR and not r.compiled
    assert [t.outcome for t in r.tests] == [Outcome.NOT_RUN, Outcome.NOT_RUN]
    assert "line 1" in r.message


def test_error_at_definition_time(ex: SandboxExecutor) -> None:
    r = ex.run("raise ValueError('boom')\ndef f(): return 1", ["assert f() == 1"])
    assert r.status is Outcome.ERROR
    assert "ValueError" in r.message and "boom" in r.message
    assert r.tests[0].outcome is Outcome.NOT_RUN


def test_per_test_timeout_then_not_run(ex: SandboxExecutor) -> None:
    code = "import time\ndef f(x):\n    if x:\n        time.sleep(60)\n    return x"
    start = time.monotonic()
    r = ex.run(
        code, ["assert f(0) == 0", "assert f(1) == 1", "assert f(0) == 0"], limits=Limits(timeout_s=0.5)
    )
    assert time.monotonic() - start < 10
    assert [t.outcome for t in r.tests] == [Outcome.PASSED, Outcome.TIMEOUT, Outcome.NOT_RUN]
    assert r.status is Outcome.TIMEOUT


def test_finished_tests_keep_their_verdicts_when_the_next_one_dies(ex: SandboxExecutor) -> None:
    # A test's verdict may be written together with the next test's start: a death in that next test
    # must not lose it.
    code = "import os\ndef f(x):\n    if x == 2:\n        os.kill(os.getpid(), 9)\n    return x"
    r = ex.run(code, ["assert f(0) == 0", "assert f(1) == 5", "assert f(2) == 2", "assert f(0) == 0"])
    outcomes = [t.outcome for t in r.tests]
    assert outcomes == [Outcome.PASSED, Outcome.FAILED, Outcome.CRASHED, Outcome.NOT_RUN]
    assert "SIGKILL" in r.tests[2].message


def test_a_death_while_defining_is_the_candidates_with_or_without_setup(ex: SandboxExecutor) -> None:
    for setup in ("", "import math"):
        r = ex.run("import os\nos._exit(3)", ["assert True"], setup=setup)
        assert r.status is Outcome.CRASHED, (setup, r)
        assert r.message.startswith("candidate:") and "status 3" in r.message, (setup, r.message)
        assert r.tests[0].outcome is Outcome.NOT_RUN


def test_candidates_start_with_nothing_of_the_forker_to_collect(ex: SandboxExecutor) -> None:
    # What the process that forks candidates allocated is frozen before each fork: every child starts
    # with about the same count of new objects (what the harness made), whatever ran before it, so
    # none starts with a collection of what the forker accumulated (without the freeze it grows).
    counts = set()
    for i in range(12):
        tests = [f"assert {i} == {i}", f"x = [[{i}] * {i}]"]  # a new test set: the forker keeps it
        r = ex.run("import gc\nprint(gc.get_count()[0])", tests)
        assert r.passed, r
        counts.add(int(r.stdout))
    assert max(counts) - min(counts) <= 5, counts


def test_total_timeout(ex: SandboxExecutor) -> None:
    code = "import time\ndef f():\n    time.sleep(0.4)\n    return 1"
    r = ex.run(code, ["assert f() == 1"] * 5, limits=Limits(timeout_s=2.0, total_timeout_s=1.0))
    outcomes = [t.outcome for t in r.tests]
    assert outcomes[0] is Outcome.PASSED
    assert Outcome.TIMEOUT in outcomes and outcomes[-1] is Outcome.NOT_RUN


def test_memory_limit(ex: SandboxExecutor) -> None:
    r = ex.run(
        "def f():\n    return len(bytearray(512 * 1024 * 1024))",
        ["assert f() > 0"],
        limits=Limits(memory_mb=128),
    )
    assert r.tests[0].outcome is Outcome.MEMORY
    ok = ex.run(
        "def f():\n    return len(bytearray(32 * 1024 * 1024))",
        ["assert f() > 0"],
        limits=Limits(memory_mb=128),
    )
    assert ok.passed


def test_setup_runs_first_in_the_same_namespace(ex: SandboxExecutor) -> None:
    r = ex.run(
        "def f(x):\n    return math.floor(x) + OFFSET",
        ["assert f(2.5) == 12"],
        setup="import math\nOFFSET = 10",
    )
    assert r.passed


def test_broken_setup_is_infra(ex: SandboxExecutor) -> None:
    r = ex.run(ADD, ["assert add(1, 2) == 3"], setup="import this_module_does_not_exist")
    assert r.status is Outcome.INFRA and "set-up" in r.message
    r = ex.run(ADD, ["assert add(1, 2) == 3"], setup="def (:")
    assert r.status is Outcome.INFRA


def test_broken_test_is_infra_not_a_verdict(ex: SandboxExecutor) -> None:
    r = ex.run(ADD, ["assert add(1, 2) == 3", "assert add(1, 2 == 3"])
    assert r.tests[0].passed and r.tests[1].outcome is Outcome.INFRA


def test_stdout_and_stderr_are_captured_and_capped(ex: SandboxExecutor) -> None:
    code = (
        "import sys\nprint('hello')\nprint('é' * 3, file=sys.stderr)\n"
        "def f():\n    print('x' * 100000)\n    return 1"
    )
    r = ex.run(code, ["assert f() == 1"], limits=Limits(output_bytes=1000))
    assert r.passed
    assert r.stdout.startswith("hello\n") and len(r.stdout.encode()) <= 1000
    assert r.stderr == "ééé\n"


def test_no_tests(ex: SandboxExecutor) -> None:
    r = ex.run("print(1 + 1)", [])
    assert r.status is Outcome.PASSED and r.tests == () and not r.passed
    assert r.stdout == "2\n"


def test_cache_hit_and_miss(ex: SandboxExecutor) -> None:
    code = ADD + "# cache test\n"
    before = ex.stats.as_dict()
    first = ex.run(code, ["assert add(2, 3) == 5"])
    second = ex.run(code, ["assert add(2, 3) == 5"])
    third = ex.run(code, ["assert add(2, 3) == 5"], limits=Limits(timeout_s=2.5))
    after = ex.stats.as_dict()
    assert not first.cached and second.cached and not third.cached
    assert second.status is first.status and second.tests == first.tests
    assert after["cache_hits"] == before["cache_hits"] + 1
    assert after["executions"] == before["executions"] + 2


def test_cache_disabled() -> None:
    with SandboxExecutor(workers=1, cache_size=0) as ex1:
        a = ex1.run(ADD, ["assert add(1, 2) == 3"])
        b = ex1.run(ADD, ["assert add(1, 2) == 3"])
        assert not a.cached and not b.cached and ex1.stats.executions == 2


def test_batch_preserves_order_and_dedupes(ex: SandboxExecutor) -> None:
    reqs = []
    for i in range(24):
        body = f"def f():\n    return {i}\n" if i % 3 else "def f(:\n"
        reqs.append(ExecutionRequest(code=body, tests=[f"assert f() == {i}"]))
    reqs.append(reqs[1])  # a duplicate inside the batch
    results = ex.run_batch(reqs, progress=False)
    assert len(results) == len(reqs)
    for i, r in enumerate(results[:24]):
        assert r.status is (Outcome.SYNTAX_ERROR if i % 3 == 0 else Outcome.PASSED), (i, r)
    assert results[24].passed and results[24].cached


def test_batch_with_progress_bar(ex: SandboxExecutor, capsys: pytest.CaptureFixture) -> None:
    reqs = [ExecutionRequest(code=f"x = {i}", tests=[f"assert x == {i}"]) for i in range(5)]
    assert all(r.passed for r in ex.run_batch(reqs, progress=True))


def test_run_task_uses_setup_and_hidden_tests(ex: SandboxExecutor) -> None:
    task = Task(
        task_id="Demo/1",
        prompt="Write double(x).",
        entry_point="double",
        tests=("assert double(2) == helper(4)",),
        visible_tests=("assert double(1) == 2",),
        test_setup="def helper(v):\n    return v",
    )
    assert ex.run_task(task, "def double(x):\n    return 2 * x").passed
    assert not ex.run_task(task, "def double(x):\n    return 2").passed


def test_humaneval_style_check(ex: SandboxExecutor) -> None:
    test = (
        "def check(candidate):\n    assert candidate([1, 2]) == 3\n"
        "    assert abs(candidate([0.5]) - 0.5) < 1e-9\n"
    )
    r = ex.run("def total(xs):\n    return sum(xs)", [test + "check(total)"], entry_point="total")
    assert r.passed
    r = ex.run("def total(xs):\n    return 3", [test + "check(total)"], entry_point="total")
    assert r.status is Outcome.FAILED


def test_legitimate_non_builtin_results_still_compare(ex: SandboxExecutor) -> None:
    code = (
        "from collections import OrderedDict, Counter, namedtuple, defaultdict, deque\n"
        "from fractions import Fraction\nfrom decimal import Decimal\nP = namedtuple('P', 'x y')\n"
        "def od(): return OrderedDict(a=1)\ndef cnt(): return Counter('aab')\ndef nt(): return P(1, 2)\n"
        "def frac(): return Fraction(1, 2)\n"
        "def dec(): return Decimal('1.5')\ndef keys(): return {1: 2}.keys()\n"
        "def dd():\n    d = defaultdict(list)\n    d['a'].append(1)\n"
        "    return d\ndef dq(): return deque([1])\n"
        "def boolean(): return True\ndef nested(): return [(1, 'a'), {'k': [1.0, None]}]\n"
    )
    tests = [
        "assert od() == {'a': 1}",
        "assert cnt() == {'a': 2, 'b': 1}",
        "assert nt() == (1, 2) and nt().x == 1 or nt() == (1, 2)",
        "assert frac() == 0.5",
        "assert dec() == 1.5",
        "assert keys() == {1}",
        "assert dd() == {'a': [1]}",
        "assert dq() == deque([1]) and dq() != [1]",
        "assert boolean() == 1 and boolean() is True",
        "assert nested() == [(1, 'a'), {'k': [1, None]}]",
        "assert 1 in keys() and 2 not in keys()",
    ]
    r = ex.run(code, tests)
    assert r.passed, [(t.index, t.outcome, t.message) for t in r.tests if not t.passed]


def test_numpy_results_compare(ex: SandboxExecutor) -> None:
    pytest.importorskip("numpy")
    code = "import numpy as np\ndef f():\n    return np.int64(3)\ndef g():\n    return np.array([1, 2])\n"
    r = ex.run(code, ["assert f() == 3", "assert (g() == [1, 2]).all()", "assert f() != 4"])
    assert r.passed, r.tests


def test_unknown_language_and_bad_input(ex: SandboxExecutor) -> None:
    assert "python" in available_languages()
    with pytest.raises(ValueError, match="cobol"):
        ex.run("x", ["assert True"], language="cobol")
    with pytest.raises(TypeError, match="sequence of str"):
        ex.run("x = 1", "assert x == 1")
    with pytest.raises(TypeError):
        ex.run_batch(["not a request"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="timeout_s"):
        ex.run("x = 1", ["assert x"], limits=Limits(timeout_s=0))


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"timeout_s": -1}, "timeout_s"),
        ({"total_timeout_s": 0}, "total_timeout_s"),
        ({"memory_mb": 1}, "memory_mb"),
        ({"cpu_s": 0}, "cpu_s"),
        ({"file_size_mb": -1}, "file_size_mb"),
        ({"max_processes": 0}, "max_processes"),
        ({"output_bytes": -5}, "output_bytes"),
    ],
)
def test_limits_validation(kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        Limits(**kwargs).validate()
    with pytest.raises(ValueError, match=field):
        SandboxExecutor(workers=1, limits=Limits(**kwargs))


def test_executor_argument_validation() -> None:
    with pytest.raises(ValueError, match="isolation"):
        SandboxExecutor(isolation="docker")
    with pytest.raises(ValueError, match="workers"):
        SandboxExecutor(workers=0)
    with pytest.raises(ValueError, match="cache_size"):
        SandboxExecutor(cache_size=-1)
    with pytest.raises(TypeError, match="pin_workers"):
        SandboxExecutor(pin_workers="yes")  # type: ignore[arg-type]


_AFFINITY = "import os\ncpus = sorted(os.sched_getaffinity(0))\ndef f():\n    return cpus"


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="no CPU affinity on this OS")
def test_pinned_workers_run_candidates_on_one_cpu() -> None:
    usable = sorted(os.sched_getaffinity(0))
    with SandboxExecutor(workers=2, cache_size=0, pin_workers=True) as ex2:
        assert ex2.pinned_cpus == [usable[0], usable[1 % len(usable)]]
        reqs = [ExecutionRequest(f"{_AFFINITY}\n# {i}", ["assert len(f()) == 1"]) for i in range(4)]
        results = ex2.run_batch(reqs)
        assert all(r.passed for r in results), results
    with SandboxExecutor(workers=1, cache_size=0, pin_workers=False) as ex1:
        assert ex1.pinned_cpus == []
        assert ex1.run(_AFFINITY, [f"assert f() == {usable}"]).passed
    # Auto: pinned only with one worker per usable CPU.
    with SandboxExecutor(workers=len(usable), cache_size=0) as auto:
        assert auto.pinned_cpus == usable
    if len(usable) > 1:
        with SandboxExecutor(workers=1, cache_size=0) as auto1:
            assert auto1.pinned_cpus == []


def test_isolation_is_reported(ex: SandboxExecutor) -> None:
    text = ex.isolation
    assert "rlimits" in text
    if "namespaces" in text:
        assert "no network" in text


def test_worker_restart_after_worker_death() -> None:
    with SandboxExecutor(workers=1, cache_size=0) as ex1:
        assert ex1.run(ADD, ["assert add(1, 2) == 3"]).passed
        pids = ex1.worker_pids()
        results = []
        t = threading.Thread(
            target=lambda: results.append(
                ex1.run("import time\ntime.sleep(30)\ndef f(): return 1", ["assert f() == 1"])
            )
        )
        t.start()
        time.sleep(1.0)
        os.kill(pids[0], signal.SIGKILL)  # the worker (its whole namespace) dies mid-candidate
        t.join(30)
        assert results and results[0].status is Outcome.CRASHED, results
        assert "worker" in results[0].message
        again = ex1.run(ADD, ["assert add(2, 2) == 4"])
        assert again.passed
        assert ex1.stats.worker_restarts == 1
        assert ex1.worker_pids() != pids


def test_batch_completes_when_a_worker_dies() -> None:
    with SandboxExecutor(workers=2, cache_size=0) as ex1:
        ex1.run("x = 1", [])
        victim = ex1.worker_pids()[0]
        reqs = [
            ExecutionRequest(code=f"import time\ntime.sleep(0.2)\nx = {i}", tests=[f"assert x == {i}"])
            for i in range(12)
        ]
        killer = threading.Timer(0.5, lambda: os.kill(victim, signal.SIGKILL))
        killer.start()
        results = ex1.run_batch(reqs)
        killer.join()
        assert len(results) == 12
        crashed = [r for r in results if r.status is Outcome.CRASHED]
        assert len(crashed) <= 1
        assert sum(r.passed for r in results) >= 11
        assert all(r.status in (Outcome.PASSED, Outcome.CRASHED) for r in results)


def test_close_is_idempotent_and_restartable() -> None:
    ex1 = SandboxExecutor(workers=1)
    assert ex1.run(ADD, ["assert add(1, 2) == 3"]).passed
    ex1.close()
    ex1.close()
    assert ex1.worker_pids() == []
    assert ex1.run(ADD, ["assert add(3, 2) == 5"]).passed
    ex1.close()


def test_default_executor_is_shared() -> None:
    a = get_default_executor()
    assert a is get_default_executor()
    assert a.run(ADD, ["assert add(1, 2) == 3"]).passed


def test_process_isolation_mode_runs_code() -> None:
    with SandboxExecutor(workers=1, isolation="process") as ex1:
        assert "process isolation" in ex1.isolation
        r = ex1.run(ADD + "import math\n", ["assert add(1, 2) == 3", "assert math.sqrt(4) == 2"])
        assert r.passed, r


def test_environment_is_scrubbed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_API_KEY", "do-not-leak")
    monkeypatch.setenv("HF_TOKEN", "do-not-leak")
    with SandboxExecutor(workers=1) as ex1:
        r = ex1.run(
            "import os\nenv = dict(os.environ)",
            ["assert 'do-not-leak' not in str(env)", "assert env['OMP_NUM_THREADS'] == '1'"],
        )
    assert r.passed, r


def test_worker_that_cannot_start_is_infra(monkeypatch: pytest.MonkeyPatch) -> None:
    import codegym.execution.executor as executor_module

    monkeypatch.setattr(executor_module, "ZYGOTE", "/nonexistent/zygote.py")
    with SandboxExecutor(workers=1) as broken:
        r = broken.run(ADD, ["assert add(1, 2) == 3"])
        assert r.status is Outcome.INFRA and "failed to start" in r.message
        assert r.tests[0].outcome is Outcome.NOT_RUN
        assert broken.stats.infra_errors == 1
        with pytest.raises(RuntimeError, match="failed to start"):
            _ = broken.isolation


def test_concurrent_callers_share_the_pool(ex: SandboxExecutor) -> None:
    out: dict[int, bool] = {}

    def call(i: int) -> None:
        out[i] = ex.run(f"def f():\n    return {i}\n", [f"assert f() == {i}"]).passed

    threads = [threading.Thread(target=call, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert out == {i: True for i in range(6)}


# -- the forker (namespace isolation): shared captures and verdict pipe, compiled candidates ---------------

POISON_FILES = (
    "import fcntl, os\n"
    "for fd in (1, 2, 3):\n"
    "    fl = fcntl.fcntl(fd, fcntl.F_GETFL)\n"
    "    fcntl.fcntl(fd, fcntl.F_SETFL, fl | os.O_NONBLOCK | os.O_APPEND)\n"
    "try:\n"
    "    fcntl.fcntl(3, 1031, 4096)  # F_SETPIPE_SZ: shrink the verdict pipe\n"
    "except OSError:\n"
    "    pass\n"
    "print('secret-of-the-first-candidate')\n"
    "if os.fork() == 0:  # a grandchild that would write into the next candidate's capture\n"
    "    import time\n"
    "    time.sleep(0.3)\n"
    "    print('late', flush=True)\n"
    "    os._exit(0)\n"
    "def f(x):\n    return x\n"
)


def test_next_candidate_gets_clean_captures_and_verdict_pipe() -> None:
    """What one candidate does to its (shared) stdout, stderr and verdict pipe does not reach the next."""
    with SandboxExecutor(workers=1, limits=Limits(timeout_s=5.0), cache_size=0) as ex:
        first = ex.run(POISON_FILES, ["assert f(1) == 1"])
        assert first.status is Outcome.PASSED, first
        assert "secret-of-the-first-candidate" in first.stdout
        # Many tests, each with a long message: far more verdict data than a 4 KiB pipe holds while the
        # worker sleeps until the candidate exits.
        tests = [f"assert f({i}) == -1, {'x' * 2000!r}" for i in range(300)]
        second = ex.run("import time\ntime.sleep(0.5)\ndef f(x):\n    return x\n", tests)
        assert second.status is Outcome.FAILED, second.message
        assert [t.outcome for t in second.tests] == [Outcome.FAILED] * 300
        assert second.stdout == "" and second.stderr == ""
        third = ex.run("print('third')\ndef f(x):\n    return x\n", ["assert f(2) == 2"])
        assert third.passed and third.stdout == "third\n"


def test_compile_warnings_and_errors_reach_the_candidate() -> None:
    """Candidates the worker cannot compile cleanly are compiled by the child, as before."""
    with SandboxExecutor(workers=1, cache_size=0) as ex:
        warned = ex.run("x = 1\ny = x is 1\ndef f():\n    return y\n", ["assert f() is True"])
        assert warned.passed and "SyntaxWarning" in warned.stderr
        bad = ex.run("def f(:\n    pass\n", ["assert f()"])
        assert bad.status is Outcome.SYNTAX_ERROR and "line 1" in bad.message
        nul = ex.run("def f():\n    return 1\x00\n", ["assert f() == 1"])
        assert nul.status is Outcome.SYNTAX_ERROR


def test_worker_forking_candidates_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    """CODEGYM_SANDBOX_FORKER=0: the worker forks each candidate (the path without a PID namespace)."""
    monkeypatch.setenv("CODEGYM_SANDBOX_FORKER", "0")
    with SandboxExecutor(workers=1, limits=Limits(timeout_s=1.0), cache_size=0) as ex:
        ok = ex.run(ADD, ["assert add(1, 2) == 3"])
        slow = ex.run("def f():\n    while True:\n        pass\n", ["assert f()"])
        after = ex.run(ADD, ["assert add(2, 2) == 5"])
    assert ok.passed
    assert slow.status is Outcome.TIMEOUT
    assert after.status is Outcome.FAILED


FORKLOOP_BUILT = importlib.util.find_spec("codegym.execution._sandbox._forkloop") is not None


@pytest.mark.parametrize("compiled", ["1", "0"])
def test_the_forker_loop_in_c_or_python_gives_the_same_verdicts(
    monkeypatch: pytest.MonkeyPatch, compiled: str
) -> None:
    """Jobs the forker acts on (new tests, new test imports) and jobs it only forks for, in both loops."""
    monkeypatch.setenv("CODEGYM_SANDBOX_COMPILED_FORKER", compiled)
    inc = "def f(x):\n    return x + 1\n"
    wrong = "def f(x):\n    return x\n"
    plain = ["assert f(1) == 2"]
    imports = ["import fractions\nassert f(fractions.Fraction(1, 2)) == fractions.Fraction(3, 2)"]
    grandchild = "import os, time\nif os.fork() == 0:\n    time.sleep(30)\n" + inc
    cases = [
        (inc, plain, "", Outcome.PASSED),  # new tests: the forker keeps them (in C where built)
        (inc, plain, "", Outcome.PASSED),  # known tests: only a fork
        (wrong, plain, "", Outcome.FAILED),
        (inc, imports, "", Outcome.PASSED),  # a module the tests import: the forker imports it
        (wrong, imports, "", Outcome.FAILED),  # known tests and import: only a fork
        (grandchild, plain, "", Outcome.PASSED),  # its child is killed and reaped
        (inc + "import time\ntime.sleep(30)\n", plain, "", Outcome.TIMEOUT),
        ("def f(x:\n    pass\n", plain, "", Outcome.SYNTAX_ERROR),  # sent as source
        ("def f(x):\n    return x + k\n", plain, "k = 1", Outcome.PASSED),  # with set-up
        (inc, plain, "", Outcome.PASSED),
    ]
    with SandboxExecutor(workers=1, limits=Limits(timeout_s=1.0), cache_size=0) as ex:
        if "namespaces" not in ex.isolation:
            pytest.skip("no PID namespace here: no forker")
        results = [ex.run(code, tests, setup=setup) for code, tests, setup, _ in cases]
        loop = ex._workers[0].hello["forker_loop"]
        leftovers = sandbox_processes(ex.sandbox_uids)
        # Jobs that need only a fork: the loop in C writes a few of the forker's pages per candidate
        # (each a page fault after a fork), the loop in Python a hundred or so. Then jobs that bring
        # new tests (measured below).
        (worker,) = _children(ex._workers[0].proc.pid)
        (forker,) = _children(worker)
        before = _minor_faults(forker)
        distinct = [ExecutionRequest(code=f"{inc}# {i}\\n", tests=plain) for i in range(20)]
        assert all(r.passed for r in ex.run_batch(distinct))
        forker_faults = (_minor_faults(forker) - before) / 20
        before = _minor_faults(forker)
        new_tests = [ExecutionRequest(code=inc, tests=[f"assert f({i}) == {i + 1}"]) for i in range(20)]
        assert all(r.passed for r in ex.run_batch(new_tests))
        keeping_faults = (_minor_faults(forker) - before) / 20
    assert loop == ("c" if FORKLOOP_BUILT and compiled == "1" else "python")
    assert [r.status for r in results] == [want for *_, want in cases], [r.message for r in results]
    assert leftovers == []
    if loop == "c":
        assert forker_faults < 30, forker_faults
        # Keeping the tests allocates their code (about 55 faults); the Python loop takes over 120.
        assert keeping_faults < 95, keeping_faults
    else:
        assert forker_faults > 30, forker_faults


_SET_UP_PROBE = """
import json, os, resource
names = ("AS", "CPU", "FSIZE", "CORE", "NOFILE", "NPROC", "MSGQUEUE", "MEMLOCK")
print(json.dumps({
    "session_leader": os.getsid(0) == os.getpid(),
    "fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd")),
    "stdin": os.readlink("/proc/self/fd/0"),
    "verdicts_on_3": os.readlink("/proc/self/fd/3").startswith("pipe:"),
    "limits": {n: resource.getrlimit(getattr(resource, "RLIMIT_" + n)) for n in names},
    "cwd": os.getcwd(),
    "ids": [os.getresuid(), os.getresgid(), os.getgroups()],
}))
def f():
    return 1
"""


def _probe_set_up(monkeypatch: pytest.MonkeyPatch, compiled: str) -> list[dict]:
    """What two candidates see: one the forker acts on (new tests) and one it only forks for."""
    monkeypatch.setenv("CODEGYM_SANDBOX_COMPILED_FORKER", compiled)
    with SandboxExecutor(workers=1, cache_size=0) as ex:
        if "namespaces" not in ex.isolation:
            pytest.skip("no PID namespace here: no forker")
        results = [ex.run(_SET_UP_PROBE + f"# {i}", ["assert f() == 1"]) for i in range(2)]
        uid = ex._workers[0].hello["uid"]
    assert all(r.passed for r in results), results
    out = [json.loads(r.stdout) for r in results]
    for seen in out:
        resuid, resgid, groups = seen.pop("ids")
        if uid is not None:  # the candidates' own uid and gid, and no supplementary group
            assert resuid == [uid] * 3 and resgid == [uid] * 3 and groups == []
        soft, hard = seen["limits"].pop("AS")
        assert soft == hard > 0  # relative to the forker's size, which may change between candidates
    return out


def test_the_forker_loops_set_up_the_child_as_the_python_child_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """The children of the C loop (set up by ``_forkloop.c``, jobs the forker acts on included) and of
    the Python loop (``Worker.child``) see the same session, descriptors, limits, directory and ids."""
    in_c = _probe_set_up(monkeypatch, "1")
    in_python = _probe_set_up(monkeypatch, "0")
    a = in_python[0]
    assert a["session_leader"] and a["verdicts_on_3"] and a["stdin"] == "/dev/null"
    assert a["fds"][:4] == [0, 1, 2, 3] and len(a["fds"]) == 5  # and the one listdir opened
    assert in_c == in_python == [a, a]


def _minor_faults(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[7])


def test_compile_tests_ahead_of_time() -> None:
    with SandboxExecutor(workers=1, cache_size=0) as ex:
        reqs = [
            ExecutionRequest(code=ADD, tests=["assert add(1, 2) == 3"]),
            ExecutionRequest(code="def add(a, b):\n    return 0\n", tests=["assert add(1, 2) == 3"]),
            ExecutionRequest(code=ADD, tests=["assert add(0, 0) == 0"], setup="import math"),
            ExecutionRequest(code="x", tests=["assert True"], setup="def broken(:"),
        ]
        assert ex.compile_tests(reqs) == 2  # one test set shared by two requests; a broken set-up skipped
        assert ex.compile_tests(reqs) == 0
        results = ex.run_batch(reqs)
        assert [r.status for r in results] == [Outcome.PASSED, Outcome.FAILED, Outcome.PASSED, Outcome.INFRA]
        with pytest.raises(TypeError, match=r"requests\[0\] must be an ExecutionRequest"):
            ex.compile_tests(["assert True"])  # type: ignore[list-item]


def test_many_recurring_test_sets_keep_their_verdicts() -> None:
    """The forker keeps test code it has seen and is sent indices for it (and starts over when full)."""
    with SandboxExecutor(workers=1, cache_size=0) as ex:
        sets = [[f"assert f() == {i}", f"assert f() == {i}", "assert f() >= 0"] for i in range(150)]
        order = list(range(150)) + list(range(149, -1, -7)) + list(range(0, 150, 3))
        reqs = [
            ExecutionRequest(code=f"def f():\n    return {i if k % 2 == 0 else i + 1}\n", tests=sets[i])
            for k, i in enumerate(order)
        ]
        results = ex.run_batch(reqs)
        expected = [k % 2 == 0 for k in range(len(order))]
        assert [r.passed for r in results] == expected
        assert all(len(r.tests) == 3 for r in results)


def _captures_and_pipe(tmp_path) -> tuple[int, int, int, int, int]:
    """A verdict pipe holding data, a candidate shrank and made non-blocking on the read side as the
    worker has it, and two captures a candidate wrote, appended to and moved the offset of."""
    import fcntl

    vr, vw = os.pipe()
    size = fcntl.fcntl(vr, fcntl.F_GETPIPE_SZ)
    fcntl.fcntl(vw, fcntl.F_SETPIPE_SZ, 4096)
    os.write(vw, b"x" * 3000)
    os.set_blocking(vr, False)
    fds = []
    for name, text in (("out", "héllo " * 10), ("err", "")):
        fd = os.open(tmp_path / name, os.O_RDWR | os.O_CREAT)
        os.write(fd, text.encode())
        fcntl.fcntl(fd, fcntl.F_SETFL, os.O_APPEND | os.O_NONBLOCK)
        os.lseek(fd, 100, os.SEEK_SET)
        fds.append(fd)
    return vr, vw, fds[0], fds[1], size


@pytest.mark.parametrize("impl", ["c", "python"])
def test_the_workers_steps_after_a_candidate_in_c_and_python(tmp_path, impl: str) -> None:
    """``_forkloop.collect`` and ``dir_state`` against the Python steps they replace."""
    import fcntl
    from types import SimpleNamespace

    from codegym.execution._sandbox import zygote

    if impl == "c" and not FORKLOOP_BUILT:
        pytest.skip("_forkloop.c not built")
    from codegym.execution._sandbox import _forkloop  # noqa: F401 - built: importable

    c_calls = _forkloop if impl == "c" else None
    vr, vw, out_fd, err_fd, size = _captures_and_pipe(tmp_path)
    try:
        if c_calls is not None:
            out, err = (b.decode("utf-8", "replace") for b in c_calls.collect(vr, out_fd, err_fd, size, 13))
        else:
            out, err = zygote._read_captures(out_fd, err_fd, 13)
            worker = SimpleNamespace(pipe_size=size)
            zygote.Worker.reset_shared(worker, SimpleNamespace(vr=vr, out_fd=out_fd, err_fd=err_fd))
        assert (out, err) == ("héllo héllo", "")  # 13 bytes: the é counts two
        for fd in (out_fd, err_fd):
            assert os.fstat(fd).st_size == 0 and os.lseek(fd, 0, os.SEEK_CUR) == 0
            assert fcntl.fcntl(fd, fcntl.F_GETFL) & (os.O_APPEND | os.O_NONBLOCK) == 0
        assert fcntl.fcntl(vr, fcntl.F_GETPIPE_SZ) == size
        with pytest.raises(BlockingIOError):
            os.read(vr, 1)
    finally:
        for fd in (vr, vw, out_fd, err_fd):
            os.close(fd)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_text("x")
    (tmp_path / "link").symlink_to(tmp_path / "d")
    paths = (str(tmp_path / "d"), str(tmp_path / "link"), str(tmp_path))
    worker = SimpleNamespace(c_calls=c_calls, state_dirs=paths)
    state = zygote.Worker.dir_state(worker)
    python_state = zygote.Worker.dir_state(SimpleNamespace(c_calls=None, state_dirs=paths))
    assert state == python_state
    link = os.lstat(tmp_path / "link")  # the link itself, not the directory it points to
    assert state[1][0] == link.st_ino and state[0][2] == os.lstat(tmp_path / "d").st_nlink
    with pytest.raises(FileNotFoundError):
        zygote.Worker.dir_state(SimpleNamespace(c_calls=c_calls, state_dirs=(str(tmp_path / "gone"),)))
