"""Part-of-speech tagging that works offline, with Penn Treebank tags.

Three taggers, tried in this order by :func:`active_tagger`:

``nltk-averaged-perceptron``
    NLTK's own averaged-perceptron tagger, when its data (``taggers/averaged_perceptron_tagger_eng``) is
    installed in an NLTK data folder. ``nltk.download`` needs the network, so this is usually absent.
``aptagger-averaged-perceptron``
    The same model class (NLTK's :class:`~nltk.tag.perceptron.PerceptronTagger`, identical features)
    loaded with the pretrained weights that the ``textblob-aptagger`` package ships
    (``trontagger-0.1.0.pickle``, Matthew Honnibal's original averaged-perceptron tagger, trained on the
    Wall Street Journal). The pickle is read with an unpickler that only accepts plain dicts, sets and
    strings. Installed with ``codegym[nlp]``.
``wordnet-lexicon``
    A rule-based tagger built from WordNet's lexicon (which parts of speech a word has, and how often
    each sense was tagged in SemCor), a closed-class word list, suffix rules for unknown words and a few
    context rules tuned for programming prompts ("Write a function that ..."). Always available when
    WordNet is.

Set ``CODEGYM_POS_TAGGER`` to ``nltk``, ``aptagger`` or ``wordnet`` to force one (``auto``, the default,
takes the first available). :func:`active_tagger` tells which one is in use.
"""

from __future__ import annotations

import functools
import os
import pickle
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from codegym.nlp.lexicon import CLOSED_CLASS, NOUN_PHRASE_OPENERS, PROPER_NOUN_TAGS, wordnet_pos
from codegym.nlp.tokenize import Token, is_sentence_end, tokenize

#: Tagger names accepted by :func:`get_tagger` and ``$CODEGYM_POS_TAGGER`` (besides ``auto``).
TAGGER_NAMES = ("nltk", "aptagger", "wordnet")

_PUNCT_TAGS = {
    ",": ",",
    ".": ".",
    "!": ".",
    "?": ".",
    ":": ":",
    ";": ":",
    "(": "-LRB-",
    ")": "-RRB-",
    "[": "-LRB-",
    "]": "-RRB-",
    "{": "-LRB-",
    "}": "-RRB-",
    '"': "''",
    "'": "''",
    "$": "$",
    "#": "#",
}

_PTB_ESCAPES = {"(": "-LRB-", ")": "-RRB-", "[": "-LRB-", "]": "-RRB-", "{": "-LRB-", "}": "-RRB-", '"': "''"}


