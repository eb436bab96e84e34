"""The :class:`MutationOperator` interface and the result every operator returns."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Edit:
    """One replaced span of the input: ``text[start:start + len(old)] == old`` became ``new``."""

    start: int
    old: str
    new: str


@dataclass(frozen=True)
class MutationResult:
    """What an operator did to a text.

    Attributes:
        text: The new text (the input itself when nothing changed).
        operator: The operator's name.
        changed: Whether ``text`` differs from the input.
        edits: Word-level replacements, for operators that make them.
        fallback: True when the operator could not do its job and returned the input instead (for
            example an LLM rewrite whose output was unusable); ``info["reason"]`` says why.
        info: Operator-specific details (reasons, raw model output, candidate counts).

    """

    text: str
    operator: str
    changed: bool
    edits: tuple[Edit, ...] = ()
    fallback: bool = False
    info: Mapping[str, Any] = field(default_factory=dict)


class MutationOperator(ABC):
    """Turns a natural-language task description into a variant of it.

    Operators see only the editable description (the environment splits the prompt and renders it back;
    function names, signatures and shown tests never reach them). They are pure functions of their
    arguments: all randomness comes from the ``rng`` passed in, so the same text and the same generator
    state give the same result. Caches inside an operator never change what it returns.
    """

    #: Registry name of the operator.
    name: str = "unnamed"
    #: Whether the operator calls a language model (and therefore costs a model call).
    uses_model: bool = False

    @abstractmethod
    def mutate(
        self,
        text: str,
        rng: np.random.Generator,
        *,
        original: str | None = None,
        protected: Collection[str] = (),
    ) -> MutationResult:
        """Return a variant of ``text``.

        Args:
            text: The current description.
            rng: The random generator to draw from (environments pass ``self.np_random``).
            original: The episode's original description (needed by ``restore_original``).
            protected: Words never to change besides code-ish tokens (function and parameter names).

        """

    def apply(
        self,
        text: str,
        rng: np.random.Generator,
        *,
        original: str | None = None,
        protected: Collection[str] = (),
    ) -> str:
        """Return the mutated text only (see :meth:`mutate`)."""
        return self.mutate(text, rng, original=original, protected=protected).text

    def mutate_batch(
        self,
        texts: Sequence[str],
        rngs: Sequence[np.random.Generator],
        *,
        originals: Sequence[str | None] | None = None,
        protected: Sequence[Collection[str]] | None = None,
    ) -> list[MutationResult]:
        """Mutate several texts, one generator each (vectorized environments call this once per step).

        The default loops over :meth:`mutate`; operators that call a model override it to make one
        batched call.
        """
        if len(rngs) != len(texts):
            raise ValueError(f"mutate_batch got {len(texts)} texts but {len(rngs)} generators")
        originals = list(originals) if originals is not None else [None] * len(texts)
        protected = list(protected) if protected is not None else [()] * len(texts)
        if len(originals) != len(texts) or len(protected) != len(texts):
            raise ValueError("mutate_batch: originals and protected must have one entry per text")
        return [
            self.mutate(t, r, original=o, protected=p)
            for t, r, o, p in zip(texts, rngs, originals, protected, strict=True)
        ]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


def check_text(text: object, what: str = "text") -> str:
    """Raise ``TypeError`` naming ``what`` unless it is a str."""
    if not isinstance(text, str):
        raise TypeError(f"{what} must be a str, got {type(text).__name__}")
    return text


def check_rng(rng: object) -> np.random.Generator:
    """Raise ``TypeError`` unless ``rng`` is a ``numpy.random.Generator`` (never the global ``random``)."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng must be a numpy.random.Generator (e.g. env.np_random or np.random.default_rng(seed)), "
            f"got {type(rng).__name__}"
        )
    return rng
