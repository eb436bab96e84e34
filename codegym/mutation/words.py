"""Word-level operators: the EPiC local mutation, a WordNet synonym swap, a word-vector neighbour swap."""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

import numpy as np

from codegym.mutation.base import Edit, MutationOperator, MutationResult, check_rng, check_text
from codegym.nlp.lexicon import STOPWORDS
from codegym.nlp.pos import POSTagger, TaggedToken, active_tagger
from codegym.nlp.synonyms import (
    EligibleWord,
    eligible_words,
    fix_articles,
    lemmatize,
    realize,
    wordnet_candidates,
)

if TYPE_CHECKING:
    from gensim.models import KeyedVectors


def _rebuild(
    tagged: list[TaggedToken], replacements: dict[int, str], operator: str, text: str, info: dict
) -> MutationResult:
    """Apply token replacements (fixing a/an before them) and describe the edits."""
    if not replacements:
        return MutationResult(text, operator, changed=False, info=info)
    pieces = [tt.text for tt in tagged]
    for i, new in replacements.items():
        pieces[i] = new
    pieces = fix_articles(pieces, replacements.keys())
    edits = tuple(
        Edit(tagged[i].token.start, tagged[i].text, pieces[i])
        for i in range(len(tagged))
        if pieces[i] != tagged[i].text
    )
    new_text = "".join(pieces)
    return MutationResult(new_text, operator, changed=new_text != text, edits=edits, info=info)


class _WordOperator(MutationOperator):
    """Shared set-up: a POS tagger (default: the active one) and word vectors (default: codegym's)."""

    def __init__(
        self,
        *,
        vectors: KeyedVectors | str | os.PathLike[str] | None = None,
        tagger: POSTagger | None = None,
    ) -> None:
        self._vectors_arg = vectors
        self._kv: KeyedVectors | None = None
        self._tagger = tagger
        self._cache: dict[tuple[str, str, str], list[tuple[str, float]]] = {}

    @property
    def tagger(self) -> POSTagger:
        """The POS tagger in use."""
        if self._tagger is None:
            self._tagger = active_tagger()
        return self._tagger

    @property
    def vectors(self) -> KeyedVectors:
        """The word vectors in use (loaded, or trained and cached, on first access)."""
        if self._kv is None:
            from codegym.nlp.vectors import get_vectors

            self._kv = get_vectors(self._vectors_arg)
        return self._kv

    def _eligible(
        self, text: str, protected: Collection[str]
    ) -> tuple[list[TaggedToken], list[EligibleWord]]:
        return eligible_words(text, tagger=self.tagger, protected=protected)


class EPiCMutation(_WordOperator):
    """The EPiC local mutation (Taherkhani et al., 2024): replace words by close WordNet synonyms.

    Every eligible word (a common noun, verb, adjective or adverb that is not a stopword, see
    :func:`~codegym.nlp.synonyms.eligible_words`) gets candidates: the WordNet lemmas of its lemma with
    the same part of speech, ranked by cosine similarity to it in the word-vector model, the
    ``top_k`` best kept. Each word that has candidates is replaced, with probability ``probability``,
    by one of them chosen uniformly, in the word's inflection and capitalization.

    Differences from EPiC's published code, all deliberate: candidates share the word's part of
    speech (EPiC took lemmas of every part of speech), replacements are re-inflected (EPiC inserted the
    bare lemma: "returns" -> "give"), code tokens are never touched, and the text's spacing and
    punctuation are kept (EPiC split on whitespace and re-joined with single spaces).

    Args:
        probability: Chance of replacing each word that has candidates (EPiC: 0.25).
        top_k: Candidates kept per word after ranking (EPiC: 10).
        phrases: Also offer multi-word WordNet lemmas ("find out"); off by default, as in EPiC, whose
            vectors had no entry for them.
        vectors: gensim ``KeyedVectors``, a path to load, or None for codegym's default vectors
            (:func:`~codegym.nlp.vectors.default_vectors`).
        tagger: POS tagger (default: :func:`~codegym.nlp.pos.active_tagger`).

    """

    name = "epic"

    def __init__(
        self,
        probability: float = 0.25,
        top_k: int = 10,
        *,
        phrases: bool = False,
        vectors: KeyedVectors | str | os.PathLike[str] | None = None,
        tagger: POSTagger | None = None,
    ) -> None:
        super().__init__(vectors=vectors, tagger=tagger)
        self.phrases = phrases
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"probability must be in [0, 1], got {probability}")
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        self.probability = probability
        self.top_k = top_k

    def candidates(self, word: EligibleWord) -> list[tuple[str, float]]:
        """Return ``(replacement text, cosine similarity)`` for ``word``, best first, at most ``top_k``.

        WordNet lemmas (same part of speech) that can take the word's inflection, ranked by similarity
        of the lemma to the word's lemma; lemmas without a vector are dropped.
        """
        key = (word.lemma, word.pos, word.tag)
        cached = self._cache.get(key)
        if cached is None:
            from codegym.nlp.vectors import rank_by_similarity

            # lemma -> form, lowercased: the cache is shared by every capitalization of the word.
            forms = {lemma: form.lower() for lemma, form in wordnet_candidates(word, phrases=self.phrases)}
            ranked = rank_by_similarity(self.vectors, word.lemma, list(forms))
            cached = [(forms[lemma], score) for lemma, score in ranked[: self.top_k]]
            self._cache[key] = cached
        return [(realize_case(word.text, form), score) for form, score in cached]

    def mutate(
        self,
        text: str,
        rng: np.random.Generator,
        *,
        original: str | None = None,
        protected: Collection[str] = (),
    ) -> MutationResult:
        """Replace each eligible word with probability ``probability`` (see the class docstring)."""
        check_text(text)
        check_rng(rng)
        tagged, words = self._eligible(text, protected)
        replacements: dict[int, str] = {}
        considered = 0
        for word in words:
            cands = self.candidates(word)
            if not cands:
                continue
            considered += 1
            if rng.random() < self.probability:
                replacements[word.index] = cands[int(rng.integers(len(cands)))][0]
        info = {"eligible": len(words), "with_candidates": considered, "replaced": len(replacements)}
        return _rebuild(tagged, replacements, self.name, text, info)


