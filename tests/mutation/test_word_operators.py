from __future__ import annotations

import numpy as np
import pytest

from codegym.mutation import EPiCMutation, VectorNeighbourSwap, WordNetSynonymSwap, make_operator
from codegym.nlp.synonyms import eligible_words, wordnet_lemmas
from codegym.nlp.tokenize import tokenize

TEXT = (
    "Write a function to find the minimum cost path to reach (m, n) from (0, 0) for the given cost "
    "matrix cost[][] and a position (m, n) in cost[][]."
)
LONG = (
    "Write a python function that takes a list of integers and returns the largest element. "
    "The function should quickly check whether the numbers are sorted, then compute the total sum, "
    "remove every duplicate value and print a short message describing the final result."
)
CODEY = (
    "Given the list nums_list and the integer k, call helper_fn(nums_list, k) 3 times and compare "
    "`result[0]` with 'expected' and 2.5; keep MAX_SIZE and userName unchanged while sorting the values."
)


@pytest.fixture(scope="module")
def epic(small_vectors):
    return EPiCMutation(vectors=small_vectors)


def protected_sequence(text: str) -> list[str]:
    return [t.text for t in tokenize(text) if t.protected]


def test_same_seed_same_result(epic, small_vectors):
    outs = [epic.apply(LONG, np.random.default_rng(7)) for _ in range(3)]
    assert outs[0] == outs[1] == outs[2]
    other = EPiCMutation(vectors=small_vectors)  # a fresh operator (empty caches) agrees too
    assert other.apply(LONG, np.random.default_rng(7)) == outs[0]
    different = {epic.apply(LONG, np.random.default_rng(s)) for s in range(10)}
    assert len(different) > 5


@pytest.mark.parametrize("cls", [EPiCMutation, WordNetSynonymSwap, VectorNeighbourSwap])
def test_code_tokens_numbers_and_protected_words_never_change(cls, small_vectors):
    kwargs = {"vectors": small_vectors} if cls is not WordNetSynonymSwap else {}
    if cls is EPiCMutation:
        kwargs["probability"] = 1.0
    op = cls(**kwargs)
    rng = np.random.default_rng(0)
    changed = 0
    for _ in range(30):
        for text in (TEXT, CODEY):
            res = op.mutate(text, rng, protected={"sorting"})
            assert protected_sequence(res.text) == protected_sequence(text)
            assert "sorting" in res.text if text is CODEY else True
            changed += res.changed
            # only the edited spans differ
            for edit in res.edits:
                assert text[edit.start : edit.start + len(edit.old)] == edit.old
    assert changed > 0


def test_epic_replaces_a_quarter_of_words_in_expectation(epic):
    rng = np.random.default_rng(123)
    replaced = considered = 0
    for _ in range(200):
        res = epic.mutate(LONG, rng)
        replaced += res.info["replaced"]
        considered += res.info["with_candidates"]
    assert considered >= 200 * 8
    assert replaced / considered == pytest.approx(0.25, abs=0.03)


def test_epic_probability_bounds(small_vectors):
    never = EPiCMutation(probability=0.0, vectors=small_vectors)
    assert never.apply(LONG, np.random.default_rng(0)) == LONG
    always = EPiCMutation(probability=1.0, vectors=small_vectors).mutate(LONG, np.random.default_rng(0))
    assert always.info["replaced"] == always.info["with_candidates"] > 0
    with pytest.raises(ValueError, match="probability"):
        EPiCMutation(probability=1.5)


def test_epic_candidates_are_wordnet_lemmas_ranked_by_similarity(epic, small_vectors):
    from codegym.nlp.inflect import inflect
    from codegym.nlp.vectors import similarity

    _, words = eligible_words(LONG)
    assert {"Write", "function", "integers", "returns", "quickly", "compute"} <= {w.text for w in words}
    for word in words:
        cands = epic.candidates(word)
        assert len(cands) <= epic.top_k
        lemmas = wordnet_lemmas(word.lemma, word.pos)
        forms = {}
        for lemma in lemmas:
            form = inflect(lemma, word.tag)
            if form is not None:
                forms[form.lower()] = lemma
        scores = [s for _, s in cands]
        assert scores == sorted(scores, reverse=True)
        for text, score in cands:
            assert text.lower() in forms, (word.text, text)
            assert score == pytest.approx(
                similarity(small_vectors, word.lemma, forms[text.lower()]), abs=1e-4
            )
        # nothing better was left out
        if len(cands) == epic.top_k:
            kept = {forms[t.lower()] for t, _ in cands}
            rest = [similarity(small_vectors, word.lemma, lem) for lem in forms.values() if lem not in kept]
            assert all(r is None or r <= scores[-1] + 1e-6 for r in rest)


