"""Reward terms and presets on real ExecutionResults from the sandboxed engine."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from codegym.execution import ExecutionResult, Limits, Outcome, SandboxExecutor
from codegym.rewards import RewardContext, get_reward

TESTS = ["assert add(1, 2) == 3", "assert add(-1, 1) == 0", "assert add(0, 0) == 0"]


@pytest.fixture(scope="module")
def executor() -> Iterator[SandboxExecutor]:
    with SandboxExecutor(workers=1, cache_size=0) as ex:
        yield ex


def score(
    result: ExecutionResult, code: str, preset: str, limits: Limits | None = None
) -> tuple[float, dict]:
    out = get_reward(preset).evaluate(RewardContext(completion=code, code=code, result=result, limits=limits))
    return out.total, out.terms


def test_passing_program(executor: SandboxExecutor) -> None:
    code = "def add(a, b):\n    return a + b\n"
    result = executor.run(code, TESTS)
    assert result.status is Outcome.PASSED
    total, terms = score(result, code, "execution")
    assert total == pytest.approx(1.1) and terms["readability"] == 1.0
    assert score(result, code, "weighted")[0] == pytest.approx(1.0)
    assert score(result, code, "binary")[0] == 1.0


def test_partially_correct_program(executor: SandboxExecutor) -> None:
    code = "def add(a, b):\n    return a * b + 2 if a > 0 else 0\n"  # right for add(-1, 1), add(0, 0)
    result = executor.run(code, TESTS)
    assert result.status is Outcome.FAILED
    total, terms = score(result, code, "weighted")
    assert terms["pass_fraction"] == pytest.approx(2 / 3)
    assert terms["all_passed"] == 0.0 and terms["compiles"] == 1.0
    assert total == pytest.approx(0.3 + 0.4 * 2 / 3 + 0.2 * terms["readability"] + 0.1 * terms["efficiency"])
    assert score(result, code, "execution")[0] == pytest.approx(0.1 * terms["readability"])


def test_syntax_error_and_runtime_error(executor: SandboxExecutor) -> None:
    bad = "def add(a, b)\n    return a + b\n"
    result = executor.run(bad, TESTS)
    assert result.status is Outcome.SYNTAX_ERROR
    total, terms = score(result, bad, "execution")
    assert total == pytest.approx(-0.2) and terms["syntax_error"] == 1.0 and terms["readability"] == 0.0
    assert score(result, bad, "weighted")[0] == 0.0
    raising = "def add(a, b):\n    return a + c\n"
    result = executor.run(raising, TESTS)
    assert result.status is Outcome.ERROR
    total, terms = score(result, raising, "execution")
    assert terms["compiles"] == 1.0 and terms["pass_fraction"] == 0.0 and total == pytest.approx(0.1)


def test_timeout_and_efficiency_from_measured_durations(executor: SandboxExecutor) -> None:
    limits = Limits(timeout_s=1.0)
    loop = "def add(a, b):\n    while True:\n        pass\n"
    result = executor.run(loop, TESTS[:1], limits=limits)
    assert result.status is Outcome.TIMEOUT
    _, terms = score(result, loop, "weighted", limits)
    assert terms["timed_out"] == 1.0 and terms["efficiency"] == 0.0

    slow = "import time\n\ndef add(a, b):\n    time.sleep(0.2)\n    return a + b\n"
    result = executor.run(slow, TESTS[:1], limits=limits)
    assert result.status is Outcome.PASSED
    _, slow_terms = score(result, slow, "weighted", limits)
    fast = "def add(a, b):\n    return a + b\n"
    _, fast_terms = score(executor.run(fast, TESTS[:1], limits=limits), fast, "weighted", limits)
    # 0.2 s on a log scale from 10 ms (1.0) to the 1 s limit (0.0) is about 0.35.
    assert 0.0 < slow_terms["efficiency"] < 0.5
    assert fast_terms["efficiency"] == 1.0