def realize_case(original: str, form: str) -> str:
    """Copy ``original``'s capitalization onto ``form``."""
    from codegym.nlp.inflect import match_case

    return match_case(original, form)


class WordNetSynonymSwap(_WordOperator):
    """Replace one eligible word, chosen uniformly, by a WordNet synonym chosen uniformly.

    No word vectors are needed. Synonyms come from the word's ``max_senses`` most frequent WordNet
    senses (default 2), which keeps the replacement close to the usual meaning; words without such a
    synonym are skipped. When no word has one, the text is returned unchanged (``changed=False``).
    """

    name = "wordnet_synonym"

    def __init__(self, max_senses: int | None = 2, *, tagger: POSTagger | None = None) -> None:
        super().__init__(tagger=tagger)
        if max_senses is not None and max_senses < 1:
            raise ValueError(f"max_senses must be >= 1 or None, got {max_senses}")
        self.max_senses = max_senses

    def mutate(
        self,
        text: str,
        rng: np.random.Generator,
        *,
        original: str | None = None,
        protected: Collection[str] = (),
    ) -> MutationResult:
        """Swap one word for a synonym."""
        check_text(text)
        check_rng(rng)
        tagged, words = self._eligible(text, protected)
        options = [(w, c) for w in words if (c := wordnet_candidates(w, self.max_senses))]
        info = {"eligible": len(words), "with_candidates": len(options)}
        if not options:
            return MutationResult(text, self.name, changed=False, info=info)
        word, cands = options[int(rng.integers(len(options)))]
        _, form = cands[int(rng.integers(len(cands)))]
        return _rebuild(tagged, {word.index: form}, self.name, text, info)


class VectorNeighbourSwap(_WordOperator):
    """Replace one eligible word, chosen uniformly, by one of its nearest neighbours in the word vectors.

    Neighbours are the ``search`` nearest vocabulary words to the word's lemma, kept when they are real
    words of the same part of speech in WordNet (so they can be inflected like the word), not
    stopwords, and not spelling variants of the word (FastText's n-grams rank "malfunction" next to
    "function": a neighbour that contains the lemma, or is contained in it, is dropped). The ``top_k``
    nearest that remain are the choices, picked uniformly.
    """

    name = "vector_neighbour"

    def __init__(
        self,
        top_k: int = 10,
        search: int = 100,
        *,
        vectors: KeyedVectors | str | os.PathLike[str] | None = None,
        tagger: POSTagger | None = None,
    ) -> None:
        super().__init__(vectors=vectors, tagger=tagger)
        if top_k < 1 or search < top_k:
            raise ValueError(f"need 1 <= top_k <= search, got top_k={top_k}, search={search}")
        self.top_k = top_k
        self.search = search

    def neighbours(self, word: EligibleWord) -> list[tuple[str, float]]:
        """Return ``(replacement text, cosine similarity)`` of ``word``'s usable neighbours, best first."""
        key = (word.lemma, word.pos, word.tag)
        cached = self._cache.get(key)
        if cached is None:
            cached = []
            from codegym.nlp.vectors import has_vector
            from codegym.nlp.wordnet import get_wordnet

            kv = self.vectors
            wn = get_wordnet()
            if has_vector(kv, word.lemma):
                for cand, score in kv.most_similar(word.lemma, topn=self.search):
                    if len(cached) >= self.top_k:
                        break
                    low = cand.lower()
                    if low != cand or not low.isalpha() or low in STOPWORDS or len(low) < 2:
                        continue
                    if word.lemma in low or low in word.lemma:
                        continue
                    lemma = lemmatize(low, word.pos)
                    if lemma == word.lemma or lemma != low:
                        continue  # only base forms, and not the word itself
                    if not any(lem.name() == low for lem in wn.lemmas(low, word.pos)):
                        continue  # a common word of the same part of speech ("Delphi" is not "delphi")
                    form = realize(lemma, word)
                    if form is not None:
                        cached.append((form.lower(), float(score)))
            self._cache[key] = cached
        return [(realize_case(word.text, form), score) for form, score in cached]

    def mutate(
        self,
        text: str,
        rng: np.random.Generator,
        *,
        original: str | None = None,
        protected: Collection[str] = (),
    ) -> MutationResult:
        """Swap one word for a vector neighbour."""
        check_text(text)
        check_rng(rng)
        tagged, words = self._eligible(text, protected)
        options = [(w, c) for w in words if (c := self.neighbours(w))]
        info = {"eligible": len(words), "with_candidates": len(options)}
        if not options:
            return MutationResult(text, self.name, changed=False, info=info)
        word, cands = options[int(rng.integers(len(options)))]
        form, score = cands[int(rng.integers(len(cands)))]
        info["similarity"] = score
        return _rebuild(tagged, {word.index: form}, self.name, text, info)


__all__: Sequence[str] = ("EPiCMutation", "WordNetSynonymSwap", "VectorNeighbourSwap")
