from __future__ import annotations

import ast
from pathlib import Path

import pytest

from codegym.tasks import (
    PROMPT_STYLES,
    Task,
    build_program,
    default_style,
    format_prompt,
    get_task,
    split_prompt,
    task_description,
)


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines()]


@pytest.fixture(scope="module")
def mbpp11(mbpp_path: Path) -> Task:
    return get_task("MBPP/11", path=mbpp_path)


def test_style_names() -> None:
    assert set(PROMPT_STYLES) == {"mbpp", "humaneval", "instruct"}
    assert PROMPT_STYLES["humaneval"].completion and not PROMPT_STYLES["mbpp"].completion
    with pytest.raises(ValueError, match="valid styles are: mbpp, humaneval, instruct"):
        format_prompt(Task("x/1", "p", "f", ("assert f()",)), "chatml")


def test_mbpp_paper_style(mbpp11: Task) -> None:
    assert format_prompt(mbpp11, "mbpp") == (
        "Write a python function to remove first and last occurrence of a given character from the string.\n"
        "Your code should pass these tests:\n\n"
        'assert remove_Occ("hello","l") == "heo"\n'
    )
    assert default_style(mbpp11) == "mbpp"
    # Only the visible (first) test is shown, never the hidden ones.
    assert mbpp11.tests[1] not in format_prompt(mbpp11, "mbpp")


def test_humaneval_style_for_mbpp_is_valid_python(mbpp_tasks: list[Task]) -> None:
    prompt = format_prompt(mbpp_tasks[10], "humaneval")
    assert prompt.startswith('def remove_Occ(s, ch):\n    """\n    Write a python function')
    for task in mbpp_tasks:
        ast.parse(format_prompt(task, "humaneval") + "    pass\n")
    # The graded program for a completion style is prompt + completion.
    program = build_program(mbpp_tasks[10], "    return s\n", "humaneval")
    assert program == prompt + "    return s\n"


def test_humaneval_style_is_the_original_prompt(humaneval_tasks: list[Task]) -> None:
    for task in humaneval_tasks:
        assert format_prompt(task) == task.prompt
        assert default_style(task) == "humaneval"
        assert build_program(task, "    return 1\n") == task.prompt + "    return 1\n"
    with pytest.raises(ValueError, match="has none; use the 'humaneval' or 'instruct' style"):
        format_prompt(humaneval_tasks[0], "mbpp")


def test_instruct_style(mbpp11: Task, humaneval_tasks: list[Task]) -> None:
    text = format_prompt(mbpp11, "instruct")
    assert "`remove_Occ`" in text and mbpp11.prompt in text and mbpp11.visible_tests[0] in text
    assert "```python" in text and mbpp11.tests[2] not in text
    he = format_prompt(humaneval_tasks[0], "instruct")
    assert humaneval_tasks[0].prompt.rstrip() in he
    # A whole-program answer to a HumanEval task runs after the original prompt (imports, helpers).
    program = build_program(
        humaneval_tasks[0], "def has_close_elements(numbers, threshold):\n    return 1\n", "instruct"
    )
    assert program.startswith(humaneval_tasks[0].prompt.rstrip()) and program.endswith("return 1\n")
    assert build_program(mbpp11, "def remove_Occ(s, ch):\n    return s\n", "mbpp").startswith(
        "def remove_Occ"
    )


@pytest.mark.parametrize("style", ["mbpp", "humaneval", "instruct"])
def test_split_prompt_mbpp_only_edits_the_description(mbpp11: Task, style: str) -> None:
    text, render = split_prompt(mbpp11, style)
    assert text == mbpp11.prompt
    assert render(text) == format_prompt(mbpp11, style)
    edited = render("Delete the first and the last occurrence of a character.")
    assert "Delete the first and the last occurrence" in edited and mbpp11.prompt not in edited
    assert mbpp11.visible_tests[0] in edited
    if style == "humaneval":
        assert edited.startswith("def remove_Occ(s, ch):")


def test_split_prompt_humaneval_edits_only_the_docstring_prose(humaneval_tasks: list[Task]) -> None:
    task = humaneval_tasks[0]
    text, render = split_prompt(task)
    assert text == (
        "Check if in given list of numbers, are any two numbers closer to each other than\ngiven threshold."
    )
    edited = render("Return True when two numbers are nearer than threshold.\nSecond line.")
    assert edited == task.prompt.replace(
        "Check if in given list of numbers, are any two numbers closer to each other than\n"
        "    given threshold.",
        "Return True when two numbers are nearer than threshold.\n    Second line.",
    )
    for task in humaneval_tasks:
        text, render = split_prompt(task)
        assert text and ">>>" not in text, task.task_id
        assert _lines(render(text)) == _lines(task.prompt), task.task_id
        # Hostile edits cannot break out of the docstring: the prompt still parses, examples stay.
        hostile = render("x \"\"\" y\n'''\nimport os \\")
        ast.parse(hostile + "    pass\n")
        assert hostile.count(f"def {task.entry_point}(") == 1
        tail = task.prompt[task.prompt.index(text.splitlines()[-1]) + len(text.splitlines()[-1]) :]
        assert hostile.endswith(tail), task.task_id
    assert task_description(humaneval_tasks[115]).startswith("You are given a rectangular grid of wells.")


def test_split_prompt_rejects_non_strings(mbpp11: Task) -> None:
    _, render = split_prompt(mbpp11)
    with pytest.raises(TypeError, match="must be a str"):
        render(None)  # type: ignore[arg-type]


def test_generic_task_without_reference() -> None:
    task = Task("demo/1", "Add two numbers.", "add", ("assert add(1, 2) == 3",))
    assert default_style(task) == "instruct"
    assert "`add`" in format_prompt(task)
    with pytest.raises(ValueError, match="needs the signature of add"):
        format_prompt(task, "humaneval")
    with_sig = Task(
        "demo/2", "Add.", "add", ("assert add(1, 2) == 3",), metadata={"signature": "def add(a, b):"}
    )
    assert format_prompt(with_sig, "humaneval").startswith("def add(a, b):\n")


@pytest.mark.parametrize("module", ["codegym.tasks.prompts", "codegym.tasks.registry"])
def test_docstring_examples(module: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0