class POSTagger(ABC):
    """Tags a sentence's words with Penn Treebank tags."""

    #: Which tagger this is (see the module docstring).
    name: str = "unnamed"

    @abstractmethod
    def tag(self, words: Sequence[str]) -> list[str]:
        """Return one Penn Treebank tag per word of one sentence."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class PerceptronPOSTagger(POSTagger):
    """NLTK's averaged-perceptron tagger, with NLTK's data or with the weights ``textblob-aptagger`` ships.

    Args:
        source: ``"nltk"`` (NLTK's ``averaged_perceptron_tagger_eng`` data) or ``"aptagger"``.

    Raises:
        LookupError: The requested model data is not installed; the message says how to get it.

    """

    def __init__(self, source: str = "aptagger") -> None:
        from nltk.tag.perceptron import PerceptronTagger

        if source == "nltk":
            try:
                self._tagger = PerceptronTagger()
            except (LookupError, OSError) as exc:
                raise LookupError(
                    "NLTK's averaged_perceptron_tagger_eng data is not installed (nltk.download needs the "
                    "network); use source='aptagger' or the 'wordnet' tagger"
                ) from exc
            self.name = "nltk-averaged-perceptron"
        elif source == "aptagger":
            weights, tagdict, classes = _load_aptagger_model()
            self._tagger = PerceptronTagger(load=False)
            self._tagger.decode_json_params((weights, tagdict, sorted(classes)))
            self.name = "aptagger-averaged-perceptron"
        else:
            raise ValueError(f"source must be 'nltk' or 'aptagger', got {source!r}")

    def tag(self, words: Sequence[str]) -> list[str]:
        """Tag one sentence."""
        if not words:
            return []
        # The Treebank writes brackets and double quotes as escapes; the model only knows those.
        escaped = [_PTB_ESCAPES.get(w, w) for w in words]
        return [t for _, t in self._tagger.tag(escaped)]


class _PlainDataUnpickler(pickle.Unpickler):
    """Unpickles only builtin containers: no code runs while loading the tagger weights."""

    def find_class(self, module: str, name: str) -> type:
        if module in ("builtins", "__builtin__") and name in ("set", "frozenset", "dict", "list", "tuple"):
            return super().find_class("builtins", name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from the POS tagger model")


def aptagger_model_path() -> Path:
    """Path of ``trontagger-0.1.0.pickle`` in the installed ``textblob-aptagger`` package.

    The package is located without importing it (its ``__init__`` imports textblob).

    Raises:
        FileNotFoundError: The package or its model file is not installed.

    """
    import importlib.util

    spec = importlib.util.find_spec("textblob_aptagger")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "textblob-aptagger is not installed; pip install 'codegym[nlp]' (or textblob-aptagger)"
        )
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "trontagger-0.1.0.pickle"
        if path.is_file():
            return path
    raise FileNotFoundError(f"trontagger-0.1.0.pickle not found in {list(spec.submodule_search_locations)}")


@functools.lru_cache(maxsize=1)
def _load_aptagger_model() -> tuple[dict, dict, set]:
    with open(aptagger_model_path(), "rb") as fh:
        weights, tagdict, classes = _PlainDataUnpickler(fh, encoding="latin1").load()
    if not (isinstance(weights, dict) and isinstance(tagdict, dict) and isinstance(classes, set)):
        raise ValueError("trontagger-0.1.0.pickle does not hold (weights, tagdict, classes)")
    return weights, tagdict, classes


_BE = frozenset("be am is are was were been being".split())
_HAVE = frozenset("have has had having".split())
_SUBJECTS = frozenset({"PRP", "NN", "NNS", "NNP", "NNPS", "WDT", "WP", "EX"})
_ADJ_SUFFIXES = ("able", "ible", "ful", "ous", "ive", "al", "ic", "less", "ish", "ary")
_NOUN_SUFFIXES = ("tion", "sion", "ness", "ment", "ity", "ism", "ance", "ence", "er", "or", "ist")


class WordNetLexiconTagger(POSTagger):
    """An offline rule-based tagger from WordNet's lexicon, a closed-class list, suffix and context rules.

    For each word it scores the WordNet parts of speech the word can have by their SemCor sense counts
    (plus one), multiplies in context factors (a verb is unlikely right after a determiner, likely after
    "to" or a modal, at the start of an imperative sentence or before a determiner), picks the best and
    then the inflected tag (``NNS``, ``VBZ``, ``VBD``/``VBN``, ``VBG``, ``JJR``/``JJS``) from how WordNet's
    morphology reduces the word. Mid-sentence capitalized words are proper nouns. Tuned for the
    imperative, technical English of programming prompts; accuracy is below a trained tagger's.
    """

    name = "wordnet-lexicon"

    def __init__(self) -> None:
        from codegym.nlp.wordnet import get_wordnet

        self._wn = get_wordnet()
        self._readings = functools.lru_cache(maxsize=65536)(self._readings_uncached)

    # -- lexicon -----------------------------------------------------------------------------------
    def _readings_uncached(self, lower: str) -> tuple[tuple[str, str, float], ...]:
        """(wordnet pos, lemma, prior) for every part of speech WordNet gives ``lower``.

        Among the word's base forms for a part of speech (``elements`` -> ``elements``, ``element``), the
        lemma is the most frequent one (ties go to the shorter, reduced form); the prior is the square
        root of one plus the summed SemCor counts, which keeps frequent readings from swamping context.
        """
        out = []
        for pos in ("n", "v", "a", "r"):
            analyses = self._wn._morphy(lower, pos)
            if not analyses:
                continue
            best_lemma, best_count, total = None, -1, 0
            for lemma in sorted(set(analyses), key=len):
                count = 0
                for synset in self._wn.synsets(lemma, pos):
                    for lem in synset.lemmas():
                        if lem.name().lower() == lemma:
                            count += lem.count()
                total += count
                if count > best_count:
                    best_lemma, best_count = lemma, count
            assert best_lemma is not None
            out.append((pos, best_lemma, float(total + 1) ** 0.5))
        return tuple(out)

    def _inflected_tag(self, pos: str, lower: str, lemma: str, prev: str | None, next_open: bool) -> str:
        if pos == "n":
            return "NN" if lemma == lower else "NNS"
        if pos == "a":
            if lemma == lower:
                return "JJ"
            return "JJS" if lower.endswith("est") else "JJR" if lower.endswith("er") else "JJ"
        if pos == "r":
            return "RB"
        # verbs
        if lemma == lower:
            return "VBP" if prev in ("PRP", "NNS") else "VB"
        if lower.endswith("ing"):
            return "VBG"
        if lower.endswith("s") and not lower.endswith("ss"):
            return "VBZ"
        if prev in NOUN_PHRASE_OPENERS or prev in ("VBZ_BE", "VBZ_HAVE") or next_open:
            return "VBN"
        return "VBD" if prev in _SUBJECTS else "VBN"

    @staticmethod
    def _unknown_tag(word: str) -> str:
        lower = word.lower()
        if lower.endswith("ing") and len(lower) > 5:
            return "VBG"
        if lower.endswith("ed") and len(lower) > 4:
            return "VBN"
        if lower.endswith("ly") and len(lower) > 4:
            return "RB"
        if lower.endswith(_ADJ_SUFFIXES):
            return "JJ"
        if lower.endswith("s") and not lower.endswith("ss") and len(lower) > 3:
            return "NNS"
        return "NN"

    # -- tagging -----------------------------------------------------------------------------------
    def tag(self, words: Sequence[str]) -> list[str]:
        """Tag one sentence."""
        tags: list[str] = []
        lowers = [w.lower() for w in words]
        for i, word in enumerate(words):
            lower = lowers[i]
            prev = tags[-1] if tags else None
            prev_word = lowers[i - 1] if i else None
            nxt = lowers[i + 1] if i + 1 < len(words) else None
            tags.append(self._tag_one(word, lower, i, prev, prev_word, nxt))
        return tags

    def _tag_one(
        self, word: str, lower: str, i: int, prev: str | None, prev_word: str | None, nxt: str | None
    ) -> str:
        if not word:
            return "SYM"
        if word in _PUNCT_TAGS:
            return _PUNCT_TAGS[word]
        if not any(c.isalpha() for c in word):
            return "CD" if any(c.isdigit() for c in word) else "SYM"
        if lower in CLOSED_CLASS:
            tag = CLOSED_CLASS[lower]
            if lower == "that" and nxt is not None and nxt not in CLOSED_CLASS and self._readings(nxt):
                # "that list" (DT) vs "that returns" (WDT) vs "so that" (IN): look at the next word.
                poses = {p for p, _, _ in self._readings(nxt)}
                return "DT" if poses == {"n"} or (prev is not None and prev.startswith("VB")) else "WDT"
            if lower == "that" and nxt is not None and CLOSED_CLASS.get(nxt, "").startswith(("VB", "MD")):
                return "WDT"  # "elements that are ..."
            if lower == "there" and nxt not in _BE:
                return "RB"
            return tag
        first = i == 0 or prev in (".", ":", "-LRB-", "``")
        if word[0].isupper() and not first:
            return "NNPS" if word.endswith("s") and not word.isupper() and len(word) > 3 else "NNP"
        if word.isupper() and len(word) > 1:
            return "NNP"
        readings = self._readings(lower)
        if not readings:
            return self._unknown_tag(word)

        next_is_np = nxt is not None and CLOSED_CLASS.get(nxt) in ("DT", "PRP$", "CD", "PRP")
        next_open = (
            nxt is not None and nxt not in CLOSED_CLASS and any(p == "n" for p, _, _ in self._readings(nxt))
        )
        after_be = prev_word in _BE
        after_have = prev_word in _HAVE
        best: tuple[float, str, str] | None = None
        for pos, lemma, prior in readings:
            score = prior
            participle = pos == "v" and lemma != lower and not lower.endswith("s")
            if pos == "v":
                if prev in NOUN_PHRASE_OPENERS:
                    score *= 0.5 if participle else 0.05
                if prev in ("TO", "MD"):
                    score *= 20 if lemma == lower else 0.1
                if first and lemma == lower:
                    score *= 10  # imperative: "Write a function", "Return the sum"
                if next_is_np:
                    score *= 4  # "find the ...", "sort a list"
                if prev in _SUBJECTS and not after_be:
                    score *= 3
                if after_be or after_have:
                    score *= 3 if participle else 0.2
            elif pos == "n":
                if prev in ("TO", "MD"):
                    score *= 0.1
                if prev in NOUN_PHRASE_OPENERS:
                    score *= 2
            elif pos == "a":
                if after_be:
                    score *= 3
                if prev in NOUN_PHRASE_OPENERS and next_open:
                    score *= 2
            elif pos == "r" and lower.endswith("ly"):
                score *= 5
            if best is None or score > best[0]:
                best = (score, pos, lemma)
        assert best is not None
        _, pos, lemma = best
        prev_for_inflection = prev
        if after_be:
            prev_for_inflection = "VBZ_BE"
        elif after_have:
            prev_for_inflection = "VBZ_HAVE"
        return self._inflected_tag(pos, lower, lemma, prev_for_inflection, next_open)


# -- choosing a tagger -------------------------------------------------------------------------------


def _make(name: str) -> POSTagger:
    if name == "nltk":
        return PerceptronPOSTagger("nltk")
    if name == "aptagger":
        return PerceptronPOSTagger("aptagger")
    if name == "wordnet":
        return WordNetLexiconTagger()
    raise ValueError(f"unknown POS tagger {name!r}; choose one of {', '.join(TAGGER_NAMES)} or 'auto'")


@functools.cache
def get_tagger(name: str = "auto") -> POSTagger:
    """Return a cached tagger by name: ``nltk``, ``aptagger``, ``wordnet``, or ``auto`` (first available).

    Raises:
        ValueError: Unknown name.
        LookupError / FileNotFoundError: A named tagger's data is missing.

    """
    if name != "auto":
        return _make(name)
    errors = []
    for candidate in TAGGER_NAMES:
        try:
            return _make(candidate)
        except (LookupError, FileNotFoundError, ImportError) as exc:
            errors.append(f"{candidate}: {exc}")
    raise LookupError("no POS tagger available:\n" + "\n".join(errors))


def active_tagger() -> POSTagger:
    """Return the tagger in use: ``$CODEGYM_POS_TAGGER`` (``nltk``, ``aptagger``, ``wordnet``) or ``auto``."""
    name = os.environ.get("CODEGYM_POS_TAGGER", "auto").strip().lower() or "auto"
    return get_tagger(name)


# -- tagging text ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaggedToken:
    """A token with its Penn tag (``None`` for whitespace)."""

    token: Token
    tag: str | None

    @property
    def text(self) -> str:
        """The token's characters."""
        return self.token.text

    @property
    def wordnet_pos(self) -> str | None:
        """``n``/``v``/``a``/``r`` for open-class words, else None (code and proper nouns included)."""
        if self.tag is None or self.token.kind != "word" or self.tag in PROPER_NOUN_TAGS:
            return None
        return wordnet_pos(self.tag)


def pos_tag(words: Sequence[str], tagger: POSTagger | None = None) -> list[tuple[str, str]]:
    """Tag a list of words (one sentence) like ``nltk.pos_tag``: ``[(word, tag), ...]``."""
    tagger = tagger or active_tagger()
    return list(zip(words, tagger.tag(list(words)), strict=True))


def tag_text(text: str, tagger: POSTagger | None = None) -> list[TaggedToken]:
    """Tokenize ``text`` (:mod:`codegym.nlp.tokenize`) and tag every non-space token, sentence by sentence.

    Code tokens are passed to the tagger as they are (they are nouns to it), so the words around them
    get sensible context; they stay ineligible for edits whatever their tag.
    """
    tagger = tagger or active_tagger()
    tokens = tokenize(text)
    tags: list[str | None] = [None] * len(tokens)
    sentence: list[int] = []

    def flush() -> None:
        if sentence:
            for idx, tag in zip(sentence, tagger.tag([tokens[j].text for j in sentence]), strict=True):
                tags[idx] = tag
            sentence.clear()

    for i, tok in enumerate(tokens):
        if tok.kind != "space":
            sentence.append(i)
        if is_sentence_end(tok):
            flush()
    flush()
    return [TaggedToken(tok, tag) for tok, tag in zip(tokens, tags, strict=True)]
