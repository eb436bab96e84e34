"""Observations for prompt environments: sentence embedders (all-MiniLM-L6-v2, and a hashing stand-in).

Importing this package does not import torch or sentence-transformers; the model loads on first use.
"""

from codegym.observation.embedder import (
    MINILM_DIM,
    MINILM_HUB_ID,
    Embedder,
    HashingEmbedder,
    SentenceEmbedder,
    make_embedder,
    minilm_model_path,
)

__all__ = [
    "MINILM_DIM",
    "MINILM_HUB_ID",
    "Embedder",
    "HashingEmbedder",
    "SentenceEmbedder",
    "make_embedder",
    "minilm_model_path",
]
