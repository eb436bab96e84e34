"""The language registry of the execution engine.

Each language names the runner the sandbox worker uses for it. Only Python exists today; another
language (JavaScript, C++, ...) is added by registering a :class:`Language` here and teaching the worker
(``_sandbox/zygote.py``) to run its ``runner``: compile in the child, then run the binary under the same
limits, with the same verdict protocol.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Language:
    """A language the engine can run.

    Attributes:
        name: The name requests use (``ExecutionRequest.language``), lower case.
        runner: Which runner in the sandbox worker executes it.
        file_extension: Usual file extension of its source files.

    """

    name: str
    runner: str
    file_extension: str


_REGISTRY: dict[str, Language] = {}


def register_language(language: Language) -> None:
    """Make ``language`` available to :class:`~codegym.execution.SandboxExecutor` requests."""
    if not language.name or language.name != language.name.lower():
        raise ValueError(f"language names are non-empty lower-case strings, got {language.name!r}")
    _REGISTRY[language.name] = language


def available_languages() -> list[str]:
    """Names of the registered languages, sorted."""
    return sorted(_REGISTRY)


def get_language(name: str) -> Language:
    """Return the registered language called ``name``.

    Raises:
        ValueError: If no such language is registered; the message names it and lists the known ones.

    """
    lang = _REGISTRY.get(name) if isinstance(name, str) else None
    if lang is None:
        raise ValueError(
            f"unknown language {name!r}: the execution engine supports {', '.join(available_languages())}"
        )
    return lang


register_language(Language("python", runner="python", file_extension=".py"))
