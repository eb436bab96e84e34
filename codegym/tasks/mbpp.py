"""MBPP (Mostly Basic Python Problems, Austin et al. 2021) as :class:`~codegym.tasks.base.Task` objects.

Where the data comes from, in this order (never a silent fallback from one to the next):

1. the ``path`` argument of :func:`load_mbpp`: any local jsonl file in the original release format;
2. the environment variable ``CODEGYM_MBPP_PATH``: the same kind of file;
3. the Hugging Face hub, ``datasets.load_dataset("google-research-datasets/mbpp", variant)``.

If none of them works, :class:`DatasetUnavailableError` says exactly how to provide the data.
"""

from __future__ import annotations

import ast
import builtins
import json
import os
import warnings
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from codegym.tasks.base import Task

#: Environment variable naming a local MBPP jsonl file.
MBPP_PATH_ENV = "CODEGYM_MBPP_PATH"

#: Hugging Face dataset id of MBPP.
HUB_DATASET = "google-research-datasets/mbpp"

#: The standard MBPP splits, by task id (inclusive ranges). ``"all"`` is every task.
SPLITS: dict[str, tuple[int, int]] = {
    "prompt": (1, 10),
    "test": (11, 510),
    "validation": (511, 600),
    "train": (601, 974),
    "all": (1, 974),
}

#: The MBPP variants: ``"full"`` (974 tasks) and ``"sanitized"`` (427 hand-verified tasks).
VARIANTS = ("full", "sanitized")

_FORMAT_HELP = (
    "The file must be jsonl, one problem per line, in the original MBPP release format: "
    '{"task_id": 11, "text": "<task description>", "code": "<reference solution>", '
    '"test_list": ["assert f(...) == ...", ...], "test_setup_code": "", "challenge_test_list": []} '
    '(the sanitized variant\'s "prompt" and "test_imports" fields are accepted too).'
)


class DatasetUnavailableError(FileNotFoundError):
    """A dataset could not be found locally or downloaded; the message says how to provide it."""


def _how_to_provide(reason: str) -> str:
    return (
        f"MBPP data is not available: {reason}\n"
        "Provide it in one of these ways:\n"
        f"  - set the environment variable {MBPP_PATH_ENV}=/path/to/mbpp.jsonl\n"
        "  - pass it explicitly: load_mbpp(path='/path/to/mbpp.jsonl') "
        "(command line: --mbpp-path /path/to/mbpp.jsonl)\n"
        f"  - or make the Hugging Face hub reachable (pip install 'codegym[hf]'; dataset {HUB_DATASET}).\n"
        + _FORMAT_HELP
    )


def split_of(task_id: int) -> str:
    """Return the standard split (``"prompt"``, ``"test"``, ``"validation"``, ``"train"``) of an MBPP id."""
    for name, (lo, hi) in SPLITS.items():
        if name != "all" and lo <= task_id <= hi:
            return name
    raise ValueError(f"MBPP task id {task_id} is outside the standard range 1-974")


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"unknown MBPP split {split!r}; valid splits are: {', '.join(SPLITS)}")


def _check_variant(variant: str) -> None:
    if variant not in VARIANTS:
        raise ValueError(f"unknown MBPP variant {variant!r}; valid variants are: {', '.join(VARIANTS)}")


def load_mbpp(
    split: str = "test",
    path: str | os.PathLike[str] | None = None,
    variant: str = "full",
    *,
    challenge_tests: bool = False,
) -> list[Task]:
    """Load MBPP problems as tasks, sorted by task id.

    Args:
        split: ``"test"`` (ids 11-510, 500 tasks), ``"train"`` (601-974), ``"validation"`` (511-600),
            ``"prompt"`` (1-10, the few-shot examples) or ``"all"``.
        path: A local jsonl file in the original MBPP format. Overrides ``CODEGYM_MBPP_PATH``.
        variant: ``"full"`` or ``"sanitized"``; selects the hub configuration. A local file is read
            as it is (either format is recognised per line).
        challenge_tests: Also grade on ``challenge_test_list`` (present for a few full-variant tasks).

    Returns:
        One :class:`Task` per problem: id ``"MBPP/<id>"``, ``prompt`` = the task text, hidden ``tests`` =
        all of ``test_list``, ``visible_tests`` = its first test, ``test_setup`` = ``test_setup_code``
        (or the sanitized ``test_imports``), ``reference_solution`` = ``code``. A set-up that uses the
        candidate's definitions (MBPP/367 and 927 build trees of its ``Node`` class) cannot run before
        the candidate, so it is put at the start of each test instead (original in
        ``metadata["test_setup_code"]``).

    Raises:
        ValueError: Unknown split or variant, or a malformed row (the message names the line).
        DatasetUnavailableError: No local file and the hub cannot be reached; says how to provide it.

    """
    _check_split(split)
    _check_variant(variant)
    lo, hi = SPLITS[split]
    every = _all_tasks(_resolve_source(path, variant), variant, challenge_tests)
    return [task for task in every if lo <= int(task.metadata["mbpp_id"]) <= hi]


