from __future__ import annotations

import json

import pytest

from codegym.cli import main
from codegym.tasks.procedural import load_csv, load_jsonl


def test_generate_synthesis_jsonl(tmp_path, capsys):
    out = tmp_path / "s.jsonl"
    argv = "data generate --suite synthesis --num-samples 6 --phrasing-groups A B --seed 3 --quiet --out"
    rc = main([*argv.split(), str(out)])
    assert rc == 0
    tasks = load_jsonl(out)
    assert len(tasks) == 6 and {t.metadata["phrasing_group"] for t in tasks} <= {"A", "B"}
    assert "wrote 6 synthesis items" in capsys.readouterr().out


def test_generate_output_prediction_two_languages_then_export(tmp_path):
    out = tmp_path / "op.jsonl"
    argv = "data generate --suite output-prediction --languages python javascript --num-samples 4"
    rc = main([*argv.split(), "--no-verify", "--split", "eval", "--out", str(out), "--quiet"])
    assert rc == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["language"] for r in lines] == ["python", "javascript"] * 4
    assert all(r["split"] == "eval" for r in lines)
    csv_path = tmp_path / "op.csv"
    assert main(["data", "export", str(out), "--csv", str(csv_path)]) == 0
    assert load_csv(csv_path) == load_jsonl(out)


def test_generate_verified_with_progress_bar(tmp_path, capsys):
    out = tmp_path / "op.csv"
    assert (
        main(["data", "generate", "--suite", "output-prediction", "--num-samples", "3", "--out", str(out)])
        == 0
    )
    items = load_csv(out)
    assert len(items) == 3 and all(it.verified for it in items)
    captured = capsys.readouterr()
    assert "3 verified by running" in captured.out
    assert "generating" in captured.err  # tqdm writes to stderr


def test_list(capsys):
    assert main(["data", "list"]) == 0
    text = capsys.readouterr().out
    assert "synthesis:" in text and "add_k" in text and "output-prediction:" in text and "recursion" in text


@pytest.mark.parametrize(
    "argv",
    [
        ["data", "generate", "--suite", "synthesis", "--out", "x.txt"],
        ["data", "generate", "--suite", "synthesis", "--families", "nope", "--out", "x.jsonl"],
        ["data", "generate", "--suite", "synthesis", "--languages", "javascript", "--out", "x.jsonl"],
        ["data", "generate", "--suite", "output-prediction", "--phrasing-groups", "A", "--out", "x.jsonl"],
        ["data", "export", "missing.jsonl", "--csv", "x.csv"],
        ["data", "export", "missing.jsonl"],
    ],
)
def test_user_errors_exit_1(argv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 1
    assert "codegym: error:" in capsys.readouterr().err
