from __future__ import annotations

import json
import re
import sys
import types
from pathlib import Path

import pytest

from codegym.tasks import DatasetUnavailableError, Task, get_task, load_mbpp, load_tasks
from codegym.tasks.mbpp import MBPP_PATH_ENV, find_entry_point, split_of, task_from_row


@pytest.mark.parametrize(
    ("split", "count", "first", "last"),
    [
        ("all", 974, 1, 974),
        ("test", 500, 11, 510),
        ("validation", 90, 511, 600),
        ("train", 374, 601, 974),
        ("prompt", 10, 1, 10),
    ],
)
def test_split_counts_and_ranges(mbpp_path: Path, split: str, count: int, first: int, last: int) -> None:
    tasks = load_mbpp(split, path=mbpp_path)
    assert len(tasks) == count
    assert tasks[0].task_id == f"MBPP/{first}"
    assert tasks[-1].task_id == f"MBPP/{last}"
    assert all(
        t.metadata["split"] == (split if split != "all" else split_of(t.metadata["mbpp_id"])) for t in tasks
    )


def test_default_split_is_test(mbpp_path: Path) -> None:
    assert [t.task_id for t in load_mbpp(path=mbpp_path)] == [
        t.task_id for t in load_mbpp("test", path=mbpp_path)
    ]


def test_fields_of_a_known_task(mbpp_path: Path) -> None:
    (task,) = [t for t in load_mbpp("test", path=mbpp_path) if t.task_id == "MBPP/11"]
    assert isinstance(task, Task)
    assert task.prompt == (
        "Write a python function to remove first and last occurrence of a given character from the string."
    )
    assert task.entry_point == "remove_Occ"
    assert task.tests == (
        'assert remove_Occ("hello","l") == "heo"',
        'assert remove_Occ("abcda","a") == "bcd"',
        'assert remove_Occ("PHP","P") == "H"',
    )
    assert task.visible_tests == (task.tests[0],)
    assert task.test_setup == ""
    assert task.reference_solution.startswith("def remove_Occ(s,ch):")
    assert "\r" not in task.reference_solution
    assert task.source == "mbpp" and task.language == "python"
    assert task.metadata["challenge_tests"]  # MBPP/11 has challenge tests, not graded by default


def test_every_task_is_well_formed(mbpp_tasks: list[Task]) -> None:
    ids = [t.task_id for t in mbpp_tasks]
    assert ids == [f"MBPP/{i}" for i in range(1, 975)]
    for t in mbpp_tasks:
        assert len(t.tests) == 3 and len(t.visible_tests) == 1 and t.tests[0].endswith(t.visible_tests[0])
        assert (
            f"def {t.entry_point}" in t.reference_solution or f"class {t.entry_point}" in t.reference_solution
        )
        assert re.search(rf"\b{t.entry_point}\s*\(", t.tests[0])
    # The only two set-ups use the candidate's Node class: they run inside each test, after the candidate.
    with_setup = {t.task_id for t in mbpp_tasks if t.metadata["test_setup_code"]}
    assert with_setup == {"MBPP/367", "MBPP/927"}
    assert not any(t.test_setup for t in mbpp_tasks)


def test_challenge_tests_flag(mbpp_path: Path) -> None:
    plain = {t.task_id: t for t in load_mbpp("all", path=mbpp_path)}
    extra = {t.task_id: t for t in load_mbpp("all", path=mbpp_path, challenge_tests=True)}
    grown = [i for i in plain if len(extra[i].tests) > len(plain[i].tests)]
    assert len(grown) == 11
    assert extra["MBPP/11"].tests[3:] == plain["MBPP/11"].metadata["challenge_tests"]


def test_bad_split_lists_valid_ones(mbpp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"unknown MBPP split 'dev'.*test, validation, train, all"):
        load_mbpp("dev", path=mbpp_path)
    with pytest.raises(ValueError, match="valid variants"):
        load_mbpp("test", path=mbpp_path, variant="tiny")


def test_env_var_source(mbpp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MBPP_PATH_ENV, str(mbpp_path))
    assert len(load_mbpp("validation")) == 90
    assert get_task("MBPP/600").entry_point


def test_explicit_path_wins_over_env(
    tmp_path: Path, mbpp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MBPP_PATH_ENV, str(tmp_path / "missing.jsonl"))
    assert len(load_mbpp("prompt", path=mbpp_path)) == 10
    with pytest.raises(DatasetUnavailableError, match=MBPP_PATH_ENV):
        load_mbpp("prompt")


def test_missing_file_says_how_to_provide(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MBPP_PATH_ENV, raising=False)
    with pytest.raises(DatasetUnavailableError) as info:
        load_mbpp("test", path=tmp_path / "nope.jsonl")
    message = str(info.value)
    assert "nope.jsonl" in message
    assert MBPP_PATH_ENV in message and "path=" in message and '"test_list"' in message
    assert isinstance(info.value, FileNotFoundError)


