"""Procedural synthesis tasks in JavaScript, C++ and Rust, and the ``language`` argument of the env."""

from __future__ import annotations

import gymnasium as gym
import pytest
from _shared import toolchain_param

import codegym  # noqa: F401  (registers the environments)
from codegym.execution import ExecutionRequest, Limits, SandboxExecutor
from codegym.tasks.base import Task
from codegym.tasks.procedural import load_synthesis_tasks
from codegym.tasks.procedural.translate import TRANSLATABLE, tasks_in_language, translate_task

#: Correct solutions of five families that together use every argument and return type.
SOLUTIONS = {
    "javascript": {
        "add_two": "function {fn}(a, b) { return a + b; }",
        "is_palindrome": "function {fn}(s) { return s === [...s].reverse().join(''); }",
        "word_lengths": "function {fn}(w) { return w.map((x) => x.length); }",
        "char_counts": "function {fn}(s) {\n  const c = {};\n"
        "  for (const ch of s) c[ch] = (c[ch] || 0) + 1;\n"
        "  return c;\n}",
        "dict_keys_sorted": "function {fn}(d) { return Object.keys(d).sort(); }",
    },
    "cpp": {
        "add_two": "long long {fn}(long long a, long long b) { return a + b; }",
        "is_palindrome": "bool {fn}(std::string s) { return std::string(s.rbegin(), s.rend()) == s; }",
        "word_lengths": "std::vector<long long> {fn}(std::vector<std::string> w) {\n"
        "  std::vector<long long> r;\n  for (auto& x : w) r.push_back((long long)x.size());\n  return r;\n}",
        "char_counts": "std::map<std::string, long long> {fn}(std::string s) {\n"
        "  std::map<std::string, long long> m;\n  for (char c : s) m[std::string(1, c)]++;\n  return m;\n}",
        "dict_keys_sorted": "std::vector<std::string> {fn}(std::map<std::string, long long> d) {\n"
        "  std::vector<std::string> r;\n  for (auto& kv : d) r.push_back(kv.first);\n  return r;\n}",
    },
    "rust": {
        "add_two": "fn {fn}(a: i64, b: i64) -> i64 { a + b }",
        "is_palindrome": "fn {fn}(s: String) -> bool { s.chars().rev().collect::<String>() == s }",
        "word_lengths": "fn {fn}(w: Vec<String>) -> Vec<i64> {\n"
        "    w.iter().map(|x| x.chars().count() as i64).collect()\n}",
        "char_counts": "fn {fn}(s: String) -> HashMap<String, i64> {\n    let mut m = HashMap::new();\n"
        "    for c in s.chars() { *m.entry(c.to_string()).or_insert(0) += 1; }\n    m\n}",
        "dict_keys_sorted": "fn {fn}(d: HashMap<String, i64>) -> Vec<String> {\n"
        "    let mut k: Vec<String> = d.keys().cloned().collect();\n    k.sort();\n    k\n}",
    },
}
PRELUDE = {
    "javascript": "",
    "cpp": "#include <map>\n#include <string>\n#include <vector>\n",
    "rust": "use std::collections::HashMap;\n",
}


@pytest.fixture(scope="module")
def tasks() -> list[Task]:
    return load_synthesis_tasks(size=400, seed=0)


def test_every_family_translates(tasks: list[Task]) -> None:
    families = {t.metadata["family"] for t in tasks}
    assert len(families) >= 50
    for task in tasks:
        for lang in TRANSLATABLE:
            out = translate_task(task, lang)
            assert out.language == lang and len(out.tests) == len(task.tests)
            assert out.task_id == task.task_id and out.reference_solution == ""
            assert (
                "Write it in" in out.prompt and out.metadata["python_signature"] == task.metadata["signature"]
            )


def test_rendered_literals() -> None:
    task = next(t for t in load_synthesis_tasks(size=400, seed=0) if t.metadata["family"] == "char_counts")
    js = translate_task(task, "javascript").tests[0]
    assert js.startswith(f"assert.deepStrictEqual({task.entry_point}(") and '": 1' in js
    assert "std::map<std::string, long long>{{" in translate_task(task, "cpp").tests[0]
    assert "HashMap::<String, i64>::from([(String::from(" in translate_task(task, "rust").tests[0]


@pytest.mark.parametrize("lang", [toolchain_param(lang) for lang in TRANSLATABLE])
def test_translated_tests_pass_correct_solutions(tasks: list[Task], lang: str, tmp_path) -> None:
    """One program holding a correct solution of five families must pass all their translated tests."""
    chosen = {}
    for task in tasks:
        family = task.metadata["family"]
        if family in SOLUTIONS[lang] and family not in chosen:
            chosen[family] = translate_task(task, lang)
    assert set(chosen) == set(SOLUTIONS[lang])
    code = PRELUDE[lang] + "\n".join(
        SOLUTIONS[lang][family].replace("{fn}", task.entry_point) for family, task in chosen.items()
    )
    tests = [t for task in chosen.values() for t in (*task.tests, *task.visible_tests)]
    with SandboxExecutor(workers=1, limits=Limits(timeout_s=5.0), build_cache=tmp_path) as ex:
        result = ex.run_batch([ExecutionRequest(code, tests, language=lang)])[0]
        wrong = code.replace("a + b", "a - b")
        bad = ex.run(wrong, [t for t in tests if "add" in t or "sum" in t] or tests, language=lang)
    assert result.passed, (result.message, code)
    if lang == "javascript":
        assert not bad.passed


def test_tasks_only_in_python_are_a_clear_error() -> None:
    mbpp_like = Task("MBPP/1", "Add.", "add", ("assert add(1, 2) == 3",), source="mbpp")
    with pytest.raises(ValueError, match="exists only in python.*procedural synthesis"):
        tasks_in_language([mbpp_like], "javascript")
    with pytest.raises(ValueError, match="unknown language"):
        tasks_in_language([mbpp_like], "cobol")
    assert tasks_in_language([mbpp_like], "python") == [mbpp_like]


def test_humaneval_style_refuses_other_languages(tasks: list[Task]) -> None:
    from codegym.tasks.prompts import format_prompt

    js = translate_task(tasks[0], "javascript")
    with pytest.raises(ValueError, match="'humaneval' writes a Python signature"):
        format_prompt(js, "humaneval")
    text = format_prompt(js, "instruct")
    assert "JavaScript function" in text and "```javascript" in text


@pytest.mark.parametrize("lang", [toolchain_param("javascript")])
def test_env_language_argument(lang: str) -> None:
    env = gym.make("SynthCodeGen-v0", language=lang)
    obs, _ = env.reset(seed=0)
    task = env.unwrapped.task
    assert task.language == lang and "Write it in JavaScript" in obs
    assert "assert.deepStrictEqual(" in obs
    _, reward, terminated, _, info = env.step(f"```js\nfunction {task.entry_point}() {{ return null; }}\n```")
    assert terminated and info["status"] == "failed" and info["num_tests"] == len(task.tests)
    env.close()
