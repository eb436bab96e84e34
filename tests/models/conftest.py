"""A shortened small-model recipe, built once per session into a temporary cache (a few seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest
from _shared import TINY_SMALL_RECIPE

from codegym.models.small import SmallModelRecipe


@pytest.fixture(scope="session")
def tiny_recipe() -> SmallModelRecipe:
    return TINY_SMALL_RECIPE


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache folder holding the build of :data:`TINY_SMALL_RECIPE`."""
    from codegym.models.small import small_model_path

    root = tmp_path_factory.mktemp("small-models")
    small_model_path(TINY_SMALL_RECIPE, cache_dir=root, progress=False)
    return root
