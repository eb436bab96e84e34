"""Hostile programs: every one gets a non-passing verdict, within its limits, leaving nothing behind."""

from __future__ import annotations

import importlib.util
import os
import time
import uuid

import pytest

from codegym.execution import ExecutionRequest, Limits, Outcome, SandboxExecutor

from .hostile import (
    CAPTURE_PATHS,
    HOST_MARKER,
    PACKAGE_INIT,
    PLANT_CAPTURE,
    SECRET_ENV,
    SECRET_VALUE,
    Hostile,
    programs,
    sandbox_processes,
)

LIMITS = Limits(timeout_s=1.0, memory_mb=256, file_size_mb=16, max_processes=16)
TMP_MARKER = f"/tmp/codegym-hostile-{uuid.uuid4().hex}"
PROGRAMS = programs(TMP_MARKER)
IS_ROOT = os.geteuid() == 0


def _run_all(
    isolation: str,
    force_userns: bool = False,
    only: frozenset | None = None,
    python_checks: bool = False,
    python_loop: bool = False,
    python_harness: bool = False,
) -> dict:
    """Run every applicable hostile program in one batch; return results and what was left behind.

    ``only``: just the programs of these names. ``python_checks``: the harness checks in Python even
    where its C checks (``_identity.c``) were built. ``python_loop``: the forker loops in Python even
    where its C loop (``_forkloop.c``) was built. ``python_harness``: the harness's loop in Python even
    where its C loop (``_runner.c``) was built.
    """
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(SECRET_ENV, SECRET_VALUE)
        if force_userns:
            mp.setenv("CODEGYM_SANDBOX_FORCE_USERNS", "1")
        if python_checks:
            mp.setenv("CODEGYM_SANDBOX_COMPILED_CHECKS", "0")
        if python_loop:
            mp.setenv("CODEGYM_SANDBOX_COMPILED_FORKER", "0")
        if python_harness:
            mp.setenv("CODEGYM_SANDBOX_COMPILED_HARNESS", "0")
        ex = SandboxExecutor(workers=2, limits=LIMITS, cache_size=0, isolation=isolation)
    namespaces = "namespaces" in ex.isolation
    uid_switch = "unprivileged uid" in ex.isolation
    chosen = [
        p
        for p in PROGRAMS
        if (namespaces or not p.namespace_only)
        and (uid_switch or not p.needs_root)
        and (namespaces or IS_ROOT or not p.name.startswith("kill"))
        and (only is None or p.name in only)
    ]
    reqs = [
        ExecutionRequest(code=p.code, tests=p.tests, setup=p.setup, entry_point=p.entry_point) for p in chosen
    ]
    start = time.monotonic()
    results = ex.run_batch(reqs)
    elapsed = time.monotonic() - start
    leftovers = sandbox_processes(ex.sandbox_uids) if ex.sandbox_uids else []
    after = ex.run("def f(x):\n    return x + 1", ["assert f(1) == 2"])
    scratch = [w.hello.get("scratch_base") for w in ex._workers if w.hello.get("scratch_base")]
    loops = {w.hello.get("forker_loop") for w in ex._workers if w.hello}
    harnesses = {w.hello.get("harness") for w in ex._workers if w.hello}
    ex.close()
    return {
        "results": dict(zip([p.name for p in chosen], results, strict=True)),
        "programs": {p.name: p for p in chosen},
        "elapsed": elapsed,
        "leftovers": leftovers,
        "after": after,
        "namespaces": namespaces,
        "stats": ex.stats.as_dict(),
        "scratch_left": [d for d in scratch if os.path.exists(d)],
        "forker_loops": loops,
        "harnesses": harnesses,
    }


@pytest.fixture(scope="module")
def ns_run() -> dict:
    return _run_all("auto")


@pytest.fixture(scope="module")
def process_run() -> dict:
    return _run_all("process")


@pytest.fixture(scope="module")
def userns_run() -> dict:
    """What a non-root user gets: a user namespace, candidates as uid 0 of it without capabilities."""
    run = _run_all("auto", force_userns=IS_ROOT)
    if not run["namespaces"]:
        pytest.skip("user namespaces are not available here")
    return run


