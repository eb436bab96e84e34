"""Reward terms, composite rewards and presets on hand-built execution results."""

from __future__ import annotations

import math

import pytest

from codegym.execution import ExecutionResult, Limits, Outcome
from codegym.execution import TestVerdict as Verdict
from codegym.rewards import (
    BUILTIN_TERMS,
    PRESETS,
    CompositeReward,
    EfficiencyTerm,
    FunctionTerm,
    ReadabilityTerm,
    RewardContext,
    RewardTerm,
    code_metrics,
    get_reward,
)

GOOD = "def add(a, b):\n    return a + b\n"


def result(
    *outcomes: Outcome, durations: tuple[float, ...] = (), status: Outcome | None = None
) -> ExecutionResult:
    tests = tuple(
        Verdict(i, o, durations[i] if i < len(durations) else 0.001) for i, o in enumerate(outcomes)
    )
    if status is None:
        status = (
            Outcome.PASSED
            if all(o is Outcome.PASSED for o in outcomes)
            else next(o for o in outcomes if o is not Outcome.PASSED)
        )
    return ExecutionResult(status=status, tests=tests)


PASS3 = result(Outcome.PASSED, Outcome.PASSED, Outcome.PASSED)
PASS1_FAIL2 = result(Outcome.PASSED, Outcome.FAILED, Outcome.ERROR)
SYNTAX = result(Outcome.NOT_RUN, Outcome.NOT_RUN, status=Outcome.SYNTAX_ERROR)
TIMEOUT = result(Outcome.PASSED, Outcome.TIMEOUT, Outcome.NOT_RUN)


def ctx(
    res: ExecutionResult, code: str = GOOD, found: bool = True, limits: Limits | None = None
) -> RewardContext:
    return RewardContext(completion=code, code=code, result=res, code_found=found, limits=limits)


def terms(res: ExecutionResult, code: str = GOOD, found: bool = True) -> dict[str, float]:
    return {name: factory()(ctx(res, code, found)) for name, factory in BUILTIN_TERMS.items()}


def test_builtin_terms_on_a_passing_program() -> None:
    t = terms(PASS3)
    assert t == {
        "compiles": 1.0,
        "syntax_error": 0.0,
        "pass_fraction": 1.0,
        "all_passed": 1.0,
        "timed_out": 0.0,
        "readability": 1.0,
        "efficiency": 1.0,
        "format": 1.0,
    }


def test_builtin_terms_on_partial_syntax_error_and_timeout() -> None:
    t = terms(PASS1_FAIL2)
    assert t["pass_fraction"] == pytest.approx(1 / 3) and t["all_passed"] == 0.0 and t["compiles"] == 1.0
    assert t["efficiency"] == pytest.approx(1 / 3)  # fast, but only a third of the tests pass
    s = terms(SYNTAX, code="def add(a, b) return a + b")
    assert s["syntax_error"] == 1.0 and s["compiles"] == 0.0 and s["readability"] == 0.0
    assert s["pass_fraction"] == 0.0 and s["efficiency"] == 0.0
    assert terms(TIMEOUT)["timed_out"] == 1.0
    assert terms(result(Outcome.PASSED, status=Outcome.TIMEOUT))["timed_out"] == 1.0
    assert terms(PASS3, code="   ", found=False)["format"] == 0.0
    assert terms(PASS3, found=False)["format"] == 0.0


def test_a_result_without_tests_never_counts_as_passed() -> None:
    empty = ExecutionResult(status=Outcome.PASSED, tests=())
    t = terms(empty)
    assert t["all_passed"] == 0.0 and t["pass_fraction"] == 0.0 and t["efficiency"] == 0.0


def test_code_metrics() -> None:
    code = (
        "import math\n\n"
        "def f(xs, y):\n"
        '    """Docstring\n    spanning lines."""\n'
        "    # a comment\n"
        "    total = 0\n"
        "    for x in xs:\n"
        "        if x > 0 and y:\n"
        "            while x:\n"
        "                x -= 1\n"
        "    return [v for v in xs if v] or total\n"
    )
    m = code_metrics(code)
    assert m is not None
    assert m.lines == 8  # docstring, comment and blank lines excluded
    assert m.max_nesting == 3
    # 1 + for + if + and + while + comprehension (1 + 1 if) + or
    assert m.max_complexity == 8
    assert code_metrics("def broken(:\n") is None
    nested = "def g():\n    def h():\n        if a:\n            pass\n    return h\n"
    assert code_metrics(nested).max_nesting == 1  # a nested function restarts the nesting count


def test_readability_falls_with_length_nesting_and_complexity() -> None:
    term = ReadabilityTerm()
    assert term.score_code(GOOD) == 1.0
    deep = (
        "def f(x):\n"
        + "".join("    " * (i + 1) + f"if x > {i}:\n" for i in range(9))
        + "    " * 10
        + "pass\n"
    )
    assert term.score_code(deep) < 0.7
    long = "def f(x):\n" + "".join(f"    x{i} = {i}\n" for i in range(250)) + "    return x\n"
    assert term.score_code(long) == pytest.approx(2 / 3)  # length score 0, the other two perfect
    branches = "def f(x):\n" + "".join(f"    if x == {i}: return {i}\n" for i in range(25))
    assert term.score_code(branches) == pytest.approx(2 / 3)
    assert term.score_code("") == 0.0
    for score in (term.score_code(deep), term.score_code(long), term.score_code(branches)):
        assert 0.0 <= score <= 1.0
    with pytest.raises(ValueError, match="good_lines"):
        ReadabilityTerm(good_lines=50, bad_lines=10)


