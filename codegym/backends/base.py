"""The :class:`CodeGenerator` interface every model backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence


class CodeGenerator(ABC):
    """A model that continues prompts: Hugging Face models, OpenAI-compatible servers, test doubles.

    Implementations batch internally; callers pass every prompt of a vector step in one call.
    At ``temperature == 0`` generation is greedy and therefore deterministic.
    """

    #: Identifies the model (hub id, path or server model name); part of every cache key.
    name: str = "unnamed"

    @abstractmethod
    def generate(
        self,
        prompts: Sequence[str],
        *,
        n: int = 1,
        temperature: float = 0.0,
        max_new_tokens: int = 256,
        seed: int | None = None,
        stop: Sequence[str] = (),
    ) -> list[list[str]]:
        """Generate ``n`` completions for each prompt.

        Args:
            prompts: Prompt texts (already formatted; chat templates are the backend's job).
            n: Completions per prompt.
            temperature: 0 for greedy decoding; > 0 samples.
            max_new_tokens: Upper bound on generated tokens per completion.
            seed: Seed for sampling; the same seed and inputs give the same outputs.
            stop: Strings at which a completion is cut (the stop string itself is removed).

        Returns:
            ``result[i]`` is the list of ``n`` completions (without the prompt) for ``prompts[i]``.

        """

    def close(self) -> None:  # noqa: B027 - optional hook, deliberately not abstract
        """Release resources (HTTP sessions, GPU memory). Idempotent."""

    def __enter__(self) -> CodeGenerator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def validate_generation_args(prompts: Sequence[str], n: int, temperature: float, max_new_tokens: int) -> None:
    """Raise ``ValueError`` naming the first bad generation argument."""
    if isinstance(prompts, str):
        raise ValueError("prompts must be a sequence of strings, not a single string; wrap it in a list")
    for i, p in enumerate(prompts):
        if not isinstance(p, str):
            raise ValueError(f"prompts[{i}] must be str, got {type(p).__name__}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")


def truncate_at_stop(text: str, stop: Sequence[str]) -> str:
    """Cut ``text`` at the earliest occurrence of any string in ``stop`` (the stop string is removed).

    Empty stop strings are ignored. Every backend applies this to its completions, so a completion never
    contains a stop string even when the model or server stopped later (or not at all).
    """
    cut = len(text)
    for s in stop:
        if s:
            i = text.find(s)
            if i != -1 and i < cut:
                cut = i
    return text[:cut]
