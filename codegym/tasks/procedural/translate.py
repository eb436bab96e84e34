"""Procedural synthesis tasks in JavaScript, C++ and Rust: the same problems, tests rendered per language.

A synthesis task's tests are ``assert fn(args) == expected`` with literal arguments and an expected value
computed by the family's trusted Python reference (:mod:`codegym.tasks.procedural.synthesis`). Its
argument and return types are simple (``int``, ``str``, ``bool``, ``list[int]``, ``list[str]``,
``dict[str, int]``), so the same checks can be written in other languages:

=============  =================================  ===============================  =========================
Python         JavaScript                          C++                              Rust
=============  =================================  ===============================  =========================
``int``        number                              ``long long``                    ``i64``
``str``        string                              ``std::string``                  ``String``
``bool``       boolean                             ``bool``                         ``bool``
``list[int]``  array                               ``std::vector<long long>``       ``Vec<i64>``
``list[str]``  array                               ``std::vector<std::string>``     ``Vec<String>``
``dict[str,    object                              ``std::map<std::string,          ``HashMap<String, i64>``
int]``                                             long long>``
=============  =================================  ===============================  =========================

Tests become ``assert.deepStrictEqual(fn(...), expected);`` (JavaScript), ``assert(fn(...) == expected);``
(C++) and ``assert_eq!(fn(...), expected);`` (Rust). The translated task's ``metadata["signature"]``
is the signature in the target language, and the description says which language to write; the
descriptions' formulas (phrasing group E) keep their Python-like notation (``x // 3``, ``len(s)``). No
reference solution exists in the other languages (``reference_solution`` is empty).
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from codegym.tasks.base import Task
from codegym.tasks.procedural.synthesis import SOURCE

#: Languages synthesis tasks can be rendered in (besides Python).
TRANSLATABLE = ("javascript", "cpp", "rust")
DISPLAY = {"python": "Python", "javascript": "JavaScript", "cpp": "C++", "rust": "Rust"}

_CPP_TYPES = {
    "int": "long long",
    "str": "std::string",
    "bool": "bool",
    "list[int]": "std::vector<long long>",
    "list[str]": "std::vector<std::string>",
    "dict[str, int]": "std::map<std::string, long long>",
}
_RUST_TYPES = {
    "int": "i64",
    "str": "String",
    "bool": "bool",
    "list[int]": "Vec<i64>",
    "list[str]": "Vec<String>",
    "dict[str, int]": "HashMap<String, i64>",
}
_SIGNATURE = re.compile(r"^def (\w+)\((.*)\) -> (.+):$")


def _parse_signature(task: Task) -> tuple[str, list[tuple[str, str]], str]:
    sig = str(task.metadata.get("signature", ""))
    m = _SIGNATURE.match(sig.strip())
    if not m:
        raise ValueError(f"task {task.task_id!r} has no Python signature in metadata['signature'] ({sig!r})")
    params = []
    for part in [p.strip() for p in m.group(2).split(",") if p.strip()] if m.group(2) else []:
        name, _, typ = part.partition(":")
        params.append((name.strip(), typ.strip()))
    # "dict[str, int]" was split at its comma: glue it back.
    glued: list[tuple[str, str]] = []
    for name, typ in params:
        if not typ and glued:
            glued[-1] = (glued[-1][0], glued[-1][1] + ", " + name)
        else:
            glued.append((name, typ))
    return m.group(1), glued, m.group(3).strip()


def _parse_test(test: str, fn: str) -> tuple[list[Any], Any]:
    """``assert fn(a, b) == expected`` -> ``([a, b], expected)`` (literals only)."""
    tree = ast.parse(test.strip())
    node = tree.body[0] if len(tree.body) == 1 else None
    if not (
        isinstance(node, ast.Assert)
        and isinstance(node.test, ast.Compare)
        and len(node.test.ops) == 1
        and isinstance(node.test.ops[0], ast.Eq)
        and isinstance(node.test.left, ast.Call)
        and isinstance(node.test.left.func, ast.Name)
        and node.test.left.func.id == fn
        and not node.test.left.keywords
    ):
        raise ValueError(f"test {test!r} is not of the form 'assert {fn}(...) == expected'")
    args = [ast.literal_eval(a) for a in node.test.left.args]
    return args, ast.literal_eval(node.test.comparators[0])


# ----------------------------------------------------------------------------------------------------
# Literals per language


def _js(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _cpp_str(s: str) -> str:
    out = []
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif 32 <= ord(ch) < 127:
            out.append(ch)
        else:
            out.append("".join(f'\\x{b:02x}""' for b in ch.encode("utf-8")))
    return '"' + "".join(out) + '"'


def _cpp(value: Any, typ: str) -> str:
    if typ == "bool":
        return "true" if value else "false"
    if typ == "int":
        return f"{int(value)}LL"
    if typ == "str":
        return f"std::string({_cpp_str(value)})"
    if typ == "list[int]":
        return "std::vector<long long>{" + ", ".join(f"{int(v)}LL" for v in value) + "}"
    if typ == "list[str]":
        return "std::vector<std::string>{" + ", ".join(_cpp_str(v) for v in value) + "}"
    if typ == "dict[str, int]":
        items = ", ".join("{" + _cpp_str(k) + ", " + f"{int(v)}LL" + "}" for k, v in value.items())
        return "std::map<std::string, long long>{" + items + "}"
    raise ValueError(f"no C++ rendering for values of type {typ!r}")


def _rust_str(s: str) -> str:
    return json.dumps(s, ensure_ascii=False).replace("\\/", "/")


def _rust(value: Any, typ: str) -> str:
    if typ == "bool":
        return "true" if value else "false"
    if typ == "int":
        return f"{int(value)}i64"
    if typ == "str":
        return f"String::from({_rust_str(value)})"
    if typ == "list[int]":
        return "vec![" + ", ".join(f"{int(v)}i64" for v in value) + "]" if value else "Vec::<i64>::new()"
    if typ == "list[str]":
        if not value:
            return "Vec::<String>::new()"
        return "vec![" + ", ".join(f"String::from({_rust_str(v)})" for v in value) + "]"
    if typ == "dict[str, int]":
        if not value:
            return "HashMap::<String, i64>::new()"
        items = ", ".join(f"(String::from({_rust_str(k)}), {int(v)}i64)" for k, v in value.items())
        return f"HashMap::<String, i64>::from([{items}])"
    raise ValueError(f"no Rust rendering for values of type {typ!r}")


def _render_test(language: str, fn: str, types: list[str], ret: str, args: list[Any], expected: Any) -> str:
    if language == "javascript":
        return f"assert.deepStrictEqual({fn}({', '.join(_js(a) for a in args)}), {_js(expected)});"
    if language == "cpp":
        call = f"{fn}({', '.join(_cpp(a, t) for a, t in zip(args, types, strict=True))})"
        return f"assert({call} == {_cpp(expected, ret)});"
    if language == "rust":
        call = f"{fn}({', '.join(_rust(a, t) for a, t in zip(args, types, strict=True))})"
        return f"assert_eq!({call}, {_rust(expected, ret)});"
    raise ValueError(f"cannot render tests in {language!r}; choose from {TRANSLATABLE}")


def _signature(language: str, fn: str, params: list[tuple[str, str]], ret: str) -> str:
    if language == "javascript":
        return f"function {fn}({', '.join(n for n, _ in params)})"
    if language == "cpp":
        return f"{_CPP_TYPES[ret]} {fn}({', '.join(f'{_CPP_TYPES[t]} {n}' for n, t in params)})"
    return f"fn {fn}({', '.join(f'{n}: {_RUST_TYPES[t]}' for n, t in params)}) -> {_RUST_TYPES[ret]}"


def _reword(text: str, language: str) -> str:
    return text.replace("Python function", f"{DISPLAY[language]} function")


def translate_task(task: Task, language: str) -> Task:
    """Return a procedural synthesis ``task`` with its tests, signature and wording in ``language``.

    Raises:
        ValueError: ``language`` is not one of :data:`TRANSLATABLE` (or Python), or ``task`` is not a
            procedural synthesis task (other datasets exist only in Python).

    """
    if language == task.language:
        return task
    if language not in TRANSLATABLE:
        raise ValueError(f"synthesis tasks can be rendered in {('python',) + TRANSLATABLE}, not {language!r}")
    if task.source != SOURCE or task.language != "python":
        raise ValueError(
            f"task {task.task_id!r} ({task.source or 'no source'}, {task.language}) exists only in "
            f"{task.language}; only procedural synthesis tasks ({SOURCE}) can be rendered in {language}"
        )
    fn, params, ret = _parse_signature(task)
    types = [t for _, t in params]
    for t in [*types, ret]:
        if t not in _CPP_TYPES:
            raise ValueError(f"task {task.task_id!r} uses type {t!r}, which has no {language} rendering")

    def render(tests: Sequence[str]) -> tuple[str, ...]:
        return tuple(_render_test(language, fn, types, ret, *_parse_test(t, fn)) for t in tests)

    signature = _signature(language, fn, params, ret)
    phrasings = {g: _reword(p, language) for g, p in dict(task.metadata.get("phrasings", {})).items()}
    note = f"\nWrite it in {DISPLAY[language]}: `{signature}`."
    return replace(
        task,
        prompt=_reword(task.prompt, language).rstrip() + note,
        tests=render(task.tests),
        visible_tests=render(task.visible_tests),
        reference_solution="",
        language=language,
        metadata={
            **task.metadata,
            "phrasings": {g: p.rstrip() + note for g, p in phrasings.items()},
            "signature": signature,
            "python_signature": task.metadata.get("signature"),
        },
    )


def tasks_in_language(tasks: Sequence[Task], language: str) -> list[Task]:
    """Return ``tasks`` in ``language``: as they are when already in it, translated when possible.

    Raises:
        ValueError: Some task exists only in another language (the message says which tasks can be
            translated), or the language is unknown.
        ToolchainMissing: The language's toolchain is not installed here.

    """
    from codegym.execution.languages import get_language

    name = get_language(language).require().name
    out = []
    for task in tasks:
        if get_language(task.language).name == name:
            out.append(task)
        elif task.source == SOURCE:
            out.append(translate_task(task, name))
        else:
            raise ValueError(
                f"task {task.task_id!r} ({task.source or 'custom'}) exists only in {task.language}, not "
                f"{name}; the tasks available in {', '.join(TRANSLATABLE)} are the procedural synthesis "
                "tasks (dataset 'procedural/synthesis', environment ProceduralSynthesis-v0), or pass "
                f"tasks=... written in {name}"
            )
    return out