def test_efficiency_log_scale_between_fast_and_the_limit() -> None:
    term = EfficiencyTerm(fast_s=0.01)
    limits = Limits(timeout_s=1.0)
    fast = result(Outcome.PASSED, durations=(0.005,))
    mid = result(Outcome.PASSED, durations=(0.1,))
    slow = result(Outcome.PASSED, durations=(2.0,))
    assert term(ctx(fast, limits=limits)) == 1.0
    assert term(ctx(mid, limits=limits)) == pytest.approx(0.5)  # log(10)/log(100)
    assert term(ctx(slow, limits=limits)) == 0.0
    # Only passing tests' durations count.
    mixed = result(Outcome.PASSED, Outcome.TIMEOUT, durations=(0.005, 1.0))
    assert term(ctx(mixed, limits=limits)) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="fast_s"):
        EfficiencyTerm(fast_s=0)


def test_builtin_terms_satisfy_the_protocol() -> None:
    for factory in BUILTIN_TERMS.values():
        assert isinstance(factory(), RewardTerm)


# ---------------------------------------------------------------- presets


def test_execution_preset_reproduces_the_reference_scheme() -> None:
    reward = get_reward("execution")
    assert reward.limits is not None and reward.limits.timeout_s == 3.0
    assert reward(ctx(PASS3)) == pytest.approx(1.0 + 0.1 * 1.0)
    assert reward(ctx(PASS1_FAIL2)) == pytest.approx(0.1)
    assert reward(ctx(SYNTAX, code="def f(:")) == pytest.approx(-0.2)


def test_weighted_preset() -> None:
    reward = get_reward("weighted")
    assert {k: v for k, v in reward.weights.items() if v} == {
        "compiles": 0.3,
        "pass_fraction": 0.4,
        "readability": 0.2,
        "efficiency": 0.1,
    }
    assert reward(ctx(PASS3)) == pytest.approx(1.0)
    assert reward(ctx(PASS1_FAIL2)) == pytest.approx(0.3 + 0.4 / 3 + 0.2 + 0.1 / 3)
    assert reward(ctx(SYNTAX, code="def f(:")) == 0.0


def test_binary_preset_and_every_term_reported_at_weight_zero() -> None:
    reward = get_reward("binary")
    out = reward.evaluate(ctx(PASS1_FAIL2))
    assert out.total == 0.0 and reward(ctx(PASS3)) == 1.0
    assert set(out.terms) == set(BUILTIN_TERMS)
    assert out.weights["all_passed"] == 1.0 and out.weights["readability"] == 0.0
    assert out.terms["pass_fraction"] == pytest.approx(1 / 3)


def test_unknown_preset_error_lists_the_presets() -> None:
    with pytest.raises(ValueError) as err:
        get_reward("exec")
    for name in PRESETS:
        assert repr(name) in str(err.value)


def test_presets_are_fresh_objects() -> None:
    assert get_reward("execution") is not get_reward("execution")


# ---------------------------------------------------------------- user terms


def test_custom_terms_functions_and_pairs() -> None:
    def short(c: RewardContext) -> float:
        return 1.0 if len(c.code) < 100 else 0.0

    class Penalty:
        name = "has_print"

        def __call__(self, c: RewardContext) -> float:
            return float("print(" in c.code)

    reward = CompositeReward(
        [("all_passed", 1.0), (short, 0.5), (Penalty(), -1.0), ("uses_sum", lambda c: "sum" in c.code, 0.25)]
    )
    out = reward.evaluate(ctx(PASS3, code="def f(x):\n    print(x)\n    return sum(x)\n"))
    assert out.terms["short"] == 1.0 and out.terms["has_print"] == 1.0 and out.terms["uses_sum"] == 1.0
    assert out.total == pytest.approx(1.0 + 0.5 - 1.0 + 0.25)
    assert get_reward(short).weights["short"] == 1.0
    assert get_reward({"pass_fraction": 2.0})(ctx(PASS1_FAIL2)) == pytest.approx(2 / 3)
    assert get_reward([Penalty()]).name == "custom"
    only = CompositeReward({"all_passed": 1.0}, report_all=False)
    assert set(only.weights) == {"all_passed"}


def test_clip_and_errors() -> None:
    clipped = CompositeReward({"all_passed": 5.0}, clip=(0.0, 1.0))
    assert clipped(ctx(PASS3)) == 1.0
    with pytest.raises(ValueError, match="unknown reward term 'passed'"):
        CompositeReward({"passed": 1.0})
    with pytest.raises(ValueError, match="twice"):
        CompositeReward([("all_passed", 1.0), ("all_passed", 2.0)])
    with pytest.raises(ValueError, match="finite"):
        CompositeReward({"all_passed": math.inf})
    with pytest.raises(TypeError, match="number"):
        CompositeReward({"all_passed": "high"})
    with pytest.raises(ValueError, match="needs a name"):
        CompositeReward([lambda c: 1.0])
    with pytest.raises(TypeError, match="preset"):
        CompositeReward("execution")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="cannot make a reward"):
        get_reward(3)  # type: ignore[arg-type]
    nan_term = FunctionTerm(lambda c: math.nan, name="nan_term")
    with pytest.raises(ValueError, match="nan_term"):
        CompositeReward([nan_term]).evaluate(ctx(PASS3))


def test_infra_results_are_marked_invalid() -> None:
    infra = ExecutionResult(status=Outcome.INFRA, tests=(), message="worker died")
    out = get_reward("execution").evaluate(ctx(infra))
    assert out.valid is False
    assert get_reward("execution").evaluate(ctx(PASS3)).valid is True
