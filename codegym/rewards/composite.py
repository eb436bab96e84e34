"""Weighted sums of reward terms, the presets, and :func:`get_reward`."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Union

from codegym.execution.results import ExecutionResult, Limits, Outcome
from codegym.rewards.base import FunctionTerm, RewardContext, RewardTerm
from codegym.rewards.terms import BUILTIN_TERMS
from codegym.tasks.base import Task

__all__ = ["CompositeReward", "PRESETS", "RewardBreakdown", "RewardSpec", "get_reward", "make_preset"]

TermLike = Union[str, RewardTerm, Callable[[RewardContext], float]]  # noqa: UP007 (a runtime alias)
#: What :func:`get_reward` and :class:`CompositeReward` accept.
RewardSpec = Union[
    str, "CompositeReward", RewardTerm, Callable[[RewardContext], float], Mapping[Any, float], Iterable[Any]
]


@dataclass(frozen=True)
class RewardBreakdown:
    """The reward of one completion and how it was made.

    Attributes:
        total: The reward: ``sum(weights[n] * terms[n])``, clipped if the reward has ``clip``.
        terms: Every term's raw value, including terms with weight 0.
        weights: Every term's weight (0.0 for terms that are only reported).
        valid: False when the execution engine itself failed (``Outcome.INFRA``): the total is then
            meaningless and trainers should skip the sample.

    """

    total: float
    terms: dict[str, float] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)
    valid: bool = True


def _resolve_term(key: TermLike) -> RewardTerm:
    if isinstance(key, str):
        factory = BUILTIN_TERMS.get(key)
        if factory is None:
            raise ValueError(
                f"unknown reward term {key!r}; built-in terms are {sorted(BUILTIN_TERMS)}. "
                "Pass a RewardTerm object or a named function f(ctx) -> float for your own term."
            )
        return factory()
    if isinstance(key, RewardTerm) and isinstance(getattr(key, "name", None), str):
        return key
    if callable(key):
        return FunctionTerm(key)
    raise TypeError(
        f"a reward term must be a built-in term name, a RewardTerm or a function f(ctx) -> float, "
        f"got {type(key).__name__}"
    )


class CompositeReward:
    """A weighted sum of named reward terms.

    Args:
        terms: Either a mapping ``{term: weight}`` or an iterable of ``term`` / ``(term, weight)``
            items (weight 1.0 when omitted) or ``(name, function, weight)`` triples, where a term is
            a built-in term name (see
            :data:`~codegym.rewards.terms.BUILTIN_TERMS`), a :class:`~codegym.rewards.RewardTerm`, or a
            named function ``f(ctx) -> float``.
        name: Name of the reward (shown in ``info`` and used as the TRL reward function name).
        limits: Execution limits this reward is meant to be used with (environments use them unless
            given their own ``limits``); ``None`` for the engine's defaults.
        report_all: Also compute every built-in term at weight 0, so ``info`` shows all of them.
        clip: Optional ``(low, high)`` bounds for the total.

    Examples:
        >>> from codegym.rewards import CompositeReward
        >>> reward = CompositeReward({"all_passed": 1.0, "syntax_error": -0.2, "readability": 0.1})
        >>> sorted(reward.weights.items())[:2]
        [('all_passed', 1.0), ('compiles', 0.0)]

    """

    def __init__(
        self,
        terms: Mapping[Any, float] | Iterable[Any],
        *,
        name: str = "custom",
        limits: Limits | None = None,
        report_all: bool = True,
        clip: tuple[float, float] | None = None,
    ) -> None:
        if isinstance(terms, str) or not isinstance(terms, (Mapping, Iterable)):
            raise TypeError(
                "CompositeReward(terms=...) needs a mapping {term: weight} or a list of terms / "
                f"(term, weight) pairs, got {type(terms).__name__}; for a preset use get_reward({terms!r})"
            )
        items = list(terms.items()) if isinstance(terms, Mapping) else [self._split(item) for item in terms]
        if not items:
            raise ValueError("CompositeReward needs at least one term")
        self._terms: dict[str, RewardTerm] = {}
        self._weights: dict[str, float] = {}
        for key, weight in items:
            if isinstance(key, str) and key not in BUILTIN_TERMS and callable(weight):
                key, weight = FunctionTerm(weight, name=key), 1.0  # ("name", function) pair
            term = _resolve_term(key)
            if term.name in self._terms:
                raise ValueError(f"reward term {term.name!r} appears twice; give each term once")
            try:
                weight = float(weight)
            except (TypeError, ValueError) as err:
                raise TypeError(
                    f"the weight of reward term {term.name!r} must be a number, got {weight!r}"
                ) from err
            if not math.isfinite(weight):
                raise ValueError(f"the weight of reward term {term.name!r} must be finite, got {weight!r}")
            self._terms[term.name] = term
            self._weights[term.name] = weight
        if report_all:
            for builtin, factory in BUILTIN_TERMS.items():
                if builtin not in self._terms:
                    self._terms[builtin] = factory()
                    self._weights[builtin] = 0.0
        if clip is not None and not (len(clip) == 2 and clip[0] <= clip[1]):
            raise ValueError(f"clip must be a (low, high) pair with low <= high, got {clip!r}")
        if limits is not None:
            limits.validate()
        self.name = name
        self.limits = limits
        self.clip = clip

    @staticmethod
    def _split(item: Any) -> tuple[Any, Any]:
        if isinstance(item, tuple):
            if len(item) == 3 and isinstance(item[0], str) and callable(item[1]):
                return FunctionTerm(item[1], name=item[0]), item[2]  # (name, function, weight)
            if len(item) != 2:
                raise ValueError(
                    f"a reward term item must be (term, weight) or (name, function, weight), got {item!r}"
                )
            return item
        return item, 1.0

    @property
    def weights(self) -> dict[str, float]:
        """Weight of every term by name (0.0 for report-only terms)."""
        return dict(self._weights)

    @property
    def terms(self) -> dict[str, RewardTerm]:
        """Every term by name."""
        return dict(self._terms)

    def evaluate(self, ctx: RewardContext) -> RewardBreakdown:
        """Compute every term and the weighted total."""
        values: dict[str, float] = {}
        for name, term in self._terms.items():
            value = float(term(ctx))
            if not math.isfinite(value):
                raise ValueError(f"reward term {name!r} returned {value!r}; terms must return finite floats")
            values[name] = value
        total = sum(self._weights[n] * values[n] for n in values)
        if self.clip is not None:
            total = min(max(total, self.clip[0]), self.clip[1])
        return RewardBreakdown(
            total=float(total),
            terms=values,
            weights=dict(self._weights),
            valid=ctx.result.status is not Outcome.INFRA,
        )

    def __call__(self, ctx: RewardContext) -> float:
        """Return the total reward of one completion."""
        return self.evaluate(ctx).total

    def score(
        self,
        result: ExecutionResult,
        code: str,
        *,
        completion: str | None = None,
        task: Task | None = None,
        code_found: bool = True,
        limits: Limits | None = None,
    ) -> RewardBreakdown:
        """Build the :class:`RewardContext` for one executed program and evaluate it."""
        ctx = RewardContext(
            completion=code if completion is None else completion,
            code=code,
            result=result,
            task=task,
            code_found=code_found,
            limits=limits if limits is not None else self.limits,
        )
        return self.evaluate(ctx)

    def __repr__(self) -> str:
        weighted = {n: w for n, w in self._weights.items() if w}
        return f"CompositeReward(name={self.name!r}, weights={weighted})"


def _execution() -> CompositeReward:
    return CompositeReward(
        {"all_passed": 1.0, "syntax_error": -0.2, "readability": 0.1},
        name="execution",
        limits=Limits(timeout_s=3.0),
    )


def _weighted() -> CompositeReward:
    return CompositeReward(
        {"compiles": 0.3, "pass_fraction": 0.4, "readability": 0.2, "efficiency": 0.1},
        name="weighted",
    )


def _binary() -> CompositeReward:
    return CompositeReward({"all_passed": 1.0}, name="binary")


def _pass_fraction() -> CompositeReward:
    return CompositeReward({"pass_fraction": 1.0}, name="pass_fraction")


#: Preset rewards by name, each with a one-line description.
PRESETS: dict[str, tuple[Callable[[], CompositeReward], str]] = {
    "execution": (
        _execution,
        "1.0 if all tests pass else 0, -0.2 on a syntax error, +0.1 x readability; 3 s per-test limit",
    ),
    "weighted": (_weighted, "0.3 compiles + 0.4 pass fraction + 0.2 readability + 0.1 efficiency"),
    "binary": (_binary, "1.0 if all tests pass else 0.0"),
    "pass_fraction": (_pass_fraction, "fraction of tests passed"),
}


def make_preset(name: str) -> CompositeReward:
    """Build a fresh :class:`CompositeReward` for the preset ``name``."""
    entry = PRESETS.get(name)
    if entry is None:
        listing = "; ".join(f"{k!r}: {desc}" for k, (_, desc) in PRESETS.items())
        raise ValueError(
            f"unknown reward preset {name!r}. Presets: {listing}. "
            "Or pass a CompositeReward, a {term: weight} mapping, a RewardTerm or a function f(ctx) -> float."
        )
    return entry[0]()


def get_reward(spec: RewardSpec) -> CompositeReward:
    """Turn a reward specification into a :class:`CompositeReward`.

    Args:
        spec: A preset name (``"execution"``, ``"weighted"``, ``"binary"``, ``"pass_fraction"``), a
            :class:`CompositeReward` (returned as is), a mapping ``{term: weight}``, a list of terms /
            ``(term, weight)`` pairs, a single :class:`~codegym.rewards.RewardTerm`, or a named function
            ``f(ctx) -> float``.

    """
    if isinstance(spec, CompositeReward):
        return spec
    if isinstance(spec, str):
        return make_preset(spec)
    if isinstance(spec, Mapping):
        return CompositeReward(spec)
    if isinstance(spec, RewardTerm) and isinstance(getattr(spec, "name", None), str):
        return CompositeReward([(spec, 1.0)], name=spec.name)
    if callable(spec):
        term = FunctionTerm(spec)
        return CompositeReward([(term, 1.0)], name=term.name)
    if isinstance(spec, Iterable):
        return CompositeReward(spec)
    raise TypeError(
        f"cannot make a reward from {type(spec).__name__}; pass a preset name ({sorted(PRESETS)}), "
        "a CompositeReward, a {term: weight} mapping, a RewardTerm or a function f(ctx) -> float"
    )
