"""Model backends: every one implements :class:`CodeGenerator`.

* :func:`load_generator` / :class:`HFCodeGenerator` — Hugging Face seq2seq and causal models (torch).
* :class:`OpenAICompatibleGenerator` — vLLM, Ollama, LM Studio, llama.cpp and other OpenAI-style servers.
* :class:`CachedGenerator` — an on-disk (sqlite) cache around any generator.
* :mod:`codegym.backends.tiny` — tiny local models for offline tests.

Importing this package is cheap: the heavy modules load on first attribute access.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from codegym.backends.base import CodeGenerator, truncate_at_stop, validate_generation_args
from codegym.backends.errors import (
    AuthenticationError,
    BackendError,
    HTTPBackendError,
    ModelLoadError,
    ModelNotFoundError,
    QuantizationUnavailableError,
    ServerUnavailableError,
)

if TYPE_CHECKING:  # pragma: no cover
    from codegym.backends.cache import CachedGenerator
    from codegym.backends.hf import HFCodeGenerator, load_generator
    from codegym.backends.openai_compat import OpenAICompatibleGenerator

_LAZY = {
    "HFCodeGenerator": "codegym.backends.hf",
    "load_generator": "codegym.backends.hf",
    "OpenAICompatibleGenerator": "codegym.backends.openai_compat",
    "CachedGenerator": "codegym.backends.cache",
}

__all__ = [
    "AuthenticationError",
    "BackendError",
    "CachedGenerator",
    "CodeGenerator",
    "HFCodeGenerator",
    "HTTPBackendError",
    "ModelLoadError",
    "ModelNotFoundError",
    "OpenAICompatibleGenerator",
    "QuantizationUnavailableError",
    "ServerUnavailableError",
    "load_generator",
    "truncate_at_stop",
    "validate_generation_args",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'codegym.backends' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
