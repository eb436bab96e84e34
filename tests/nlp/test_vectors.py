from __future__ import annotations

import numpy as np
import pytest

from codegym.nlp import vectors as V

TINY = V.FastTextRecipe(vector_size=16, epochs=1, bucket=5_000, min_count=1, sources=("humaneval",))


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CODEGYM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("CODEGYM_WORD_VECTORS", raising=False)
    return tmp_path / "cache"


def test_cache_dir_env(cache):
    assert V.cache_dir() == cache


def test_build_caches_and_reuses(cache):
    first = V.build_default_vectors(TINY)
    assert first.built and first.path.is_file() and first.path.is_relative_to(cache)
    assert first.sentences > 100 and first.vocabulary > 100
    assert first.sources["humaneval"] is not None
    assert "trained FastText" in str(first)
    assert (first.path.parent / "recipe.json").is_file()
    second = V.build_default_vectors(TINY)
    assert not second.built and second.path == first.path
    assert "cached" in str(second)
    # another recipe, another key
    other = V.FastTextRecipe(vector_size=8, epochs=1, bucket=5_000, min_count=1, sources=("humaneval",))
    assert V.default_vectors_path(other) != first.path


def test_training_is_reproducible(cache):
    a = V.load_keyed_vectors(V.build_default_vectors(TINY).path)
    b = V.load_keyed_vectors(V.build_default_vectors(TINY, rebuild=True).path)
    assert a.index_to_key == b.index_to_key
    np.testing.assert_array_equal(np.asarray(a.vectors), np.asarray(b.vectors))


def test_training_is_reproducible_across_processes(tmp_path):
    import os
    import subprocess
    import sys

    code = (
        "import hashlib, numpy as np; from codegym.nlp import vectors as V; "
        "r = V.FastTextRecipe(vector_size=8, epochs=1, bucket=2000, min_count=1, sources=('humaneval',)); "
        "kv = V.train_fasttext(V.corpus_sentences(r.sources)[:300], r); "
        "print(hashlib.sha256(np.asarray(kv.vectors).tobytes()).hexdigest())"
    )
    outs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2")
    }
    assert len(outs) == 1


def test_default_vectors_uses_env_path(cache, monkeypatch, small_vectors, tmp_path):
    path = tmp_path / "mine.kv"
    small_vectors.save(str(path))
    monkeypatch.setenv("CODEGYM_WORD_VECTORS", str(path))
    kv = V.default_vectors()
    assert kv.index_to_key == small_vectors.index_to_key
    assert not (cache / "vectors").exists()  # nothing was trained


def test_load_keyed_vectors_formats(tmp_path):
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vector_size=4)
    words = ["sort", "order", "list", "number"]
    kv.add_vectors(words, np.arange(16, dtype=np.float32).reshape(4, 4) + 1)
    kv.save(str(tmp_path / "v.kv"))
    kv.save_word2vec_format(str(tmp_path / "v.vec"), binary=False)
    kv.save_word2vec_format(str(tmp_path / "v.bin"), binary=True)
    for name in ("v.kv", "v.vec", "v.bin"):
        loaded = V.load_keyed_vectors(tmp_path / name)
        assert loaded.index_to_key == words, name
        np.testing.assert_allclose(loaded["list"], kv["list"], rtol=1e-5)
    assert V.load_keyed_vectors(tmp_path / "v.vec", limit=2).index_to_key == words[:2]


def test_load_keyed_vectors_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.vec"):
        V.load_keyed_vectors(tmp_path / "nope.vec")
    (tmp_path / "v.xyz").write_text("x")
    with pytest.raises(ValueError, match="unknown word vectors format"):
        V.load_keyed_vectors(tmp_path / "v.xyz")
    (tmp_path / "bad.vec").write_text("not a header\n")
    with pytest.raises(ValueError, match="bad.vec"):
        V.load_keyed_vectors(tmp_path / "bad.vec")


def test_similarity_and_ranking(small_vectors):
    kv = small_vectors
    assert V.similarity(kv, "sort", "sort") == pytest.approx(1.0, abs=1e-5)
    # FastText gives out-of-vocabulary words a vector from their n-grams
    assert V.similarity(kv, "sort", "sortedness") is not None
    cands = ["order", "kind", "variety", "class", "form"]
    ranked = V.rank_by_similarity(kv, "sort", cands)
    assert sorted(c for c, _ in ranked) == sorted(cands)
    scores = [s for _, s in ranked]
    assert scores == sorted(scores, reverse=True)
    assert scores[0] == pytest.approx(V.similarity(kv, "sort", ranked[0][0]), abs=1e-5)
    # phrases are the mean of their words
    assert V.phrase_vector(kv, "look_for") is not None


def test_plain_vectors_have_no_oov():
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vector_size=2)
    kv.add_vectors(["a", "b"], np.array([[1, 0], [0, 1]], dtype=np.float32))
    assert V.similarity(kv, "a", "zzz") is None
    assert V.rank_by_similarity(kv, "a", ["b", "zzz"]) == [("b", pytest.approx(0.0))]


def test_recipe_validation():
    with pytest.raises(ValueError, match="unknown corpus sources"):
        V.FastTextRecipe(sources=("wikipedia",))
    with pytest.raises(ValueError, match="empty corpus"):
        V.train_fasttext([], TINY)


def test_concurrent_builders_keep_the_first_result(cache, monkeypatch):
    first = V.build_default_vectors(TINY)
    before = first.path.stat().st_mtime_ns
    # a second builder that started before the first finished: it trains again and finds the folder taken
    real_is_file = type(first.path).is_file
    calls = {"n": 0}

    def is_file_once_false(self):
        if self.name == "vectors.kv":
            calls["n"] += 1
            if calls["n"] == 1:
                return False
        return real_is_file(self)

    monkeypatch.setattr(type(first.path), "is_file", is_file_once_false)
    second = V.build_default_vectors(TINY)
    monkeypatch.undo()
    assert second.built and second.path == first.path
    assert first.path.stat().st_mtime_ns == before  # the first build's files were not replaced
    assert not [p for p in first.path.parent.parent.iterdir() if p.name.startswith(".building-")]
