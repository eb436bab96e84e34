"""Saving and loading procedural items: jsonl, CSV and Hugging Face ``datasets.Dataset``.

A jsonl record is one item per line with a ``"suite"`` key: ``"synthesis"`` for a :class:`Task`
(its fields, tuples as lists) and ``"output-prediction"`` for an
:class:`~codegym.tasks.procedural.output_prediction.OutputPredictionItem`. :func:`load_jsonl` reads
both back as the objects they were. CSV and ``Dataset`` rows are flat: lists and dicts become JSON
strings (Arrow cannot hold ``metadata`` whose keys differ from row to row).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from codegym.tasks.base import Task
from codegym.tasks.procedural.output_prediction import OutputPredictionItem

Item = Task | OutputPredictionItem
SUITES = ("synthesis", "output-prediction")


def task_to_dict(task: Task) -> dict[str, Any]:
    """Convert a :class:`Task` to a JSON-serializable record with ``"suite": "synthesis"``."""
    return {
        "suite": "synthesis",
        "task_id": task.task_id,
        "prompt": task.prompt,
        "entry_point": task.entry_point,
        "tests": list(task.tests),
        "visible_tests": list(task.visible_tests),
        "test_setup": task.test_setup,
        "reference_solution": task.reference_solution,
        "language": task.language,
        "source": task.source,
        "metadata": dict(task.metadata),
    }


def task_from_dict(record: dict[str, Any]) -> Task:
    """Inverse of :func:`task_to_dict`."""
    fields = {k: v for k, v in record.items() if k != "suite"}
    missing = [k for k in ("task_id", "prompt", "entry_point", "tests") if k not in fields]
    if missing:
        raise ValueError(f"synthesis record lacks {missing}: {str(record)[:200]}")
    return Task(**fields)


def to_record(item: Item) -> dict[str, Any]:
    """Return the jsonl record of a :class:`Task` or an ``OutputPredictionItem``."""
    if isinstance(item, Task):
        return task_to_dict(item)
    if isinstance(item, OutputPredictionItem):
        return item.to_dict()
    raise TypeError(f"cannot serialize {type(item).__name__}; expected Task or OutputPredictionItem")


def from_record(record: dict[str, Any]) -> Item:
    """Rebuild an item from its record, dispatching on ``record["suite"]``."""
    suite = record.get("suite")
    if suite == "synthesis":
        return task_from_dict(record)
    if suite == "output-prediction":
        return OutputPredictionItem.from_dict(record)
    raise ValueError(f"record has suite={suite!r}; expected one of {SUITES}")


def save_jsonl(items: Iterable[Item], path: str | Path) -> Path:
    """Write items to ``path`` (parent folders created), one JSON record per line; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for item in items:
            f.write(json.dumps(to_record(item), ensure_ascii=False) + "\n")
    return path


def load_jsonl(path: str | Path) -> list[Item]:
    """Read items written by :func:`save_jsonl` (blank lines are skipped).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: A line is not JSON or not a procedural record; the message names the line.

    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such jsonl file: {path}")
    items: list[Item] = []
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                items.append(from_record(record))
            except (json.JSONDecodeError, TypeError, ValueError) as exc:
                raise ValueError(f"{path}:{lineno}: not a procedural item record ({exc})") from exc
    return items


def flat_row(item: Item) -> dict[str, Any]:
    """Return a flat row for CSV and ``datasets``: lists and dicts become JSON strings."""
    return {
        k: json.dumps(v, ensure_ascii=False, sort_keys=True) if isinstance(v, (list, dict, tuple)) else v
        for k, v in to_record(item).items()
    }


def from_flat_row(row: dict[str, Any]) -> Item:
    """Inverse of :func:`flat_row` (also accepts CSV rows, where every value is a string)."""
    record: dict[str, Any] = {}
    for key, value in row.items():
        if key in ("tests", "visible_tests", "metadata") and isinstance(value, str):
            record[key] = json.loads(value) if value else ([] if key != "metadata" else {})
        elif key in ("difficulty", "index", "seed") and isinstance(value, str):
            record[key] = int(value)
        elif key == "verified" and isinstance(value, str):
            if value not in ("True", "False"):
                raise ValueError(f"column 'verified' must be True or False, got {value!r}")
            record[key] = value == "True"
        else:
            record[key] = value
    return from_record(record)


def export_csv(items: Sequence[Item], path: str | Path) -> Path:
    """Write items as CSV with a header row (columns of :func:`flat_row`); returns the path.

    Raises:
        ValueError: ``items`` mixes suites (their columns differ).

    """
    rows = [flat_row(item) for item in items]
    suites = {row["suite"] for row in rows}
    if len(suites) > 1:
        raise ValueError(
            f"cannot write items of several suites {sorted(suites)} to one CSV; split them first"
        )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        columns = list(rows[0]) if rows else ["suite"]
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def load_csv(path: str | Path) -> list[Item]:
    """Read items written by :func:`export_csv`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such CSV file: {path}")
    with path.open(newline="", encoding="utf-8") as f:
        return [from_flat_row(row) for row in csv.DictReader(f)]


def to_hf_dataset(items: Sequence[Item]) -> Any:
    """Build a Hugging Face ``datasets.Dataset`` with one :func:`flat_row` per item.

    Needs the ``datasets`` package (``pip install codegym[hf]``). Rebuild items with
    ``[from_flat_row(row) for row in dataset]``.
    """
    try:
        import datasets
    except ImportError as exc:
        raise ImportError("to_hf_dataset needs the 'datasets' package: pip install 'codegym[hf]'") from exc
    rows = [flat_row(item) for item in items]
    suites = {row["suite"] for row in rows}
    if len(suites) > 1:
        raise ValueError(
            f"cannot put items of several suites {sorted(suites)} in one Dataset; split them first"
        )
    return datasets.Dataset.from_list(rows)
