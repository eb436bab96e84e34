"""Where codegym caches what it builds: tiny test models, word vectors, generated items, programs."""

from __future__ import annotations

import os
from pathlib import Path

#: Environment variable that moves every codegym cache.
CACHE_ENV = "CODEGYM_CACHE_DIR"


def cache_root() -> Path:
    """Return codegym's cache folder: ``$CODEGYM_CACHE_DIR``, else ``$XDG_CACHE_HOME/codegym``,
    else ``~/.cache/codegym``. Each component uses a sub-folder of it.
    """  # noqa: D205
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "codegym"
