"""The program families of the output-prediction suite, rendered per language.

A family is a function ``draw(rng, difficulty) -> Program``. It draws the program's inputs and
variant, computes with trusted Python *in the generator* the values the program prints, and renders
the same program in every language it supports (Python, JavaScript, C++ and Rust). :func:`expected_stdout`
formats the printed values the way each language prints them; the suite then runs the rendered
programs in the sandbox to check that they really print that.

Adding a language: give :func:`literal`, :func:`printed` and :func:`input_block` a branch for it, add
its template to every family (the ``code`` dict), and list it in :data:`LANGUAGES`.

Conventions that keep the languages printing the same values: integers only (no floats), ``//`` and
``%`` only on non-negative operands (JavaScript's ``%`` and ``Math.floor`` differ from Python's on
negatives, C++ and Rust truncate), no ``-0`` (JavaScript prints it), string keys in dicts (JavaScript
orders integer-like keys first), and JavaScript prints lists and dicts with ``JSON.stringify``.

C++ and Rust programs are whole programs: helper functions and types first, then ``main``, whose first
lines are the input block (``long long n = 12;`` / ``let n: i64 = 12;``). What they print is what the
language prints natively, so it may differ from Python's text:

* C++ prints a ``bool`` with ``std::cout`` as ``1`` / ``0``; ``std::string::find`` returns ``npos``
  (``18446744073709551615``) when nothing is found. Lists and maps have no standard printer: each
  program defines the small helper it uses (``print_list`` ...), which prints ``[1, 2]``,
  ``["a", "b"]`` and ``{"a": 1}``.
* Rust prints scalars with ``{}`` (``true``, ``7``, raw strings) and lists, maps and ``Option`` with
  ``{:?}`` (``[1, 2]``, ``["a", "b"]``, ``{"a": 1}``, ``Some(3)`` / ``None``).
* Dicts are ``std::map`` / ``BTreeMap`` (a ``HashMap`` prints in a random order), which print their keys
  sorted, where Python and JavaScript keep insertion order.

Every family is expressed in every language, with the language's own idioms where Python's have no
equivalent: classes are C++ classes and Rust structs with ``impl`` blocks; exceptions are C++ exceptions
and, in Rust (which has none), ``Result`` values matched by the caller; ``finally`` is a destructor
(C++) or a ``Drop`` guard (Rust); default arguments are ``Option`` parameters in Rust; a global call
counter is a ``&mut`` argument in Rust.
"""

from __future__ import annotations

import json
import random
import re
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

LANGUAGES = ("python", "javascript", "cpp", "rust")
#: Languages whose programs are whole programs with a ``main`` (the input block opens ``main``).
MAIN_LANGUAGES = ("cpp", "rust")
#: How the languages are named in prose (questions, docs).
DISPLAY_NAMES = {"python": "Python", "javascript": "JavaScript", "cpp": "C++", "rust": "Rust"}

WORDS = (
    "apple",
    "banana",
    "cherry",
    "level",
    "code",
    "python",
    "gym",
    "hello",
    "world",
    "data",
    "tree",
    "river",
    "stone",
    "cat",
    "dog",
    "moon",
    "sun",
    "book",
    "queue",
    "loop",
    "value",
    "lamp",
    "note",
)
NAMES = ("ann", "bob", "cleo", "dan", "eve", "finn", "gus", "hana")

#: ``std::string::npos`` as C++ prints it (64-bit ``size_t``).
CPP_NPOS = 2**64 - 1
_INPUT_MARK = "@INPUT@"
_MAIN_INDENT = "    "


# ----------------------------------------------------------------------------------------------------
# Values: literals and printed forms per language


@dataclass(frozen=True)
class Native:
    """A printed value that differs by language: ``values[language]`` if given, else ``default``.

    For results that are language-specific, e.g. ``s.find('z')``: ``-1`` in Python and JavaScript,
    ``npos`` in C++, ``None`` in Rust.
    """

    default: Any
    values: tuple[tuple[str, Any], ...] = ()

    def for_language(self, language: str) -> Any:
        """Return the value ``language`` prints."""
        return dict(self.values).get(language, self.default)


def _check_language(language: str) -> None:
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}; choose from {LANGUAGES}")


def literal(value: Any, language: str) -> str:
    """Render ``value`` as a source literal of ``language`` (ints, bools, strings, lists, str-keyed dicts).

    C++ lists and maps are brace initializers (``{1, 2}``, ``{{"a", 1}}``), Rust lists ``vec![...]`` and
    maps ``BTreeMap::from([...])``.
    """
    _check_language(language)
    if language == "python":
        return repr(value)
    if language == "javascript":
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, str)):
        return json.dumps(value)
    if isinstance(value, list):
        inner = ", ".join(literal(v, language) for v in value)
        return "{" + inner + "}" if language == "cpp" else f"vec![{inner}]"
    if isinstance(value, dict):
        if language == "cpp":
            return (
                "{"
                + ", ".join(f"{{{json.dumps(k)}, {literal(v, language)}}}" for k, v in value.items())
                + "}"
            )
        pairs = ", ".join(f"({json.dumps(k)}, {literal(v, language)})" for k, v in value.items())
        return f"BTreeMap::from([{pairs}])"
    raise ValueError(f"no {language} literal for {type(value).__name__} values")


def _type(value: Any, language: str) -> str:
    """Return the declared type of an input value in C++ or Rust."""
    cpp = language == "cpp"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "long long" if cpp else "i64"
    if isinstance(value, str):
        return "std::string" if cpp else "&str"
    if isinstance(value, list):
        inner = _type(value[0] if value else 0, language)
        return f"std::vector<{inner}>" if cpp else f"Vec<{inner}>"
    if isinstance(value, dict):
        return "std::map<std::string, long long>" if cpp else "BTreeMap<&str, i64>"
    raise ValueError(f"no {language} type for {type(value).__name__} values")


