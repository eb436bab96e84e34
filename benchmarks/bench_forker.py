"""What the forker saves, and what its parts in C save, one sandbox worker against another.

In a PID namespace the worker hands Python candidates to a forker process (see ``docs/execution.md``,
Throughput); ``CODEGYM_SANDBOX_FORKER=0`` makes it fork them itself. ``--compare checks`` compares
instead the harness's integrity checks in C (``_identity.c``, where it was built) with the same
checks in Python (``CODEGYM_SANDBOX_COMPILED_CHECKS=0``), both with the forker; ``--compare loop``
the forker's loop in C (``_forkloop.c``) with the same loop in Python
(``CODEGYM_SANDBOX_COMPILED_FORKER=0``); ``--compare harness`` the harness's loop in the child in C
(``_runner.c``) with the same loop in Python (``CODEGYM_SANDBOX_COMPILED_HARNESS=0``). This runs the 328
HumanEval programs of ``bench_execution.py`` (the tests compiled beforehand) through one worker of
each kind, alternating, and prints per candidate the CPU time of the sandbox's processes (worker,
forker, candidates), their page faults, and the wall time, with the ratio of the two.

Usage: ``python benchmarks/bench_forker.py [--rounds 5] [--compare forker|checks|loop|harness]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

from codegym.execution import SandboxExecutor
from codegym.execution.bench import _children, candidate_requests, load_candidates

_TICK = os.sysconf("SC_CLK_TCK")

# --compare: the environment variable each worker reads at start-up, the two settings (base first),
# the label of the ratio, and the worker's hello field that says which it got with the source it
# needs (none for the forker itself).
_COMPARISONS = {
    "forker": (
        "CODEGYM_SANDBOX_FORKER",
        (("worker forks", "0"), ("forker", "1")),
        "forker / worker forking itself",
        None,
    ),
    "checks": (
        "CODEGYM_SANDBOX_COMPILED_CHECKS",
        (("python checks", "0"), ("C checks", "1")),
        "checks in C / checks in Python",
        ("checks", "_identity.c"),
    ),
    "loop": (
        "CODEGYM_SANDBOX_COMPILED_FORKER",
        (("python loop", "0"), ("C loop", "1")),
        "forker's loop in C / in Python",
        ("forker_loop", "_forkloop.c"),
    ),
    "harness": (
        "CODEGYM_SANDBOX_COMPILED_HARNESS",
        (("python harness", "0"), ("C harness", "1")),
        "harness's loop in C / in Python",
        ("harness", "_runner.c"),
    ),
}


def _stat(pid: int) -> tuple[int, int, float, float]:
    """Return (own minor faults, reaped children's, own CPU seconds, reaped children's) of ``pid``."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    own_cpu = (int(fields[11]) + int(fields[12])) / _TICK
    kids_cpu = (int(fields[13]) + int(fields[14])) / _TICK
    return int(fields[7]), int(fields[8]), own_cpu, kids_cpu


def _sandbox_totals(worker: int) -> dict[str, float]:
    """Faults and CPU of the worker, and of the forker and the candidates when there is a forker."""
    w = _stat(worker)
    out = {"worker_faults": w[0], "worker_cpu": w[2], "child_faults": w[1], "child_cpu": w[3]}
    out["forker_faults"] = out["forker_cpu"] = 0.0
    for pid in _children(worker):  # the forker (its reaped children are the candidates)
        f = _stat(pid)
        out["forker_faults"] += f[0]
        out["forker_cpu"] += f[2]
        out["child_faults"] += f[1]
        out["child_cpu"] += f[3]
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and print the figures."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="alternations of the two (default 5)")
    parser.add_argument(
        "--compare",
        choices=tuple(_COMPARISONS),
        default="forker",
        help="forker: the forker against the worker forking itself (default); "
        "checks: the harness's checks in C against the same checks in Python; "
        "loop: the forker's loop in C against the same loop in Python",
    )
    args = parser.parse_args(argv)
    cands = load_candidates()
    reqs = candidate_requests(cands, timeout=10.0)
    var, configs, label, reported = _COMPARISONS[args.compare]
    executors = {}
    for name, flag in configs:
        os.environ[var] = flag  # read when a worker starts
        ex = SandboxExecutor(workers=1, cache_size=0, pin_workers=False)
        ex.run_batch(reqs[:4])  # start the worker (and its forker)
        ex.compile_tests(reqs)
        problem = ""
        if "namespaces" not in ex.isolation:
            problem = "no PID namespace here: the worker always forks its candidates; nothing to compare"
        elif reported is not None:
            key, source = reported
            wanted = "c" if flag == "1" else "python"
            got = ex._workers[0].hello.get(key)
            if got != wanted:
                problem = f"{name}: the worker's {key} is in {got} (was {source} built?)"
        if problem:
            print(problem)
            ex.close()
            for other, _ in executors.values():
                other.close()
            return 1
        stage1 = ex._workers[0].proc.pid
        executors[name] = (ex, _children(stage1)[0])
    n = len(reqs)
    rows: dict[str, list[dict[str, float]]] = {name: [] for name in executors}
    try:
        for rnd in range(args.rounds):
            for name, (ex, worker) in executors.items():
                before = _sandbox_totals(worker)
                start = time.perf_counter()
                results = ex.run_batch(reqs)
                wall = time.perf_counter() - start
                after = _sandbox_totals(worker)
                right = sum(r.passed == c["expected"] for r, c in zip(results, cands, strict=True))
                d = {k: (after[k] - before[k]) / n for k in after}
                d["wall_ms"] = 1000 * wall / n
                d["cpu_ms"] = 1000 * (d["worker_cpu"] + d["forker_cpu"] + d["child_cpu"])
                d["faults"] = d["worker_faults"] + d["forker_faults"] + d["child_faults"]
                rows[name].append(d)
                print(
                    f"round {rnd + 1} {name:12s}: {d['cpu_ms']:.2f} ms CPU, {d['wall_ms']:.2f} ms wall, "
                    f"faults: worker {d['worker_faults']:.0f}, forker {d['forker_faults']:.0f}, "
                    f"candidate {d['child_faults']:.0f} per candidate ({right}/{n} verdicts right)",
                    flush=True,
                )
    finally:
        for ex, _ in executors.values():
            ex.close()
    base, new = rows[configs[0][0]], rows[configs[1][0]]
    cpu = [b["cpu_ms"] / a["cpu_ms"] for a, b in zip(base, new, strict=True)]
    wall = [b["wall_ms"] / a["wall_ms"] for a, b in zip(base, new, strict=True)]
    faults = [b["faults"] / a["faults"] for a, b in zip(base, new, strict=True)]
    print(
        f"{label}, median of {args.rounds} rounds: CPU per candidate "
        f"{statistics.median(cpu):.2f}, wall {statistics.median(wall):.2f}, page faults "
        f"{statistics.median(faults):.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
