"""The program families of the output-prediction suite, rendered per language.

A family is a function ``draw(rng, difficulty) -> Program``. It draws the program's inputs and
variant, computes with trusted Python *in the generator* the values the program prints, and renders
the same program in every language it supports (Python and JavaScript). :func:`expected_stdout`
formats the printed values the way each language prints them; the suite then runs the rendered
programs in the sandbox to check that they really print that.

Adding a language: give :func:`literal`, :func:`printed` and :meth:`Program.input_block` a branch for
it, add its template to every family (the ``code`` dict), and list it in :data:`LANGUAGES`.

Conventions that keep the languages printing the same values: integers only (no floats), ``//`` and
``%`` only on non-negative operands (JavaScript's ``%`` and ``Math.floor`` differ from Python's on
negatives), no ``-0`` (JavaScript prints it), string keys in dicts (JavaScript orders integer-like keys
first), and JavaScript prints lists and dicts with ``JSON.stringify``.
"""

from __future__ import annotations

import json
import random
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

LANGUAGES = ("python", "javascript")

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


# ----------------------------------------------------------------------------------------------------
# Values: literals and printed forms per language


def literal(value: Any, language: str) -> str:
    """Render ``value`` as a source literal of ``language`` (ints, bools, strings, lists, str-keyed dicts)."""
    if language == "python":
        return repr(value)
    if language == "javascript":
        return json.dumps(value, ensure_ascii=False)
    raise ValueError(f"unknown language {language!r}; choose from {LANGUAGES}")


def printed(value: Any, language: str) -> str:
    """Return the text ``language``'s print statement writes for ``value`` (without the newline).

    Python: ``str(value)`` (``print``). JavaScript: programs print scalars with ``console.log(v)``
    (``true``/``false``, integers, raw strings) and lists/dicts with ``console.log(JSON.stringify(v))``
    (compact JSON: ``[1,2]``, ``{"a":1}``).
    """
    if language == "python":
        return str(value)
    if language == "javascript":
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (list, dict)):
            return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        return str(value)
    raise ValueError(f"unknown language {language!r}; choose from {LANGUAGES}")


def expected_stdout(outputs: Sequence[Any], language: str) -> str:
    """Return the whole stdout of a program that prints ``outputs``, one per line."""
    return "".join(printed(v, language) + "\n" for v in outputs)


def _code(text: str) -> str:
    """Dedent a template and strip its surrounding blank lines."""
    return textwrap.dedent(text).strip("\n") + "\n"


def _js_log(expr: str, value: Any) -> str:
    """Return a JavaScript statement printing ``expr`` whose value is like ``value``."""
    if isinstance(value, (list, dict)):
        return f"console.log(JSON.stringify({expr}));"
    return f"console.log({expr});"


# ----------------------------------------------------------------------------------------------------
# Programs


@dataclass(frozen=True)
class Program:
    """One drawn program, rendered in every language of its family.

    Attributes:
        family: Family name.
        difficulty: 1, 2 or 3.
        inputs: ``(name, value)`` pairs assigned at the top of the program.
        code: ``{language: source}`` of the part after the input block.
        outputs: The values the program prints, one line each, computed by the generator.
        topic: A short label of the variant within the family (``"collatz"``, ``"fizzbuzz"``).

    """

    family: str
    difficulty: int
    inputs: tuple[tuple[str, Any], ...]
    code: dict[str, str]
    outputs: tuple[Any, ...]
    topic: str = ""

    def input_block(self, language: str) -> str:
        """Return the input assignments in ``language``."""
        if language == "python":
            return "".join(f"{name} = {literal(v, language)}\n" for name, v in self.inputs)
        if language == "javascript":
            return "".join(f"let {name} = {literal(v, language)};\n" for name, v in self.inputs)
        raise ValueError(f"unknown language {language!r}; choose from {LANGUAGES}")

    def source(self, language: str) -> str:
        """Return the full runnable program: input block, a blank line, then the code."""
        if language not in self.code:
            raise ValueError(
                f"family {self.family!r} has no {language} rendering; it has {sorted(self.code)}"
            )
        return self.input_block(language) + "\n" + self.code[language]

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
) -> Program:
    return Program(
        family, level, tuple(inputs), {"python": _code(py), "javascript": _code(js)}, tuple(outputs), topic
    )


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
    text = f"{_arith_render(left, language, prec)} {op} {_arith_render(right_node, language, prec, True)}"
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
    if level == 1:
        py = f"result = {py_expr}\nprint(result)"
        js = f"let result = {js_expr};\nconsole.log(result);"
        return _program("arithmetic", level, "expression", env.items(), py, js, [value])
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
    return _program("arithmetic", level, "expression", env.items(), py, js, [value, value * k + env["a"]])