# The verdict forgeries that the harness's integrity checks stop (builtins, helpers, modules, classes).
FORGERIES = frozenset(
    (
        "always_equal_object",
        "arithmetic_forgery",
        "bool_forgery_nested",
        "disable_the_integrity_checks",
        "fake_builtins_import",
        "fake_enumerate_over_tests",
        "int_subclass_equal",
        "patch_assertion_error",
        "patch_builtins_abs",
        "patch_harness_module",
        "patch_harness_via_helper_globals",
        "patch_module_function",
        "patch_module_tests_import",
        "patch_poisoned_stand_in",
        "plant_module_tests_import",
        "rebind_setup_name",
        "replace_test_helpers",
        "settrace_skip_asserts",
        "shadow_builtin_in_namespace",
        "shadow_module_on_sys_path",
        "str_and_list_subclass_equal",
    )
)


@pytest.fixture(scope="module")
def python_checks_run() -> dict:
    """The forgeries again, with the harness checking in Python (what a build without a C compiler gets)."""
    return _run_all("auto", only=FORGERIES, python_checks=True)


@pytest.mark.parametrize("name", sorted(FORGERIES))
def test_forgeries_fail_with_the_python_checks_too(python_checks_run: dict, name: str) -> None:
    assert name in {p.name for p in PROGRAMS}
    r = python_checks_run["results"][name]
    assert r.status is not Outcome.PASSED and r.status is not Outcome.INFRA, (r.status, r.message)
    assert python_checks_run["after"].passed


@pytest.fixture(scope="module")
def python_loop_run() -> dict:
    """Every hostile program again, with the forker's loop and the worker's steps after each candidate in
    Python (what a build without a C compiler gets)."""
    run = _run_all("auto", python_loop=True)
    if not run["namespaces"]:
        pytest.skip("no PID namespace here: no forker")
    return run


def _does_not_pass_and_leaves_nothing(run: dict, prog: Hostile) -> None:
    """``prog`` got a non-passing verdict of its kind in ``run``, which left no process behind."""
    if prog.name not in run["results"]:
        pytest.skip("not applicable to this isolation mode")
    r = run["results"][prog.name]
    assert r.status is not Outcome.PASSED and r.status is not Outcome.INFRA, (r.status, r.message)
    if prog.outcomes:
        assert r.status.value in prog.outcomes, (r.status, r.message, r.tests)
    assert run["leftovers"] == []
    assert run["after"].passed


@pytest.mark.parametrize("prog", PROGRAMS, ids=[p.name for p in PROGRAMS])
def test_hostile_program_does_not_pass_with_the_python_loop_either(
    python_loop_run: dict, prog: Hostile
) -> None:
    assert python_loop_run["forker_loops"] == {"python"}
    _does_not_pass_and_leaves_nothing(python_loop_run, prog)


@pytest.fixture(scope="module")
def python_harness_run() -> dict:
    """Every hostile program again, with the harness's loop in Python (a build without a C compiler)."""
    return _run_all("auto", python_harness=True)


@pytest.mark.parametrize("prog", PROGRAMS, ids=[p.name for p in PROGRAMS])
def test_hostile_program_does_not_pass_with_the_python_harness_either(
    python_harness_run: dict, prog: Hostile
) -> None:
    assert python_harness_run["harnesses"] == {"python"}
    _does_not_pass_and_leaves_nothing(python_harness_run, prog)


def test_the_harness_loop_in_c_where_it_was_built(ns_run: dict) -> None:
    built = importlib.util.find_spec("codegym.execution._sandbox._runner") is not None
    assert ns_run["harnesses"] == {"c" if built else "python"}


def test_at_least_30_hostile_programs() -> None:
    assert len(PROGRAMS) >= 30


@pytest.mark.parametrize("prog", PROGRAMS, ids=[p.name for p in PROGRAMS])
def test_hostile_program_does_not_pass(ns_run: dict, prog: Hostile) -> None:
    if prog.name not in ns_run["results"]:
        pytest.skip("not applicable to this isolation mode")
    r = ns_run["results"][prog.name]
    assert r.status is not Outcome.PASSED, r
    assert not r.passed
    assert r.status is not Outcome.INFRA, r.message
    if prog.outcomes:
        assert r.status.value in prog.outcomes, (r.status, r.message, r.tests)
    assert r.duration_s <= prog.max_seconds, r.duration_s


def test_nothing_left_behind_and_engine_alive(ns_run: dict) -> None:
    assert ns_run["leftovers"] == [], "processes of the sandbox uid are still running"
    assert ns_run["after"].passed, ns_run["after"]
    assert not os.path.exists(HOST_MARKER)
    assert not os.path.exists(TMP_MARKER)
    assert os.path.exists(PACKAGE_INIT)


