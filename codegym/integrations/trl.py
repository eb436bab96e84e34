"""Use codegym's execution rewards as TRL ``GRPOTrainer`` reward functions.

TRL calls each reward function as ``f(prompts=..., completions=..., completion_ids=..., **columns)``,
where ``columns`` holds every dataset column (one value per completion) plus ``trainer_state``,
``log_extra`` and ``log_metric``, and expects one float per completion (``None`` skips a sample).
:func:`make_trl_reward_func` builds such a function: it finds each completion's task from a dataset
column (``task_id`` by default), post-processes the completion, runs all programs of the batch in one
:meth:`~codegym.execution.SandboxExecutor.run_batch` call and scores them with a codegym reward::

    from trl import GRPOConfig, GRPOTrainer
    from codegym.integrations.trl import make_trl_dataset, make_trl_reward_func

    trainer = GRPOTrainer(
        model="Qwen/Qwen2.5-Coder-0.5B-Instruct",
        reward_funcs=make_trl_reward_func("execution", tasks=tasks),
        train_dataset=make_trl_dataset(tasks, prompt_style="instruct", conversational=True),
        args=GRPOConfig(output_dir="out"),
    )

This module imports neither torch nor TRL; ``make_trl_dataset`` imports ``datasets``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from codegym.execution.results import Limits, Outcome
from codegym.postprocess import MODES, postprocess
from codegym.rewards import RewardContext, RewardSpec, get_reward
from codegym.tasks.base import Task

__all__ = ["completion_text", "make_trl_dataset", "make_trl_reward_func"]

RewardFunc = Callable[..., list[float | None]]


def completion_text(completion: Any) -> str:
    """Return the text of a TRL completion: a string, or the assistant content of chat messages."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Mapping) and "content" in completion:
        return _content(completion["content"])
    if isinstance(completion, Sequence) and all(isinstance(m, Mapping) for m in completion):
        parts = [
            _content(m.get("content", "")) for m in completion if m.get("role", "assistant") == "assistant"
        ]
        return "\n".join(parts)
    raise TypeError(
        "a completion must be a string or a list of chat messages ({'role': ..., 'content': ...}), "
        f"got {type(completion).__name__}"
    )


def _content(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):  # multimodal content parts: [{"type": "text", "text": ...}]
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping))
    return str(content)


class _TaskLookup:
    """Finds tasks by id: from the given tasks, or lazily from the dataset registry."""

    def __init__(self, tasks: Sequence[Task] | Mapping[str, Task] | None) -> None:
        if tasks is None:
            self._tasks: dict[str, Task] | None = None
        elif isinstance(tasks, Mapping):
            self._tasks = dict(tasks)
        else:
            self._tasks = {t.task_id: t for t in tasks}
            if not self._tasks:
                raise ValueError("tasks is empty; pass the tasks of your training dataset")
        self._cache: dict[str, Task] = {}

    def __call__(self, task_id: Any) -> Task:
        if isinstance(task_id, Task):
            return task_id
        if not isinstance(task_id, str):
            raise TypeError(f"task ids must be strings, got {type(task_id).__name__} ({task_id!r})")
        if self._tasks is not None:
            try:
                return self._tasks[task_id]
            except KeyError:
                raise KeyError(
                    f"task {task_id!r} is not among the {len(self._tasks)} tasks given to "
                    f"make_trl_reward_func (ids look like {list(self._tasks)[:3]})"
                ) from None
        if task_id not in self._cache:
            from codegym.tasks import get_task

            self._cache[task_id] = get_task(task_id)
        return self._cache[task_id]


