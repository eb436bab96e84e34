"""An on-disk generation cache around any :class:`CodeGenerator` (sqlite, WAL, safe across processes).

::

    gen = CachedGenerator(load_generator("Salesforce/codet5p-220m-py"), "~/.cache/codegym/generations.sqlite")
    gen.generate(prompts, temperature=0)      # computes and stores
    gen.generate(prompts, temperature=0)      # served from disk

Keys cover the model (its ``cache_identity`` when it has one, else ``name``), the prompt, ``n``,
``temperature``, ``max_new_tokens``, ``stop`` and ``seed``. Each prompt is looked up on its own, and only
the misses go to the wrapped generator, in one batched call.

Sampling (``temperature > 0``) without a seed is not cached: a fresh call is supposed to give fresh
samples, and a cache would hand back the same "random" samples every time. Pass a seed to cache sampled
completions (the HF backend's seeded samples do not depend on batch composition, so a cached sample is
exactly what the model would produce again).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from codegym.backends.base import CodeGenerator, validate_generation_args

_SCHEMA = """
CREATE TABLE IF NOT EXISTS generations (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    prompt TEXT NOT NULL,
    params TEXT NOT NULL,
    completions TEXT NOT NULL,
    created REAL NOT NULL
)
"""


class CachedGenerator(CodeGenerator):
    """Cache another generator's completions in a sqlite file.

    Args:
        generator: The generator to wrap.
        path: The sqlite file (created with its parent directories).
        cache_unseeded_sampling: Also cache ``temperature > 0`` calls with ``seed=None`` (off by default;
            see the module docs).
        timeout: Seconds a process waits for another's write lock.

    Attributes:
        hits: Completions lists served from the cache (one per prompt).
        misses: Prompts passed to the wrapped generator.

    """

    def __init__(
        self,
        generator: CodeGenerator,
        path: str | os.PathLike[str],
        *,
        cache_unseeded_sampling: bool = False,
        timeout: float = 60.0,
    ) -> None:
        self.generator = generator
        self.name = generator.name
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.cache_unseeded_sampling = cache_unseeded_sampling
        self.timeout = timeout
        self.hits = 0
        self.misses = 0
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        conn = self._conn()
        with conn:
            conn.execute(_SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        """Return this thread's connection (sqlite connections must not be shared across threads)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    @property
    def identity(self) -> str:
        """The wrapped model's identity in cache keys."""
        return str(getattr(self.generator, "cache_identity", None) or self.generator.name)

    def key(
        self,
        prompt: str,
        *,
        n: int,
        temperature: float,
        max_new_tokens: int,
        seed: int | None,
        stop: Sequence[str],
    ) -> str:
        """Return the cache key of one prompt's completions."""
        params = self._params(n, temperature, max_new_tokens, seed, stop)
        blob = json.dumps([self.identity, prompt, params], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()

    @staticmethod
    def _params(
        n: int, temperature: float, max_new_tokens: int, seed: int | None, stop: Sequence[str]
    ) -> dict:
        return {
            "n": n,
            "temperature": float(temperature),
            "max_new_tokens": max_new_tokens,
            "seed": seed,
            "stop": [s for s in stop if s],
        }

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
        """Return cached completions where present; generate the rest in one call and store them."""
        validate_generation_args(prompts, n, temperature, max_new_tokens)
        kwargs = {
            "n": n,
            "temperature": temperature,
            "max_new_tokens": max_new_tokens,
            "seed": seed,
            "stop": stop,
        }
        if temperature > 0 and seed is None and not self.cache_unseeded_sampling:
            self.misses += len(prompts)
            return self.generator.generate(prompts, **kwargs)
        keys = [self.key(p, **kwargs) for p in prompts]
        found = self._lookup(set(keys))
        todo: dict[str, str] = {}  # key -> prompt, each distinct prompt once
        for k, p in zip(keys, prompts, strict=True):
            if k not in found:
                todo.setdefault(k, p)
        self.hits += len(prompts) - sum(1 for k in keys if k in todo)
        if todo:
            self.misses += len(todo)
            todo_keys = list(todo)
            outputs = self.generator.generate([todo[k] for k in todo_keys], **kwargs)
            if len(outputs) != len(todo_keys):
                raise RuntimeError(
                    f"{type(self.generator).__name__}.generate returned {len(outputs)} results for "
                    f"{len(todo_keys)} prompts"
                )
            params = json.dumps(self._params(n, temperature, max_new_tokens, seed, stop))
            rows = [
                (k, self.identity, todo[k], params, json.dumps(list(out), ensure_ascii=False), time.time())
                for k, out in zip(todo_keys, outputs, strict=True)
            ]
            conn = self._conn()
            with conn:
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(
                    "INSERT OR REPLACE INTO generations (key, model, prompt, params, completions, created) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    rows,
                )
            found.update({k: list(out) for k, out in zip(todo_keys, outputs, strict=True)})
        return [list(found[k]) for k in keys]

    def _lookup(self, keys: set[str]) -> dict[str, list[str]]:
        conn = self._conn()
        found: dict[str, list[str]] = {}
        ordered = sorted(keys)
        for start in range(0, len(ordered), 500):  # stay under sqlite's variable limit
            chunk = ordered[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for key, completions in conn.execute(
                f"SELECT key, completions FROM generations WHERE key IN ({marks})", chunk
            ):
                found[key] = json.loads(completions)
        return found

    def __len__(self) -> int:
        """Return the number of cached entries (prompt x parameters)."""
        return int(self._conn().execute("SELECT COUNT(*) FROM generations").fetchone()[0])

    def clear(self) -> None:
        """Delete every cached entry."""
        conn = self._conn()
        with conn:
            conn.execute("DELETE FROM generations")

    def close(self) -> None:
        """Close the sqlite connections and the wrapped generator. Idempotent."""
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()
        self.generator.close()
