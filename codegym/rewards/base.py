"""The reward interface: what a term sees (:class:`RewardContext`) and what it is (:class:`RewardTerm`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from codegym.execution.results import ExecutionResult, Limits
from codegym.tasks.base import Task


@dataclass(frozen=True)
class RewardContext:
    """Everything a reward term may look at for one completion.

    Attributes:
        completion: The raw text the policy produced (before post-processing).
        code: The program that was executed (after extraction, truncation, prompt prepending).
        result: What the execution engine reported for ``code`` against the task's tests.
        task: The task the completion answers (``None`` if the caller has none).
        code_found: False when post-processing found no code in the completion at all.
        limits: The limits the program ran under (the efficiency term scales run time by
            ``limits.timeout_s``); ``None`` means the default :class:`~codegym.execution.Limits`.

    """

    completion: str
    code: str
    result: ExecutionResult
    task: Task | None = None
    code_found: bool = True
    limits: Limits | None = None

    @property
    def effective_limits(self) -> Limits:
        """``limits`` or the default :class:`~codegym.execution.Limits` when none were given."""
        return self.limits if self.limits is not None else Limits()


@runtime_checkable
class RewardTerm(Protocol):
    """One named component of a reward.

    A term maps a :class:`RewardContext` to a float, usually in ``[0, 1]``; a
    :class:`~codegym.rewards.CompositeReward` multiplies it by a weight (negative weights make penalties).
    Any object with a ``name`` attribute and this ``__call__`` is a term; plain functions are wrapped
    with :class:`FunctionTerm`.
    """

    name: str

    def __call__(self, ctx: RewardContext) -> float:
        """Score one completion."""
        ...


class FunctionTerm:
    """Adapts a plain function ``f(ctx) -> float`` into a :class:`RewardTerm`.

    Args:
        fn: The scoring function.
        name: The term's name in ``info``; defaults to ``fn.__name__``.

    """

    def __init__(self, fn: Callable[[RewardContext], float], name: str | None = None) -> None:
        if not callable(fn):
            raise TypeError(f"FunctionTerm needs a callable f(ctx) -> float, got {type(fn).__name__}")
        resolved = name or getattr(fn, "__name__", "")
        if not resolved or resolved == "<lambda>":
            raise ValueError(
                "a reward function needs a name: pass name=... (lambdas have none), "
                "or give the term as a (name, function) pair"
            )
        self.fn = fn
        self.name = resolved

    def __call__(self, ctx: RewardContext) -> float:
        """Call the wrapped function."""
        return float(self.fn(ctx))

    def __repr__(self) -> str:
        return f"FunctionTerm({self.name!r})"
