"""``codegym tasks list|show``: browse the registered task datasets."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``tasks`` command with its ``list`` and ``show`` sub-commands."""
    parser = subparsers.add_parser(
        "tasks",
        help="list task datasets and show tasks (MBPP, HumanEval, ...)",
        description=(
            "Browse the task datasets. Examples:\n"
            "  codegym tasks list                         # the registered datasets\n"
            "  codegym tasks list mbpp --split test       # the task ids of a dataset\n"
            "  codegym tasks show MBPP/11 --style mbpp    # one task, its prompt and tests\n"
            "MBPP is read from --mbpp-path, else $CODEGYM_MBPP_PATH, else the Hugging Face hub."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(title="sub-commands", metavar="SUBCOMMAND")
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])

    list_parser = sub.add_parser("list", help="list the datasets, or the tasks of one dataset")
    list_parser.add_argument("dataset", nargs="?", help="a dataset name (omit to list the datasets)")
    list_parser.add_argument(
        "--split", default=None, help="split to list (datasets with splits; default: all)"
    )
    _add_mbpp_path(list_parser)
    list_parser.set_defaults(func=run_list)

    show_parser = sub.add_parser("show", help="show one task: prompt, entry point, tests, reference")
    show_parser.add_argument("task_id", help="a task id such as MBPP/11 or HumanEval/0")
    show_parser.add_argument(
        "--style",
        default=None,
        help="prompt style: mbpp, humaneval or instruct (default: the task's usual one)",
    )
    show_parser.add_argument("--reference", action="store_true", help="also print the reference solution")
    _add_mbpp_path(show_parser)
    show_parser.set_defaults(func=run_show)


def _add_mbpp_path(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mbpp-path",
        default=None,
        metavar="FILE",
        help="MBPP jsonl file in the original format (default: $CODEGYM_MBPP_PATH, else the hub)",
    )


def loader_kwargs(dataset: str, split: str | None, mbpp_path: str | None) -> dict[str, Any]:
    """Loader arguments for a dataset from the command-line options (shared with ``codegym eval``)."""
    from codegym.tasks import dataset_info

    info = dataset_info(dataset)
    kwargs: dict[str, Any] = dict(info.default_kwargs)
    if split is not None:
        if not info.splits:
            raise ValueError(f"dataset {dataset!r} has no splits; leave out --split")
        kwargs["split"] = split
    if mbpp_path is not None:
        if dataset != "mbpp":
            raise ValueError(f"--mbpp-path only applies to the mbpp dataset, not {dataset!r}")
        kwargs["path"] = mbpp_path
    return kwargs


def run_list(args: argparse.Namespace) -> int:
    """Print the datasets, or the ids and descriptions of one dataset's tasks."""
    from codegym.tasks import dataset_info, list_datasets, load_tasks, task_description

    if args.dataset is None:
        for name in list_datasets():
            info = dataset_info(name)
            splits = f" [splits: {', '.join(info.splits)}]" if info.splits else ""
            print(f"{name:<24} {info.description}{splits}")
        return 0
    tasks = load_tasks(args.dataset, **loader_kwargs(args.dataset, args.split, args.mbpp_path))
    for task in tasks:
        first = task_description(task).strip().splitlines()[0] if task_description(task).strip() else ""
        print(f"{task.task_id:<16} {task.entry_point:<28} {first[:80]}")
    print(f"{len(tasks)} tasks")
    return 0


def run_show(args: argparse.Namespace) -> int:
    """Print one task."""
    from codegym.tasks import default_style, format_prompt, get_task

    kwargs = {"path": args.mbpp_path} if args.mbpp_path is not None else {}
    if kwargs and not args.task_id.startswith("MBPP/"):
        raise ValueError("--mbpp-path only applies to MBPP task ids")
    task = get_task(args.task_id, **kwargs)
    style = args.style or default_style(task)
    print(f"# {task.task_id}  (source: {task.source}, entry point: {task.entry_point}, style: {style})")
    print(format_prompt(task, style).rstrip("\n"))
    print(f"\n# hidden tests ({len(task.tests)})")
    for test in task.tests:
        print(test)
    if task.test_setup:
        print("\n# test set-up")
        print(task.test_setup)
    if args.reference:
        print("\n# reference solution")
        print(task.reference_solution.rstrip("\n"))
    return 0
