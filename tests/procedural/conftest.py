"""Fixtures of the procedural-suite tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="module")
def executor() -> Iterator[object]:
    """A :class:`codegym.execution.SandboxExecutor` shared by a test module."""
    from codegym.execution import SandboxExecutor

    with SandboxExecutor() as ex:
        yield ex
