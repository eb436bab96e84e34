"""WordNet lemmas of a word, and which words of a text may be edited at all.

Shared by every word-level mutation operator: :func:`eligible_words` tags a text and returns the tokens
EPiC may replace (nouns, verbs, adjectives and adverbs; never proper nouns, stopwords, code, numbers,
quoted text, acronyms or caller-protected names); :func:`wordnet_candidates` gives the WordNet lemmas of a
word's lemma with the same part of speech, put into the word's inflection and capitalization.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from codegym.nlp.inflect import inflect, match_case
from codegym.nlp.lexicon import STOPWORDS
from codegym.nlp.pos import POSTagger, TaggedToken, active_tagger, tag_text


@dataclass(frozen=True)
class EligibleWord:
    """A word of a text that may be replaced."""

    index: int  #: index of the token in the tagged token list
    text: str  #: the word as written
    tag: str  #: its Penn tag
    pos: str  #: WordNet part of speech: n, v, a, r
    lemma: str  #: its WordNet lemma (lowercase)


def lemmatize(word: str, pos: str) -> str:
    """Return the WordNet lemma of ``word`` as ``pos``; the lowercased word when WordNet lacks it.

    When several base forms exist (``words``: ``words``, ``word``) the one with more senses wins, ties
    going to the shorter (reduced) form.
    """
    return _lemmatize(word.lower(), pos)


@functools.lru_cache(maxsize=65536)
def _lemmatize(lower: str, pos: str) -> str:
    from codegym.nlp.wordnet import get_wordnet

    wn = get_wordnet()
    analyses = sorted(set(wn._morphy(lower, pos)), key=len)
    if not analyses:
        return lower
    # wn.lemmas() counts senses of exactly this lemma ("words": 4, "word": 10); wn.synsets() would
    # apply morphology again and credit "words" with the senses of "word".
    return max(analyses, key=lambda lemma: (len(wn.lemmas(lemma, pos)), -len(lemma)))


_INFLECTED = {"NNS": "NN", "VBZ": "VB", "VBD": "VB", "VBN": "VB", "VBG": "VB", "JJR": "JJ", "JJS": "JJ"}


def reconcile_tag(tag: str, lower: str, lemma: str) -> str:
    """Make an inflection tag agree with the word's morphology before re-inflecting a replacement.

    Taggers sometimes call an uninflected word inflected ("matrix/NNS") or the reverse ("numbers/NN");
    re-inflecting a synonym by that tag would produce "substances" for "matrix". A word equal to its
    lemma gets the base tag; a plural noun tagged ``NN`` gets ``NNS``.
    """
    if tag in _INFLECTED and lower == lemma:
        return _INFLECTED[tag]
    if tag == "NN" and lower != lemma:
        return "NNS"
    return tag


def is_plain_word(text: str) -> bool:
    """Letters only, at least two of them, not an ALL-CAPS acronym."""
    return text.isalpha() and text.isascii() and len(text) >= 2 and not (text.isupper() and len(text) > 1)


def eligible_words(
    text: str,
    *,
    tagger: POSTagger | None = None,
    protected: Collection[str] = (),
) -> tuple[list[TaggedToken], list[EligibleWord]]:
    """Tag ``text`` and list the words an operator may replace.

    A word is eligible when it is a plain word (letters only, not an acronym), its tag is a common
    noun, verb, adjective or adverb, neither it nor its lemma is a stopword, and it is not in
    ``protected`` (compared case-insensitively; pass the function and parameter names here).

    Returns:
        The tagged tokens (for rebuilding the text) and the eligible words in text order.

    """
    tagged = tag_text(text, tagger or active_tagger())
    protected_lower = {p.lower() for p in protected}
    out: list[EligibleWord] = []
    for i, tt in enumerate(tagged):
        pos = tt.wordnet_pos
        if pos is None or not is_plain_word(tt.text):
            continue
        lower = tt.text.lower()
        if lower in STOPWORDS or lower in protected_lower:
            continue
        lemma = lemmatize(lower, pos)
        if lemma in STOPWORDS or lemma in protected_lower:
            continue
        out.append(EligibleWord(i, tt.text, reconcile_tag(tt.tag or "", lower, lemma), pos, lemma))
    return tagged, out


@functools.lru_cache(maxsize=65536)
def wordnet_lemmas(
    lemma: str, pos: str, max_senses: int | None = None, phrases: bool = False
) -> tuple[str, ...]:
    """WordNet lemma names sharing a synset with ``lemma`` as part of speech ``pos``.

    In WordNet's sense order (most frequent sense first), without duplicates or ``lemma`` itself, and
    without names that hold capitals (proper nouns), digits or other non-letters besides ``_`` and ``-``.

    Args:
        lemma: A lowercase lemma.
        pos: ``n``, ``v``, ``a`` or ``r`` (adjective satellites are included with ``a``).
        max_senses: Use only the first ``max_senses`` synsets (None: all).
        phrases: Include multi-word lemmas (``find_out``). EPiC effectively excluded them: its
            vectors had no entry for them, so they were never ranked.

    """
    from codegym.nlp.wordnet import get_wordnet

    if pos not in ("n", "v", "a", "r"):
        raise ValueError(f"pos must be one of n, v, a, r; got {pos!r}")
    wn = get_wordnet()
    seen = {lemma}
    out = []
    synsets = wn.synsets(lemma, pos)
    if max_senses is not None:
        synsets = synsets[:max_senses]
    for synset in synsets:
        for name in synset.lemma_names():
            if name in seen or not name.replace("_", "").replace("-", "").isalpha() or name != name.lower():
                continue
            if not phrases and ("_" in name or "-" in name):
                continue
            seen.add(name)
            out.append(name)
    return tuple(out)


def realize(candidate: str, word: EligibleWord) -> str | None:
    """Put a lemma into ``word``'s inflection and capitalization; None if the form cannot be made."""
    form = inflect(candidate, word.tag)
    if form is None or form.lower() == word.text.lower():
        return None
    return match_case(word.text, form)


def wordnet_candidates(
    word: EligibleWord, max_senses: int | None = None, phrases: bool = False
) -> list[tuple[str, str]]:
    """``(lemma, replacement text)`` for every WordNet lemma of ``word`` that can take its form."""
    out = []
    for cand in wordnet_lemmas(word.lemma, word.pos, max_senses, phrases):
        form = realize(cand, word)
        if form is not None:
            out.append((cand, form))
    return out


def fix_articles(tokens: Sequence[str], changed: Collection[int]) -> list[str]:
    """Make "a"/"an" before each changed token agree with its new first letter (vowel letter rule)."""
    out = list(tokens)
    for i in changed:
        j = i - 1
        while j >= 0 and out[j].isspace():
            j -= 1
        if j < 0 or out[j].lower() not in ("a", "an") or not out[i]:
            continue
        want = "an" if out[i][0].lower() in "aeiou" else "a"
        if out[j].lower() != want:
            out[j] = match_case(out[j], want)
    return out
