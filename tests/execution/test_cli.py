"""``codegym exec`` and ``codegym bench execution`` from the command line."""

from __future__ import annotations

import json

import pytest

from codegym.cli import build_parser, main


def test_exec_reports_verdicts(tmp_path, capsys: pytest.CaptureFixture) -> None:
    program = tmp_path / "sol.py"
    program.write_text("def add(a, b):\n    return a + b\nprint('hello')\n")
    assert main(["exec", str(program), "-t", "assert add(1, 2) == 3"]) == 0
    out = capsys.readouterr().out
    assert "status: passed" in out and "hello" in out and "isolation:" in out
    assert main(["exec", str(program), "-t", "assert add(1, 2) == 3", "-t", "assert add(1, 1) == 3"]) == 1
    assert "[      failed]" in capsys.readouterr().out


def test_exec_json_and_tests_file(tmp_path, capsys: pytest.CaptureFixture) -> None:
    program = tmp_path / "sol.py"
    program.write_text("def f(x):\n    return x * 2\n")
    tests = tmp_path / "tests.py"
    tests.write_text("assert f(1) == 2\n\nassert f(2) == 5\n")
    assert main(["exec", str(program), "--tests-file", str(tests), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["status"] == "failed"
    assert [t["outcome"] for t in data["tests"]] == ["passed", "failed"]


def test_exec_needs_tests(tmp_path, capsys: pytest.CaptureFixture) -> None:
    program = tmp_path / "sol.py"
    program.write_text("x = 1\n")
    assert main(["exec", str(program)]) == 1
    assert "no tests" in capsys.readouterr().err
    assert main(["exec", str(tmp_path / "missing.py"), "-t", "assert True"]) == 1


def test_bench_execution_is_registered() -> None:
    parser = build_parser()
    args = parser.parse_args(["bench", "execution", "--workers", "1", "--rounds", "1", "--skip-human-eval"])
    assert args.workers == 1 and args.skip_human_eval


def test_exec_language_from_extension_or_flag(tmp_path, capsys: pytest.CaptureFixture) -> None:
    from codegym.execution import available_languages

    if "javascript" not in available_languages():
        pytest.skip("node is not installed")
    program = tmp_path / "sol.js"
    program.write_text("function add(a, b) { return a + b; }\n")
    assert main(["exec", str(program), "-t", "assert.strictEqual(add(1, 2), 3);", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "passed"
    other = tmp_path / "sol.txt"
    other.write_text("function add(a, b) { return a - b; }\n")
    assert main(["exec", str(other), "--language", "js", "-t", "assert.strictEqual(add(1, 2), 3);"]) == 1
    assert "AssertionError" in capsys.readouterr().out
