"""Rewrite a task description with a language model (any :class:`~codegym.backends.base.CodeGenerator`)."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

import numpy as np

from codegym.backends.base import CodeGenerator
from codegym.mutation.base import MutationOperator, MutationResult, check_rng, check_text
from codegym.nlp.tokenize import tokenize

DEFAULT_INSTRUCTION = (
    "Rewrite the following description of a programming task so that it is clearer and more precise "
    "for a code-generation model. Keep its meaning, and keep every name, number, quoted value and "
    "requirement exactly as written. Do not write code and do not solve the task. Reply with the "
    "rewritten description only."
)

DEFAULT_TEMPLATE = "{instruction}\n\nDescription:\n{text}\n\nRewritten description:\n"

_PREAMBLE = re.compile(
    r"^\s*(?:sure|certainly|of course|okay|ok|here(?:'s| is| are)|rewritten description|"
    r"revised description|improved description|description)\b[^\n]*:\s*(?:\n|$)",
    re.IGNORECASE,
)
_LABEL = re.compile(r"^\s*(?:rewritten|revised|improved)?\s*description\s*:\s*", re.IGNORECASE)
_FENCE = re.compile(r"^```[^\n]*\n(.*?)\n?```\s*$", re.DOTALL)
_TRAILER = re.compile(
    r"\n\s*\n\s*(?:note|explanation|changes|i (?:have|made|changed))\b.*$", re.IGNORECASE | re.DOTALL
)
_CODE_LINE = re.compile(r"^\s*(?:def |class |import |from \S+ import |>>> |```)", re.MULTILINE)


def clean_rewrite(raw: str) -> str:
    """Strip what chat models wrap around an answer: preambles, labels, fences, quotes, trailing notes."""
    text = raw.strip()
    for _ in range(4):  # the wrappers nest in any order: "Sure! ...:\n```\n...\n```\n\nNote: ..."
        before = text
        text = _PREAMBLE.sub("", text, count=1).strip()
        text = _LABEL.sub("", text, count=1).strip()
        text = _TRAILER.sub("", text).strip()
        fence = _FENCE.match(text)
        if fence:
            text = fence.group(1).strip()
        if text == before:
            break
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    return text


def protected_tokens(text: str) -> list[str]:
    """Return the code, number and quoted-string tokens of ``text`` (a rewrite must keep them all)."""
    return [t.text for t in tokenize(text) if t.protected]


class LLMRewrite(MutationOperator):
    """Ask a language model to rewrite the description; fall back to the input, flagged, if unusable.

    The model gets ``template`` filled with ``instruction`` and the text (chat formatting is the
    backend's job). Decoding is greedy (``temperature=0``) unless ``temperature`` is set, in which case
    the sampling seed is drawn from ``rng``; so results are reproducible either way. The answer is
    cleaned (:func:`clean_rewrite`) and checked; it is rejected, and the input returned with
    ``fallback=True`` and ``info["reason"]``, when it is empty, contains code, drops a code/number/quoted
    token of the input (``require_protected``), or its length is off by more than ``max_length_ratio``.
    Every model call is counted in :attr:`model_calls`, every fallback in :attr:`fallbacks`.

    Args:
        generator: Any :class:`CodeGenerator` (a chat/instruct model works best).
        instruction: What to ask the model.
        template: Format string with ``{instruction}`` and ``{text}``.
        max_new_tokens: Generation budget.
        temperature: 0 for greedy decoding.
        require_protected: Reject rewrites that drop a code/number/quoted token of the input.
        max_length_ratio: Reject rewrites longer than this many times the input, or shorter than its inverse.
        protected_words: Also reject rewrites that drop a ``protected`` word passed to :meth:`mutate`.

    """

    name = "llm_rewrite"
    uses_model = True

    def __init__(
        self,
        generator: CodeGenerator,
        *,
        instruction: str = DEFAULT_INSTRUCTION,
        template: str = DEFAULT_TEMPLATE,
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        require_protected: bool = True,
        max_length_ratio: float = 4.0,
        protected_words: bool = True,
    ) -> None:
        if not isinstance(generator, CodeGenerator):
            raise TypeError(f"generator must be a CodeGenerator, got {type(generator).__name__}")
        if "{text}" not in template:
            raise ValueError("template must contain '{text}'")
        if max_length_ratio <= 1:
            raise ValueError(f"max_length_ratio must be > 1, got {max_length_ratio}")
        self.generator = generator
        self.instruction = instruction
        self.template = template
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.require_protected = require_protected
        self.max_length_ratio = max_length_ratio
        self.protected_words = protected_words
        #: Prompts sent to the model so far.
        self.model_calls = 0
        #: Rewrites rejected so far.
        self.fallbacks = 0

    def build_prompt(self, text: str) -> str:
        """Return the prompt sent to the model for ``text``."""
        return self.template.format(instruction=self.instruction, text=text)

    def check(self, original: str, rewrite: str, protected: Collection[str] = ()) -> str | None:
        """Why ``rewrite`` is unusable as a rewrite of ``original``; None when it is fine."""
        if not rewrite.strip():
            return "empty output"
        if _CODE_LINE.search(rewrite):
            return "output contains code"
        if self.require_protected:
            missing = [tok for tok in protected_tokens(original) if tok not in rewrite]
            if missing:
                return f"output dropped protected tokens {missing[:5]}"
        if self.protected_words:
            missing = [
                w for w in protected if re.search(rf"\b{re.escape(w)}\b", original) and w not in rewrite
            ]
            if missing:
                return f"output dropped protected names {missing[:5]}"
        ratio = len(rewrite) / max(len(original), 1)
        if len(original) >= 20 and not (1 / self.max_length_ratio <= ratio <= self.max_length_ratio):
            low, high = 1 / self.max_length_ratio, self.max_length_ratio
            return f"output length ratio {ratio:.2f} outside [{low:.2f}, {high}]"
        return None

    def mutate(
        self,
        text: str,
        rng: np.random.Generator,
        *,
        original: str | None = None,
        protected: Collection[str] = (),
    ) -> MutationResult:
        """Rewrite one description (one model call)."""
        return self.mutate_batch([text], [rng], originals=[original], protected=[protected])[0]

    def mutate_batch(
        self,
        texts: Sequence[str],
        rngs: Sequence[np.random.Generator],
        *,
        originals: Sequence[str | None] | None = None,
        protected: Sequence[Collection[str]] | None = None,
    ) -> list[MutationResult]:
        """Rewrite several descriptions with one batched model call."""
        if len(rngs) != len(texts):
            raise ValueError(f"mutate_batch got {len(texts)} texts but {len(rngs)} generators")
        protected = list(protected) if protected is not None else [()] * len(texts)
        for i, (t, r) in enumerate(zip(texts, rngs, strict=True)):
            check_text(t, f"texts[{i}]")
            check_rng(r)
        if not texts:
            return []
        seed = None
        if self.temperature > 0:
            seed = int(rngs[0].integers(2**31 - 1))
            for r in rngs[1:]:  # every generator advances, as a separate call would advance it
                r.integers(2**31 - 1)
        outputs = self.generator.generate(
            [self.build_prompt(t) for t in texts],
            n=1,
            temperature=self.temperature,
            max_new_tokens=self.max_new_tokens,
            seed=seed,
        )
        self.model_calls += len(texts)
        if len(outputs) != len(texts):
            raise RuntimeError(
                f"generator {self.generator.name!r} returned {len(outputs)} results for {len(texts)} prompts"
            )
        results = []
        for text, outs, prot in zip(texts, outputs, protected, strict=True):
            raw = outs[0] if outs else ""
            rewrite = clean_rewrite(raw)
            reason = self.check(text, rewrite, prot)
            if reason is not None:
                self.fallbacks += 1
                results.append(
                    MutationResult(
                        text, self.name, changed=False, fallback=True, info={"reason": reason, "raw": raw}
                    )
                )
            else:
                results.append(MutationResult(rewrite, self.name, changed=rewrite != text, info={"raw": raw}))
        return results


class RestoreOriginal(MutationOperator):
    """Go back to the episode's original description (``original=`` must be given)."""

    name = "restore_original"

    def mutate(
        self,
        text: str,
        rng: np.random.Generator,
        *,
        original: str | None = None,
        protected: Collection[str] = (),
    ) -> MutationResult:
        """Return ``original``."""
        check_text(text)
        if original is None:
            raise ValueError("restore_original needs original=<the episode's original description>")
        check_text(original, "original")
        return MutationResult(original, self.name, changed=original != text)