def test_epic_edits_use_candidates_and_keep_case_and_inflection(small_vectors):
    op = EPiCMutation(probability=1.0, vectors=small_vectors)
    tagged, words = eligible_words(LONG)
    by_index = {w.index: w for w in words}
    res = op.mutate(LONG, np.random.default_rng(3))
    assert res.edits
    for edit in res.edits:
        idx = next(i for i, t in enumerate(tagged) if t.token.start == edit.start)
        if idx not in by_index:  # an article fixed to agree with the next word
            assert edit.old.lower() in ("a", "an") and edit.new.lower() in ("a", "an")
            continue
        word = by_index[idx]
        assert edit.new in [c for c, _ in op.candidates(word)]
        assert edit.new[0].isupper() == edit.old[0].isupper()


def test_stopwords_proper_nouns_and_acronyms_are_not_eligible():
    _, words = eligible_words("Use Python and the JSON module to parse it; do not print anything else.")
    texts = {w.text for w in words}
    assert "Python" not in texts and "JSON" not in texts
    assert not texts & {"the", "and", "to", "it", "do", "not", "Use"} - {"Use"}
    assert {"module", "parse", "print"} <= texts


def test_wordnet_synonym_swap_changes_one_word():
    op = WordNetSynonymSwap()
    rng = np.random.default_rng(1)
    for _ in range(20):
        res = op.mutate(LONG, rng)
        assert res.changed
        word_edits = [e for e in res.edits if e.old.lower() not in ("a", "an")]
        assert len(word_edits) == 1
    assert op.apply(LONG, np.random.default_rng(5)) == op.apply(LONG, np.random.default_rng(5))


def test_synonym_swap_without_candidates_is_a_no_op():
    op = WordNetSynonymSwap()
    res = op.mutate("Use f(x) and the 3 numbers.", np.random.default_rng(0))
    text = "Do it for x_1 and `y` 42."
    res = op.mutate(text, np.random.default_rng(0))
    assert res.text == text and not res.changed and not res.fallback


def test_vector_neighbour_swap(small_vectors):
    op = VectorNeighbourSwap(vectors=small_vectors)
    rng = np.random.default_rng(2)
    for _ in range(10):
        res = op.mutate(LONG, rng)
        if res.changed:
            assert -1.0 <= res.info["similarity"] <= 1.0
            word_edits = [e for e in res.edits if e.old.lower() not in ("a", "an")]
            assert len(word_edits) == 1
            e = word_edits[0]
            assert e.new.lower() not in e.old.lower() and e.old.lower() not in e.new.lower()


def test_registry():
    from codegym.mutation import available_operators, register_operator

    assert {"epic", "wordnet_synonym", "vector_neighbour", "llm_rewrite", "restore_original"} <= set(
        available_operators()
    )
    assert make_operator("epic", probability=0.5).probability == 0.5
    assert make_operator("vector_neighbor").name == "vector_neighbour"
    with pytest.raises(ValueError, match="unknown mutation operator 'nope'"):
        make_operator("nope")
    with pytest.raises(ValueError, match="already registered"):
        register_operator("epic", EPiCMutation)


def test_rng_must_be_a_numpy_generator(epic):
    import random

    with pytest.raises(TypeError, match="numpy.random.Generator"):
        epic.mutate(TEXT, random.Random(0))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="text must be a str"):
        epic.mutate(None, np.random.default_rng(0))  # type: ignore[arg-type]


def test_mutate_batch_matches_single_calls(epic):
    texts = [TEXT, LONG]
    batch = epic.mutate_batch(texts, [np.random.default_rng(1), np.random.default_rng(2)])
    single = [epic.mutate(t, np.random.default_rng(s)) for t, s in zip(texts, (1, 2), strict=True)]
    assert [r.text for r in batch] == [r.text for r in single]
    with pytest.raises(ValueError, match="generators"):
        epic.mutate_batch(texts, [np.random.default_rng(1)])