def make_trl_reward_func(
    reward: RewardSpec = "execution",
    *,
    tasks: Sequence[Task] | Mapping[str, Task] | None = None,
    task_column: str = "task_id",
    prompt_style: str | None = None,
    postprocess_mode: str = "auto",
    stop: Sequence[str] = (),
    limits: Limits | None = None,
    executor: Any = None,
    name: str | None = None,
    log_terms: bool = True,
) -> RewardFunc:
    """Build a TRL reward function that runs completions against their tasks' tests.

    Args:
        reward: What :func:`codegym.rewards.get_reward` accepts (a preset name, a
            :class:`~codegym.rewards.CompositeReward`, ...).
        tasks: The tasks of the training data (a list or ``{task_id: task}``); ``None`` looks ids up in
            the dataset registry (:func:`codegym.tasks.get_task`).
        task_column: The dataset column holding each row's task id (or the :class:`Task` itself).
        prompt_style: The prompt style used to build the dataset's prompts; a completion style
            (``"humaneval"``) makes the rendered signature the prompt the completion continues.
            ``None``: HumanEval-style code prompts are continued, others answered whole.
        postprocess_mode: A mode of :func:`codegym.postprocess.postprocess`.
        stop: Extra stop sequences.
        limits: Execution limits; default: the reward's limits.
        executor: A :class:`~codegym.execution.SandboxExecutor`; default: the process-wide one.
        name: The function's ``__name__`` (TRL's name for it in logs); default ``"codegym_<reward>"``.
        log_terms: Report the batch mean of every reward term through TRL's ``log_metric``
            (as ``<name>/<term>``) and each completion's execution status through ``log_extra``.

    Returns:
        ``f(prompts, completions, **columns) -> list[float | None]``; ``None`` where the execution
        engine itself failed, which TRL skips.

    """
    if postprocess_mode not in MODES:
        raise ValueError(f"unknown postprocess_mode {postprocess_mode!r}; choose one of {MODES}")
    if isinstance(stop, str):
        raise TypeError("stop must be a sequence of strings, not a single string; wrap it in a list")
    reward_fn = get_reward(reward)
    run_limits = limits if limits is not None else reward_fn.limits
    if run_limits is not None:
        run_limits.validate()
    lookup = _TaskLookup(tasks)
    stops = tuple(stop)
    state: dict[str, Any] = {"executor": executor}
    func_name = name or f"codegym_{reward_fn.name}"

    def code_prompt(task: Task) -> str | None:
        if prompt_style is None:
            return None
        from codegym.tasks.prompts import format_prompt, get_style

        style = get_style(prompt_style)
        return format_prompt(task, style) if style.completion else None

    def reward_func(prompts: Sequence[Any], completions: Sequence[Any], **columns: Any) -> list[float | None]:
        if len(prompts) != len(completions):
            raise ValueError(
                f"got {len(prompts)} prompts but {len(completions)} completions; they must pair up"
            )
        if task_column not in columns:
            available = sorted(k for k in columns if k not in ("trainer_state", "log_extra", "log_metric"))
            raise KeyError(
                f"{func_name} finds each completion's task in the dataset column {task_column!r}, which is "
                f"missing (columns: {available}); add it (make_trl_dataset does) or pass task_column=..."
            )
        ids = columns[task_column]
        if len(ids) != len(completions):
            raise ValueError(
                f"column {task_column!r} has {len(ids)} values for {len(completions)} completions"
            )
        from codegym.execution import ExecutionRequest

        if state["executor"] is None:
            from codegym.execution import get_default_executor

            state["executor"] = get_default_executor()
        batch_tasks = [lookup(i) for i in ids]
        texts = [completion_text(c) for c in completions]
        extractions = [
            postprocess(text, task, mode=postprocess_mode, stop=stops, prompt=code_prompt(task))
            for text, task in zip(texts, batch_tasks, strict=True)
        ]
        requests = [
            ExecutionRequest(
                code=ext.code,
                tests=list(task.tests),
                setup=task.test_setup,
                limits=run_limits,
                language=task.language,
                entry_point=task.entry_point,
            )
            for ext, task in zip(extractions, batch_tasks, strict=True)
        ]
        results = state["executor"].run_batch(requests)
        rewards: list[float | None] = []
        term_sums: dict[str, float] = {}
        statuses: list[str] = []
        for text, task, ext, result in zip(texts, batch_tasks, extractions, results, strict=True):
            breakdown = reward_fn.evaluate(
                RewardContext(
                    completion=text,
                    code=ext.code,
                    result=result,
                    task=task,
                    code_found=ext.found,
                    limits=run_limits,
                )
            )
            statuses.append(result.status.value)
            if not breakdown.valid or result.status is Outcome.INFRA:
                rewards.append(None)
                continue
            rewards.append(breakdown.total)
            for term, value in breakdown.terms.items():
                term_sums[term] = term_sums.get(term, 0.0) + value
        if log_terms:
            scored = sum(r is not None for r in rewards)
            log_metric = columns.get("log_metric")
            if callable(log_metric) and scored:
                for term, total in term_sums.items():
                    log_metric(f"{func_name}/{term}", total / scored)
            log_extra = columns.get("log_extra")
            if callable(log_extra):
                log_extra(f"{func_name}/status", statuses)
        return rewards

    reward_func.__name__ = func_name
    reward_func.__qualname__ = func_name
    reward_func.__doc__ = f"codegym reward {reward_fn!r} for TRL (task id column {task_column!r})."
    return reward_func


def make_trl_dataset(
    tasks: Sequence[Task],
    *,
    prompt_style: str | None = None,
    conversational: bool = False,
    system_prompt: str | None = None,
) -> Any:
    """Build a ``datasets.Dataset`` with ``prompt`` and ``task_id`` columns for ``GRPOTrainer``.

    Args:
        tasks: The training tasks.
        prompt_style: Style for :func:`codegym.tasks.prompts.format_prompt` (``None``: each task's
            default).
        conversational: Make ``prompt`` a list of chat messages (for instruct models) instead of text.
        system_prompt: Optional system message for conversational prompts.

    """
    from datasets import Dataset

    from codegym.tasks.prompts import format_prompt

    rows = []
    for task in tasks:
        text = format_prompt(task, prompt_style)
        if conversational:
            messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
            prompt: Any = [*messages, {"role": "user", "content": text}]
        else:
            prompt = text
        rows.append({"prompt": prompt, "task_id": task.task_id})
    if not rows:
        raise ValueError("tasks is empty; a training dataset needs at least one task")
    return Dataset.from_list(rows)
