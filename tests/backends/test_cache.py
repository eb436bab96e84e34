"""CachedGenerator: hits and misses, key coverage, persistence across instances and processes."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

from codegym.backends import CachedGenerator, CodeGenerator

from .conftest import PROMPTS


class CountingGenerator(CodeGenerator):
    """Deterministic answers that reveal their arguments; counts the prompts it is asked."""

    name = "counting"

    def __init__(self) -> None:
        self.asked: list[str] = []

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
        self.asked.extend(prompts)
        return [
            [f"{p}/{n}/{temperature}/{max_new_tokens}/{seed}/{list(stop)}/{j}" for j in range(n)]
            for p in prompts
        ]


def test_hits_and_misses(tmp_path: Path) -> None:
    inner = CountingGenerator()
    cache = CachedGenerator(inner, tmp_path / "gen.sqlite")
    first = cache.generate(["a", "b"], max_new_tokens=5)
    assert (cache.hits, cache.misses, inner.asked) == (0, 2, ["a", "b"])
    # "a" is a hit, "c" a miss, and only "c" reaches the model; duplicates are generated once.
    second = cache.generate(["a", "c", "c"], max_new_tokens=5)
    assert inner.asked == ["a", "b", "c"]
    assert (cache.hits, cache.misses) == (1, 3)
    assert second[0] == first[0] and second[1] == second[2]
    assert len(cache) == 3


def test_every_parameter_is_part_of_the_key(tmp_path: Path) -> None:
    inner = CountingGenerator()
    cache = CachedGenerator(inner, tmp_path / "gen.sqlite")
    base = {"n": 1, "temperature": 0.0, "max_new_tokens": 8, "seed": None, "stop": ()}
    variants = [
        {},
        {"n": 2},
        {"temperature": 0.5, "seed": 1},
        {"temperature": 0.5, "seed": 2},
        {"max_new_tokens": 9},
        {"stop": ["\n"]},
    ]
    for change in variants:
        out = cache.generate(["p"], **{**base, **change})
        assert out == inner.generate(["p"], **{**base, **change})
    assert cache.misses == len(variants) and cache.hits == 0
    for change in variants:  # all cached now
        cache.generate(["p"], **{**base, **change})
    assert cache.hits == len(variants)
    # The model's identity is part of the key too.
    other = CountingGenerator()
    other.name = "other-model"
    assert CachedGenerator(other, tmp_path / "gen.sqlite").generate(["p"], **base) and other.asked == ["p"]


def test_unseeded_sampling_is_not_cached(tmp_path: Path) -> None:
    inner = CountingGenerator()
    cache = CachedGenerator(inner, tmp_path / "gen.sqlite")
    cache.generate(["p"], temperature=0.8)
    cache.generate(["p"], temperature=0.8)
    assert inner.asked == ["p", "p"] and len(cache) == 0
    opted_in = CachedGenerator(inner, tmp_path / "gen.sqlite", cache_unseeded_sampling=True)
    opted_in.generate(["p"], temperature=0.8)
    opted_in.generate(["p"], temperature=0.8)
    assert inner.asked == ["p", "p", "p"]


def test_persists_across_instances_and_processes(tmp_path: Path) -> None:
    path = tmp_path / "gen.sqlite"
    inner = CountingGenerator()
    CachedGenerator(inner, path).generate(["a"], max_new_tokens=3)
    again = CachedGenerator(CountingGenerator(), path)
    again.generate(["a"], max_new_tokens=3)
    assert again.hits == 1
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    # Two other processes write concurrently into the same file.
    script = textwrap.dedent(
        f"""
        import sys
        from codegym.backends import CachedGenerator, CodeGenerator

        class Echo(CodeGenerator):
            name = "counting"

            def generate(self, prompts, **kw):
                return [[p] for p in prompts]

        cache = CachedGenerator(Echo(), {str(path)!r})
        for i in range(30):
            cache.generate([f"{{sys.argv[1]}}-{{i}}", "shared"], max_new_tokens=3)
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [subprocess.Popen([sys.executable, "-c", script, tag], env=env) for tag in ("x", "y")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    assert len(CachedGenerator(CountingGenerator(), path)) == 1 + 60 + 1


def test_wraps_a_real_model(tmp_path: Path, llama_gen) -> None:
    cache = CachedGenerator(llama_gen, tmp_path / "gen.sqlite")
    fresh = cache.generate(PROMPTS, max_new_tokens=6)
    assert fresh == llama_gen.generate(PROMPTS, max_new_tokens=6)
    sampled = cache.generate(PROMPTS[:2], n=2, temperature=1.0, seed=4, max_new_tokens=6)
    assert cache.misses == len(PROMPTS) + 2
    assert cache.generate(PROMPTS, max_new_tokens=6) == fresh
    # Seeded samples do not depend on batch composition, so a cached one equals a fresh one.
    assert cache.generate(PROMPTS[1:2], n=2, temperature=1.0, seed=4, max_new_tokens=6) == sampled[1:]
    assert llama_gen.generate(PROMPTS[1:2], n=2, temperature=1.0, seed=4, max_new_tokens=6) == sampled[1:]
    assert cache.hits == len(PROMPTS) + 1
    assert "chat=False" in cache.identity
    cache.clear()
    assert len(cache) == 0
