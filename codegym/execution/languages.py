"""The language registry of the execution engine.

Python runs in the sandbox worker's own interpreter (``runner="python"``). JavaScript (node), C++ (g++)
and Rust (rustc) run as programs the worker starts (``runner="external"``): the host turns a request
into a harness program (``codegym/execution/langs/``), compiled languages are compiled in the sandbox
first (a separate, cached step), and the program reports per-test verdicts on the same authenticated
channel as Python. See the "Languages" section of ``docs/execution.md``.

A language is *known* when it is registered, and *available* when its toolchain is installed:
:func:`available_languages` lists the latter, :func:`known_languages` the former. Requests for a known
language whose toolchain is missing raise :class:`~codegym.execution.toolchains.ToolchainMissing` (a
``ValueError``) naming the binary and how to install it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Language:
    """A language the engine can run.

    Attributes:
        name: The name requests use (``ExecutionRequest.language``), lower case.
        runner: Which runner in the sandbox worker executes it (``"python"`` or ``"external"``).
        file_extension: Usual file extension of its source files.
        compiled: True when a compile step (cached) precedes the run.
        aliases: Other names accepted for it (``"js"``, ``"c++"``...).

    """

    name: str
    runner: str
    file_extension: str
    compiled: bool = False
    aliases: tuple[str, ...] = ()

    def require(self) -> Language:
        """Return ``self`` if its toolchain is installed.

        Raises:
            ToolchainMissing: Its toolchain is missing (the message says how to install it).

        """
        if self.runner != "python":
            from codegym.execution.toolchains import find_toolchain

            find_toolchain(self.name)
        return self

    @property
    def available(self) -> bool:
        """True when its toolchain is installed (always for Python)."""
        if self.runner == "python":
            return True
        from codegym.execution.toolchains import ToolchainMissing

        try:
            self.require()
        except ToolchainMissing:
            return False
        return True


_REGISTRY: dict[str, Language] = {}
_ALIASES: dict[str, str] = {}


def register_language(language: Language) -> None:
    """Make ``language`` available to :class:`~codegym.execution.SandboxExecutor` requests."""
    if not language.name or language.name != language.name.lower():
        raise ValueError(f"language names are non-empty lower-case strings, got {language.name!r}")
    _REGISTRY[language.name] = language
    for alias in language.aliases:
        _ALIASES[alias] = language.name


def known_languages() -> list[str]:
    """Names of every registered language, sorted (installed or not)."""
    return sorted(_REGISTRY)


def available_languages() -> list[str]:
    """Names of the registered languages whose toolchain is installed here, sorted."""
    return [name for name in sorted(_REGISTRY) if _REGISTRY[name].available]


def get_language(name: str) -> Language:
    """Return the registered language called ``name`` (or one of its aliases).

    Raises:
        ValueError: If no such language is registered; the message names it and lists the known ones.

    """
    if isinstance(name, str):
        lang = _REGISTRY.get(name) or _REGISTRY.get(_ALIASES.get(name.lower(), name.lower()))
    else:
        lang = None
    if lang is None:
        raise ValueError(
            f"unknown language {name!r}: the execution engine supports {', '.join(known_languages())}"
        )
    return lang


register_language(Language("python", runner="python", file_extension=".py", aliases=("py", "python3")))
register_language(
    Language("javascript", runner="external", file_extension=".js", aliases=("js", "node", "nodejs"))
)
register_language(
    Language("cpp", runner="external", file_extension=".cpp", compiled=True, aliases=("c++", "cxx"))
)
register_language(Language("rust", runner="external", file_extension=".rs", compiled=True, aliases=("rs",)))
