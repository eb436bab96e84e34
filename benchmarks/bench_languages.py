"""Cost of a candidate per language: compile (cold build cache), run (warm cache), and throughput.

For each installed language it runs ``--programs`` distinct small programs (each with three tests)
through a :class:`~codegym.execution.SandboxExecutor` with ``--workers`` workers and an empty build
cache, then the same programs again with the result cache off (the build cache now holds every compiled
program), and prints candidates per second and the mean compile time.

    python benchmarks/bench_languages.py --programs 20 --workers 2
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from codegym.execution import ExecutionRequest, Limits, SandboxExecutor, available_languages

PROGRAMS = {
    "python": ("def add(a, b):\n    return a + b + {i} - {i}\n", "assert add({a}, 2) == {a} + 2"),
    "javascript": (
        "function add(a, b) {{ return a + b + {i} - {i}; }}",
        "assert.strictEqual(add({a}, 2), {a} + 2);",
    ),
    "cpp": ("long add(long a, long b) {{ return a + b + {i} - {i}; }}", "assert(add({a}, 2) == {a} + 2);"),
    "rust": ("fn add(a: i64, b: i64) -> i64 {{ a + b + {i} - {i} }}", "assert_eq!(add({a}, 2), {a} + 2);"),
}


def requests(language: str, n: int) -> list[ExecutionRequest]:
    """``n`` distinct programs (distinct sources: each is compiled once) with three tests each."""
    code, test = PROGRAMS[language]
    return [
        ExecutionRequest(
            code.format(i=i), [test.format(a=a) for a in (1, 2, 3)], language=language, entry_point="add"
        )
        for i in range(n)
    ]


def main() -> None:
    """Run the benchmark and print one line per language."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--programs", type=int, default=20, help="distinct programs per language")
    parser.add_argument("--workers", type=int, default=2, help="sandbox workers")
    args = parser.parse_args()
    print(f"{'language':<11} {'cold (exec/s)':>14} {'compile s (mean)':>17} {'warm (exec/s)':>14}  verdicts")
    for language in PROGRAMS:
        if language not in available_languages():
            print(f"{language:<11} (toolchain missing: skipped)")
            continue
        reqs = requests(language, args.programs)
        with tempfile.TemporaryDirectory() as cache:
            ex = SandboxExecutor(
                workers=args.workers, limits=Limits(timeout_s=10.0), cache_size=0, build_cache=cache
            )
            ex.run("x = 1", ["assert x == 1"])  # start the workers outside the measurement
            start = time.perf_counter()
            cold = ex.run_batch(reqs)
            cold_s = time.perf_counter() - start
            start = time.perf_counter()
            warm = ex.run_batch(reqs)
            warm_s = time.perf_counter() - start
            ex.close()
        ok = all(r.passed for r in cold + warm)
        compile_times = [
            r.extra["compile_s"] for r in cold if "compile_s" in r.extra and r.extra.get("build")
        ]
        mean_compile = f"{statistics.mean(compile_times):.2f}" if compile_times else "-"
        print(
            f"{language:<11} {len(reqs) / cold_s:>14.1f} {mean_compile:>17} {len(reqs) / warm_s:>14.1f}  "
            f"{'all passed' if ok else 'WRONG VERDICTS'}"
        )


if __name__ == "__main__":
    main()
