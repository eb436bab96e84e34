"""How environments pick the next episode's task: one sampler shared by every task-based environment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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


def requested_index(
    options: Mapping[str, Any] | None, index_of: Mapping[str, int], *, kind: str = "task"
) -> int | None:
    """Validate ``reset`` options and return the index they ask for, or ``None`` to sample one.

    The options are ``{kind}_id`` (a key of ``index_of``) or ``{kind}_index`` (an int in
    ``[0, len(index_of))``), at most one of them; anything else raises ``ValueError`` naming it.
    """
    id_key, index_key = f"{kind}_id", f"{kind}_index"
    options = dict(options or {})
    unknown = sorted(set(options) - {id_key, index_key})
    if unknown:
        raise ValueError(f"unknown reset options {unknown}; valid options are {[id_key, index_key]}")
    if id_key in options and index_key in options:
        raise ValueError(f"give reset options {id_key!r} or {index_key!r}, not both")
    n = len(index_of)
    if id_key in options:
        wanted = options[id_key]
        if wanted not in index_of:
            raise ValueError(
                f"reset option {id_key}={wanted!r} is not one of this environment's {n} {kind}s "
                f"(ids look like {list(index_of)[:3]}); see env.unwrapped.{kind}s"
            )
        return index_of[wanted]
    if index_key in options:
        index = options[index_key]
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < n:
            raise ValueError(f"reset option {index_key} must be an int in [0, {n}), got {index!r}")
        return int(index)
    return None
