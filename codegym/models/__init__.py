"""Models codegym builds itself.

* :mod:`codegym.models.small`: the small code model trained on the procedural function-synthesis suite
  (a few minutes on two CPU cores, cached, loaded through :func:`codegym.backends.load_generator`).
* :mod:`codegym.models.benchmark`: the pieces of the ``TinyCoderPrompt-v0`` benchmark environment
  (its task loader and the phrasing-catalogue rewriter).

Importing this package is cheap: nothing here imports torch until a model is built or loaded.
"""

from codegym.models.small import (
    DEFAULT_RECIPE,
    SmallModelGenerator,
    SmallModelRecipe,
    load_small_model,
    small_model_path,
)

__all__ = [
    "DEFAULT_RECIPE",
    "SmallModelGenerator",
    "SmallModelRecipe",
    "load_small_model",
    "small_model_path",
]