# -- strings -----------------------------------------------------------------------------------------


def _string_ops(rng: random.Random, s: str) -> list[tuple[str, str, Callable[[str], Any]]]:
    """Return ``(python, javascript, reference)`` operations on ``{v}``; ``s`` guides the constants."""
    c = rng.choice(sorted(set(s)) + ["e", "z"])
    new = rng.choice("xyz-")
    i = rng.randint(0, max(0, len(s) - 2))
    j = rng.randint(i + 1, len(s) + 1)
    k = rng.randint(2, 3)
    return [
        ("{v}.upper()", "{v}.toUpperCase()", str.upper),
        ("{v}[::-1]", "{v}.split('').reverse().join('')", lambda v: v[::-1]),
        ("len({v})", "{v}.length", len),
        (f"{{v}}[{i}:{j}]", f"{{v}}.slice({i}, {j})", lambda v: v[i:j]),
        (f"{{v}}.count({c!r})", f"{{v}}.split({c!r}).length - 1", lambda v: v.count(c)),
        (f"{{v}}.replace({c!r}, {new!r})", f"{{v}}.replaceAll({c!r}, {new!r})", lambda v: v.replace(c, new)),
        (f"{{v}}.find({c!r})", f"{{v}}.indexOf({c!r})", lambda v: v.find(c)),
        (f"{{v}} * {k}", f"{{v}}.repeat({k})", lambda v: v * k),
        (f"{{v}}.startswith({c!r})", f"{{v}}.startsWith({c!r})", lambda v: v.startswith(c)),
    ]


def _fam_strings(rng: random.Random, level: int) -> Program:
    s = rng.choice(WORDS)
    if level == 1:
        py_t, js_t, ref = rng.choice(_string_ops(rng, s))
        value = ref(s)
        py = f"print({py_t.format(v='s')})"
        js = _js_log(js_t.format(v="s"), value)
        return _program("strings", level, "method", [("s", s)], py, js, [value])
    if level == 2:
        t = rng.choice([w for w in WORDS if w != s])
        py1, js1, ref1 = rng.choice([op for op in _string_ops(rng, s) if isinstance(op[2](s), str)])
        x = ref1(s)
        py2, js2, ref2 = rng.choice(_string_ops(rng, x))
        value = ref2(x + t)
        py = f"""
            x = {py1.format(v="s")}
            y = x + t
            print({py2.format(v="y")})
            print(f"{{x}}-{{t}}")
        """
        js = f"""
            let x = {js1.format(v="s")};
            let y = x + t;
            {_js_log(js2.format(v="y"), value)}
            console.log(`${{x}}-${{t}}`);
        """
        return _program("strings", level, "chain", [("s", s), ("t", t)], py, js, [value, f"{x}-{t}"])
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
    return _program("strings", level, mode, [("s", s)], py, js, [out])


# -- lists -------------------------------------------------------------------------------------------