def test_flood_output_is_capped(ns_run: dict) -> None:
    for name in ("stdout_flood", "stderr_flood_fd"):
        r = ns_run["results"][name]
        assert len(r.stdout.encode()) <= LIMITS.output_bytes
        assert len(r.stderr.encode()) <= LIMITS.output_bytes + 4096  # plus the harness's own traceback
    assert len(ns_run["results"]["stdout_flood"].stdout) > 0


def test_verdict_channel_tampering_is_reported(ns_run: dict) -> None:
    r = ns_run["results"]["close_verdict_channel"]
    assert r.status is Outcome.CRASHED


def test_builtins_patching_is_reported(ns_run: dict) -> None:
    r = ns_run["results"]["patch_builtins_abs"]
    assert r.tests[0].outcome is not Outcome.PASSED


def test_secret_not_visible(ns_run: dict) -> None:
    r = ns_run["results"]["read_env_secret"]
    assert r.tests[0].outcome is Outcome.FAILED


def test_timeouts_are_enforced_from_outside(ns_run: dict) -> None:
    for name in ("loop_catching_base_exception", "ignores_signals", "long_c_call", "stop_itself"):
        r = ns_run["results"][name]
        assert r.status is Outcome.TIMEOUT, (name, r)
        assert r.duration_s < LIMITS.timeout_s * 4 + 2


def test_no_state_carries_over_between_candidates() -> None:
    with SandboxExecutor(workers=1, limits=LIMITS, cache_size=0) as ex:
        code = PROGRAMS_BY_NAME["write_host_tmp_then_read_later"].code
        first = ex.run(code, ["assert f(1) == 2"])
        second = ex.run(code + "\n# again", ["assert f(1) == 2"])
    assert not first.passed and not second.passed
    assert not os.path.exists(TMP_MARKER)


# Candidates that try to leave something in the temporary directories for the next candidate while
# making the directories look untouched (the worker skips emptying directories that did not change).
_LEAVE_BEHIND = (
    # locked away: no permission left on a directory tree, on the working directory, on /tmp (as uid 0
    # of a user namespace a candidate owns them)
    "import os\nos.makedirs('/tmp/locked/inner')\nopen('/tmp/locked/inner/x', 'w').write('x')\n"
    "os.chmod('/tmp/locked/inner', 0)\nos.chmod('/tmp/locked', 0)",
    "import os\nopen('left6', 'w').write('x')\nos.mkdir('sub')\nos.chmod('sub', 0)\nos.chmod('.', 0)\n"
    "os.chdir('/')",
    "import os\nopen('/tmp/left7', 'w').write('x')\ntry:\n    os.chmod('/tmp', 0)\nexcept OSError:\n    pass",
    # a file, then the working directory's timestamps put back
    "import os\nst = os.stat('.')\nopen('left1', 'w').write('x')\n"
    "os.utime('.', ns=(st.st_atime_ns, st.st_mtime_ns))",
    # a directory tree in the working directory
    "import os\nos.makedirs('a/b/c')\nopen('a/b/c/left2', 'w').write('x')",
    # the working directory moved away and replaced by a fresh one with the same mode
    "import os\nopen('left3', 'w').write('x')\nos.rename(os.getcwd(), '/tmp/left3dir')\n"
    "os.mkdir(os.getcwd(), 0o700)",
    # files in every shared temporary directory, one of them replacing an entry it removed
    "import os\nfor d in ('/tmp', '/var/tmp', '/dev/shm'):\n    open(d + '/left4', 'w').write('x')",
    "import os\nos.link('/var/tmp/left4', '/var/tmp/left5') if os.path.exists('/var/tmp/left4') else None",
)
_PROBE = (
    "import os\nseen = sorted(os.listdir('.')) + sorted(\n"
    "    d + '/' + e for d in ('/tmp', '/var/tmp', '/dev/shm') for e in os.listdir(d)\n"
    "    if (d, e) != ('/tmp', 'work'))\n"
    "def f(x):\n    return seen"
)