def _resolve_source(path: str | os.PathLike[str] | None, variant: str) -> tuple[str, str, int]:
    """``("file", resolved path, mtime_ns)`` or ``("hub", variant, 0)``, following the documented order."""
    if path is not None:
        file = Path(path).expanduser()
        if not file.is_file():
            raise DatasetUnavailableError(
                _how_to_provide(f"the file {str(file)!r} (path argument) does not exist")
            )
        return "file", str(file.resolve()), file.stat().st_mtime_ns
    env = os.environ.get(MBPP_PATH_ENV)
    if env:
        file = Path(env).expanduser()
        if not file.is_file():
            raise DatasetUnavailableError(
                _how_to_provide(f"{MBPP_PATH_ENV}={env!r} does not name an existing file")
            )
        return "file", str(file.resolve()), file.stat().st_mtime_ns
    return "hub", variant, 0


@lru_cache(maxsize=8)
def _all_tasks(source: tuple[str, str, int], variant: str, challenge_tests: bool) -> tuple[Task, ...]:
    """Every task of a source, sorted by id (cached: tasks are immutable, do not mutate their metadata)."""
    kind, name, mtime_ns = source
    if kind == "file":
        rows, origin = _read_jsonl(name), name
    else:
        rows, origin = _load_hub(variant), f"hub:{HUB_DATASET}/{variant}"
    tasks = [
        task_from_row(row, where=where, variant=variant, challenge_tests=challenge_tests, origin=origin)
        for where, row in rows
    ]
    seen: dict[str, str] = {}
    for task, (where, _) in zip(tasks, rows, strict=True):
        if task.task_id in seen:
            raise ValueError(f"{where}: duplicate task id {task.task_id} (first at {seen[task.task_id]})")
        seen[task.task_id] = where
    return tuple(sorted(tasks, key=lambda t: int(t.metadata["mbpp_id"])))


def _read_jsonl(path: str) -> list[tuple[str, Mapping[str, Any]]]:
    rows = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{where}: not valid JSON ({exc}). {_FORMAT_HELP}") from None
            if not isinstance(row, dict):
                raise ValueError(f"{where}: expected a JSON object per line. {_FORMAT_HELP}")
            rows.append((where, row))
    if not rows:
        raise ValueError(f"{path}: the file holds no problems. {_FORMAT_HELP}")
    return rows


def _load_hub(variant: str) -> list[tuple[str, Mapping[str, Any]]]:
    try:
        import datasets
    except ImportError as exc:
        raise DatasetUnavailableError(
            _how_to_provide(f"no local file was given and the 'datasets' package is not installed ({exc})")
        ) from exc
    try:
        dataset_dict = datasets.load_dataset(HUB_DATASET, variant)
    except Exception as exc:  # network errors, hub errors, offline mode: all mean "not available"
        raise DatasetUnavailableError(
            _how_to_provide(
                f"no local file was given and loading {HUB_DATASET!r} ({variant}) from the hub failed: "
                f"{type(exc).__name__}: {exc}"
            )
        ) from exc
    rows = []
    for split_name in dataset_dict:
        for i, row in enumerate(dataset_dict[split_name]):
            rows.append((f"hub:{HUB_DATASET}/{variant}/{split_name}[{i}]", dict(row)))
    return rows


def _normalize(code: str) -> str:
    return code.replace("\r\n", "\n").replace("\r", "\n")


