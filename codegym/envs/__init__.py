"""Gymnasium environments, one class per module; their ids are registered in :mod:`codegym.registration`.

Importing this package does not import the environment modules: ``gymnasium.make`` imports each one
from its string entry point when an environment is made.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CodeGenerationEnv"]


def __getattr__(name: str) -> Any:
    if name == "CodeGenerationEnv":
        from codegym.envs.code_generation import CodeGenerationEnv

        return CodeGenerationEnv
    raise AttributeError(f"module 'codegym.envs' has no attribute {name!r}")
