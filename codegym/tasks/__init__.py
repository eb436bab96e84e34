"""Programming tasks: the :class:`Task` type, the dataset loaders, the registry and the prompt formats."""

from codegym.tasks.base import Task
from codegym.tasks.humaneval import load_humaneval
from codegym.tasks.mbpp import DatasetUnavailableError, load_mbpp
from codegym.tasks.prompts import (
    PROMPT_STYLES,
    PromptStyle,
    build_program,
    default_style,
    format_prompt,
    split_prompt,
    task_description,
)
from codegym.tasks.registry import (
    DatasetInfo,
    dataset_info,
    get_task,
    list_datasets,
    load_tasks,
    register_dataset,
)

__all__ = [
    "PROMPT_STYLES",
    "DatasetInfo",
    "DatasetUnavailableError",
    "PromptStyle",
    "Task",
    "build_program",
    "dataset_info",
    "default_style",
    "format_prompt",
    "get_task",
    "list_datasets",
    "load_humaneval",
    "load_mbpp",
    "load_tasks",
    "register_dataset",
    "split_prompt",
    "task_description",
]
