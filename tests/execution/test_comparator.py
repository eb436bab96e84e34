"""Unit tests of the strict comparator, the return-value sanitizers and the test rewriter.

These run the harness helpers in this process on objects defined here (trusted test fixtures).
"""

from __future__ import annotations

import ast
from collections import Counter, OrderedDict, namedtuple
from fractions import Fraction

import pytest

from codegym.execution._sandbox import harness, rewrite
from codegym.execution._sandbox.harness import Poisoned, sanitize_return, sanitize_soft, strict_compare

EQ, NE, IN, NOT_IN = rewrite.OP_EQ, rewrite.OP_NE, rewrite.OP_IN, rewrite.OP_NOT_IN


class AlwaysEq:
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = object.__hash__


class EqInt(int):
    def __eq__(self, other):
        return True

    __hash__ = int.__hash__


class Plain:
    pass


@pytest.mark.parametrize(
    "a, b, expected",
    [
        (1, 1, True),
        (1, 1.0, True),
        (True, 1, True),
        ("a", "a", True),
        ([1, (2, "x")], [1, (2, "x")], True),
        ({"k": [1]}, {"k": [1]}, True),
        ({1, 2}, {2, 1}, True),
        (None, None, True),
        (float("nan"), float("nan"), False),
        (AlwaysEq(), 2, False),
        (2, AlwaysEq(), False),
        ([AlwaysEq()], [2], False),
        ({"k": AlwaysEq()}, {"k": 2}, False),
        (EqInt(0), 5, False),
        (EqInt(5), 5, True),
        (Fraction(1, 2), 0.5, True),
        (OrderedDict(a=1), {"a": 1}, True),
        (Counter("aab"), {"a": 2, "b": 1}, True),
        (namedtuple("P", "x y")(1, 2), (1, 2), True),
        ({1: 2}.keys(), {1}, True),
        (Plain(), 1, False),
    ],
)
def test_strict_equality(a, b, expected) -> None:
    assert strict_compare(EQ, a, b) is expected
    assert strict_compare(NE, a, b) is (not expected)


def test_both_sides_non_builtin_fall_back_to_ordinary_equality() -> None:
    p = Plain()
    assert strict_compare(EQ, p, p) is True
    assert strict_compare(EQ, AlwaysEq(), AlwaysEq()) is True  # documented: no builtin side to trust


def test_membership() -> None:
    assert strict_compare(IN, 2, [1, 2]) is True
    assert strict_compare(NOT_IN, 3, [1, 2]) is True
    assert strict_compare(IN, AlwaysEq(), [1, 2]) is False
    assert strict_compare(IN, "b", "abc") is True
    assert strict_compare(IN, 5, range(10)) is True


def test_sanitizers() -> None:
    assert type(sanitize_return(EqInt(3))) is int
    assert type(sanitize_return([EqInt(3)])[0]) is int
    assert isinstance(sanitize_return(AlwaysEq()), Poisoned)
    assert isinstance(sanitize_return(Fraction(1, 3)), Fraction)
    assert isinstance(sanitize_soft(AlwaysEq()), AlwaysEq)
    assert type(sanitize_soft(EqInt(3))) is int
    p = namedtuple("P", "x")(1)
    assert sanitize_return(p) is p
    keep = [1, "a", (2.0, None)]
    assert sanitize_return(keep) is keep
    with pytest.raises(TypeError, match="codegym"):
        abs(sanitize_return(AlwaysEq()) - 1)


def test_deep_structures_raise_instead_of_hanging() -> None:
    deep: list = []
    cur = deep
    for _ in range(500):
        cur.append([])
        cur = cur[0]
    with pytest.raises(RecursionError):
        harness.normalize(deep, harness.STRICT)


def _rewrite(src: str, entry: str = "") -> str:
    tree, _reads, _used, _imports = rewrite.rewrite_test(
        src, cmp_name="CMP", ret_name="RET", soft_name="SOFT", builtins_prefix="B_", entry_point=entry
    )
    return ast.unparse(tree)


def test_rewrite_comparisons_calls_and_builtins() -> None:
    out = _rewrite("assert f(1) == 2\nassert abs(f(2) - 1) < 1e-9\nassert 3 in g()", entry="f")
    assert "CMP(0, RET(f(1)), 2)" in out
    assert "B_abs(RET(f(2)) - 1) < 1e-09" in out
    assert "CMP(2, 3, SOFT(g()))" in out


def test_rewrite_leaves_test_bound_names_alone() -> None:
    src = (
        "def check(candidate):\n    assert candidate(1) == 1\n"
        "def len(x):\n    return 0\ncheck(f)\nassert len([1]) == 0"
    )
    out = _rewrite(src)
    assert "RET(candidate(1))" in out
    assert "check(f)" in out and "RET(check" not in out
    assert "B_len" not in out and "len([1])" in out


def test_rewrite_chained_comparisons_are_left_as_is() -> None:
    assert "0 < RET(f(1)) < 2" in _rewrite("assert 0 < f(1) < 2")
    assert "CMP(0, RET(f(1)), 1) and CMP(0, 1, RET(g()))" in _rewrite("assert f(1) == 1 == g()")
    assert "CMP" not in _rewrite("assert f(1) == g() == 1")  # a call in the middle: left as it is


def test_rewrite_reports_syntax_errors() -> None:
    with pytest.raises(SyntaxError):
        _rewrite("assert (")
