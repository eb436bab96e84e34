"""Agents live in the top-level ``agents/`` folder (scripts, not a package): make it importable."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


import pytest  # noqa: E402


@pytest.fixture(scope="session")
def tiny_t5():
    """The tiny CodeT5+-like model (random weights); one torch thread: the suite runs 2 workers on 2 cores."""
    import torch

    from codegym.backends import load_generator
    from codegym.backends.tiny import tiny_t5_path

    torch.set_num_threads(1)
    return load_generator(tiny_t5_path())


@pytest.fixture(scope="session")
def small_vectors():
    """Small FastText vectors (seconds to train) for the EPiC mutation, instead of codegym's default ones."""
    from codegym.nlp import vectors as V

    sentences = list(V._wordnet_sentences())[::30]
    recipe = V.FastTextRecipe(vector_size=32, epochs=2, bucket=20_000, min_count=1)
    return V.train_fasttext(sentences, recipe)