def debug_text(value: Any) -> str:
    """Rust's ``{:?}`` text of a value (also what the C++ programs' print helpers write).

    ``[1, 2]``, ``["a", "b"]``, ``[[1, 2]]``, ``{"a": 1}`` (keys sorted, as ``BTreeMap`` / ``std::map``).
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(debug_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{debug_text(k)}: {debug_text(value[k])}" for k in sorted(value)) + "}"
    return str(value)


def printed(value: Any, language: str) -> str:
    """Return the text ``language``'s print statement writes for ``value`` (without the newline).

    Python: ``str(value)`` (``print``). JavaScript: programs print scalars with ``console.log(v)``
    (``true``/``false``, integers, raw strings) and lists/dicts with ``console.log(JSON.stringify(v))``
    (compact JSON: ``[1,2]``, ``{"a":1}``). C++: ``std::cout << v`` (``1``/``0`` for booleans) for
    scalars, the program's print helper (:func:`debug_text`) for lists and maps. Rust: ``{}`` for
    scalars, ``{:?}`` (:func:`debug_text`) for lists and maps. A :class:`Native` value is first
    resolved for ``language``.
    """
    _check_language(language)
    if isinstance(value, Native):
        value = value.for_language(language)
    if language == "python":
        return str(value)
    if language == "javascript":
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (list, dict)):
            return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        return str(value)
    if isinstance(value, bool):
        if language == "cpp":
            return "1" if value else "0"
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return debug_text(value)
    return str(value)


def expected_stdout(outputs: Sequence[Any], language: str) -> str:
    """Return the whole stdout of a program that prints ``outputs``, one per line."""
    return "".join(printed(v, language) + "\n" for v in outputs)


def input_block(inputs: Sequence[tuple[str, Any]], language: str, mutable: Sequence[str] = ()) -> str:
    """Return the input assignments in ``language`` (C++ and Rust: typed declarations, not indented).

    Rust declares ``mut`` only the names in ``mutable`` (the ones the program changes).
    """
    _check_language(language)
    if language == "python":
        return "".join(f"{name} = {literal(v, language)}\n" for name, v in inputs)
    if language == "javascript":
        return "".join(f"let {name} = {literal(v, language)};\n" for name, v in inputs)
    if language == "cpp":
        return "".join(f"{_type(v, language)} {name} = {literal(v, language)};\n" for name, v in inputs)
    return "".join(
        f"let {'mut ' if name in mutable else ''}{name}: {_type(v, language)} = {literal(v, language)};\n"
        for name, v in inputs
    )


def _code(text: str) -> str:
    """Dedent a template and strip its surrounding blank lines."""
    return textwrap.dedent(text).strip("\n") + "\n"


def _js_log(expr: str, value: Any) -> str:
    """Return a JavaScript statement printing ``expr`` whose value is like ``value``."""
    if isinstance(value, (list, dict)):
        return f"console.log(JSON.stringify({expr}));"
    return f"console.log({expr});"


def _cpp_out(expr: str, value: Any) -> str:
    """Return a C++ statement printing ``expr`` whose value is like ``value`` (lists via a helper)."""
    if isinstance(value, dict):
        return f"print_map({expr});"
    if isinstance(value, list):
        if value and isinstance(value[0], list):
            return f"print_pairs({expr});"
        if value and isinstance(value[0], str):
            return f"print_strings({expr});"
        return f"print_list({expr});"
    return f'std::cout << {expr} << "\\n";'


def _rs_out(expr: str, value: Any, debug: bool | None = None) -> str:
    """Return a Rust statement printing ``expr``: ``{:?}`` for lists, maps or ``debug``, else ``{}``."""
    if debug is None:
        debug = isinstance(value, (list, dict))
    return f'println!("{{{":?" if debug else ""}}}", {expr});'


# -- C++ and Rust program layout ------------------------------------------------------------------

#: Helpers a C++ program gets when its code calls them (C++ has no standard printer for containers).
_CPP_LIBRARY = {
    "print_list": r"""
        void print_list(const std::vector<long long>& v) {
            std::cout << "[";
            for (std::size_t i = 0; i < v.size(); i++) {
                if (i > 0) {
                    std::cout << ", ";
                }
                std::cout << v[i];
            }
            std::cout << "]\n";
        }
    """,
    "print_strings": r"""
        void print_strings(const std::vector<std::string>& v) {
            std::cout << "[";
            for (std::size_t i = 0; i < v.size(); i++) {
                if (i > 0) {
                    std::cout << ", ";
                }
                std::cout << "\"" << v[i] << "\"";
            }
            std::cout << "]\n";
        }
    """,
    "print_pairs": r"""
        void print_pairs(const std::vector<std::vector<long long>>& v) {
            std::cout << "[";
            for (std::size_t i = 0; i < v.size(); i++) {
                if (i > 0) {
                    std::cout << ", ";
                }
                std::cout << "[" << v[i][0] << ", " << v[i][1] << "]";
            }
            std::cout << "]\n";
        }
    """,
    "print_map": r"""
        void print_map(const std::map<std::string, long long>& m) {
            std::cout << "{";
            bool first = true;
            for (const auto& [key, value] : m) {
                if (!first) {
                    std::cout << ", ";
                }
                std::cout << "\"" << key << "\": " << value;
                first = false;
            }
            std::cout << "}\n";
        }
    """,
    "upper": r"""
        std::string upper(std::string s) {
            for (char& ch : s) {
                ch = std::toupper(ch);
            }
            return s;
        }
    """,
    "replace_all": r"""
        std::string replace_all(std::string s, char from, char to) {
            std::replace(s.begin(), s.end(), from, to);
            return s;
        }
    """,
    "repeat": r"""
        std::string repeat(const std::string& s, int times) {
            std::string out;
            for (int i = 0; i < times; i++) {
                out += s;
            }
            return out;
        }
    """,
}
#: Standard headers, included when the program uses a name they declare.
_CPP_INCLUDES = (
    ("<algorithm>", r"std::(sort|count|replace|max_element|min_element|max|min)\b"),
    ("<cctype>", r"std::toupper\b"),
    ("<cstdlib>", r"std::abs\b"),
    ("<functional>", r"std::function\b"),
    ("<iostream>", r"std::cout\b"),
    ("<map>", r"std::map\b"),
    ("<numeric>", r"std::accumulate\b"),
    ("<stdexcept>", r"std::(runtime_error|invalid_argument)\b"),
    ("<string>", r"std::(string|to_string)\b"),
    ("<vector>", r"std::vector\b"),
)


def _main_program(language: str, body: str, defs: str, inputs: Sequence[tuple[str, Any]]) -> str:
    """Assemble a C++ or Rust program: headers, helpers and ``defs``, then ``main`` running ``body``.

    The first line of ``main`` is a marker that :meth:`Program.source` replaces with the input block.
    """
    body = _code(body)
    defs = _code(defs) if defs.strip() else ""
    parts = []
    if language == "cpp":
        used = body + defs
        parts = [
            _code(src) for name, src in _CPP_LIBRARY.items() if re.search(rf"(?<![\w.:>]){name}\(", used)
        ]
    if defs:
        parts.append(defs)
    head = "int main() {\n" if language == "cpp" else "fn main() {\n"
    main = head + _MAIN_INDENT + _INPUT_MARK + "\n" + textwrap.indent(body, _MAIN_INDENT) + "}\n"
    text = "\n".join([*parts, main])
    declared = text + input_block(inputs, language)
    if language == "cpp":
        headers = [h for h, pattern in _CPP_INCLUDES if re.search(pattern, declared)]
        return "".join(f"#include {h}\n" for h in headers) + "\n" + text
    uses = []
    if "BTreeMap" in declared:
        uses.append("use std::collections::BTreeMap;\n")
    if "fmt::" in declared:
        uses.append("use std::fmt;\n")
    return "".join(uses) + ("\n" if uses else "") + text


# ----------------------------------------------------------------------------------------------------
# Programs


@dataclass(frozen=True)
class Program:
    """One drawn program, rendered in every language of its family.

    Attributes:
        family: Family name.
        difficulty: 1, 2 or 3.
        inputs: ``(name, value)`` pairs assigned at the top of the program (of ``main`` in C++ and Rust).
        code: ``{language: source}`` of the program without its input block (C++ and Rust: the whole
            program, with a marker line where the input block goes; see :meth:`body`).
        outputs: The values the program prints, one line each, computed by the generator
            (:class:`Native` where the languages print different values).
        topic: A short label of the variant within the family (``"collatz"``, ``"fizzbuzz"``).
        mutable: Inputs the program changes (Rust declares them ``let mut``).

    """

    family: str
    difficulty: int
    inputs: tuple[tuple[str, Any], ...]
    code: dict[str, str]
    outputs: tuple[Any, ...]
    topic: str = ""
    mutable: tuple[str, ...] = ()

    def input_block(self, language: str) -> str:
        """Return the input assignments in ``language`` (C++ and Rust: declarations, not indented)."""
        return input_block(self.inputs, language, self.mutable)

    def _rendering(self, language: str) -> str:
        _check_language(language)
        if language not in self.code:
            raise ValueError(
                f"family {self.family!r} has no {language} rendering; it has {sorted(self.code)}"
            )
        return self.code[language]

    def body(self, language: str) -> str:
        """Return the program without its input block."""
        return self._rendering(language).replace(_MAIN_INDENT + _INPUT_MARK + "\n", "")

    def source(self, language: str) -> str:
        """Return the full runnable program.

        Python and JavaScript: the input block, a blank line, then the code. C++ and Rust: the helpers,
        then ``main``, which opens with the input block and a blank line.
        """
        code = self._rendering(language)
        block = self.input_block(language)
        if language in MAIN_LANGUAGES:
            lines = textwrap.indent(block, _MAIN_INDENT)
            return code.replace(_MAIN_INDENT + _INPUT_MARK + "\n", lines + "\n" if lines else "")
        return block + "\n" + code

    def stdout(self, language: str) -> str:
        """Return what the program prints in ``language`` (from the generator's computed values)."""
        return expected_stdout(self.outputs, language)


def _program(
    family: str,
    level: int,
    topic: str,
    inputs: Sequence[tuple[str, Any]],
    py: str,
    js: str,
    outputs: Sequence[Any],
    *,
    cpp: str,
    rust: str,
    cpp_defs: str = "",
    rust_defs: str = "",
    mutable: Sequence[str] = (),
) -> Program:
    """Build a program from its templates: ``cpp`` / ``rust`` are the bodies of ``main``, ``*_defs`` the
    functions and types before it.
    """  # noqa: D205
    inputs = tuple(inputs)
    code = {
        "python": _code(py),
        "javascript": _code(js),
        "cpp": _main_program("cpp", cpp, cpp_defs, inputs),
        "rust": _main_program("rust", rust, rust_defs, inputs),
    }
    return Program(family, level, inputs, code, tuple(outputs), topic, tuple(mutable))


# -- arithmetic --------------------------------------------------------------------------------------

_PREC = {"+": 1, "-": 1, "*": 2, "//": 2, "%": 2}


def _arith_tree(rng: random.Random, leaves: Sequence[str], n_ops: int, ops: Sequence[str]) -> Any:
    if n_ops == 0:
        return rng.choice(leaves)
    left = rng.randint(0, n_ops - 1)
    return (
        rng.choice(ops),
        _arith_tree(rng, leaves, left, ops),
        _arith_tree(rng, leaves, n_ops - 1 - left, ops),
    )


def _arith_eval(node: Any, env: dict[str, int]) -> int:
    """Evaluate with Python semantics; raise ``ValueError`` where Python and JavaScript could disagree."""
    if isinstance(node, str):
        return env[node]
    op, left, right = node
    a, b = _arith_eval(left, env), _arith_eval(right, env)
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        if (a == 0 or b == 0) and (a < 0 or b < 0):
            raise ValueError("JavaScript would print -0")
        return a * b
    if b <= 0 or a < 0:
        raise ValueError("floor division and modulo only on non-negative operands")
    return a // b if op == "//" else a % b


def _arith_render(node: Any, language: str, parent_prec: int = 0, right: bool = False) -> str:
    if isinstance(node, str):
        return node
    op, left, right_node = node
    prec = _PREC[op]
    if op == "//" and language == "javascript":
        return (
            f"Math.floor({_arith_render(left, language, 2)} / {_arith_render(right_node, language, 2, True)})"
        )
    # C++ and Rust: `/` on non-negative integers is floor division, with Python's precedence.
    symbol = "/" if op == "//" and language in MAIN_LANGUAGES else op
    text = f"{_arith_render(left, language, prec)} {symbol} {_arith_render(right_node, language, prec, True)}"
    return f"({text})" if prec < parent_prec or (right and prec == parent_prec) else text


def _fam_arithmetic(rng: random.Random, level: int) -> Program:
    names = ["a", "b", "c"][: level + 1]
    ops = ["+", "-", "*"] if level == 1 else ["+", "-", "*", "//", "%"]
    while True:
        env = {n: rng.randint(1, 12 if level == 1 else 30) for n in names}
        tree = _arith_tree(rng, names, level if level < 3 else rng.randint(3, 4), ops)
        try:
            value = _arith_eval(tree, env)
            break
        except ValueError:
            continue
    py_expr, js_expr = _arith_render(tree, "python"), _arith_render(tree, "javascript")
    cpp_expr, rs_expr = _arith_render(tree, "cpp"), _arith_render(tree, "rust")
    if level == 1:
        py = f"result = {py_expr}\nprint(result)"
        js = f"let result = {js_expr};\nconsole.log(result);"
        cpp = f'long long result = {cpp_expr};\nstd::cout << result << "\\n";'
        rust = f'let result = {rs_expr};\nprintln!("{{}}", result);'
        return _program("arithmetic", level, "expression", env.items(), py, js, [value], cpp=cpp, rust=rust)
    k = rng.randint(2, 5)
    py = f"""
        result = {py_expr}
        print(result)
        result = result * {k} + a
        print(result)
    """
    js = f"""
        let result = {js_expr};
        console.log(result);
        result = result * {k} + a;
        console.log(result);
    """
    cpp = rf"""
        long long result = {cpp_expr};
        std::cout << result << "\n";
        result = result * {k} + a;
        std::cout << result << "\n";
    """
    rust = f"""
        let mut result = {rs_expr};
        println!("{{}}", result);
        result = result * {k} + a;
        println!("{{}}", result);
    """
    outputs = [value, value * k + env["a"]]
    return _program("arithmetic", level, "expression", env.items(), py, js, outputs, cpp=cpp, rust=rust)


# -- strings -----------------------------------------------------------------------------------------


class _StrOp(NamedTuple):
    """One string operation on ``{v}`` per language, and its Python reference."""

    py: str
    js: str
    cpp: str
    rust: str
    ref: Callable[[str], Any]
    #: Turns the reference value into what each language prints (``find``: ``npos`` / ``Option``).
    native: Callable[[Any], Any] | None = None

    def value(self, v: str) -> Any:
        value = self.ref(v)
        return value if self.native is None else self.native(value)


def _found(index: int) -> Native:
    """Return ``find``'s result per language: index or -1; C++ ``npos``; Rust ``Some(i)`` / ``None``."""
    return Native(
        index,
        (("cpp", index if index >= 0 else CPP_NPOS), ("rust", f"Some({index})" if index >= 0 else "None")),
    )


def _string_ops(rng: random.Random, s: str) -> list[_StrOp]:
    """Return the operations on ``{v}``; ``s`` guides the constants.

    C++ has no expression for ``upper``, ``replace`` (all) and ``repeat``: its programs define the small
    helper they call (:data:`_CPP_LIBRARY`).
    """
    c = rng.choice(sorted(set(s)) + ["e", "z"])
    new = rng.choice("xyz-")
    i = rng.randint(0, max(0, len(s) - 2))
    j = rng.randint(i + 1, len(s) + 1)
    k = rng.randint(2, 3)
    return [
        _StrOp("{v}.upper()", "{v}.toUpperCase()", "upper({v})", "{v}.to_uppercase()", str.upper),
        _StrOp(
            "{v}[::-1]",
            "{v}.split('').reverse().join('')",
            "std::string({v}.rbegin(), {v}.rend())",
            "{v}.chars().rev().collect::<String>()",
            lambda v: v[::-1],
        ),
        _StrOp("len({v})", "{v}.length", "{v}.size()", "{v}.len()", len),
        _StrOp(
            f"{{v}}[{i}:{j}]",
            f"{{v}}.slice({i}, {j})",
            f"{{v}}.substr({i}, {j - i})",
            f"{{v}}.chars().skip({i}).take({j - i}).collect::<String>()",
            lambda v: v[i:j],
        ),
        _StrOp(
            f"{{v}}.count({c!r})",
            f"{{v}}.split({c!r}).length - 1",
            f"std::count({{v}}.begin(), {{v}}.end(), {c!r})",
            f"{{v}}.matches({c!r}).count()",
            lambda v: v.count(c),
        ),
        _StrOp(
            f"{{v}}.replace({c!r}, {new!r})",
            f"{{v}}.replaceAll({c!r}, {new!r})",
            f"replace_all({{v}}, {c!r}, {new!r})",
            f"{{v}}.replace({c!r}, {json.dumps(new)})",
            lambda v: v.replace(c, new),
        ),
        _StrOp(
            f"{{v}}.find({c!r})",
            f"{{v}}.indexOf({c!r})",
            f"{{v}}.find({c!r})",
            f"{{v}}.find({c!r})",
            lambda v: v.find(c),
            _found,
        ),
        _StrOp(
            f"{{v}} * {k}", f"{{v}}.repeat({k})", f"repeat({{v}}, {k})", f"{{v}}.repeat({k})", lambda v: v * k
        ),
        _StrOp(
            f"{{v}}.startswith({c!r})",
            f"{{v}}.startsWith({c!r})",
            f"{{v}}.starts_with({c!r})",
            f"{{v}}.starts_with({c!r})",
            lambda v: v.startswith(c),
        ),
    ]


def _fam_strings(rng: random.Random, level: int) -> Program:
    s = rng.choice(WORDS)
    if level == 1:
        op = rng.choice(_string_ops(rng, s))
        value = op.value(s)
        py = f"print({op.py.format(v='s')})"
        js = _js_log(op.js.format(v="s"), value)
        cpp = _cpp_out(op.cpp.format(v="s"), value)
        rust = _rs_out(op.rust.format(v="s"), value, debug=op.native is not None)
        return _program("strings", level, "method", [("s", s)], py, js, [value], cpp=cpp, rust=rust)
    if level == 2:
        t = rng.choice([w for w in WORDS if w != s])
        op1 = rng.choice([op for op in _string_ops(rng, s) if isinstance(op.ref(s), str)])
        x = op1.ref(s)
        op2 = rng.choice(_string_ops(rng, x))
        value = op2.value(x + t)
        py = f"""
            x = {op1.py.format(v="s")}
            y = x + t
            print({op2.py.format(v="y")})
            print(f"{{x}}-{{t}}")
        """
        js = f"""
            let x = {op1.js.format(v="s")};
            let y = x + t;
            {_js_log(op2.js.format(v="y"), value)}
            console.log(`${{x}}-${{t}}`);
        """
        cpp = rf"""
            std::string x = {op1.cpp.format(v="s")};
            std::string y = x + t;
            {_cpp_out(op2.cpp.format(v="y"), value)}
            std::cout << x << "-" << t << "\n";
        """
        rust = f"""
            let x = {op1.rust.format(v="s")};
            let y = x.clone() + t;
            {_rs_out(op2.rust.format(v="y"), value, debug=op2.native is not None)}
            println!("{{}}-{{}}", x, t);
        """
        outputs = [value, f"{x}-{t}"]
        return _program("strings", level, "chain", [("s", s), ("t", t)], py, js, outputs, cpp=cpp, rust=rust)
    mode = rng.choice(["upper_vowels", "every_other", "run_length"])
    if mode == "upper_vowels":
        out = "".join(ch.upper() if ch in "aeiou" else ch for ch in s)
        py = """
            out = ""
            for ch in s:
                if ch in "aeiou":
                    out += ch.upper()
                else:
                    out += ch
            print(out)
        """
        js = """
            let out = "";
            for (const ch of s) {
              if ("aeiou".includes(ch)) {
                out += ch.toUpperCase();
              } else {
                out += ch;
              }
            }
            console.log(out);
        """
        cpp = r"""
            std::string out = "";
            for (char ch : s) {
                if (std::string("aeiou").find(ch) != std::string::npos) {
                    out += (char)std::toupper(ch);
                } else {
                    out += ch;
                }
            }
            std::cout << out << "\n";
        """
        rust = """
            let mut out = String::new();
            for ch in s.chars() {
                if "aeiou".contains(ch) {
                    out.push(ch.to_ascii_uppercase());
                } else {
                    out.push(ch);
                }
            }
            println!("{}", out);
        """
    elif mode == "every_other":
        out = s[::2]
        py = """
            out = ""
            for i in range(0, len(s), 2):
                out += s[i]
            print(out)
        """
        js = """
            let out = "";
            for (let i = 0; i < s.length; i += 2) {
              out += s[i];
            }
            console.log(out);
        """
        cpp = r"""
            std::string out = "";
            for (std::size_t i = 0; i < s.size(); i += 2) {
                out += s[i];
            }
            std::cout << out << "\n";
        """
        rust = """
            let chars: Vec<char> = s.chars().collect();
            let mut out = String::new();
            for i in (0..chars.len()).step_by(2) {
                out.push(chars[i]);
            }
            println!("{}", out);
        """
    else:
        s = rng.choice(["aabccc", "hello", "bookkeeper", "mississippi", "aaab", "abba", "zzzzy", "queue"])
        runs, prev, count = [], s[0], 0
        for ch in s:
            if ch == prev:
                count += 1
            else:
                runs.append(f"{prev}{count}")
                prev, count = ch, 1
        out = "".join(runs) + f"{prev}{count}"
        py = """
            out = ""
            prev = s[0]
            count = 0
            for ch in s:
                if ch == prev:
                    count += 1
                else:
                    out += prev + str(count)
                    prev = ch
                    count = 1
            out += prev + str(count)
            print(out)
        """
        js = """
            let out = "";
            let prev = s[0];
            let count = 0;
            for (const ch of s) {
              if (ch === prev) {
                count += 1;
              } else {
                out += prev + String(count);
                prev = ch;
                count = 1;
              }
            }
            out += prev + String(count);
            console.log(out);
        """
        cpp = r"""
            std::string out = "";
            char prev = s[0];
            int count = 0;
            for (char ch : s) {
                if (ch == prev) {
                    count += 1;
                } else {
                    out += prev + std::to_string(count);
                    prev = ch;
                    count = 1;
                }
            }
            out += prev + std::to_string(count);
            std::cout << out << "\n";
        """
        rust = """
            let mut out = String::new();
            let mut prev = s.chars().next().unwrap();
            let mut count = 0;
            for ch in s.chars() {
                if ch == prev {
                    count += 1;
                } else {
                    out += &format!("{}{}", prev, count);
                    prev = ch;
                    count = 1;
                }
            }
            out += &format!("{}{}", prev, count);
            println!("{}", out);
        """
    return _program("strings", level, mode, [("s", s)], py, js, [out], cpp=cpp, rust=rust)


# -- lists -------------------------------------------------------------------------------------------


def _fam_lists(rng: random.Random, level: int) -> Program:
    nums = [rng.randint(0, 20) for _ in range(rng.randint(3, 6))]
    if level == 1:
        i = rng.randint(-len(nums), len(nums) - 1)
        cpp_i = f"nums[{i}]" if i >= 0 else f"nums[nums.size() - {-i}]"
        rs_i = f"nums[{i}]" if i >= 0 else f"nums[nums.len() - {-i}]"
        sorted_cpp = "std::vector<long long> sorted = nums;\nstd::sort(sorted.begin(), sorted.end());\n"
        sorted_rs = "let mut sorted = nums.clone();\nsorted.sort();\n"
        py_e, js_e, cpp, rust, value = rng.choice(
            [
                (
                    "sum(nums)",
                    "nums.reduce((a, b) => a + b, 0)",
                    "std::accumulate(nums.begin(), nums.end(), 0LL)",
                    "nums.iter().sum::<i64>()",
                    sum(nums),
                ),
                (
                    "max(nums)",
                    "Math.max(...nums)",
                    "*std::max_element(nums.begin(), nums.end())",
                    "nums.iter().max().unwrap()",
                    max(nums),
                ),
                (
                    "min(nums)",
                    "Math.min(...nums)",
                    "*std::min_element(nums.begin(), nums.end())",
                    "nums.iter().min().unwrap()",
                    min(nums),
                ),
                ("len(nums)", "nums.length", "nums.size()", "nums.len()", len(nums)),
                ("sorted(nums)", "[...nums].sort((a, b) => a - b)", "sorted", "sorted", sorted(nums)),
                (
                    "nums[::-1]",
                    "[...nums].reverse()",
                    "std::vector<long long>(nums.rbegin(), nums.rend())",
                    "nums.iter().rev().collect::<Vec<_>>()",
                    nums[::-1],
                ),
                (f"nums[{i}]", f"nums.at({i})", cpp_i, rs_i, nums[i]),
                (
                    "nums[1:3]",
                    "nums.slice(1, 3)",
                    "std::vector<long long>(nums.begin() + 1, nums.begin() + 3)",
                    "&nums[1..3]",
                    nums[1:3],
                ),
            ]
        )
        cpp_body = (sorted_cpp if cpp == "sorted" else "") + _cpp_out(cpp, value)
        rs_body = (sorted_rs if rust == "sorted" else "") + _rs_out(rust, value)
        return _program(
            "lists",
            level,
            "builtin",
            [("nums", nums)],
            f"print({py_e})",
            _js_log(js_e, value),
            [value],
            cpp=cpp_body,
            rust=rs_body,
        )
    if level == 2:
        x, y, i = rng.randint(0, 20), rng.randint(0, 20), rng.randint(0, len(nums) - 1)
        state = [*nums, x]
        state[i] = y
        first = state.pop(0)
        py = f"""
            nums.append({x})
            nums[{i}] = {y}
            first = nums.pop(0)
            print(first)
            print(nums)
            print(len(nums))
        """
        js = f"""
            nums.push({x});
            nums[{i}] = {y};
            let first = nums.shift();
            console.log(first);
            console.log(JSON.stringify(nums));
            console.log(nums.length);
        """
        cpp = rf"""
            nums.push_back({x});
            nums[{i}] = {y};
            long long first = nums.front();
            nums.erase(nums.begin());
            std::cout << first << "\n";
            print_list(nums);
            std::cout << nums.size() << "\n";
        """
        rust = f"""
            nums.push({x});
            nums[{i}] = {y};
            let first = nums.remove(0);
            println!("{{}}", first);
            println!("{{:?}}", nums);
            println!("{{}}", nums.len());
        """
        return _program(
            "lists",
            level,
            "mutation",
            [("nums", nums)],
            py,
            js,
            [first, state, len(state)],
            cpp=cpp,
            rust=rust,
            mutable=("nums",),
        )
    mode = rng.choice(["filter_map", "running_max", "pairs"])
    if mode == "filter_map":
        k, m = rng.randint(2, 4), rng.randint(2, 3)
        result = [v * k for v in nums if v % m != 0]
        py = f"""
            result = [v * {k} for v in nums if v % {m} != 0]
            print(result)
            print(sum(result))
        """
        js = f"""
            let result = nums.filter(v => v % {m} !== 0).map(v => v * {k});
            console.log(JSON.stringify(result));
            console.log(result.reduce((a, b) => a + b, 0));
        """
        cpp = rf"""
            std::vector<long long> result;
            for (long long v : nums) {{
                if (v % {m} != 0) {{
                    result.push_back(v * {k});
                }}
            }}
            print_list(result);
            std::cout << std::accumulate(result.begin(), result.end(), 0LL) << "\n";
        """
        rust = f"""
            let result: Vec<i64> = nums.iter().filter(|&&v| v % {m} != 0).map(|&v| v * {k}).collect();
            println!("{{:?}}", result);
            println!("{{}}", result.iter().sum::<i64>());
        """
        outputs: list[Any] = [result, sum(result)]
    elif mode == "running_max":
        out = [max(nums[: i + 1]) for i in range(len(nums))]
        py = """
            best = nums[0]
            out = []
            for v in nums:
                if v > best:
                    best = v
                out.append(best)
            print(out)
        """
        js = """
            let best = nums[0];
            let out = [];
            for (const v of nums) {
              if (v > best) {
                best = v;
              }
              out.push(best);
            }
            console.log(JSON.stringify(out));
        """
        cpp = """
            long long best = nums[0];
            std::vector<long long> out;
            for (long long v : nums) {
                if (v > best) {
                    best = v;
                }
                out.push_back(best);
            }
            print_list(out);
        """
        rust = """
            let mut best = nums[0];
            let mut out = Vec::new();
            for &v in &nums {
                if v > best {
                    best = v;
                }
                out.push(best);
            }
            println!("{:?}", out);
        """
        outputs = [out]
    else:
        target = rng.randint(10, 30)
        n = len(nums)
        pairs = [[nums[i], nums[j]] for i in range(n) for j in range(i + 1, n) if nums[i] + nums[j] == target]
        py = f"""
            pairs = []
            for i in range(len(nums)):
                for j in range(i + 1, len(nums)):
                    if nums[i] + nums[j] == {target}:
                        pairs.append([nums[i], nums[j]])
            print(pairs)
            print(len(pairs))
        """
        js = f"""
            let pairs = [];
            for (let i = 0; i < nums.length; i++) {{
              for (let j = i + 1; j < nums.length; j++) {{
                if (nums[i] + nums[j] === {target}) {{
                  pairs.push([nums[i], nums[j]]);
                }}
              }}
            }}
            console.log(JSON.stringify(pairs));
            console.log(pairs.length);
        """
        cpp = rf"""
            std::vector<std::vector<long long>> pairs;
            for (std::size_t i = 0; i < nums.size(); i++) {{
                for (std::size_t j = i + 1; j < nums.size(); j++) {{
                    if (nums[i] + nums[j] == {target}) {{
                        pairs.push_back({{nums[i], nums[j]}});
                    }}
                }}
            }}
            print_pairs(pairs);
            std::cout << pairs.size() << "\n";
        """
        rust = f"""
            let mut pairs: Vec<[i64; 2]> = Vec::new();
            for i in 0..nums.len() {{
                for j in (i + 1)..nums.len() {{
                    if nums[i] + nums[j] == {target} {{
                        pairs.push([nums[i], nums[j]]);
                    }}
                }}
            }}
            println!("{{:?}}", pairs);
            println!("{{}}", pairs.len());
        """
        outputs = [pairs, len(pairs)]
    return _program("lists", level, mode, [("nums", nums)], py, js, outputs, cpp=cpp, rust=rust)


# -- dicts -------------------------------------------------------------------------------------------


def _fam_dicts(rng: random.Random, level: int) -> Program:
    if level == 1:
        keys = rng.sample(NAMES, rng.randint(2, 4))
        ages = {k: rng.randint(5, 60) for k in keys}
        key = rng.choice(keys)
        cpp_sum = """
            long long total = 0;
            for (const auto& [name, age] : ages) {
                total += age;
            }
            std::cout << total << "\\n";
        """
        mode, py_e, js_e, cpp, rust, value = rng.choice(
            [
                (
                    "lookup",
                    f"ages[{key!r}]",
                    f"ages[{json.dumps(key)}]",
                    _cpp_out(f"ages[{json.dumps(key)}]", 0),
                    _rs_out(f"ages[{json.dumps(key)}]", 0),
                    ages[key],
                ),
                (
                    "size",
                    "len(ages)",
                    "Object.keys(ages).length",
                    _cpp_out("ages.size()", 0),
                    _rs_out("ages.len()", 0),
                    len(ages),
                ),
                (
                    "sum",
                    "sum(ages.values())",
                    "Object.values(ages).reduce((a, b) => a + b, 0)",
                    cpp_sum,
                    _rs_out("ages.values().sum::<i64>()", 0),
                    sum(ages.values()),
                ),
            ]
        )
        return _program(
            "dicts",
            level,
            mode,
            [("ages", ages)],
            f"print({py_e})",
            _js_log(js_e, value),
            [value],
            cpp=cpp,
            rust=rust,
        )
    if level == 2:
        keys = rng.sample(NAMES, 3)
        stock = {k: rng.randint(0, 9) for k in keys[:2]}
        state = dict(stock)
        py_lines, js_lines, cpp_lines, rs_lines = [], [], [], []
        for _ in range(3):
            key, amount = rng.choice(keys), rng.randint(1, 5)
            state[key] = state.get(key, 0) + amount
            py_lines.append(f"stock[{key!r}] = stock.get({key!r}, 0) + {amount}")
            js_lines.append(f'stock["{key}"] = (stock["{key}"] || 0) + {amount};')
            cpp_lines.append(f'stock["{key}"] += {amount};')
            rs_lines.append(f'*stock.entry("{key}").or_insert(0) += {amount};')
        py = "\n".join([*py_lines, "print(stock)", "print(len(stock))"])
        js = "\n".join(
            [*js_lines, "console.log(JSON.stringify(stock));", "console.log(Object.keys(stock).length);"]
        )
        cpp = "\n".join([*cpp_lines, "print_map(stock);", 'std::cout << stock.size() << "\\n";'])
        rust = "\n".join([*rs_lines, 'println!("{:?}", stock);', 'println!("{}", stock.len());'])
        return _program(
            "dicts",
            level,
            "update",
            [("stock", stock)],
            py,
            js,
            [state, len(state)],
            cpp=cpp,
            rust=rust,
            mutable=("stock",),
        )
    words = [rng.choice(WORDS[:6]) for _ in range(rng.randint(4, 8))]
    counts: dict[str, int] = {}
    for w in words:
        counts[w] = counts.get(w, 0) + 1
    many = sorted(w for w, n in counts.items() if n > 1)
    py = """
        counts = {}
        for w in words:
            counts[w] = counts.get(w, 0) + 1
        print(counts)
        many = sorted(w for w in counts if counts[w] > 1)
        print(many)
    """
    js = """
        let counts = {};
        for (const w of words) {
          counts[w] = (counts[w] || 0) + 1;
        }
        console.log(JSON.stringify(counts));
        let many = Object.keys(counts).filter(w => counts[w] > 1).sort();
        console.log(JSON.stringify(many));
    """
    cpp = """
        std::map<std::string, long long> counts;
        for (const std::string& w : words) {
            counts[w] += 1;
        }
        print_map(counts);
        std::vector<std::string> many;
        for (const auto& [w, n] : counts) {
            if (n > 1) {
                many.push_back(w);
            }
        }
        print_strings(many);
    """
    rust = """
        let mut counts: BTreeMap<&str, i64> = BTreeMap::new();
        for &w in &words {
            *counts.entry(w).or_insert(0) += 1;
        }
        println!("{:?}", counts);
        let many: Vec<&str> = counts.iter().filter(|(_, &n)| n > 1).map(|(&w, _)| w).collect();
        println!("{:?}", many);
    """
    return _program(
        "dicts", level, "word_count", [("words", words)], py, js, [counts, many], cpp=cpp, rust=rust
    )


# -- loops -------------------------------------------------------------------------------------------


def _fam_loops(rng: random.Random, level: int) -> Program:
    if level == 1:
        lo = rng.randint(0, 5)
        hi = lo + rng.randint(2, 8)
        step = rng.choice([1, 1, 2, 3])
        py = f"""
            total = 0
            for i in range(lo, hi, {step}):
                total += i
            print(total)
        """
        js = f"""
            let total = 0;
            for (let i = lo; i < hi; i += {step}) {{
              total += i;
            }}
            console.log(total);
        """
        cpp = rf"""
            long long total = 0;
            for (long long i = lo; i < hi; i += {step}) {{
                total += i;
            }}
            std::cout << total << "\n";
        """
        rs_range = "lo..hi" if step == 1 else f"(lo..hi).step_by({step})"
        rust = f"""
            let mut total = 0;
            for i in {rs_range} {{
                total += i;
            }}
            println!("{{}}", total);
        """
        return _program(
            "loops",
            level,
            "range_sum",
            [("lo", lo), ("hi", hi)],
            py,
            js,
            [sum(range(lo, hi, step))],
            cpp=cpp,
            rust=rust,
        )
    if level == 2:
        mode = rng.choice(["halving", "multiples", "squares"])
        if mode == "halving":
            n = rng.randint(5, 500)
            py = """
                steps = 0
                while n > 1:
                    n = n // 2
                    steps += 1
                print(steps)
            """
            js = """
                let steps = 0;
                while (n > 1) {
                  n = Math.floor(n / 2);
                  steps += 1;
                }
                console.log(steps);
            """
            cpp = r"""
                int steps = 0;
                while (n > 1) {
                    n = n / 2;
                    steps += 1;
                }
                std::cout << steps << "\n";
            """
            rust = """
                let mut steps = 0;
                while n > 1 {
                    n = n / 2;
                    steps += 1;
                }
                println!("{}", steps);
            """
            return _program(
                "loops",
                level,
                mode,
                [("n", n)],
                py,
                js,
                [n.bit_length() - 1],
                cpp=cpp,
                rust=rust,
                mutable=("n",),
            )
        if mode == "multiples":
            n, k = rng.randint(10, 40), rng.randint(2, 7)
            hits = [i for i in range(1, n + 1) if i % k == 0]
            py = f"""
                count = 0
                total = 0
                for i in range(1, n + 1):
                    if i % {k} == 0:
                        count += 1
                        total += i
                print(count)
                print(total)
            """
            js = f"""
                let count = 0;
                let total = 0;
                for (let i = 1; i <= n; i++) {{
                  if (i % {k} === 0) {{
                    count += 1;
                    total += i;
                  }}
                }}
                console.log(count);
                console.log(total);
            """
            cpp = rf"""
                int count = 0;
                long long total = 0;
                for (long long i = 1; i <= n; i++) {{
                    if (i % {k} == 0) {{
                        count += 1;
                        total += i;
                    }}
                }}
                std::cout << count << "\n";
                std::cout << total << "\n";
            """
            rust = f"""
                let mut count = 0;
                let mut total = 0;
                for i in 1..=n {{
                    if i % {k} == 0 {{
                        count += 1;
                        total += i;
                    }}
                }}
                println!("{{}}", count);
                println!("{{}}", total);
            """
            return _program(
                "loops", level, mode, [("n", n)], py, js, [len(hits), sum(hits)], cpp=cpp, rust=rust
            )
        n = rng.randint(2, 5)
        py = """
            for i in range(1, n + 1):
                print(i * i)
        """
        js = """
            for (let i = 1; i <= n; i++) {
              console.log(i * i);
            }
        """
        cpp = r"""
            for (long long i = 1; i <= n; i++) {
                std::cout << i * i << "\n";
            }
        """
        rust = """
            for i in 1..=n {
                println!("{}", i * i);
            }
        """
        return _program(
            "loops", level, mode, [("n", n)], py, js, [i * i for i in range(1, n + 1)], cpp=cpp, rust=rust
        )
    mode = rng.choice(["collatz", "digits", "nested"])
    if mode == "collatz":
        n = rng.randint(2, 30)
        steps, m, peak = 0, n, n
        while m != 1:
            m = m // 2 if m % 2 == 0 else 3 * m + 1
            peak, steps = max(peak, m), steps + 1
        py = """
            steps = 0
            peak = n
            while n != 1:
                if n % 2 == 0:
                    n = n // 2
                else:
                    n = 3 * n + 1
                peak = max(peak, n)
                steps += 1
            print(steps)
            print(peak)
        """
        js = """
            let steps = 0;
            let peak = n;
            while (n !== 1) {
              if (n % 2 === 0) {
                n = n / 2;
              } else {
                n = 3 * n + 1;
              }
              peak = Math.max(peak, n);
              steps += 1;
            }
            console.log(steps);
            console.log(peak);
        """
        cpp = r"""
            int steps = 0;
            long long peak = n;
            while (n != 1) {
                if (n % 2 == 0) {
                    n = n / 2;
                } else {
                    n = 3 * n + 1;
                }
                peak = std::max(peak, n);
                steps += 1;
            }
            std::cout << steps << "\n";
            std::cout << peak << "\n";
        """
        rust = """
            let mut steps = 0;
            let mut peak = n;
            while n != 1 {
                if n % 2 == 0 {
                    n = n / 2;
                } else {
                    n = 3 * n + 1;
                }
                peak = peak.max(n);
                steps += 1;
            }
            println!("{}", steps);
            println!("{}", peak);
        """
        return _program(
            "loops", level, mode, [("n", n)], py, js, [steps, peak], cpp=cpp, rust=rust, mutable=("n",)
        )
    if mode == "digits":
        n = rng.randint(100, 99999)
        py = """
            total = 0
            rev = 0
            while n > 0:
                d = n % 10
                total += d
                rev = rev * 10 + d
                n = n // 10
            print(total)
            print(rev)
        """
        js = """
            let total = 0;
            let rev = 0;
            while (n > 0) {
              const d = n % 10;
              total += d;
              rev = rev * 10 + d;
              n = Math.floor(n / 10);
            }
            console.log(total);
            console.log(rev);
        """
        cpp = r"""
            long long total = 0;
            long long rev = 0;
            while (n > 0) {
                long long d = n % 10;
                total += d;
                rev = rev * 10 + d;
                n = n / 10;
            }
            std::cout << total << "\n";
            std::cout << rev << "\n";
        """
        rust = """
            let mut total = 0;
            let mut rev = 0;
            while n > 0 {
                let d = n % 10;
                total += d;
                rev = rev * 10 + d;
                n = n / 10;
            }
            println!("{}", total);
            println!("{}", rev);
        """
        outputs = [sum(map(int, str(n))), int(str(n)[::-1])]
        return _program("loops", level, mode, [("n", n)], py, js, outputs, cpp=cpp, rust=rust, mutable=("n",))
    n, k = rng.randint(3, 7), rng.randint(2, 5)
    count = sum(1 for i in range(n) for j in range(i + 1, n) if (i + j) % k == 0)
    py = f"""
        count = 0
        for i in range(n):
            for j in range(i + 1, n):
                if (i + j) % {k} == 0:
                    count += 1
        print(count)
    """
    js = f"""
        let count = 0;
        for (let i = 0; i < n; i++) {{
          for (let j = i + 1; j < n; j++) {{
            if ((i + j) % {k} === 0) {{
              count += 1;
            }}
          }}
        }}
        console.log(count);
    """
    cpp = rf"""
        int count = 0;
        for (long long i = 0; i < n; i++) {{
            for (long long j = i + 1; j < n; j++) {{
                if ((i + j) % {k} == 0) {{
                    count += 1;
                }}
            }}
        }}
        std::cout << count << "\n";
    """
    rust = f"""
        let mut count = 0;
        for i in 0..n {{
            for j in (i + 1)..n {{
                if (i + j) % {k} == 0 {{
                    count += 1;
                }}
            }}
        }}
        println!("{{}}", count);
    """
    return _program("loops", level, mode, [("n", n)], py, js, [count], cpp=cpp, rust=rust)


# -- conditionals ------------------------------------------------------------------------------------


def _fam_conditionals(rng: random.Random, level: int) -> Program:
    if level == 1:
        x, k = rng.randint(0, 30), rng.randint(5, 25)
        yes, no = rng.choice([("big", "small"), ("high", "low"), ("yes", "no")])
        py = f"""
            if x > {k}:
                print("{yes}")
            else:
                print("{no}")
        """
        js = f"""
            if (x > {k}) {{
              console.log("{yes}");
            }} else {{
              console.log("{no}");
            }}
        """
        cpp = rf"""
            if (x > {k}) {{
                std::cout << "{yes}\n";
            }} else {{
                std::cout << "{no}\n";
            }}
        """
        rust = f"""
            if x > {k} {{
                println!("{yes}");
            }} else {{
                println!("{no}");
            }}
        """
        outputs = [yes if x > k else no]
        return _program("conditionals", level, "if_else", [("x", x)], py, js, outputs, cpp=cpp, rust=rust)
    if level == 2:
        xs = [rng.randint(-10, 30) for _ in range(3)]
        lo, hi = rng.randint(0, 5), rng.randint(10, 20)
        labels = ["negative" if x < lo else "medium" if x <= hi else "large" for x in xs]
        py = f"""
            for x in xs:
                if x < {lo}:
                    print("negative")
                elif x <= {hi}:
                    print("medium")
                else:
                    print("large")
        """
        js = f"""
            for (const x of xs) {{
              if (x < {lo}) {{
                console.log("negative");
              }} else if (x <= {hi}) {{
                console.log("medium");
              }} else {{
                console.log("large");
              }}
            }}
        """
        cpp = rf"""
            for (long long x : xs) {{
                if (x < {lo}) {{
                    std::cout << "negative\n";
                }} else if (x <= {hi}) {{
                    std::cout << "medium\n";
                }} else {{
                    std::cout << "large\n";
                }}
            }}
        """
        rust = f"""
            for x in xs {{
                if x < {lo} {{
                    println!("negative");
                }} else if x <= {hi} {{
                    println!("medium");
                }} else {{
                    println!("large");
                }}
            }}
        """
        return _program("conditionals", level, "elif", [("xs", xs)], py, js, labels, cpp=cpp, rust=rust)
    lo = rng.randint(1, 12)
    hi = lo + rng.randint(4, 8)
    a, b = rng.choice([(3, 5), (2, 3), (2, 5), (3, 4)])  # coprime, so both divide i iff a * b does
    lines = [
        "FizzBuzz" if i % (a * b) == 0 else "Fizz" if i % a == 0 else "Buzz" if i % b == 0 else i
        for i in range(lo, hi)
    ]
    py = f"""
        for i in range(lo, hi):
            if i % {a * b} == 0:
                print("FizzBuzz")
            elif i % {a} == 0:
                print("Fizz")
            elif i % {b} == 0:
                print("Buzz")
            else:
                print(i)
    """
    js = f"""
        for (let i = lo; i < hi; i++) {{
          if (i % {a * b} === 0) {{
            console.log("FizzBuzz");
          }} else if (i % {a} === 0) {{
            console.log("Fizz");
          }} else if (i % {b} === 0) {{
            console.log("Buzz");
          }} else {{
            console.log(i);
          }}
        }}
    """
    cpp = rf"""
        for (long long i = lo; i < hi; i++) {{
            if (i % {a * b} == 0) {{
                std::cout << "FizzBuzz\n";
            }} else if (i % {a} == 0) {{
                std::cout << "Fizz\n";
            }} else if (i % {b} == 0) {{
                std::cout << "Buzz\n";
            }} else {{
                std::cout << i << "\n";
            }}
        }}
    """
    rust = f"""
        for i in lo..hi {{
            if i % {a * b} == 0 {{
                println!("FizzBuzz");
            }} else if i % {a} == 0 {{
                println!("Fizz");
            }} else if i % {b} == 0 {{
                println!("Buzz");
            }} else {{
                println!("{{}}", i);
            }}
        }}
    """
    inputs = [("lo", lo), ("hi", hi)]
    return _program("conditionals", level, "fizzbuzz", inputs, py, js, lines, cpp=cpp, rust=rust)


# -- recursion ---------------------------------------------------------------------------------------


def _fam_recursion(rng: random.Random, level: int) -> Program:
    if level == 1:
        n = rng.randint(0, 10)
        if rng.random() < 0.5:
            value = 1
            for i in range(2, n + 1):
                value *= i
            mode, base_case, base, combine = "factorial", "n <= 1", 1, "*"
        else:
            value, mode, base_case, base, combine = n * (n + 1) // 2, "sum_to", "n == 0", 0, "+"
        js_case = base_case.replace("==", "===")
        py = f"""
            def f(n):
                if {base_case}:
                    return {base}
                return n {combine} f(n - 1)

            print(f(n))
        """
        js = f"""
            function f(n) {{
              if ({js_case}) {{
                return {base};
              }}
              return n {combine} f(n - 1);
            }}

            console.log(f(n));
        """
        cpp_defs = f"""
            long long f(long long n) {{
                if ({base_case}) {{
                    return {base};
                }}
                return n {combine} f(n - 1);
            }}
        """
        rust_defs = f"""
            fn f(n: i64) -> i64 {{
                if {base_case} {{
                    return {base};
                }}
                n {combine} f(n - 1)
            }}
        """
        return _program(
            "recursion",
            level,
            mode,
            [("n", n)],
            py,
            js,
            [value],
            cpp=r'std::cout << f(n) << "\n";',
            cpp_defs=cpp_defs,
            rust='println!("{}", f(n));',
            rust_defs=rust_defs,
        )
    if level == 2:
        mode = rng.choice(["fib", "power", "digit_sum"])
        if mode == "fib":
            n = rng.randint(1, 15)
            a, b = 0, 1
            for _ in range(n):
                a, b = b, a + b
            py = """
                def fib(n):
                    if n < 2:
                        return n
                    return fib(n - 1) + fib(n - 2)

                print(fib(n))
            """
            js = """
                function fib(n) {
                  if (n < 2) {
                    return n;
                  }
                  return fib(n - 1) + fib(n - 2);
                }

                console.log(fib(n));
            """
            cpp_defs = """
                long long fib(long long n) {
                    if (n < 2) {
                        return n;
                    }
                    return fib(n - 1) + fib(n - 2);
                }
            """
            rust_defs = """
                fn fib(n: i64) -> i64 {
                    if n < 2 {
                        return n;
                    }
                    fib(n - 1) + fib(n - 2)
                }
            """
            return _program(
                "recursion",
                level,
                mode,
                [("n", n)],
                py,
                js,
                [a],
                cpp=r'std::cout << fib(n) << "\n";',
                cpp_defs=cpp_defs,
                rust='println!("{}", fib(n));',
                rust_defs=rust_defs,
            )
        if mode == "power":
            base, exp = rng.randint(2, 5), rng.randint(0, 8)
            py = """
                def power(b, e):
                    if e == 0:
                        return 1
                    return b * power(b, e - 1)

                print(power(base, exp))
            """
            js = """
                function power(b, e) {
                  if (e === 0) {
                    return 1;
                  }
                  return b * power(b, e - 1);
                }

                console.log(power(base, exp));
            """
            cpp_defs = """
                long long power(long long b, long long e) {
                    if (e == 0) {
                        return 1;
                    }
                    return b * power(b, e - 1);
                }
            """
            rust_defs = """
                fn power(b: i64, e: i64) -> i64 {
                    if e == 0 {
                        return 1;
                    }
                    b * power(b, e - 1)
                }
            """
            return _program(
                "recursion",
                level,
                mode,
                [("base", base), ("exp", exp)],
                py,
                js,
                [base**exp],
                cpp=r'std::cout << power(base, exp) << "\n";',
                cpp_defs=cpp_defs,
                rust='println!("{}", power(base, exp));',
                rust_defs=rust_defs,
            )
        n = rng.randint(10, 99999)
        py = """
            def digit_sum(n):
                if n < 10:
                    return n
                return n % 10 + digit_sum(n // 10)

            print(digit_sum(n))
        """
        js = """
            function digitSum(n) {
              if (n < 10) {
                return n;
              }
              return n % 10 + digitSum(Math.floor(n / 10));
            }

            console.log(digitSum(n));
        """
        cpp_defs = """
            long long digit_sum(long long n) {
                if (n < 10) {
                    return n;
                }
                return n % 10 + digit_sum(n / 10);
            }
        """
        rust_defs = """
            fn digit_sum(n: i64) -> i64 {
                if n < 10 {
                    return n;
                }
                n % 10 + digit_sum(n / 10)
            }
        """
        return _program(
            "recursion",
            level,
            mode,
            [("n", n)],
            py,
            js,
            [sum(map(int, str(n)))],
            cpp=r'std::cout << digit_sum(n) << "\n";',
            cpp_defs=cpp_defs,
            rust='println!("{}", digit_sum(n));',
            rust_defs=rust_defs,
        )
    mode = rng.choice(["gcd", "binary", "countdown"])
    if mode == "gcd":
        g = rng.randint(1, 9)
        a, b = g * rng.randint(1, 12), g * rng.randint(1, 12)
        calls, x, y = 1, a, b
        while y != 0:
            x, y, calls = y, x % y, calls + 1
        py = """
            calls = 0

            def gcd(a, b):
                global calls
                calls += 1
                if b == 0:
                    return a
                return gcd(b, a % b)

            print(gcd(a, b))
            print(calls)
        """
        js = """
            let calls = 0;

            function gcd(a, b) {
              calls += 1;
              if (b === 0) {
                return a;
              }
              return gcd(b, a % b);
            }

            console.log(gcd(a, b));
            console.log(calls);
        """
        cpp_defs = """
            long long calls = 0;

            long long gcd(long long a, long long b) {
                calls += 1;
                if (b == 0) {
                    return a;
                }
                return gcd(b, a % b);
            }
        """
        cpp = r"""
            std::cout << gcd(a, b) << "\n";
            std::cout << calls << "\n";
        """
        rust_defs = """
            fn gcd(a: i64, b: i64, calls: &mut i64) -> i64 {
                *calls += 1;
                if b == 0 {
                    return a;
                }
                gcd(b, a % b, calls)
            }
        """
        rust = """
            let mut calls = 0;
            println!("{}", gcd(a, b, &mut calls));
            println!("{}", calls);
        """
        return _program(
            "recursion",
            level,
            mode,
            [("a", a), ("b", b)],
            py,
            js,
            [x, calls],
            cpp=cpp,
            cpp_defs=cpp_defs,
            rust=rust,
            rust_defs=rust_defs,
        )
    if mode == "binary":
        n = rng.randint(1, 200)
        py = """
            def to_binary(n):
                if n < 2:
                    return str(n)
                return to_binary(n // 2) + str(n % 2)

            print(to_binary(n))
            print(len(to_binary(n)))
        """
        js = """
            function toBinary(n) {
              if (n < 2) {
                return String(n);
              }
              return toBinary(Math.floor(n / 2)) + String(n % 2);
            }

            console.log(toBinary(n));
            console.log(toBinary(n).length);
        """
        cpp_defs = """
            std::string to_binary(long long n) {
                if (n < 2) {
                    return std::to_string(n);
                }
                return to_binary(n / 2) + std::to_string(n % 2);
            }
        """
        cpp = r"""
            std::cout << to_binary(n) << "\n";
            std::cout << to_binary(n).size() << "\n";
        """
        rust_defs = """
            fn to_binary(n: i64) -> String {
                if n < 2 {
                    return n.to_string();
                }
                to_binary(n / 2) + &(n % 2).to_string()
            }
        """
        rust = """
            println!("{}", to_binary(n));
            println!("{}", to_binary(n).len());
        """
        return _program(
            "recursion",
            level,
            mode,
            [("n", n)],
            py,
            js,
            [format(n, "b"), n.bit_length()],
            cpp=cpp,
            cpp_defs=cpp_defs,
            rust=rust,
            rust_defs=rust_defs,
        )
    n, step = rng.randint(3, 12), rng.randint(2, 4)
    py = f"""
        def countdown(n):
            if n <= 0:
                print("done")
                return
            print(n)
            countdown(n - {step})

        countdown(n)
    """
    js = f"""
        function countdown(n) {{
          if (n <= 0) {{
            console.log("done");
            return;
          }}
          console.log(n);
          countdown(n - {step});
        }}

        countdown(n);
    """
    cpp_defs = rf"""
        void countdown(long long n) {{
            if (n <= 0) {{
                std::cout << "done\n";
                return;
            }}
            std::cout << n << "\n";
            countdown(n - {step});
        }}
    """
    rust_defs = f"""
        fn countdown(n: i64) {{
            if n <= 0 {{
                println!("done");
                return;
            }}
            println!("{{}}", n);
            countdown(n - {step});
        }}
    """
    return _program(
        "recursion",
        level,
        mode,
        [("n", n)],
        py,
        js,
        [*range(n, 0, -step), "done"],
        cpp="countdown(n);",
        cpp_defs=cpp_defs,
        rust="countdown(n);",
        rust_defs=rust_defs,
    )


# -- functions ---------------------------------------------------------------------------------------


def _fam_functions(rng: random.Random, level: int) -> Program:
    a, b, k = rng.randint(1, 20), rng.randint(1, 20), rng.randint(2, 5)
    if level == 1:
        c = rng.randint(1, 9)
        py = f"""
            def scale(x):
                return x * {k}

            print(scale(a) + {c})
        """
        js = f"""
            function scale(x) {{
              return x * {k};
            }}

            console.log(scale(a) + {c});
        """
        cpp_defs = f"""
            long long scale(long long x) {{
                return x * {k};
            }}
        """
        rust_defs = f"""
            fn scale(x: i64) -> i64 {{
                x * {k}
            }}
        """
        return _program(
            "functions",
            level,
            "call",
            [("a", a)],
            py,
            js,
            [a * k + c],
            cpp=f'std::cout << scale(a) + {c} << "\\n";',
            cpp_defs=cpp_defs,
            rust=f'println!("{{}}", scale(a) + {c});',
            rust_defs=rust_defs,
        )
    if level == 2:
        py = f"""
            def scale(x, k={k}):
                return x * k

            def combine(x, y):
                return scale(x) - scale(y, 1)

            print(scale(a))
            print(scale(a, b))
            print(combine(a, b))
        """
        js = f"""
            function scale(x, k = {k}) {{
              return x * k;
            }}

            function combine(x, y) {{
              return scale(x) - scale(y, 1);
            }}

            console.log(scale(a));
            console.log(scale(a, b));
            console.log(combine(a, b));
        """
        cpp_defs = f"""
            long long scale(long long x, long long k = {k}) {{
                return x * k;
            }}

            long long combine(long long x, long long y) {{
                return scale(x) - scale(y, 1);
            }}
        """
        cpp = r"""
            std::cout << scale(a) << "\n";
            std::cout << scale(a, b) << "\n";
            std::cout << combine(a, b) << "\n";
        """
        # Rust has no default arguments: an optional parameter is an Option.
        rust_defs = f"""
            fn scale(x: i64, k: Option<i64>) -> i64 {{
                x * k.unwrap_or({k})
            }}

            fn combine(x: i64, y: i64) -> i64 {{
                scale(x, None) - scale(y, Some(1))
            }}
        """
        rust = """
            println!("{}", scale(a, None));
            println!("{}", scale(a, Some(b)));
            println!("{}", combine(a, b));
        """
        return _program(
            "functions",
            level,
            "defaults",
            [("a", a), ("b", b)],
            py,
            js,
            [a * k, a * b, a * k - b],
            cpp=cpp,
            cpp_defs=cpp_defs,
            rust=rust,
            rust_defs=rust_defs,
        )
    c = rng.randint(1, 6)
    if rng.random() < 0.5:
        py = f"""
            def apply_twice(f, x):
                return f(f(x))

            print(apply_twice(lambda v: v * {k}, a))
            print(apply_twice(lambda v: v - {c}, b))
        """
        js = f"""
            function applyTwice(f, x) {{
              return f(f(x));
            }}

            console.log(applyTwice(v => v * {k}, a));
            console.log(applyTwice(v => v - {c}, b));
        """
        cpp_defs = """
            long long apply_twice(const std::function<long long(long long)>& f, long long x) {
                return f(f(x));
            }
        """
        cpp = rf"""
            std::cout << apply_twice([](long long v) {{ return v * {k}; }}, a) << "\n";
            std::cout << apply_twice([](long long v) {{ return v - {c}; }}, b) << "\n";
        """
        rust_defs = """
            fn apply_twice(f: impl Fn(i64) -> i64, x: i64) -> i64 {
                f(f(x))
            }
        """
        rust = f"""
            println!("{{}}", apply_twice(|v| v * {k}, a));
            println!("{{}}", apply_twice(|v| v - {c}, b));
        """
        return _program(
            "functions",
            level,
            "apply_twice",
            [("a", a), ("b", b)],
            py,
            js,
            [a * k * k, b - 2 * c],
            cpp=cpp,
            cpp_defs=cpp_defs,
            rust=rust,
            rust_defs=rust_defs,
        )
    py = f"""
        def make_adder(n):
            def add(x):
                return x + n
            return add

        add_k = make_adder({k})
        add_b = make_adder(b)
        print(add_k(a))
        print(add_b(add_k(a)))
    """
    js = f"""
        function makeAdder(n) {{
          return x => x + n;
        }}

        const addK = makeAdder({k});
        const addB = makeAdder(b);
        console.log(addK(a));
        console.log(addB(addK(a)));
    """
    cpp_defs = """
        std::function<long long(long long)> make_adder(long long n) {
            return [n](long long x) { return x + n; };
        }
    """
    cpp = rf"""
        auto add_k = make_adder({k});
        auto add_b = make_adder(b);
        std::cout << add_k(a) << "\n";
        std::cout << add_b(add_k(a)) << "\n";
    """
    rust_defs = """
        fn make_adder(n: i64) -> impl Fn(i64) -> i64 {
            move |x| x + n
        }
    """
    rust = f"""
        let add_k = make_adder({k});
        let add_b = make_adder(b);
        println!("{{}}", add_k(a));
        println!("{{}}", add_b(add_k(a)));
    """
    return _program(
        "functions",
        level,
        "closure",
        [("a", a), ("b", b)],
        py,
        js,
        [a + k, a + k + b],
        cpp=cpp,
        cpp_defs=cpp_defs,
        rust=rust,
        rust_defs=rust_defs,
    )


# -- classes -----------------------------------------------------------------------------------------


def _fam_classes(rng: random.Random, level: int) -> Program:
    if level == 1:
        x, y = rng.randint(-10, 10), rng.randint(-10, 10)
        py = """
            class Point:
                def __init__(self, x, y):
                    self.x = x
                    self.y = y

                def manhattan(self):
                    return abs(self.x) + abs(self.y)

            p = Point(x, y)
            print(p.manhattan())
        """
        js = """
            class Point {
              constructor(x, y) {
                this.x = x;
                this.y = y;
              }

              manhattan() {
                return Math.abs(this.x) + Math.abs(this.y);
              }
            }

            const p = new Point(x, y);
            console.log(p.manhattan());
        """
        cpp_defs = """
            class Point {
            public:
                Point(long long x, long long y) : x_(x), y_(y) {}

                long long manhattan() const {
                    return std::abs(x_) + std::abs(y_);
                }

            private:
                long long x_;
                long long y_;
            };
        """
        cpp = r"""
            Point p(x, y);
            std::cout << p.manhattan() << "\n";
        """
        rust_defs = """
            struct Point {
                x: i64,
                y: i64,
            }

            impl Point {
                fn new(x: i64, y: i64) -> Point {
                    Point { x, y }
                }

                fn manhattan(&self) -> i64 {
                    self.x.abs() + self.y.abs()
                }
            }
        """
        rust = """
            let p = Point::new(x, y);
            println!("{}", p.manhattan());
        """
        return _program(
            "classes",
            level,
            "point",
            [("x", x), ("y", y)],
            py,
            js,
            [abs(x) + abs(y)],
            cpp=cpp,
            cpp_defs=cpp_defs,
            rust=rust,
            rust_defs=rust_defs,
        )
    if level == 2:
        start = rng.randint(0, 10)
        steps = [rng.randint(1, 5) for _ in range(rng.randint(2, 4))]
        reset_at = rng.randint(0, len(steps))  # reset before this step; len(steps) means never
        value = start
        calls = []
        for i, by in enumerate(steps):
            if i == reset_at:
                value = 0
                calls.append("c.reset()")
            value += by
            calls.append("c.inc()" if by == 1 else f"c.inc({by})")
        py = (
            _code("""
            class Counter:
                def __init__(self, start):
                    self.value = start

                def inc(self, by=1):
                    self.value += by
                    return self.value

                def reset(self):
                    self.value = 0

            c = Counter(start)
            """)
            + "".join(f"{call}\n" for call in calls)
            + "print(c.value)"
        )
        js = (
            _code("""
            class Counter {
              constructor(start) {
                this.value = start;
              }

              inc(by = 1) {
                this.value += by;
                return this.value;
              }

              reset() {
                this.value = 0;
              }
            }

            const c = new Counter(start);
            """)
            + "".join(f"{call};\n" for call in calls)
            + "console.log(c.value);"
        )
        cpp_defs = """
            class Counter {
            public:
                long long value;

                explicit Counter(long long start) : value(start) {}

                long long inc(long long by = 1) {
                    value += by;
                    return value;
                }

                void reset() {
                    value = 0;
                }
            };
        """
        cpp = (
            "Counter c(start);\n" + "".join(f"{call};\n" for call in calls) + 'std::cout << c.value << "\\n";'
        )
        rust_defs = """
            struct Counter {
                value: i64,
            }

            impl Counter {
                fn new(start: i64) -> Counter {
                    Counter { value: start }
                }

                fn inc(&mut self, by: i64) -> i64 {
                    self.value += by;
                    self.value
                }

                fn reset(&mut self) {
                    self.value = 0;
                }
            }
        """
        # No default arguments in Rust: c.inc() is c.inc(1).
        rust = (
            "let mut c = Counter::new(start);\n"
            + "".join(f"{call.replace('inc()', 'inc(1)')};\n" for call in calls)
            + 'println!("{}", c.value);'
        )
        return _program(
            "classes",
            level,
            "counter",
            [("start", start)],
            py,
            js,
            [value],
            cpp=cpp,
            cpp_defs=cpp_defs,
            rust=rust,
            rust_defs=rust_defs,
        )
    start = rng.randint(0, 50)
    balance, history, outputs = start, "", []
    ops = [
        (rng.choice(["deposit", "withdraw", "withdraw"]), rng.randint(5, 40))
        for _ in range(rng.randint(3, 5))
    ]
    for op, amount in ops:
        if op == "deposit":
            balance, history, ok = balance + amount, history + "+", True
        elif amount > balance:
            history, ok = history + "!", False
        else:
            balance, history, ok = balance - amount, history + "-", True
        outputs.append(ok)
    py = _code("""
        class Account:
            def __init__(self, balance):
                self.balance = balance
                self.history = []

            def deposit(self, amount):
                self.balance += amount
                self.history.append("+")
                return True

            def withdraw(self, amount):
                if amount > self.balance:
                    self.history.append("!")
                    return False
                self.balance -= amount
                self.history.append("-")
                return True

        acct = Account(balance)
    """)
    py += "".join(f"print(acct.{op}({amount}))\n" for op, amount in ops)
    py += 'print(acct.balance)\nprint("".join(acct.history))'
    js = _code("""
        class Account {
          constructor(balance) {
            this.balance = balance;
            this.history = [];
          }

          deposit(amount) {
            this.balance += amount;
            this.history.push("+");
            return true;
          }

          withdraw(amount) {
            if (amount > this.balance) {
              this.history.push("!");
              return false;
            }
            this.balance -= amount;
            this.history.push("-");
            return true;
          }
        }

        const acct = new Account(balance);
    """)
    js += "".join(f"console.log(acct.{op}({amount}));\n" for op, amount in ops)
    js += 'console.log(acct.balance);\nconsole.log(acct.history.join(""));'
    cpp_defs = """
        class Account {
        public:
            long long balance;
            std::string history;

            explicit Account(long long balance) : balance(balance) {}

            bool deposit(long long amount) {
                balance += amount;
                history += "+";
                return true;
            }

            bool withdraw(long long amount) {
                if (amount > balance) {
                    history += "!";
                    return false;
                }
                balance -= amount;
                history += "-";
                return true;
            }
        };
    """
    cpp = "Account acct(balance);\n"
    cpp += "".join(f'std::cout << acct.{op}({amount}) << "\\n";\n' for op, amount in ops)
    cpp += 'std::cout << acct.balance << "\\n";\nstd::cout << acct.history << "\\n";'
    rust_defs = """
        struct Account {
            balance: i64,
            history: String,
        }

        impl Account {
            fn new(balance: i64) -> Account {
                Account { balance, history: String::new() }
            }

            fn deposit(&mut self, amount: i64) -> bool {
                self.balance += amount;
                self.history.push('+');
                true
            }

            fn withdraw(&mut self, amount: i64) -> bool {
                if amount > self.balance {
                    self.history.push('!');
                    return false;
                }
                self.balance -= amount;
                self.history.push('-');
                true
            }
        }
    """
    rust = "let mut acct = Account::new(balance);\n"
    rust += "".join(f'println!("{{}}", acct.{op}({amount}));\n' for op, amount in ops)
    rust += 'println!("{}", acct.balance);\nprintln!("{}", acct.history);'
    return _program(
        "classes",
        level,
        "account",
        [("balance", start)],
        py,
        js,
        [*outputs, balance, history],
        cpp=cpp,
        cpp_defs=cpp_defs,
        rust=rust,
        rust_defs=rust_defs,
    )


# -- exceptions --------------------------------------------------------------------------------------


def _fam_exceptions(rng: random.Random, level: int) -> Program:
    if level == 1:
        a, b = rng.randint(0, 50), rng.choice([0, rng.randint(1, 9)])
        py = """
            def safe_div(a, b):
                if b == 0:
                    raise ValueError("division by zero")
                return a // b

            try:
                print(safe_div(a, b))
            except ValueError as e:
                print("error: " + str(e))
        """
        js = """
            function safeDiv(a, b) {
              if (b === 0) {
                throw new Error("division by zero");
              }
              return Math.floor(a / b);
            }

            try {
              console.log(safeDiv(a, b));
            } catch (e) {
              console.log("error: " + e.message);
            }
        """
        value = "error: division by zero" if b == 0 else a // b
        cpp_defs = """
            long long safe_div(long long a, long long b) {
                if (b == 0) {
                    throw std::invalid_argument("division by zero");
                }
                return a / b;
            }
        """
        cpp = r"""
            try {
                std::cout << safe_div(a, b) << "\n";
            } catch (const std::invalid_argument& e) {
                std::cout << "error: " << e.what() << "\n";
            }
        """
        # Rust has no exceptions: a recoverable error is a Result the caller matches.
        rust_defs = """
            fn safe_div(a: i64, b: i64) -> Result<i64, String> {
                if b == 0 {
                    return Err(String::from("division by zero"));
                }
                Ok(a / b)
            }
        """
        rust = """
            match safe_div(a, b) {
                Ok(value) => println!("{}", value),
                Err(e) => println!("error: {}", e),
            }
        """
        return _program(
            "exceptions",
            level,
            "raise",
            [("a", a), ("b", b)],
            py,
            js,
            [value],
            cpp=cpp,
            cpp_defs=cpp_defs,
            rust=rust,
            rust_defs=rust_defs,
        )
    if level == 2:
        xs = [rng.randint(-5, 20) for _ in range(rng.randint(2, 4))]
        xs.insert(rng.randint(0, len(xs)), rng.randint(-5, -1))  # at least one error
        py = """
            def check(x):
                if x < 0:
                    raise ValueError(f"skip {x}")
                return x

            total = 0
            for x in xs:
                try:
                    total += check(x)
                except ValueError as e:
                    print(e)
            print(total)
        """
        js = """
            function check(x) {
              if (x < 0) {
                throw new Error(`skip ${x}`);
              }
              return x;
            }

            let total = 0;
            for (const x of xs) {
              try {
                total += check(x);
              } catch (e) {
                console.log(e.message);
              }
            }
            console.log(total);
        """
        outputs = [f"skip {x}" for x in xs if x < 0] + [sum(x for x in xs if x >= 0)]
        cpp_defs = """
            long long check(long long x) {
                if (x < 0) {
                    throw std::invalid_argument("skip " + std::to_string(x));
                }
                return x;
            }
        """
        cpp = r"""
            long long total = 0;
            for (long long x : xs) {
                try {
                    total += check(x);
                } catch (const std::invalid_argument& e) {
                    std::cout << e.what() << "\n";
                }
            }
            std::cout << total << "\n";
        """
        rust_defs = """
            fn check(x: i64) -> Result<i64, String> {
                if x < 0 {
                    return Err(format!("skip {}", x));
                }
                Ok(x)
            }
        """
        rust = """
            let mut total = 0;
            for x in xs {
                match check(x) {
                    Ok(v) => total += v,
                    Err(e) => println!("{}", e),
                }
            }
            println!("{}", total);
        """
        return _program(
            "exceptions",
            level,
            "loop_errors",
            [("xs", xs)],
            py,
            js,
            outputs,
            cpp=cpp,
            cpp_defs=cpp_defs,
            rust=rust,
            rust_defs=rust_defs,
        )
    x, limit = rng.randint(-5, 10), rng.randint(3, 8)
    middle = "caught: negative" if x < 0 else "caught: too big" if x > limit else f"ok {x * 2}"
    py = f"""
        class CheckError(Exception):
            pass

        def validate(x):
            if x < 0:
                raise CheckError("negative")
            if x > {limit}:
                raise CheckError("too big")
            return x * 2

        print("start")
        try:
            result = validate(x)
            print(f"ok {{result}}")
        except CheckError as e:
            print(f"caught: {{e}}")
        finally:
            print("cleanup")
        print("end")
    """
    js = f"""
        class CheckError extends Error {{}}

        function validate(x) {{
          if (x < 0) {{
            throw new CheckError("negative");
          }}
          if (x > {limit}) {{
            throw new CheckError("too big");
          }}
          return x * 2;
        }}

        console.log("start");
        try {{
          const result = validate(x);
          console.log(`ok ${{result}}`);
        }} catch (e) {{
          if (!(e instanceof CheckError)) {{
            throw e;
          }}
          console.log(`caught: ${{e.message}}`);
        }} finally {{
          console.log("cleanup");
        }}
        console.log("end");
    """
    # No `finally` in C++ or Rust: a guard object's destructor (Drop) prints "cleanup" when its block
    # ends, after the handler has run, as Python's finally does.
    cpp_defs = f"""
        class CheckError : public std::runtime_error {{
        public:
            using std::runtime_error::runtime_error;
        }};

        struct Cleanup {{
            ~Cleanup() {{
                std::cout << "cleanup\\n";
            }}
        }};

        long long validate(long long x) {{
            if (x < 0) {{
                throw CheckError("negative");
            }}
            if (x > {limit}) {{
                throw CheckError("too big");
            }}
            return x * 2;
        }}
    """
    cpp = r"""
        std::cout << "start\n";
        {
            Cleanup cleanup;
            try {
                long long result = validate(x);
                std::cout << "ok " << result << "\n";
            } catch (const CheckError& e) {
                std::cout << "caught: " << e.what() << "\n";
            }
        }
        std::cout << "end\n";
    """
    rust_defs = f"""
        enum CheckError {{
            Negative,
            TooBig,
        }}

        impl fmt::Display for CheckError {{
            fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {{
                match self {{
                    CheckError::Negative => write!(f, "negative"),
                    CheckError::TooBig => write!(f, "too big"),
                }}
            }}
        }}

        struct Cleanup;

        impl Drop for Cleanup {{
            fn drop(&mut self) {{
                println!("cleanup");
            }}
        }}

        fn validate(x: i64) -> Result<i64, CheckError> {{
            if x < 0 {{
                return Err(CheckError::Negative);
            }}
            if x > {limit} {{
                return Err(CheckError::TooBig);
            }}
            Ok(x * 2)
        }}
    """
    rust = """
        println!("start");
        {
            let _cleanup = Cleanup;
            match validate(x) {
                Ok(result) => println!("ok {}", result),
                Err(e) => println!("caught: {}", e),
            }
        }
        println!("end");
    """
    return _program(
        "exceptions",
        level,
        "finally",
        [("x", x)],
        py,
        js,
        ["start", middle, "cleanup", "end"],
        cpp=cpp,
        cpp_defs=cpp_defs,
        rust=rust,
        rust_defs=rust_defs,
    )


# ----------------------------------------------------------------------------------------------------
# The catalogue


@dataclass(frozen=True)
class OutputFamily:
    """A kind of program.

    Attributes:
        name: Family id.
        description: What its programs exercise, by difficulty.
        draw: ``draw(rng, difficulty) -> Program``.
        languages: Languages it renders.
        difficulties: Levels it implements.

    """

    name: str
    description: str
    draw: Callable[[random.Random, int], Program]
    languages: tuple[str, ...] = LANGUAGES
    difficulties: tuple[int, ...] = (1, 2, 3)


OUTPUT_FAMILIES: tuple[OutputFamily, ...] = (
    OutputFamily(
        "arithmetic", "1: one + - * operation; 2-3: precedence, //, %, a second line", _fam_arithmetic
    ),
    OutputFamily(
        "strings",
        "1: a method or slice; 2: chained methods, f-string; 3: loop building a string",
        _fam_strings,
    ),
    OutputFamily(
        "lists",
        "1: builtins, indexing; 2: append/pop/assign; 3: comprehension, running max, pairs",
        _fam_lists,
    ),
    OutputFamily("dicts", "1: lookup/len/sum; 2: get-with-default updates; 3: word counts", _fam_dicts),
    OutputFamily(
        "loops", "1: range sum; 2: while halving, counting, printing; 3: Collatz, digits, nested", _fam_loops
    ),
    OutputFamily("conditionals", "1: if/else; 2: if/elif/else over a list; 3: FizzBuzz", _fam_conditionals),
    OutputFamily(
        "recursion", "1: factorial, sum; 2: fib, power, digit sum; 3: gcd, binary, countdown", _fam_recursion
    ),
    OutputFamily(
        "functions", "1: a call; 2: default arguments; 3: higher-order functions, closures", _fam_functions
    ),
    OutputFamily(
        "classes", "1: a method; 2: a counter with state; 3: an account refusing overdrafts", _fam_classes
    ),
    OutputFamily(
        "exceptions", "1: raise and catch; 2: errors inside a loop; 3: custom error, finally", _fam_exceptions
    ),
)
OUTPUT_FAMILY_BY_NAME: dict[str, OutputFamily] = {f.name: f for f in OUTPUT_FAMILIES}
