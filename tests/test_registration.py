"""Registration: ``import codegym`` registers every id cheaply; ``codegym:`` ids work without it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import pytest

import codegym  # noqa: F401  (registers the ids)
from codegym.registration import ENVIRONMENTS, register_envs

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "transformers", "nltk", "trl", "datasets", "sentence_transformers")


def run_python(code: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_every_id_is_registered_with_a_string_entry_point() -> None:
    ids = [spec.id for spec in ENVIRONMENTS]
    assert "MBPPCodeGen-v0" in ids and "HumanEvalCodeGen-v0" in ids
    assert len(set(ids)) == len(ids)
    for spec in ENVIRONMENTS:
        registered = gym.spec(spec.id)
        assert isinstance(registered.entry_point, str) and ":" in registered.entry_point
        assert registered.kwargs == dict(spec.kwargs)
    register_envs()  # idempotent


def test_import_codegym_registers_without_heavy_imports() -> None:
    out = run_python(
        "import sys, json, gymnasium\n"
        "import codegym\n"
        f"print(json.dumps({{'heavy': [m for m in {HEAVY!r} if m in sys.modules],\n"
        "  'envs': 'codegym.envs.code_generation' in sys.modules,\n"
        "  'ids': [i for i in gymnasium.registry if i.endswith('CodeGen-v0')]}))"
    )
    assert out["heavy"] == []
    assert out["envs"] is False  # environment modules load when an environment is made
    assert set(out["ids"]) >= {"MBPPCodeGen-v0", "HumanEvalCodeGen-v0"}


def test_make_with_the_codegym_prefix_works_without_importing_codegym(mbpp_path: Path) -> None:
    out = run_python(
        "import sys, json, gymnasium as gym\n"
        "assert 'codegym' not in sys.modules\n"
        f"env = gym.make('codegym:MBPPCodeGen-v0', path={str(mbpp_path)!r}, split='validation')\n"
        "obs, info = env.reset(seed=1)\n"
        "he = gym.make('codegym:HumanEvalCodeGen-v0')\n"
        "obs2, info2 = he.reset(seed=1)\n"
        "print(json.dumps({'n': len(env.unwrapped.tasks), 'task': info['task_id'],\n"
        "  'he': info2['task_id'],\n"
        f"  'heavy': [m for m in {HEAVY!r} if m in sys.modules]}}))"
    )
    assert out["n"] == 90 and out["task"].startswith("MBPP/")
    assert out["he"].startswith("HumanEval/")
    assert out["heavy"] == []


def test_kwargs_override_the_registered_defaults(mbpp_path: Path) -> None:
    env = gym.make("MBPPCodeGen-v0", split="prompt", path=str(mbpp_path), max_attempts=2, reward="binary")
    inner = env.unwrapped
    assert len(inner.tasks) == 10 and inner.split == "prompt"
    assert inner.max_attempts == 2 and inner.reward_fn.name == "binary"
    env.close()


def test_split_argument_per_dataset(mbpp_path: Path) -> None:
    assert len(gym.make("HumanEvalCodeGen-v0", split="test").unwrapped.tasks) == 164
    with pytest.raises(ValueError, match="has no splits"):
        gym.make("HumanEvalCodeGen-v0", split="train")
    with pytest.raises(ValueError, match="valid splits"):
        gym.make("MBPPCodeGen-v0", split="dev", path=str(mbpp_path))
    with pytest.raises(ValueError, match="registered datasets"):
        gym.make("MBPPCodeGen-v0", dataset="mbbp", path=str(mbpp_path))
