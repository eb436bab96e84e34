"""Model backends: every one implements :class:`CodeGenerator`."""

from codegym.backends.base import CodeGenerator

__all__ = ["CodeGenerator"]
