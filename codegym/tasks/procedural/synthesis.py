"""Function synthesis: small function-writing tasks generated procedurally, in the :class:`Task` format.

Each task comes from a *family* (``add_k``, ``reverse_string``, ``filter_evens``, ...) with drawn
constants (``k = 7``), a generated function name and argument names (``add_7(x)``), a description in
one of six *phrasing groups* ``"A"`` .. ``"F"``, hidden tests and one visible test whose expected values
are computed by the family's trusted reference function in the generator (never by running candidate
code), and a reference solution.

The phrasing groups are consistent styles across families (see :data:`PHRASING_FRAMES`), so a model
can be trained on some groups and tested on the others. The wording is drawn *after* the problem:
two configs that differ only in ``phrasing_groups`` give the same problems in different words, and
``task.metadata["phrasings"]`` holds the description in every group.

Example::

    from codegym.tasks.procedural import SynthesisConfig, generate_synthesis_tasks

    tasks = generate_synthesis_tasks(SynthesisConfig(seed=0, size=3))
    print(tasks[0].prompt)
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from codegym.tasks.base import Task
from codegym.tasks.procedural.common import (
    as_tuple,
    draw_in_split,
    item_rng,
    take_unique,
    validate_seed,
    validate_size,
    validate_split,
)

SOURCE = "procedural/synthesis"
PHRASING_GROUPS = ("A", "B", "C", "D", "E", "F")

#: The six phrasing styles. Slots: ``fn`` (function name), ``params`` (argument names, comma separated),
#: and the family's ``inputs``, ``returns``, ``action`` and ``formula`` texts.
PHRASING_FRAMES: dict[str, str] = {
    "A": "Write a function {fn} that takes {inputs} and returns {returns}.",
    "B": "Write a Python function {fn}({params}) that {action}.",
    "C": "Implement {fn}({params}): given {inputs}, return {returns}.",
    "D": "Create a function named {fn} that {action}. Its input is {inputs}.",
    "E": "{fn}({params}) -> {formula}",
    "F": "Given {inputs}, compute {returns}. Name the function {fn}.",
}

WORDS = (
    "apple", "banana", "cherry", "level", "rotor", "code", "python", "gym", "hello", "world", "data",
    "noon", "kayak", "tree", "river", "stone", "cat", "dog", "moon", "sun", "radar", "book", "queue",
    "test", "loop", "value", "sort", "list", "map", "key", "bird", "fish", "lamp", "note",
)  # fmt: skip
PALINDROMES = ("level", "rotor", "noon", "kayak", "radar", "a", "aba", "abba", "racecar", "wow", "")
LETTERS = "abcdeilnorst"

# Argument names a role can take (a family's ``args`` lists roles; each task draws one name tuple).
NAME_POOLS: dict[tuple[str, ...], tuple[tuple[str, ...], ...]] = {
    ("x",): (("x",), ("n",), ("num",), ("value",)),
    ("a", "b"): (("a", "b"), ("x", "y"), ("m", "n")),
    ("s",): (("s",), ("text",), ("word",)),
    ("nums",): (("nums",), ("numbers",), ("values",), ("xs",)),
    ("words",): (("words",), ("names",), ("items",)),
    ("d",): (("d",), ("counts",), ("scores",)),
}

TYPE_OF_ROLE = {
    "x": "int",
    "a": "int",
    "b": "int",
    "s": "str",
    "nums": "list[int]",
    "words": "list[str]",
    "d": "dict[str, int]",
}


# ----------------------------------------------------------------------------------------------------
# Argument samplers


def _int(rng: random.Random) -> int:
    return rng.randint(-20, 60)


def _nonneg(rng: random.Random) -> int:
    return rng.randint(0, 120)


def _small(rng: random.Random) -> int:
    return rng.randint(0, 10)


def _word(rng: random.Random) -> str:
    if rng.random() < 0.6:
        return rng.choice(WORDS)
    return "".join(rng.choice(LETTERS) for _ in range(rng.randint(1, 8)))


def _mixed_case(rng: random.Random) -> str:
    return "".join(ch.upper() if rng.random() < 0.4 else ch for ch in _word(rng))


def _maybe_palindrome(rng: random.Random) -> str:
    return rng.choice(PALINDROMES) if rng.random() < 0.5 else _word(rng)


def _int_list(rng: random.Random, min_len: int = 0) -> list[int]:
    return [rng.randint(-9, 20) for _ in range(rng.randint(min_len, 7))]


def _nonempty_list(rng: random.Random) -> list[int]:
    return _int_list(rng, 1)


def _maybe_sorted_list(rng: random.Random) -> list[int]:
    nums = _int_list(rng)
    return sorted(nums) if rng.random() < 0.5 else nums


def _word_list(rng: random.Random, min_len: int = 0) -> list[str]:
    return [_word(rng) for _ in range(rng.randint(min_len, 5))]


def _str_int_dict(rng: random.Random, min_len: int = 0) -> dict[str, int]:
    keys = rng.sample(WORDS, rng.randint(min_len, 4))
    return {k: rng.randint(0, 20) for k in keys}


_DEFAULT_SAMPLERS: dict[str, Callable[[random.Random], Any]] = {
    "x": _int,
    "a": _int,
    "b": _int,
    "s": _word,
    "nums": _int_list,
    "words": _word_list,
    "d": _str_int_dict,
}


# ----------------------------------------------------------------------------------------------------
# The catalogue


@dataclass(frozen=True)
class SynthesisFamily:
    """One kind of function-writing task.

    Text fields are ``str.format`` templates over the argument roles (``{x}`` becomes the drawn name
    of the argument with role ``x``) and the drawn params (``{k}``, ``{c!r}``).

    Attributes:
        name: Family id (``"add_k"``).
        category: ``"arithmetic"``, ``"string"``, ``"list"``, ``"predicate"`` or ``"dict"``.
        difficulty: 1 (one expression), 2 (a builtin combination or comprehension), 3 (a loop or a
            condition over several values).
        args: Argument roles, keys of :data:`TYPE_OF_ROLE`.
        returns_type: The return annotation.
        fn_names: Function-name templates; one is drawn per task.
        inputs: Noun phrase describing the arguments (``"an integer {x}"``).
        returns: Noun phrase describing the result (``"{x} plus {k}"``).
        action: Verb phrase (``"adds {k} to {x}"``).
        formula: Terse form for phrasing group E (``"{x} + {k}"``).
        body: The reference function body (indented by the generator).
        reference: Trusted implementation ``reference(params, *args)`` that computes expected values.
        params: Draws the family's constants.
        samplers: Per-role argument samplers overriding the defaults ``{role: f(rng)}``.
        inputs_for: Optional ``f(rng, params) -> args`` replacing per-role sampling (to hit edge cases).

    """

    name: str
    category: str
    difficulty: int
    args: tuple[str, ...]
    returns_type: str
    fn_names: tuple[str, ...]
    inputs: str
    returns: str
    action: str
    formula: str
    body: str
    reference: Callable[..., Any]
    params: Callable[[random.Random], dict[str, Any]] = field(default=lambda rng: {})
    samplers: dict[str, Callable[[random.Random], Any]] = field(default_factory=dict)
    inputs_for: Callable[[random.Random, dict[str, Any]], tuple[Any, ...]] | None = None

    def sample_args(self, rng: random.Random, params: dict[str, Any]) -> tuple[Any, ...]:
        """Draw one argument tuple."""
        if self.inputs_for is not None:
            return self.inputs_for(rng, params)
        return tuple(self.samplers.get(role, _DEFAULT_SAMPLERS[role])(rng) for role in self.args)


def _k(lo: int, hi: int, name: str = "k") -> Callable[[random.Random], dict[str, Any]]:
    return lambda rng: {name: rng.randint(lo, hi)}


def _char(rng: random.Random) -> dict[str, Any]:
    return {"c": rng.choice("aeiost")}


def _with_char(rng: random.Random, params: dict[str, Any]) -> tuple[Any, ...]:
    # Half of the strings contain the char, so counts and predicates vary.
    word = _word(rng)
    if rng.random() < 0.5:
        pos = rng.randint(0, len(word))
        word = word[:pos] + params["c"] + word[pos:]
    return (word,)


def _list_with_k(rng: random.Random, params: dict[str, Any]) -> tuple[Any, ...]:
    nums = _int_list(rng)
    for _ in range(rng.choice((0, 0, 1, 2))):
        nums.insert(rng.randint(0, len(nums)), params["k"])
    return (nums,)


def _unique_longest(rng: random.Random, params: dict[str, Any]) -> tuple[Any, ...]:
    # Exactly one longest word, so "first longest" and "last longest" agree.
    while True:
        words = _word_list(rng, 1)
        lengths = [len(w) for w in words]
        if lengths.count(max(lengths)) == 1:
            return (words,)


def _unique_max_dict(rng: random.Random, params: dict[str, Any]) -> tuple[Any, ...]:
    while True:
        d = _str_int_dict(rng, 1)
        if list(d.values()).count(max(d.values())) == 1:
            return (d,)


def _dict_maybe_key(rng: random.Random, params: dict[str, Any]) -> tuple[Any, ...]:
    d = _str_int_dict(rng)
    if rng.random() < 0.5:
        d[params["key"]] = rng.randint(0, 20)
    return (d,)


def _factorial(n: int) -> int:
    result = 1
    for i in range(2, n + 1):
        result *= i
    return result


def _digit_sum(x: int) -> int:
    return sum(int(d) for d in str(x))


FAMILIES: tuple[SynthesisFamily, ...] = (
    # -- arithmetic ------------------------------------------------------------------------------
    SynthesisFamily(
        "add_k", "arithmetic", 1, ("x",), "int", ("add_{k}", "plus_{k}", "increment_by_{k}"),
        inputs="an integer {x}", returns="{x} plus {k}", action="adds {k} to {x}",
        formula="{x} + {k}", body="return {x} + {k}", reference=lambda p, x: x + p["k"], params=_k(1, 20),
    ),
    SynthesisFamily(
        "subtract_k", "arithmetic", 1, ("x",), "int", ("subtract_{k}", "minus_{k}"),
        inputs="an integer {x}", returns="{x} minus {k}", action="subtracts {k} from {x}",
        formula="{x} - {k}", body="return {x} - {k}", reference=lambda p, x: x - p["k"], params=_k(1, 20),
    ),
    SynthesisFamily(
        "multiply_k", "arithmetic", 1, ("x",), "int", ("multiply_by_{k}", "times_{k}"),
        inputs="an integer {x}", returns="{x} multiplied by {k}", action="multiplies {x} by {k}",
        formula="{x} * {k}", body="return {x} * {k}", reference=lambda p, x: x * p["k"], params=_k(2, 12),
    ),
    SynthesisFamily(
        "square", "arithmetic", 1, ("x",), "int", ("square", "squared"),
        inputs="an integer {x}", returns="the square of {x}", action="squares {x}",
        formula="{x} * {x}", body="return {x} * {x}", reference=lambda p, x: x * x,
    ),
    SynthesisFamily(
        "absolute", "arithmetic", 1, ("x",), "int", ("absolute", "abs_value"),
        inputs="an integer {x}", returns="the absolute value of {x}",
        action="computes the absolute value of {x}", formula="abs({x})", body="return abs({x})",
        reference=lambda p, x: abs(x),
    ),
    SynthesisFamily(
        "add_two", "arithmetic", 1, ("a", "b"), "int", ("add", "add_two", "sum_two"),
        inputs="two integers {a} and {b}", returns="the sum of {a} and {b}", action="adds {a} and {b}",
        formula="{a} + {b}", body="return {a} + {b}", reference=lambda p, a, b: a + b,
    ),
    SynthesisFamily(
        "max_two", "arithmetic", 1, ("a", "b"), "int", ("max_two", "larger", "bigger"),
        inputs="two integers {a} and {b}", returns="the larger of {a} and {b}",
        action="finds the larger of {a} and {b}", formula="max({a}, {b})", body="return max({a}, {b})",
        reference=lambda p, a, b: max(a, b),
    ),
    SynthesisFamily(
        "mod_k", "arithmetic", 2, ("x",), "int", ("mod_{k}", "remainder_{k}"),
        inputs="a non-negative integer {x}", returns="the remainder of {x} divided by {k}",
        action="computes the remainder of {x} divided by {k}", formula="{x} % {k}",
        body="return {x} % {k}", reference=lambda p, x: x % p["k"], params=_k(2, 9),
        samplers={"x": _nonneg},
    ),
    SynthesisFamily(
        "floordiv_k", "arithmetic", 2, ("x",), "int", ("div_{k}", "floor_div_{k}"),
        inputs="a non-negative integer {x}", returns="{x} divided by {k}, rounded down",
        action="divides {x} by {k} using integer division", formula="{x} // {k}",
        body="return {x} // {k}", reference=lambda p, x: x // p["k"], params=_k(2, 9),
        samplers={"x": _nonneg},
    ),
    SynthesisFamily(
        "affine", "arithmetic", 2, ("x",), "int", ("linear", "affine", "scale_shift"),
        inputs="an integer {x}", returns="{x} times {m} plus {k}",
        action="multiplies {x} by {m} and adds {k}", formula="{x} * {m} + {k}",
        body="return {x} * {m} + {k}", reference=lambda p, x: x * p["m"] + p["k"],
        params=lambda rng: {"m": rng.randint(2, 9), "k": rng.randint(1, 20)},
    ),
    SynthesisFamily(
        "sum_to_n", "arithmetic", 2, ("x",), "int", ("sum_to", "sum_up_to", "triangular"),
        inputs="a non-negative integer {x}", returns="the sum of the integers from 1 to {x}",
        action="adds up all integers from 1 to {x}", formula="1 + 2 + ... + {x}",
        body="return sum(range(1, {x} + 1))", reference=lambda p, x: sum(range(1, x + 1)),
        samplers={"x": lambda rng: rng.randint(0, 40)},
    ),
    SynthesisFamily(
        "digit_sum", "arithmetic", 3, ("x",), "int", ("digit_sum", "sum_digits"),
        inputs="a non-negative integer {x}", returns="the sum of the digits of {x}",
        action="adds up the decimal digits of {x}", formula="sum of the digits of {x}",
        body="return sum(int(d) for d in str({x}))", reference=lambda p, x: _digit_sum(x),
        samplers={"x": lambda rng: rng.randint(0, 99999)},
    ),
    SynthesisFamily(
        "factorial", "arithmetic", 3, ("x",), "int", ("factorial", "fact"),
        inputs="a non-negative integer {x}", returns="the factorial of {x}",
        action="computes the factorial of {x}", formula="{x}! (1 * 2 * ... * {x})",
        body="result = 1\nfor i in range(2, {x} + 1):\n    result *= i\nreturn result",
        reference=lambda p, x: _factorial(x), samplers={"x": _small},
    ),
    # -- predicates --------------------------------------------------------------------------------
    SynthesisFamily(
        "is_even", "predicate", 1, ("x",), "bool", ("is_even", "even"),
        inputs="an integer {x}", returns="True if {x} is even, otherwise False",
        action="checks whether {x} is even", formula="{x} is even", body="return {x} % 2 == 0",
        reference=lambda p, x: x % 2 == 0,
    ),
    SynthesisFamily(
        "is_odd", "predicate", 1, ("x",), "bool", ("is_odd", "odd"),
        inputs="an integer {x}", returns="True if {x} is odd, otherwise False",
        action="checks whether {x} is odd", formula="{x} is odd", body="return {x} % 2 == 1",
        reference=lambda p, x: x % 2 == 1,
    ),
    SynthesisFamily(
        "is_positive", "predicate", 1, ("x",), "bool", ("is_positive", "positive"),
        inputs="an integer {x}", returns="True if {x} is greater than 0, otherwise False",
        action="checks whether {x} is positive", formula="{x} > 0", body="return {x} > 0",
        reference=lambda p, x: x > 0,
    ),
    SynthesisFamily(
        "divisible_by_k", "predicate", 2, ("x",), "bool", ("divisible_by_{k}", "is_multiple_of_{k}"),
        inputs="an integer {x}", returns="True if {x} is divisible by {k}, otherwise False",
        action="checks whether {x} is divisible by {k}", formula="{x} % {k} == 0",
        body="return {x} % {k} == 0", reference=lambda p, x: x % p["k"] == 0, params=_k(2, 5),
    ),
    SynthesisFamily(
        "is_palindrome", "predicate", 2, ("s",), "bool", ("is_palindrome", "palindrome"),
        inputs="a string {s}", returns="True if {s} reads the same backwards, otherwise False",
        action="checks whether {s} is a palindrome", formula="{s} == reversed {s}",
        body="return {s} == {s}[::-1]", reference=lambda p, s: s == s[::-1],
        samplers={"s": _maybe_palindrome},
    ),
    SynthesisFamily(
        "starts_with", "predicate", 2, ("s",), "bool", ("starts_with_{c}", "begins_with_{c}"),
        inputs="a string {s}", returns="True if {s} starts with {c!r}, otherwise False",
        action="checks whether {s} starts with {c!r}", formula="{s} starts with {c!r}",
        body="return {s}.startswith({c!r})", reference=lambda p, s: s.startswith(p["c"]), params=_char,
        inputs_for=lambda rng, p: ((p["c"] + _word(rng)) if rng.random() < 0.5 else _word(rng),),
    ),
    SynthesisFamily(
        "contains_k", "predicate", 2, ("nums",), "bool", ("contains_{k}", "has_{k}"),
        inputs="a list of integers {nums}", returns="True if {k} is in {nums}, otherwise False",
        action="checks whether {nums} contains {k}", formula="{k} in {nums}", body="return {k} in {nums}",
        reference=lambda p, nums: p["k"] in nums, params=_k(0, 9), inputs_for=_list_with_k,
    ),
    SynthesisFamily(
        "all_positive", "predicate", 3, ("nums",), "bool", ("all_positive", "only_positive"),
        inputs="a list of integers {nums}", returns="True if every number in {nums} is positive, else False",
        action="checks whether all numbers in {nums} are greater than 0", formula="all {nums} > 0",
        body="return all(v > 0 for v in {nums})", reference=lambda p, nums: all(v > 0 for v in nums),
        samplers={"nums": lambda rng: [rng.randint(1 if rng.random() < 0.5 else -5, 20) for _ in range(4)]},
    ),
    SynthesisFamily(
        "is_sorted", "predicate", 3, ("nums",), "bool", ("is_sorted", "in_order"),
        inputs="a list of integers {nums}", returns="True if {nums} is in ascending order, otherwise False",
        action="checks whether {nums} is sorted in ascending order", formula="{nums} is sorted",
        body="return {nums} == sorted({nums})", reference=lambda p, nums: nums == sorted(nums),
        samplers={"nums": _maybe_sorted_list},
    ),
    # -- strings -----------------------------------------------------------------------------------
    SynthesisFamily(
        "reverse_string", "string", 1, ("s",), "str", ("reverse", "reverse_string", "backwards"),
        inputs="a string {s}", returns="{s} reversed", action="reverses {s}", formula="{s} reversed",
        body="return {s}[::-1]", reference=lambda p, s: s[::-1],
    ),
    SynthesisFamily(
        "upper", "string", 1, ("s",), "str", ("to_upper", "shout", "uppercase"),
        inputs="a string {s}", returns="{s} in upper case", action="converts {s} to upper case",
        formula="{s} in upper case", body="return {s}.upper()", reference=lambda p, s: s.upper(),
    ),
    SynthesisFamily(
        "lower", "string", 1, ("s",), "str", ("to_lower", "lowercase"),
        inputs="a string {s}", returns="{s} in lower case", action="converts {s} to lower case",
        formula="{s} in lower case", body="return {s}.lower()", reference=lambda p, s: s.lower(),
        samplers={"s": _mixed_case},
    ),
    SynthesisFamily(
        "string_length", "string", 1, ("s",), "int", ("length", "str_len", "count_chars"),
        inputs="a string {s}", returns="the number of characters in {s}",
        action="counts the characters of {s}", formula="len({s})", body="return len({s})",
        reference=lambda p, s: len(s),
    ),
    SynthesisFamily(
        "first_n", "string", 1, ("s",), "str", ("first_{k}", "head_{k}", "prefix_{k}"),
        inputs="a string {s}", returns="the first {k} characters of {s}",
        action="takes the first {k} characters of {s}", formula="{s}[:{k}]", body="return {s}[:{k}]",
        reference=lambda p, s: s[: p["k"]], params=_k(1, 5),
    ),
    SynthesisFamily(
        "last_n", "string", 2, ("s",), "str", ("last_{k}", "tail_{k}", "suffix_{k}"),
        inputs="a string {s}", returns="the last {k} characters of {s}",
        action="takes the last {k} characters of {s}", formula="{s}[-{k}:]", body="return {s}[-{k}:]",
        reference=lambda p, s: s[-p["k"] :], params=_k(1, 5),
    ),
    SynthesisFamily(
        "repeat_k", "string", 1, ("s",), "str", ("repeat_{k}", "times_{k}"),
        inputs="a string {s}", returns="{s} repeated {k} times", action="repeats {s} {k} times",
        formula="{s} * {k}", body="return {s} * {k}", reference=lambda p, s: s * p["k"], params=_k(2, 4),
    ),
    SynthesisFamily(
        "add_suffix", "string", 1, ("s",), "str", ("add_{suffix}", "append_{suffix}"),
        inputs="a string {s}", returns="{s} followed by {suffix!r}", action="appends {suffix!r} to {s}",
        formula="{s} + {suffix!r}", body="return {s} + {suffix!r}", reference=lambda p, s: s + p["suffix"],
        params=lambda rng: {"suffix": rng.choice(("ing", "ed", "er", "s", "ly", "ness", "ful"))},
    ),
    SynthesisFamily(
        "count_char", "string", 2, ("s",), "int", ("count_{c}", "num_{c}"),
        inputs="a string {s}", returns="the number of times {c!r} occurs in {s}",
        action="counts how many times {c!r} occurs in {s}", formula="{s}.count({c!r})",
        body="return {s}.count({c!r})", reference=lambda p, s: s.count(p["c"]), params=_char,
        inputs_for=_with_char,
    ),
    SynthesisFamily(
        "remove_char", "string", 2, ("s",), "str", ("remove_{c}", "strip_{c}", "without_{c}"),
        inputs="a string {s}", returns="{s} with every {c!r} removed",
        action="removes every {c!r} from {s}", formula="{s} without {c!r}",
        body="return {s}.replace({c!r}, '')", reference=lambda p, s: s.replace(p["c"], ""), params=_char,
        inputs_for=_with_char,
    ),
    SynthesisFamily(
        "replace_char", "string", 2, ("s",), "str", ("replace_{c}", "swap_{c}"),
        inputs="a string {s}", returns="{s} with every {c!r} replaced by {new!r}",
        action="replaces every {c!r} in {s} with {new!r}", formula="{s} with {c!r} -> {new!r}",
        body="return {s}.replace({c!r}, {new!r})", reference=lambda p, s: s.replace(p["c"], p["new"]),
        params=lambda rng: {"c": rng.choice("aeiost"), "new": rng.choice("xyz*_")}, inputs_for=_with_char,
    ),
    SynthesisFamily(
        "count_vowels", "string", 3, ("s",), "int", ("count_vowels", "num_vowels", "vowels"),
        inputs="a lowercase string {s}", returns="the number of vowels (a, e, i, o, u) in {s}",
        action="counts the vowels (a, e, i, o, u) in {s}", formula="number of vowels in {s}",
        body="return sum(1 for ch in {s} if ch in 'aeiou')",
        reference=lambda p, s: sum(1 for ch in s if ch in "aeiou"),
    ),
    # -- lists -------------------------------------------------------------------------------------
    SynthesisFamily(
        "sum_list", "list", 1, ("nums",), "int", ("total", "sum_list", "add_all"),
        inputs="a list of integers {nums}", returns="the sum of {nums}",
        action="adds up the numbers in {nums}",
        formula="sum({nums})", body="return sum({nums})", reference=lambda p, nums: sum(nums),
    ),
    SynthesisFamily(
        "max_list", "list", 1, ("nums",), "int", ("largest", "max_list", "biggest"),
        inputs="a non-empty list of integers {nums}", returns="the largest number in {nums}",
        action="finds the largest number in {nums}", formula="max({nums})", body="return max({nums})",
        reference=lambda p, nums: max(nums), samplers={"nums": _nonempty_list},
    ),
    SynthesisFamily(
        "min_list", "list", 1, ("nums",), "int", ("smallest", "min_list"),
        inputs="a non-empty list of integers {nums}", returns="the smallest number in {nums}",
        action="finds the smallest number in {nums}", formula="min({nums})", body="return min({nums})",
        reference=lambda p, nums: min(nums), samplers={"nums": _nonempty_list},
    ),
    SynthesisFamily(
        "list_length", "list", 1, ("nums",), "int", ("count_items", "list_length", "size"),
        inputs="a list of integers {nums}", returns="the number of elements in {nums}",
        action="counts the elements of {nums}", formula="len({nums})", body="return len({nums})",
        reference=lambda p, nums: len(nums),
    ),
    SynthesisFamily(
        "sort_list", "list", 1, ("nums",), "list[int]", ("sort_list", "sorted_copy", "ascending"),
        inputs="a list of integers {nums}", returns="{nums} sorted in ascending order",
        action="sorts {nums} in ascending order", formula="sorted({nums})", body="return sorted({nums})",
        reference=lambda p, nums: sorted(nums),
    ),
    SynthesisFamily(
        "reverse_list", "list", 1, ("nums",), "list[int]", ("reverse_list", "reversed_list"),
        inputs="a list of integers {nums}", returns="{nums} in reverse order", action="reverses {nums}",
        formula="{nums}[::-1]", body="return {nums}[::-1]", reference=lambda p, nums: nums[::-1],
    ),
    SynthesisFamily(
        "first_element", "list", 1, ("nums",), "int", ("first", "head", "first_item"),
        inputs="a non-empty list of integers {nums}", returns="the first element of {nums}",
        action="gets the first element of {nums}", formula="{nums}[0]", body="return {nums}[0]",
        reference=lambda p, nums: nums[0], samplers={"nums": _nonempty_list},
    ),
    SynthesisFamily(
        "count_value", "list", 1, ("nums",), "int", ("count_{k}", "occurrences_of_{k}"),
        inputs="a list of integers {nums}", returns="how many times {k} occurs in {nums}",
        action="counts the occurrences of {k} in {nums}", formula="{nums}.count({k})",
        body="return {nums}.count({k})", reference=lambda p, nums: nums.count(p["k"]), params=_k(0, 9),
        inputs_for=_list_with_k,
    ),
    SynthesisFamily(
        "sort_desc", "list", 2, ("nums",), "list[int]", ("sort_desc", "descending"),
        inputs="a list of integers {nums}", returns="{nums} sorted from largest to smallest",
        action="sorts {nums} in descending order", formula="sorted({nums}, reverse=True)",
        body="return sorted({nums}, reverse=True)", reference=lambda p, nums: sorted(nums, reverse=True),
    ),
    SynthesisFamily(
        "filter_evens", "list", 2, ("nums",), "list[int]", ("evens", "filter_evens", "keep_even"),
        inputs="a list of integers {nums}", returns="the even numbers of {nums}, in order",
        action="keeps only the even numbers of {nums}", formula="[v for v in {nums} if v is even]",
        body="return [v for v in {nums} if v % 2 == 0]",
        reference=lambda p, nums: [v for v in nums if v % 2 == 0],
    ),
    SynthesisFamily(
        "filter_greater", "list", 2, ("nums",), "list[int]", ("above_{k}", "greater_than_{k}"),
        inputs="a list of integers {nums}", returns="the numbers of {nums} greater than {k}, in order",
        action="keeps only the numbers of {nums} greater than {k}", formula="[v for v in {nums} if v > {k}]",
        body="return [v for v in {nums} if v > {k}]",
        reference=lambda p, nums: [v for v in nums if v > p["k"]],
        params=_k(0, 10),
    ),
    SynthesisFamily(
        "square_each", "list", 2, ("nums",), "list[int]", ("square_all", "squares", "square_each"),
        inputs="a list of integers {nums}", returns="the square of every number in {nums}",
        action="squares every number in {nums}", formula="[v * v for v in {nums}]",
        body="return [v * v for v in {nums}]", reference=lambda p, nums: [v * v for v in nums],
    ),
    SynthesisFamily(
        "add_k_each", "list", 2, ("nums",), "list[int]", ("add_{k}_to_all", "shift_by_{k}"),
        inputs="a list of integers {nums}", returns="every number in {nums} plus {k}",
        action="adds {k} to every number in {nums}", formula="[v + {k} for v in {nums}]",
        body="return [v + {k} for v in {nums}]", reference=lambda p, nums: [v + p["k"] for v in nums],
        params=_k(1, 10),
    ),
    SynthesisFamily(
        "unique_sorted", "list", 2, ("nums",), "list[int]", ("unique", "distinct", "dedupe"),
        inputs="a list of integers {nums}", returns="the distinct numbers of {nums} in ascending order",
        action="removes duplicates from {nums} and sorts the result", formula="sorted(set({nums}))",
        body="return sorted(set({nums}))", reference=lambda p, nums: sorted(set(nums)),
        samplers={"nums": lambda rng: [rng.randint(0, 5) for _ in range(rng.randint(0, 8))]},
    ),
    SynthesisFamily(
        "count_evens", "list", 2, ("nums",), "int", ("count_evens", "num_evens"),
        inputs="a list of integers {nums}", returns="how many numbers in {nums} are even",
        action="counts the even numbers in {nums}", formula="number of even values in {nums}",
        body="return sum(1 for v in {nums} if v % 2 == 0)",
        reference=lambda p, nums: sum(1 for v in nums if v % 2 == 0),
    ),
    SynthesisFamily(
        "sum_evens", "list", 3, ("nums",), "int", ("sum_evens", "even_total"),
        inputs="a list of integers {nums}", returns="the sum of the even numbers in {nums}",
        action="adds up the even numbers in {nums}", formula="sum of the even values in {nums}",
        body="total = 0\nfor v in {nums}:\n    if v % 2 == 0:\n        total += v\nreturn total",
        reference=lambda p, nums: sum(v for v in nums if v % 2 == 0),
    ),
    SynthesisFamily(
        "product_list", "list", 3, ("nums",), "int", ("product", "multiply_all"),
        inputs="a list of integers {nums}", returns="the product of the numbers in {nums} (1 if empty)",
        action="multiplies all numbers in {nums} together", formula="{nums}[0] * {nums}[1] * ...",
        body="result = 1\nfor v in {nums}:\n    result *= v\nreturn result",
        reference=lambda p, nums: _product(nums),
        samplers={"nums": lambda rng: [rng.randint(-3, 6) for _ in range(rng.randint(0, 5))]},
    ),
    SynthesisFamily(
        "word_lengths", "list", 2, ("words",), "list[int]", ("lengths", "word_lengths"),
        inputs="a list of strings {words}", returns="the length of each string in {words}",
        action="computes the length of every string in {words}", formula="[len(w) for w in {words}]",
        body="return [len(w) for w in {words}]", reference=lambda p, words: [len(w) for w in words],
    ),
    SynthesisFamily(
        "join_words", "list", 2, ("words",), "str", ("join_with_{name}", "glue_{name}"),
        inputs="a list of strings {words}", returns="the strings of {words} joined by {sep!r}",
        action="joins the strings of {words} with {sep!r} between them", formula="{sep!r}.join({words})",
        body="return {sep!r}.join({words})", reference=lambda p, words: p["sep"].join(words),
        params=lambda rng: dict(zip(("sep", "name"), rng.choice(_SEPARATORS), strict=True)),
    ),
    SynthesisFamily(
        "longest_word", "list", 3, ("words",), "str", ("longest", "longest_word"),
        inputs="a non-empty list of strings {words}", returns="the longest string in {words}",
        action="finds the longest string in {words}", formula="max({words}, key=len)",
        body="return max({words}, key=len)", reference=lambda p, words: max(words, key=len),
        inputs_for=_unique_longest,
    ),
    # -- dicts ---------------------------------------------------------------------------------------
    SynthesisFamily(
        "dict_get", "dict", 2, ("d",), "int", ("get_{key}", "lookup_{key}"),
        inputs="a dictionary {d} mapping strings to integers",
        returns="the value of {key!r} in {d}, or 0 if it is missing",
        action="looks up {key!r} in {d} and gives 0 when it is missing", formula="{d}.get({key!r}, 0)",
        body="return {d}.get({key!r}, 0)", reference=lambda p, d: d.get(p["key"], 0),
        params=lambda rng: {"key": rng.choice(WORDS)}, inputs_for=_dict_maybe_key,
    ),
    SynthesisFamily(
        "dict_sum", "dict", 2, ("d",), "int", ("sum_values", "total_value"),
        inputs="a dictionary {d} mapping strings to integers", returns="the sum of the values of {d}",
        action="adds up the values of {d}", formula="sum({d}.values())", body="return sum({d}.values())",
        reference=lambda p, d: sum(d.values()),
    ),
    SynthesisFamily(
        "dict_keys_sorted", "dict", 2, ("d",), "list[str]", ("sorted_keys", "keys_in_order"),
        inputs="a dictionary {d} mapping strings to integers", returns="the keys of {d} in sorted order",
        action="lists the keys of {d} in alphabetical order", formula="sorted({d})",
        body="return sorted({d})",
        reference=lambda p, d: sorted(d),
    ),
    SynthesisFamily(
        "argmax_key", "dict", 3, ("d",), "str", ("best_key", "max_key"),
        inputs="a non-empty dictionary {d} mapping strings to integers",
        returns="the key of {d} with the largest value", action="finds the key of {d} with the largest value",
        formula="max({d}, key={d}.get)", body="return max({d}, key={d}.get)",
        reference=lambda p, d: max(d, key=d.get), inputs_for=_unique_max_dict,
    ),
    SynthesisFamily(
        "char_counts", "dict", 3, ("s",), "dict[str, int]", ("char_counts", "letter_frequency"),
        inputs="a string {s}", returns="a dictionary mapping each character of {s} to its count",
        action="counts how often each character occurs in {s}", formula="{{char: count}} for {s}",
        body="counts = {{}}\nfor ch in {s}:\n    counts[ch] = counts.get(ch, 0) + 1\nreturn counts",
        reference=lambda p, s: _char_counts(s),
    ),
)  # fmt: skip

_SEPARATORS = ((" ", "space"), (",", "comma"), ("-", "dash"), ("", "nothing"))


def _product(nums: Sequence[int]) -> int:
    result = 1
    for v in nums:
        result *= v
    return result


def _char_counts(s: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for ch in s:
        counts[ch] = counts.get(ch, 0) + 1
    return counts


FAMILY_BY_NAME: dict[str, SynthesisFamily] = {f.name: f for f in FAMILIES}
CATEGORIES = tuple(sorted({f.category for f in FAMILIES}))


# ----------------------------------------------------------------------------------------------------
# Config and generation


@dataclass(frozen=True)
class SynthesisConfig:
    """What :func:`generate_synthesis_tasks` generates.

    Attributes:
        seed: Base seed; raw item ``i`` of a split is drawn from ``Random(seed + offset + i)``.
        size: Number of (distinct) tasks.
        split: ``"train"`` or ``"eval"``; their seed ranges and their problems are disjoint.
        families: Family names to draw from (``None``: all of :data:`FAMILIES`).
        categories: Restrict to these categories (``None``: all of :data:`CATEGORIES`).
        phrasing_groups: Groups the description is drawn from (subset of :data:`PHRASING_GROUPS`).
        difficulty: Allowed difficulty levels (1, 2, 3).
        num_tests: Hidden tests per task.
        num_visible_tests: Visible tests per task (distinct inputs from the hidden ones).

    """

    seed: int = 0
    size: int = 100
    split: str = "train"
    families: tuple[str, ...] | None = None
    categories: tuple[str, ...] | None = None
    phrasing_groups: tuple[str, ...] = PHRASING_GROUPS
    difficulty: tuple[int, ...] = (1, 2, 3)
    num_tests: int = 5
    num_visible_tests: int = 1

    def __post_init__(self) -> None:
        # Accept lists (from JSON or the CLI), a bare string or a bare int; store tuples so configs hash.
        for name in ("families", "categories", "phrasing_groups", "difficulty"):
            object.__setattr__(self, name, as_tuple(getattr(self, name)))

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad field and its allowed values."""
        validate_size(self.size, "SynthesisConfig")
        validate_seed(self.seed, self.size, "SynthesisConfig")
        validate_split(self.split, "SynthesisConfig")
        if self.families is not None:
            unknown = [f for f in self.families if f not in FAMILY_BY_NAME]
            if unknown or not self.families:
                raise ValueError(
                    f"SynthesisConfig.families has unknown names {unknown or '(empty)'}; "
                    f"choose from {sorted(FAMILY_BY_NAME)}"
                )
        if self.categories is not None:
            unknown = [c for c in self.categories if c not in CATEGORIES]
            if unknown or not self.categories:
                raise ValueError(
                    f"SynthesisConfig.categories has unknown names {unknown or '(empty)'}; "
                    f"choose from {CATEGORIES}"
                )
        bad_groups = [g for g in self.phrasing_groups if g not in PHRASING_GROUPS]
        if bad_groups or not self.phrasing_groups:
            raise ValueError(
                f"SynthesisConfig.phrasing_groups has unknown groups {bad_groups or '(empty)'}; "
                f"choose from {PHRASING_GROUPS}"
            )
        bad_levels = [d for d in self.difficulty if d not in (1, 2, 3)]
        if bad_levels or not self.difficulty:
            raise ValueError(
                f"SynthesisConfig.difficulty must be a non-empty subset of (1, 2, 3), got {self.difficulty!r}"
            )
        if not isinstance(self.num_tests, int) or self.num_tests < 2:
            raise ValueError(
                f"SynthesisConfig.num_tests must be an int >= 2 (one test cannot tell a constant "
                f"function from a correct one), got {self.num_tests!r}"
            )
        if not isinstance(self.num_visible_tests, int) or self.num_visible_tests < 0:
            raise ValueError(
                f"SynthesisConfig.num_visible_tests must be an int >= 0, got {self.num_visible_tests!r}"
            )
        if not self.allowed_families():
            raise ValueError(
                "SynthesisConfig selects no family: no family matches families="
                f"{self.families!r}, categories={self.categories!r}, difficulty={self.difficulty!r}"
            )

    def allowed_families(self) -> tuple[SynthesisFamily, ...]:
        """Return the families this config draws from, in catalogue order."""
        return tuple(
            f
            for f in FAMILIES
            if (self.families is None or f.name in self.families)
            and (self.categories is None or f.category in self.categories)
            and f.difficulty in self.difficulty
        )


