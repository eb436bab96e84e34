"""Mutation operators by name, for environment and agent configuration (``operators=["epic", ...]``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from codegym.mutation.base import MutationOperator

_FACTORIES: dict[str, Callable[..., MutationOperator]] = {}
_ALIASES = {
    "vector_neighbor": "vector_neighbour",
    "synonym": "wordnet_synonym",
    "restore": "restore_original",
}


def register_operator(
    name: str, factory: Callable[..., MutationOperator], *, overwrite: bool = False
) -> None:
    """Make ``factory(**kwargs)`` available as ``make_operator(name, **kwargs)``.

    Raises:
        ValueError: ``name`` is taken and ``overwrite`` is False.

    """
    if not name or not isinstance(name, str):
        raise ValueError(f"operator name must be a non-empty str, got {name!r}")
    if name in _FACTORIES and not overwrite:
        raise ValueError(
            f"mutation operator {name!r} is already registered; pass overwrite=True to replace it"
        )
    _FACTORIES[name] = factory


def available_operators() -> list[str]:
    """Return the registered operator names."""
    return sorted(_FACTORIES)


def make_operator(name: str, **kwargs: Any) -> MutationOperator:
    """Build a registered operator by name.

    Names: ``epic``, ``wordnet_synonym``, ``vector_neighbour``, ``llm_rewrite`` (needs ``generator=``),
    ``restore_original``.

    Raises:
        ValueError: Unknown name (the message lists the known ones).

    """
    key = _ALIASES.get(name, name)
    if key not in _FACTORIES:
        raise ValueError(f"unknown mutation operator {name!r}; available: {', '.join(available_operators())}")
    return _FACTORIES[key](**kwargs)


def _register_builtins() -> None:
    from codegym.mutation.llm import LLMRewrite, RestoreOriginal
    from codegym.mutation.words import EPiCMutation, VectorNeighbourSwap, WordNetSynonymSwap

    for cls in (EPiCMutation, WordNetSynonymSwap, VectorNeighbourSwap, LLMRewrite, RestoreOriginal):
        register_operator(cls.name, cls, overwrite=True)


_register_builtins()
