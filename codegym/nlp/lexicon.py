"""Closed-class English words with their Penn Treebank tags, and the stopword list.

WordNet covers only nouns, verbs, adjectives and adverbs; the offline tagger needs the rest
(determiners, pronouns, prepositions, conjunctions, auxiliaries, modals) from here. The stopword list is
NLTK's English list (the one EPiC filters with), written out because ``nltk.download("stopwords")`` needs
the network.
"""

from __future__ import annotations

# NLTK's English stopwords (nltk_data/corpora/stopwords/english, 179 entries).
STOPWORDS: frozenset[str] = frozenset(
    """
    i me my myself we our ours ourselves you you're you've you'll you'd your yours yourself yourselves he
    him his himself she she's her hers herself it it's its itself they them their theirs themselves what
    which who whom this that that'll these those am is are was were be been being have has had having do
    does did doing a an the and but if or because as until while of at by for with about against between
    into through during before after above below to from up down in out on off over under again further
    then once here there when where why how all any both each few more most other some such no nor not
    only own same so than too very s t can will just don don't should should've now d ll m o re ve y ain
    aren aren't couldn couldn't didn didn't doesn doesn't hadn hadn't hasn hasn't haven haven't isn isn't
    ma mightn mightn't mustn mustn't needn needn't shan shan't shouldn shouldn't wasn wasn't weren weren't
    won won't wouldn wouldn't
    """.split()
)


def _tagged(tag: str, words: str) -> dict[str, str]:
    return {w: tag for w in words.split()}


#: Lowercased closed-class word -> Penn tag (the most common reading in programming prompts).
CLOSED_CLASS: dict[str, str] = {
    **_tagged("DT", "a an the this these those each every some any no another either neither all both half"),
    **_tagged("PDT", "such"),
    **_tagged(
        "PRP",
        "i me you he him she it we us they them myself yourself himself herself itself ourselves "
        "yourselves themselves",
    ),
    **_tagged("PRP$", "my your his her its our their"),
    **_tagged("WDT", "which whichever whatever"),
    **_tagged("WP", "who whom what whoever"),
    **_tagged("WP$", "whose"),
    **_tagged("WRB", "when where why how whenever wherever"),
    **_tagged(
        "IN",
        "of in on at by for with about against between into through during before after above below from "
        "up down out off over under since until till upon within without among amongst across along "
        "around behind beyond despite except inside near onto outside per than though although whether "
        "if because unless while whereas via toward towards like as that so whilst",
    ),
    **_tagged("CC", "and but or nor yet plus"),
    **_tagged("TO", "to"),
    **_tagged("MD", "can could may might must shall should will would cannot"),
    **_tagged("EX", "there"),
    **_tagged(
        "RB", "not n't never also too very just only even still already always often again then here now"
    ),
    **_tagged(
        "CD",
        "zero one two three four five six seven eight nine ten eleven twelve twenty thirty forty fifty "
        "hundred thousand million billion",
    ),
    # Auxiliaries: forms of be, have, do.
    "be": "VB",
    "am": "VBP",
    "is": "VBZ",
    "are": "VBP",
    "was": "VBD",
    "were": "VBD",
    "been": "VBN",
    "being": "VBG",
    "have": "VBP",
    "has": "VBZ",
    "had": "VBD",
    "having": "VBG",
    "do": "VBP",
    "does": "VBZ",
    "did": "VBD",
    "done": "VBN",
    "doing": "VBG",
}

#: Tags of words that start a noun phrase: a word after them is a noun or an adjective, not a verb.
NOUN_PHRASE_OPENERS: frozenset[str] = frozenset({"DT", "PDT", "PRP$", "WP$", "POS", "CD", "JJ", "JJR", "JJS"})

#: Penn tag -> WordNet part of speech for the open classes ("n", "v", "a", "r").
PENN_TO_WORDNET: dict[str, str] = {
    **dict.fromkeys(("NN", "NNS"), "n"),
    **dict.fromkeys(("VB", "VBD", "VBG", "VBN", "VBP", "VBZ"), "v"),
    **dict.fromkeys(("JJ", "JJR", "JJS"), "a"),
    **dict.fromkeys(("RB", "RBR", "RBS"), "r"),
}

#: Penn tags of proper nouns (never edited).
PROPER_NOUN_TAGS: frozenset[str] = frozenset({"NNP", "NNPS"})


def wordnet_pos(penn_tag: str) -> str | None:
    """WordNet part of speech (``n``, ``v``, ``a``, ``r``) for a Penn tag; None for other classes."""
    return PENN_TO_WORDNET.get(penn_tag)