def _fake_datasets(monkeypatch: pytest.MonkeyPatch, load_dataset) -> list:
    calls: list = []

    def recorder(*args, **kwargs):
        calls.append((args, kwargs))
        return load_dataset(*args, **kwargs)

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=recorder))
    return calls


def test_hub_unreachable_says_how_to_provide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MBPP_PATH_ENV, raising=False)

    def offline(*args, **kwargs):
        raise ConnectionError(
            "Couldn't reach 'google-research-datasets/mbpp' on the Hub (LocalEntryNotFoundError)"
        )

    calls = _fake_datasets(monkeypatch, offline)
    with pytest.raises(DatasetUnavailableError) as info:
        load_mbpp("test", variant="sanitized")
    assert calls == [(("google-research-datasets/mbpp", "sanitized"), {})]
    message = str(info.value)
    assert "ConnectionError" in message and MBPP_PATH_ENV in message and "load_mbpp(path=" in message


def test_hub_rows_are_parsed(monkeypatch: pytest.MonkeyPatch, mbpp_path: Path) -> None:
    """The hub returns a DatasetDict of splits; only the `datasets.load_dataset` boundary is faked."""
    monkeypatch.delenv(MBPP_PATH_ENV, raising=False)
    rows = [json.loads(line) for line in mbpp_path.read_text().splitlines()]
    sanitized = [
        {
            "task_id": r["task_id"],
            "prompt": r["text"],
            "code": r["code"],
            "test_list": r["test_list"],
            "test_imports": ["import math"],
            "source_file": "x",
        }
        for r in rows
        if r["task_id"] in (2, 12, 700)
    ]
    calls = _fake_datasets(
        monkeypatch, lambda *a, **k: {"test": sanitized[1:2], "train": sanitized[2:], "prompt": sanitized[:1]}
    )
    tasks = load_mbpp("all", variant="sanitized")
    assert [t.task_id for t in tasks] == ["MBPP/2", "MBPP/12", "MBPP/700"]
    assert tasks[0].test_setup == "import math" and tasks[0].metadata["variant"] == "sanitized"
    assert [t.task_id for t in load_mbpp("train", variant="sanitized")] == ["MBPP/700"]
    assert calls[0][0] == ("google-research-datasets/mbpp", "sanitized")


def test_local_file_in_either_format(tmp_path: Path) -> None:
    file = tmp_path / "mini.jsonl"
    lines = [
        {
            "task_id": 12,
            "text": "Add.",
            "code": "def add(a, b):\n    return a + b",
            "test_list": ["assert add(1, 2) == 3", "assert add(0, 0) == 0"],
            "test_setup_code": "",
            "challenge_test_list": [],
        },
        {
            "task_id": 13,
            "prompt": "Double.",
            "code": "def double(x):\n    return 2 * x",
            "test_list": ["assert sorted([double(1)]) == [2]"],
            "test_imports": [],
        },
    ]
    file.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    tasks = load_mbpp("test", path=file)
    assert [(t.task_id, t.entry_point, t.prompt) for t in tasks] == [
        ("MBPP/12", "add", "Add."),
        ("MBPP/13", "double", "Double."),
    ]


def test_malformed_row_names_the_line(tmp_path: Path) -> None:
    file = tmp_path / "bad.jsonl"
    file.write_text('{"task_id": 12, "text": "x", "code": "", "test_list": "assert f(1)"}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:1 \(MBPP/12\): field 'test_list' should be list"):
        load_mbpp("all", path=file)
    file.write_text("not json\n")
    with pytest.raises(ValueError, match=r"bad.jsonl:1: not valid JSON"):
        load_mbpp("all", path=file)


def test_entry_point_is_the_outermost_defined_call() -> None:
    assert (
        find_entry_point(["assert set(similar((1, 2), (2, 3))) == {2}"], "def similar(a, b): pass")
        == "similar"
    )
    code = "class Pair:\n    pass\ndef max_chain_length(arr, n):\n    return 1"
    assert find_entry_point(["assert max_chain_length([Pair(5, 24)], 4) == 3"], code) == "max_chain_length"
    assert find_entry_point(["assert sorted(f(3)) == [1]"]) == "f"  # no reference: first non-builtin call
    with pytest.raises(ValueError, match="reference solution defines only"):
        find_entry_point(["assert g(1) == 2"], "def f(x): pass")


def test_registry_loads_mbpp(mbpp_path: Path) -> None:
    assert len(load_tasks("mbpp", split="validation", path=mbpp_path)) == 90
    with pytest.raises(ValueError, match="valid splits"):
        load_tasks("mbpp", split="dev", path=mbpp_path)
    task = get_task("MBPP/367", path=mbpp_path)
    assert task.entry_point == "is_tree_balanced" and task.test_setup == ""
    assert all(t.startswith("root = Node(1)") and "\nassert is_tree_balanced(root" in t for t in task.tests)
    assert task_from_row({"task_id": 5, "text": "t", "test_list": ["assert h(1)"]}).entry_point == "h"