def _fam_lists(rng: random.Random, level: int) -> Program:
    nums = [rng.randint(0, 20) for _ in range(rng.randint(3, 6))]
    if level == 1:
        i = rng.randint(-len(nums), len(nums) - 1)
        py_e, js_e, value = rng.choice(
            [
                ("sum(nums)", "nums.reduce((a, b) => a + b, 0)", sum(nums)),
                ("max(nums)", "Math.max(...nums)", max(nums)),
                ("min(nums)", "Math.min(...nums)", min(nums)),
                ("len(nums)", "nums.length", len(nums)),
                ("sorted(nums)", "[...nums].sort((a, b) => a - b)", sorted(nums)),
                ("nums[::-1]", "[...nums].reverse()", nums[::-1]),
                (f"nums[{i}]", f"nums.at({i})", nums[i]),
                ("nums[1:3]", "nums.slice(1, 3)", nums[1:3]),
            ]
        )
        return _program(
            "lists", level, "builtin", [("nums", nums)], f"print({py_e})", _js_log(js_e, value), [value]
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
        return _program("lists", level, "mutation", [("nums", nums)], py, js, [first, state, len(state)])
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
        outputs = [pairs, len(pairs)]
    return _program("lists", level, mode, [("nums", nums)], py, js, outputs)


# -- dicts -------------------------------------------------------------------------------------------


def _fam_dicts(rng: random.Random, level: int) -> Program:
    if level == 1:
        keys = rng.sample(NAMES, rng.randint(2, 4))
        ages = {k: rng.randint(5, 60) for k in keys}
        key = rng.choice(keys)
        mode, py_e, js_e, value = rng.choice(
            [
                ("lookup", f"ages[{key!r}]", f"ages[{json.dumps(key)}]", ages[key]),
                ("size", "len(ages)", "Object.keys(ages).length", len(ages)),
                (
                    "sum",
                    "sum(ages.values())",
                    "Object.values(ages).reduce((a, b) => a + b, 0)",
                    sum(ages.values()),
                ),
            ]
        )
        return _program(
            "dicts", level, mode, [("ages", ages)], f"print({py_e})", _js_log(js_e, value), [value]
        )
    if level == 2:
        keys = rng.sample(NAMES, 3)
        stock = {k: rng.randint(0, 9) for k in keys[:2]}
        state = dict(stock)
        py_lines, js_lines = [], []
        for _ in range(3):
            key, amount = rng.choice(keys), rng.randint(1, 5)
            state[key] = state.get(key, 0) + amount
            py_lines.append(f"stock[{key!r}] = stock.get({key!r}, 0) + {amount}")
            js_lines.append(f'stock["{key}"] = (stock["{key}"] || 0) + {amount};')
        py = "\n".join([*py_lines, "print(stock)", "print(len(stock))"])
        js = "\n".join(
            [*js_lines, "console.log(JSON.stringify(stock));", "console.log(Object.keys(stock).length);"]
        )
        return _program("dicts", level, "update", [("stock", stock)], py, js, [state, len(state)])
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
    return _program("dicts", level, "word_count", [("words", words)], py, js, [counts, many])


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
        return _program(
            "loops", level, "range_sum", [("lo", lo), ("hi", hi)], py, js, [sum(range(lo, hi, step))]
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
            return _program("loops", level, mode, [("n", n)], py, js, [n.bit_length() - 1])
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
            return _program("loops", level, mode, [("n", n)], py, js, [len(hits), sum(hits)])
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
        return _program("loops", level, mode, [("n", n)], py, js, [i * i for i in range(1, n + 1)])
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
        return _program("loops", level, mode, [("n", n)], py, js, [steps, peak])
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
        return _program("loops", level, mode, [("n", n)], py, js, [sum(map(int, str(n))), int(str(n)[::-1])])
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
    return _program("loops", level, mode, [("n", n)], py, js, [count])


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
        return _program("conditionals", level, "if_else", [("x", x)], py, js, [yes if x > k else no])
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
        return _program("conditionals", level, "elif", [("xs", xs)], py, js, labels)
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
    return _program("conditionals", level, "fizzbuzz", [("lo", lo), ("hi", hi)], py, js, lines)


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
        return _program("recursion", level, mode, [("n", n)], py, js, [value])
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
            return _program("recursion", level, mode, [("n", n)], py, js, [a])
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
            return _program("recursion", level, mode, [("base", base), ("exp", exp)], py, js, [base**exp])
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
        return _program("recursion", level, mode, [("n", n)], py, js, [sum(map(int, str(n)))])
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
        return _program("recursion", level, mode, [("a", a), ("b", b)], py, js, [x, calls])
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
        return _program("recursion", level, mode, [("n", n)], py, js, [format(n, "b"), n.bit_length()])
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
    return _program("recursion", level, mode, [("n", n)], py, js, [*range(n, 0, -step), "done"])


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
        return _program("functions", level, "call", [("a", a)], py, js, [a * k + c])
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
        return _program(
            "functions", level, "defaults", [("a", a), ("b", b)], py, js, [a * k, a * b, a * k - b]
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
        return _program(
            "functions", level, "apply_twice", [("a", a), ("b", b)], py, js, [a * k * k, b - 2 * c]
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
    return _program("functions", level, "closure", [("a", a), ("b", b)], py, js, [a + k, a + k + b])


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
        return _program("classes", level, "point", [("x", x), ("y", y)], py, js, [abs(x) + abs(y)])
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
        return _program("classes", level, "counter", [("start", start)], py, js, [value])
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
    return _program("classes", level, "account", [("balance", start)], py, js, [*outputs, balance, history])


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
        return _program("exceptions", level, "raise", [("a", a), ("b", b)], py, js, [value])
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
        return _program("exceptions", level, "loop_errors", [("xs", xs)], py, js, outputs)
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
    return _program("exceptions", level, "finally", [("x", x)], py, js, ["start", middle, "cleanup", "end"])


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
