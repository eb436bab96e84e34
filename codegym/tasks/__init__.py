"""Programming tasks: the :class:`Task` type and the dataset loaders."""

from codegym.tasks.base import Task

__all__ = ["Task"]