@dataclass(frozen=True)
class _Problem:
    """A drawn problem before wording: family, constants, names and test cases."""

    family: SynthesisFamily
    params: dict[str, Any]
    fn: str
    arg_names: tuple[str, ...]
    cases: tuple[tuple[tuple[Any, ...], Any], ...]  # hidden then visible: (args, expected)

    @property
    def content_key(self) -> str:
        return repr((self.family.name, sorted(self.params.items()), self.fn, self.arg_names))


def _slots(problem: _Problem) -> dict[str, Any]:
    slots: dict[str, Any] = dict(problem.params)
    slots.update(zip(problem.family.args, problem.arg_names, strict=True))
    return slots


def _draw_problem(
    rng: random.Random, families: Sequence[SynthesisFamily], n_cases: int, n_hidden: int
) -> _Problem:
    family = rng.choice(families)
    params = family.params(rng)
    fn = rng.choice(family.fn_names).format(**params)
    arg_names = rng.choice(NAME_POOLS[family.args])
    cases = _draw_cases(rng, family, params, n_cases, n_hidden)
    return _Problem(family, params, fn, arg_names, cases)


def _draw_cases(
    rng: random.Random, family: SynthesisFamily, params: dict[str, Any], n_cases: int, n_hidden: int
) -> tuple[tuple[tuple[Any, ...], Any], ...]:
    """Draw ``n_cases`` distinct inputs whose hidden outputs are not all equal.

    Boolean families also need both ``True`` and ``False`` among the hidden outputs when possible, so
    neither a constant function nor an inverted predicate passes.
    """
    for _attempt in range(50):
        cases: list[tuple[tuple[Any, ...], Any]] = []
        seen: set[str] = set()
        for _ in range(n_cases * 30):
            if len(cases) == n_cases:
                break
            args = family.sample_args(rng, params)
            key = repr(args)
            if key in seen:
                continue
            seen.add(key)
            # The reference gets copies: a reference that mutated its input would corrupt the test.
            expected = family.reference(params, *_copy_args(args))
            cases.append((args, expected))
        hidden_outputs = [repr(out) for _, out in cases[:n_hidden]]
        distinct = len(set(hidden_outputs))
        ok = distinct >= 2
        if family.returns_type == "bool":
            ok = ok and min(hidden_outputs.count("True"), hidden_outputs.count("False")) >= min(
                2, n_hidden // 2
            )
        if len(cases) == n_cases and ok:
            return tuple(cases)
    raise RuntimeError(
        f"family {family.name!r} could not draw {n_cases} distinct, informative test inputs for {params!r}"
    )