def _require(row: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in row:
        raise ValueError(f"{where}: missing field {key!r}. {_FORMAT_HELP}")
    value = row[key]
    if not isinstance(value, kind):
        raise ValueError(
            f"{where}: field {key!r} should be {kind.__name__}, got {type(value).__name__}. {_FORMAT_HELP}"
        )
    return value


def task_from_row(
    row: Mapping[str, Any],
    *,
    where: str = "<row>",
    variant: str = "full",
    challenge_tests: bool = False,
    origin: str = "",
) -> Task:
    """Convert one MBPP record (full or sanitized format) into a :class:`Task`.

    Args:
        row: The record, e.g. one parsed jsonl line.
        where: Its location, used in error messages.
        variant: Recorded in ``metadata["variant"]``; a row with ``prompt`` instead of ``text`` is
            recorded as ``"sanitized"`` whatever this says.
        challenge_tests: Append ``challenge_test_list`` to the hidden tests.
        origin: Where the data came from, recorded in ``metadata["origin"]``.

    Raises:
        ValueError: A field is missing or malformed, or no entry point can be found in the tests.

    """
    task_id = row.get("task_id")
    if isinstance(task_id, str) and task_id.isdigit():
        task_id = int(task_id)
    if not isinstance(task_id, int) or isinstance(task_id, bool):
        raise ValueError(f"{where}: field 'task_id' should be an integer, got {task_id!r}. {_FORMAT_HELP}")
    where = f"{where} (MBPP/{task_id})"
    if "text" in row:
        text = _require(row, "text", str, where)
    elif "prompt" in row:
        text = _require(row, "prompt", str, where)
        variant = "sanitized"
    else:
        raise ValueError(f"{where}: missing field 'text' (or sanitized 'prompt'). {_FORMAT_HELP}")
    code = _normalize(row.get("code") or "")
    test_list = [_normalize(t) for t in _require(row, "test_list", list, where)]
    if not test_list or not all(isinstance(t, str) and t.strip() for t in test_list):
        raise ValueError(
            f"{where}: 'test_list' must be a non-empty list of assert statements. {_FORMAT_HELP}"
        )
    setup = row.get("test_setup_code") or ""
    if not setup and row.get("test_imports"):
        setup = "\n".join(row["test_imports"])
    setup = _normalize(setup)
    challenge = [_normalize(t) for t in (row.get("challenge_test_list") or [])]
    entry_point = find_entry_point(test_list, code, where=where)
    tests = tuple(test_list) + (tuple(challenge) if challenge_tests else ())
    original_setup = setup
    if setup and _uses_candidate_names(setup):
        # The executor runs ``test_setup`` before the candidate; this set-up needs the candidate's
        # definitions (MBPP/367 and 927 build trees of the candidate's ``Node``), so it runs as part of
        # every test instead, after the candidate, as in the original MBPP harness.
        tests = tuple(f"{setup.rstrip()}\n{test}" for test in tests)
        setup = ""
    return Task(
        task_id=f"MBPP/{task_id}",
        prompt=text.strip(),
        entry_point=entry_point,
        tests=tests,
        visible_tests=(test_list[0],),
        test_setup=setup,
        reference_solution=code,
        language="python",
        source="mbpp",
        metadata={
            "mbpp_id": task_id,
            "split": split_of(task_id) if 1 <= task_id <= 974 else "",
            "variant": variant,
            "challenge_tests": tuple(challenge),
            "origin": origin,
            "test_setup_code": original_setup,
        },
    )


def _parse(source: str) -> ast.Module:
    """``ast.parse`` without the invalid-escape warnings that some MBPP solutions trigger."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", (SyntaxWarning, DeprecationWarning))
        return ast.parse(source)


def _uses_candidate_names(setup: str) -> bool:
    """Tell whether set-up code reads a name it neither binds nor gets from the builtins."""
    try:
        tree = _parse(setup)
    except SyntaxError:
        return False
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
    loaded = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return any(name not in bound and not hasattr(builtins, name) for name in loaded)


def _called_names(source: str) -> list[str]:
    """Names called as plain functions in ``source``, outermost calls first."""
    tree = _parse(source)
    names = []
    for node in ast.walk(tree):  # breadth-first: outer calls before the calls in their arguments
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id not in names:
            names.append(node.func.id)
    return names


def _defined_names(code: str) -> list[str]:
    """Top-level functions, classes and assigned names of ``code``."""
    tree = _parse(code)
    names = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names.extend(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def find_entry_point(tests: Iterable[str], reference_code: str = "", *, where: str = "<task>") -> str:
    """Find the function the tests call: the outermost call in the first test that the reference defines.

    Without reference code (or when it does not parse), the outermost called name that is not a Python
    builtin is taken.

    Raises:
        ValueError: The tests do not parse, call no function, or call nothing the reference defines.

    """
    tests = list(tests)
    try:
        called = [_called_names(t) for t in tests]
    except SyntaxError as exc:
        raise ValueError(f"{where}: a test does not parse as Python: {exc}") from None
    defined: list[str] = []
    if reference_code.strip():
        try:
            defined = _defined_names(reference_code)
        except SyntaxError:
            defined = []
    if defined:
        for names in called:
            for name in names:
                if name in defined:
                    return name
        raise ValueError(
            f"{where}: the tests call {sorted({n for ns in called for n in ns})} but the reference solution "
            f"defines only {defined}; cannot tell which function is the entry point"
        )
    for names in called:
        for name in names:
            if not hasattr(builtins, name):
                return name
    raise ValueError(f"{where}: the tests call no user-defined function; cannot find the entry point")
