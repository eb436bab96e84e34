"""A shortened small-model recipe, built once per session into a temporary cache (a few seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest

from codegym.models.small import SmallModelRecipe

#: The default recipe shrunk to seconds: 40 tasks, a 1-layer 32-wide model, 6 optimizer steps.
TINY_RECIPE = SmallModelRecipe(
    name="test-small",
    num_tasks=40,
    vocab_size=400,
    d_model=32,
    num_heads=2,
    d_ff=64,
    num_layers=1,
    batch_size=8,
    max_steps=6,
    warmup_steps=1,
    max_new_tokens=24,
)


@pytest.fixture(scope="session")
def tiny_recipe() -> SmallModelRecipe:
    return TINY_RECIPE


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache folder holding the build of :data:`TINY_RECIPE`."""
    from codegym.models.small import small_model_path

    root = tmp_path_factory.mktemp("small-models")
    small_model_path(TINY_RECIPE, cache_dir=root, progress=False)
    return root