@pytest.mark.parametrize("force_userns", [False, True], ids=["default", "user-namespace"])
def test_nothing_left_behind_in_temporary_directories(
    monkeypatch: pytest.MonkeyPatch, force_userns: bool
) -> None:
    """Each candidate starts with empty temporary directories, however the previous one left them."""
    if force_userns:
        if not IS_ROOT:
            pytest.skip("without root the default mode already is the user namespace")
        monkeypatch.setenv("CODEGYM_SANDBOX_FORCE_USERNS", "1")
    try:
        ex = SandboxExecutor(workers=1, limits=LIMITS, cache_size=0, isolation="namespace")
        ex.isolation  # noqa: B018 - starts the worker
    except RuntimeError as exc:
        pytest.skip(f"no namespaces here: {exc}")
    with ex:
        if force_userns and "user+pid" not in ex.isolation:
            pytest.skip("user namespaces are not available here")
        assert ex.run(_PROBE, ["assert f(1) == []"]).passed
        for code in _LEAVE_BEHIND:
            ex.run(code + "\ndef f(x): return 1", ["assert f(1) == 1"])
            probe = ex.run(_PROBE, ["assert f(1) == []"])
            assert probe.passed, (code, probe.tests[0].message)
        assert ex.stats.worker_restarts == 0  # emptying them never took a worker down


PROGRAMS_BY_NAME = {p.name: p for p in PROGRAMS}


@pytest.mark.parametrize("force_userns", [False, True], ids=["default", "user-namespace"])
def test_capture_files_cannot_be_planted(monkeypatch: pytest.MonkeyPatch, force_userns: bool) -> None:
    """Captured stdout/stderr have no name: a candidate can neither find its own nor plant the next one's."""
    if force_userns:
        if not IS_ROOT:
            pytest.skip("without root the default mode already is the user namespace")
        monkeypatch.setenv("CODEGYM_SANDBOX_FORCE_USERNS", "1")
    with SandboxExecutor(workers=1, limits=LIMITS, cache_size=0) as ex:
        if force_userns and "user+pid" not in ex.isolation:
            pytest.skip("user namespaces are not available here")
        planter = ex.run(PLANT_CAPTURE, ["assert f(1) == 2"])
        assert planter.passed, planter
        assert planter.stdout == "planted\n"
        probe = ex.run(
            CAPTURE_PATHS + "import sys\nprint('mine')\nprint('err', file=sys.stderr)\n"
            "def f(x):\n    return capture_paths()",
            ["assert f(1) == []"],
        )
    assert probe.passed, probe.tests[0].message
    assert probe.stdout == "mine\n"
    assert probe.stderr == "err\n"


@pytest.mark.parametrize("prog", PROGRAMS, ids=[p.name for p in PROGRAMS])
def test_hostile_program_process_isolation(process_run: dict, prog: Hostile) -> None:
    if prog.name not in process_run["results"]:
        pytest.skip("the attack works by design without namespaces (documented)")
    r = process_run["results"][prog.name]
    assert r.status is not Outcome.PASSED, r
    assert r.status is not Outcome.INFRA, r.message
    assert r.duration_s <= prog.max_seconds, r.duration_s


def test_process_isolation_leaves_nothing(process_run: dict) -> None:
    assert process_run["leftovers"] == []
    assert process_run["scratch_left"] == []
    assert process_run["after"].passed
    assert not os.path.exists(TMP_MARKER)
    assert not os.path.exists(HOST_MARKER)


def test_without_entry_point_equality_forgery_still_fails() -> None:
    """run() without entry_point: comparisons stay strict, every candidate call is sanitized."""
    reqs = [
        ExecutionRequest(code=PROGRAMS_BY_NAME[name].code, tests=PROGRAMS_BY_NAME[name].tests)
        for name in ("always_equal_object", "int_subclass_equal", "arithmetic_forgery", "bool_forgery_nested")
    ]
    with SandboxExecutor(workers=2, limits=LIMITS, cache_size=0) as ex:
        results = ex.run_batch(reqs)
    assert all(not r.passed and r.status is not Outcome.INFRA for r in results), results


@pytest.mark.parametrize("prog", PROGRAMS, ids=[p.name for p in PROGRAMS])
def test_hostile_program_user_namespace(userns_run: dict, prog: Hostile) -> None:
    if prog.name not in userns_run["results"]:
        pytest.skip("not applicable: candidates are uid 0 of their user namespace by design")
    r = userns_run["results"][prog.name]
    assert r.status is not Outcome.PASSED, r
    assert r.status is not Outcome.INFRA, r.message
    assert r.duration_s <= prog.max_seconds, r.duration_s


def test_user_namespace_leaves_nothing(userns_run: dict) -> None:
    assert userns_run["after"].passed
    assert not os.path.exists(TMP_MARKER)
    assert not os.path.exists(HOST_MARKER)
