"""How environments pick the next episode's task: one sampler shared by every task-based environment."""

from __future__ import annotations

import numpy as np

#: Valid values of the environments' ``sampling`` argument.
SAMPLING_MODES = ("random", "shuffle", "sequential")


class EpisodeSampler:
    """Pick task indices in ``range(n)`` with the environment's ``np_random``.

    Modes: ``"random"`` draws uniformly with replacement; ``"shuffle"`` visits every task once per pass
    in a fresh random order; ``"sequential"`` visits 0, 1, ..., n - 1 and starts again.

    Args:
        n: Number of tasks (> 0).
        mode: One of :data:`SAMPLING_MODES`.

    """

    def __init__(self, n: int, mode: str = "random") -> None:
        if mode not in SAMPLING_MODES:
            raise ValueError(f"unknown sampling {mode!r}; choose one of {SAMPLING_MODES}")
        if n < 1:
            raise ValueError(f"cannot sample episodes from {n} tasks; give at least one task")
        self.n = n
        self.mode = mode
        self._order: list[int] = []
        self._cursor = 0

    def restart(self) -> None:
        """Forget the current pass (called when the environment is reseeded)."""
        self._order, self._cursor = [], 0

    def next(self, rng: np.random.Generator) -> int:
        """Return the next task index, drawing from ``rng`` (the environment's ``np_random``)."""
        if self.mode == "random":
            return int(rng.integers(self.n))
        if self._cursor >= len(self._order):
            if self.mode == "shuffle":
                self._order = [int(i) for i in rng.permutation(self.n)]
            else:
                self._order = list(range(self.n))
            self._cursor = 0
        index = self._order[self._cursor]
        self._cursor += 1
        return index
