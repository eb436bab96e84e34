from __future__ import annotations

from pathlib import Path

import pytest

from codegym.cli import main


def test_tasks_list_datasets(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tasks", "list"]) == 0
    out = capsys.readouterr().out
    assert "mbpp" in out and "humaneval" in out


def test_tasks_list_split(mbpp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tasks", "list", "mbpp", "--split", "validation", "--mbpp-path", str(mbpp_path)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("MBPP/511") and out.rstrip().endswith("90 tasks")


def test_tasks_show(mbpp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tasks", "show", "MBPP/11", "--mbpp-path", str(mbpp_path), "--reference"]) == 0
    out = capsys.readouterr().out
    assert "Your code should pass these tests:" in out and "# reference solution" in out
    assert main(["tasks", "show", "HumanEval/0", "--style", "instruct"]) == 0
    assert "Complete the following Python function." in capsys.readouterr().out


def test_user_errors_are_one_line(mbpp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tasks", "list", "mbpp", "--split", "dev", "--mbpp-path", str(mbpp_path)]) == 1
    assert "valid splits are: test, train, validation, prompt, all" in capsys.readouterr().err
    assert main(["tasks", "show", "HumanEval/0", "--style", "fancy"]) == 1
    assert "valid styles are" in capsys.readouterr().err
    assert main(["tasks", "list", "nosuch"]) == 1
    assert "registered datasets are" in capsys.readouterr().err


def test_eval_command(tmp_path: Path, mbpp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from codegym.eval import read_jsonl, write_samples
    from codegym.tasks import get_task

    task = get_task("MBPP/12", path=mbpp_path)
    samples = tmp_path / "samples.jsonl"
    write_samples(
        samples,
        [
            {"task_id": "MBPP/12", "completion": task.reference_solution},
            {"task_id": "MBPP/12", "completion": "def sort_matrix(m):\n    return m\n"},
        ],
    )
    args = [
        "eval",
        str(samples),
        "--dataset",
        "mbpp",
        "--mbpp-path",
        str(mbpp_path),
        "--k",
        "1,2",
        "--workers",
        "1",
    ]
    assert main([*args, "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "pass@1: 0.5000" in out and "pass@2: 1.0000" in out
    records = list(read_jsonl(tmp_path / "samples.jsonl_results.jsonl"))
    assert [r["passed"] for r in records] == [True, False]
    # Samples from another dataset: one clear error line.
    assert main(["eval", str(samples), "--dataset", "humaneval", "--no-progress"]) == 1
    assert "not in dataset 'humaneval'" in capsys.readouterr().err
    assert main([*args, "--k", "0"]) == 1