def _copy_args(args: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(list(a) if isinstance(a, list) else dict(a) if isinstance(a, dict) else a for a in args)


def _call(fn: str, args: tuple[Any, ...]) -> str:
    return f"{fn}({', '.join(repr(a) for a in args)})"


def _signature(problem: _Problem) -> str:
    params = ", ".join(
        f"{name}: {TYPE_OF_ROLE[role]}"
        for role, name in zip(problem.family.args, problem.arg_names, strict=True)
    )
    return f"def {problem.fn}({params}) -> {problem.family.returns_type}:"


def phrase(problem_slots: dict[str, Any], family: SynthesisFamily, fn: str, group: str) -> str:
    """Return the description of a task in phrasing ``group`` (a key of :data:`PHRASING_FRAMES`)."""
    arg_names = [problem_slots[role] for role in family.args]
    texts = {
        "fn": fn,
        "params": ", ".join(arg_names),
        "inputs": family.inputs.format(**problem_slots),
        "returns": family.returns.format(**problem_slots),
        "action": family.action.format(**problem_slots),
        "formula": family.formula.format(**problem_slots),
    }
    return PHRASING_FRAMES[group].format(**texts)


def _to_task(problem: _Problem, group: str, config: SynthesisConfig, index: int) -> Task:
    family = problem.family
    slots = _slots(problem)
    body = family.body.format(**slots)
    signature = _signature(problem)
    reference = signature + "\n" + "".join(f"    {line}\n" for line in body.splitlines())
    asserts = [f"assert {_call(problem.fn, args)} == {expected!r}" for args, expected in problem.cases]
    hidden = tuple(asserts[: config.num_tests])
    visible = tuple(asserts[config.num_tests :])
    phrasings = {g: phrase(slots, family, problem.fn, g) for g in PHRASING_GROUPS}
    return Task(
        task_id=f"synth/{index}" if config.split == "train" else f"synth/eval/{index}",
        prompt=phrasings[group],
        entry_point=problem.fn,
        tests=hidden,
        visible_tests=visible,
        reference_solution=reference,
        language="python",
        source=SOURCE,
        metadata={
            "family": family.name,
            "category": family.category,
            "difficulty": family.difficulty,
            "phrasing_group": group,
            "phrasings": phrasings,
            "params": dict(problem.params),
            "signature": signature,
            "arg_names": list(problem.arg_names),
            "split": config.split,
            "seed": config.seed,
            "content_key": problem.content_key,
        },
    )


def synthesis_item(config: SynthesisConfig, raw_index: int) -> Task:
    """Raw item ``raw_index`` of a config, drawn from ``Random(seed + offset + raw_index)``, without dedupe.

    :func:`generate_synthesis_tasks` keeps the raw items whose problems have not appeared before, so its
    ``i``-th task is the raw item at some ``raw_index >= i``; its ``task_id`` is the position ``i``.
    """
    return _raw_item(config, raw_index, config.allowed_families())[1]


def _raw_item(
    config: SynthesisConfig, raw_index: int, families: Sequence[SynthesisFamily]
) -> tuple[str, Task]:
    rng = item_rng(config.seed, config.split, raw_index)
    n_cases = config.num_tests + config.num_visible_tests

    def draw(r: random.Random) -> tuple[str, _Problem]:
        problem = _draw_problem(r, families, n_cases, config.num_tests)
        return problem.content_key, problem

    problem = draw_in_split(rng, config.split, draw)
    # The wording is drawn last, so it never changes which problems a config produces.
    group = rng.choice(config.phrasing_groups)
    return problem.content_key, _to_task(problem, group, config, raw_index)


def generate_synthesis_tasks(config: SynthesisConfig, progress: bool = False) -> list[Task]:
    """Generate ``config.size`` distinct function-synthesis tasks.

    Reproducible (the same config gives the same tasks in every process) and prefix-stable (the tasks
    of a smaller ``size`` are the first tasks of a larger one). Problems are deduplicated by content
    (family, constants, function and argument names), whatever their wording.

    Args:
        config: What to generate; validated first.
        progress: Show a tqdm progress bar.

    Raises:
        ValueError: ``config`` is invalid, or it allows fewer than ``size`` distinct problems.

    """
    config.validate()
    families = config.allowed_families()
    raw = take_unique(
        lambda i: _raw_item(config, i, families),
        key=lambda pair: pair[0],
        size=config.size,
        what="synthesis tasks",
        progress=progress,
    )
    # Renumber: the task id is the position in the deduplicated list.
    return [_renumber(task, position, config) for position, (_, task) in enumerate(raw)]


def _renumber(task: Task, position: int, config: SynthesisConfig) -> Task:
    from dataclasses import replace

    task_id = f"synth/{position}" if config.split == "train" else f"synth/eval/{position}"
    return replace(task, task_id=task_id, metadata={**task.metadata, "index": position})


def rephrase(task: Task, group: str) -> Task:
    """Return ``task`` described in phrasing ``group`` (same problem, tests and id; metadata updated).

    Lets one evaluate the same tasks under every phrasing group, e.g. to measure how much a model's
    pass rate depends on the wording it was trained on.

    Raises:
        ValueError: ``group`` is not a phrasing group, or ``task`` is not a synthesis task.

    """
    if group not in PHRASING_GROUPS:
        raise ValueError(f"unknown phrasing group {group!r}; choose from {PHRASING_GROUPS}")
    phrasings = task.metadata.get("phrasings")
    if not isinstance(phrasings, dict) or group not in phrasings:
        raise ValueError(
            f"task {task.task_id!r} has no procedural phrasings; rephrase() takes synthesis tasks"
        )
    from dataclasses import replace

    return replace(task, prompt=phrasings[group], metadata={**task.metadata, "phrasing_group": group})


def load_synthesis_tasks(
    split: str = "train",
    size: int = 100,
    seed: int = 0,
    phrasing_groups: Sequence[str] = PHRASING_GROUPS,
    **options: Any,
) -> list[Task]:
    """Generate with keyword arguments: ``generate_synthesis_tasks(SynthesisConfig(seed, size, split, ...))``.

    Extra keyword arguments are :class:`SynthesisConfig` fields (``families``, ``difficulty``, ...).
    """
    config = SynthesisConfig(
        seed=seed, size=size, split=split, phrasing_groups=tuple(phrasing_groups), **options
    )
    return generate_synthesis_tasks(config)


def describe_families() -> list[dict[str, Any]]:
    """One row per family: name, category, difficulty, example description (for ``codegym data list``)."""
    rows = []
    for family in FAMILIES:
        rng = random.Random(0)
        params = family.params(rng)
        slots = dict(params)
        slots.update(zip(family.args, NAME_POOLS[family.args][0], strict=True))
        fn = family.fn_names[0].format(**params)
        rows.append(
            {
                "name": family.name,
                "category": family.category,
                "difficulty": family.difficulty,
                "example": phrase(slots, family, fn, "A"),
            }
        )
    return rows
