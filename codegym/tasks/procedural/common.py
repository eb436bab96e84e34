"""Shared machinery of the procedural suites: seeds, train/eval splits, deduplication.

Every procedural item is drawn from its own ``random.Random(seed + offset + index)`` (``offset`` is
:data:`SPLIT_OFFSETS` ``[split]``), so items are random-access and reproducible, and the seed ranges
of the train and eval splits are disjoint as long as ``seed + index < EVAL_SEED_OFFSET``
(:func:`validate_seed` checks this).

Disjoint seeds alone do not keep the *content* of the splits apart: two seeds can draw the same
small task. So each item also has a *content key* (the family and everything that defines the
problem, not its wording), and :func:`split_of_key` assigns every content key to exactly one split
by a stable hash. A generator redraws (from the same ``Random``) until the content belongs to the
requested split; the splits therefore never share a problem.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

SPLITS = ("train", "eval")
#: Added to ``seed + index`` for the eval split; train uses offset 0.
EVAL_SEED_OFFSET = 1_000_000_000
SPLIT_OFFSETS = {"train": 0, "eval": EVAL_SEED_OFFSET}
#: Fraction of the content-key space that belongs to the eval split. A module constant, not a config
#: option: two configs with different fractions would disagree about which split a problem is in.
EVAL_FRACTION = 0.2
#: A generator gives up after ``size * ATTEMPTS_PER_ITEM + ATTEMPTS_SLACK`` raw draws (the space of
#: distinct problems allowed by the config is then too small for the requested size).
ATTEMPTS_PER_ITEM = 20
ATTEMPTS_SLACK = 200
#: Redraws allowed inside one raw item when its content falls in the other split.
SPLIT_REDRAWS = 200


def validate_split(split: str, owner: str) -> None:
    """Raise ``ValueError`` unless ``split`` is ``"train"`` or ``"eval"``."""
    if split not in SPLITS:
        raise ValueError(f"{owner}.split must be one of {SPLITS}, got {split!r}")


def validate_seed(seed: int, size: int, owner: str) -> None:
    """Raise ``ValueError`` unless ``seed`` is an int with room for ``size`` items below the eval offset."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"{owner}.seed must be an int, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"{owner}.seed must be >= 0, got {seed}")
    headroom = size * ATTEMPTS_PER_ITEM + ATTEMPTS_SLACK
    if seed + headroom >= EVAL_SEED_OFFSET:
        raise ValueError(
            f"{owner}.seed={seed} is too large: seeds of the train split must stay below "
            f"{EVAL_SEED_OFFSET - headroom} so that they never overlap the eval split's seed range"
        )


def validate_size(size: int, owner: str) -> None:
    """Raise ``ValueError`` unless ``size`` is a non-negative int."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise ValueError(f"{owner}.size must be an int >= 0, got {size!r}")


def item_rng(seed: int, split: str, index: int) -> random.Random:
    """Return the generator of raw item ``index``: ``random.Random(seed + SPLIT_OFFSETS[split] + index)``."""
    return random.Random(seed + SPLIT_OFFSETS[split] + index)


def stable_hash(text: str) -> int:
    """Return a 64-bit hash of ``text`` that is the same in every process (unlike ``hash``)."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def split_of_key(content_key: str) -> str:
    """Return the split a content key belongs to: ``"eval"`` for a stable :data:`EVAL_FRACTION` of keys."""
    return "eval" if stable_hash(content_key) % 10_000 < EVAL_FRACTION * 10_000 else "train"


def draw_in_split(rng: random.Random, split: str, draw: Callable[[random.Random], tuple[str, T]]) -> T:
    """Call ``draw(rng) -> (content_key, value)`` until the key belongs to ``split``; return the value.

    Raises:
        RuntimeError: After :data:`SPLIT_REDRAWS` draws all fell in the other split (the config allows
            almost no problems of this split).

    """
    for _ in range(SPLIT_REDRAWS):
        key, value = draw(rng)
        if split_of_key(key) == split:
            return value
    raise RuntimeError(
        f"no problem of the {split!r} split found in {SPLIT_REDRAWS} draws; the config allows too few "
        "distinct problems (add families or difficulty levels)"
    )


def take_unique(
    make: Callable[[int], T],
    key: Callable[[T], str],
    size: int,
    what: str,
    progress: bool = False,
) -> list[T]:
    """Build raw items ``make(0), make(1), ...`` and keep the first ``size`` with distinct keys.

    The result for ``size`` is a prefix of the result for any larger size, so item ``i`` does not
    depend on how many items were requested.

    Raises:
        ValueError: When ``size`` distinct items are not found in
            ``size * ATTEMPTS_PER_ITEM + ATTEMPTS_SLACK`` draws; the message says what to change.

    """
    seen: set[str] = set()
    items: list[T] = []
    limit = size * ATTEMPTS_PER_ITEM + ATTEMPTS_SLACK
    bar = _progress_bar(size, what) if progress else None
    try:
        for raw_index in range(limit):
            if len(items) >= size:
                break
            item = make(raw_index)
            k = key(item)
            if k in seen:
                continue
            seen.add(k)
            items.append(item)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    if len(items) < size:
        raise ValueError(
            f"only {len(items)} distinct {what} exist for this config after {limit} draws, "
            f"{size} requested: lower the size or allow more families / difficulty levels"
        )
    return items


def _progress_bar(total: int, what: str) -> object:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=f"generating {what}", unit="item")


def batched(items: Iterable[T], n: int) -> Iterator[list[T]]:
    """Yield lists of at most ``n`` consecutive items."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == n:
            yield batch
            batch = []
    if batch:
        yield batch


def as_tuple(value: object) -> object:
    """Normalize a config field: a list or set becomes a tuple, a bare str or int a 1-tuple; None stays."""
    if value is None or isinstance(value, tuple):
        return value
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return (value,)
    if isinstance(value, (set, frozenset)):
        return tuple(sorted(value))
    if isinstance(value, list):
        return tuple(value)
    return value
