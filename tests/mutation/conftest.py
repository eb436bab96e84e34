"""Fixtures for the NLP tests: a small FastText model trained once per session (a few seconds)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def small_vectors():
    """FastText vectors trained on every 30th WordNet sentence plus the HumanEval prompts."""
    from codegym.nlp import vectors as V

    sentences = list(V.wordnet_sentences())[::30]
    sentences += [s for t in V._humaneval_texts() for line in t.splitlines() if (s := V._words(line))]
    recipe = V.FastTextRecipe(vector_size=32, epochs=2, bucket=20_000, min_count=1)
    return V.train_fasttext(sentences, recipe)
