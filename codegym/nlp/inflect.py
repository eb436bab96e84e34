"""English inflection for replacement words: ``sort`` + ``VBZ`` -> ``sorts``, ``child`` -> ``children``.

A synonym found in WordNet is a lemma; the word it replaces may be inflected. :func:`inflect` puts the
lemma into the replaced word's form with WordNet's exception lists (read backwards) for irregular forms
and the usual spelling rules otherwise, and checks the result by reducing it again with WordNet's
morphology: a form that does not reduce back to the lemma is refused (``None``) rather than guessed.
:func:`match_case` copies the replaced word's capitalization.
"""

from __future__ import annotations

import functools
import re

_VOWELS = "aeiou"
_CVC = re.compile(r"^[^aeiou]*[aeiou][^aeiouwxy]$")  # one vowel group, ends consonant-vowel-consonant


@functools.lru_cache(maxsize=4)
def _irregular(pos: str) -> dict[str, tuple[str, ...]]:
    """Map base forms to inflected forms, from WordNet's ``<pos>.exc`` (which maps inflected -> base)."""
    from codegym.nlp.wordnet import get_wordnet

    wn = get_wordnet()
    out: dict[str, list[str]] = {}
    for inflected, bases in wn._exception_map[pos].items():
        for base in bases:
            if base != inflected:
                out.setdefault(base, []).append(inflected)
    return {k: tuple(sorted(v)) for k, v in out.items()}


def _plural(word: str) -> str:
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    if len(word) > 1 and word.endswith("y") and word[-2] not in _VOWELS:
        return word[:-1] + "ies"
    if len(word) > 1 and word.endswith("o") and word[-2] not in _VOWELS:
        return word + "es"
    return word + "s"


def _doubles(word: str) -> bool:
    return bool(_CVC.match(word)) and len(word) <= 4


def _ing(word: str) -> str:
    if word.endswith("ie"):
        return word[:-2] + "ying"
    if word.endswith("e") and not word.endswith(("ee", "ye", "oe")) and len(word) > 2:
        return word[:-1] + "ing"
    if _doubles(word):
        return word + word[-1] + "ing"
    return word + "ing"


def _past(word: str) -> str:
    if word.endswith("e"):
        return word + "d"
    if len(word) > 1 and word.endswith("y") and word[-2] not in _VOWELS:
        return word[:-1] + "ied"
    if _doubles(word):
        return word + word[-1] + "ed"
    return word + "ed"


def _grade(word: str, suffix: str) -> str:
    if word.endswith("e"):
        return word + suffix[1:]
    if len(word) > 1 and word.endswith("y") and word[-2] not in _VOWELS:
        return word[:-1] + "i" + suffix
    if _doubles(word):
        return word + word[-1] + suffix
    return word + suffix


_BE_FORMS = {
    "be": {"VBZ": "is", "VBD": "was", "VBN": "been", "VBG": "being"},
    "have": {"VBZ": "has", "VBD": "had", "VBN": "had", "VBG": "having"},
}


def _inflect_word(lemma: str, tag: str) -> str | None:
    if tag in ("NN", "VB", "VBP", "JJ", "RB", "NNP"):
        return lemma
    if tag == "NNS":
        irregular = _irregular("n").get(lemma)
        return irregular[0] if irregular else _plural(lemma)
    if tag in ("VBZ", "VBG", "VBD", "VBN"):
        if lemma in _BE_FORMS:
            return _BE_FORMS[lemma][tag]
        forms = _irregular("v").get(lemma, ())
        irregular = [f for f in forms if not f.endswith("ing")]
        if tag == "VBZ":
            return _plural(lemma)
        if tag == "VBG":
            ing = [f for f in forms if f.endswith("ing")]
            return ing[0] if ing else _ing(lemma)
        if irregular:
            participles = [f for f in irregular if f.endswith(("n", "ne"))]
            pasts = [f for f in irregular if not f.endswith(("n", "ne"))]
            if tag == "VBN":
                return (participles or pasts)[0]
            return (pasts or participles)[0]
        return _past(lemma)
    if tag in ("JJR", "JJS", "RBR", "RBS"):
        irregular = _irregular("a").get(lemma, ())
        want = "est" if tag.endswith("S") else "er"
        for form in irregular:
            if form.endswith(want) or (want == "est" and form.endswith("st")):
                return form
        if len(lemma) > 6 or lemma.endswith(("ful", "ous", "ive", "al", "ic", "ed", "ing")):
            return ("most " if want == "est" else "more ") + lemma
        return _grade(lemma, want)
    return None


_TAG_POS = {"NNS": "n", "VBZ": "v", "VBG": "v", "VBD": "v", "VBN": "v", "JJR": "a", "JJS": "a"}


def inflect(lemma: str, tag: str) -> str | None:
    """Put a WordNet lemma (underscores allowed) into the form a Penn ``tag`` asks for.

    Multi-word lemmas inflect their head: the first word of a verb (``look_for`` + ``VBZ`` ->
    ``looks for``), the last word of a noun (``credit_card`` + ``NNS`` -> ``credit cards``).

    Returns:
        The inflected text with spaces for underscores, or None when the form cannot be made reliably.

    """
    words = lemma.replace("_", " ").split()
    if not words:
        return None
    head = 0 if tag.startswith("V") else len(words) - 1
    if len(words) > 1 and tag in ("JJR", "JJS", "RBR", "RBS"):
        return None
    form = _inflect_word(words[head].lower(), tag)
    if form is None:
        return None
    pos = _TAG_POS.get(tag)
    if pos is not None and form != words[head] and " " not in form:
        from codegym.nlp.wordnet import get_wordnet

        if words[head].lower() not in get_wordnet()._morphy(form, pos):
            return None
    words[head] = form
    return " ".join(words)


def match_case(original: str, replacement: str) -> str:
    """Give ``replacement`` the capitalization of ``original`` (ALL CAPS, Capitalized or as is)."""
    if len(original) > 1 and original.isupper():
        return replacement.upper()
    if original[:1].isupper():
        return replacement[:1].upper() + replacement[1:]
    return replacement
