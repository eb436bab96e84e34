"""Pass rate of a code model by phrasing group on the synthesis suite (held-out tasks, sandboxed tests).

The same tasks are worded in every phrasing group (:func:`codegym.tasks.procedural.synthesis.rephrase`),
rendered in the prompt style the prompt-optimization environment uses, sent to the model in one batched
``generate`` call per chunk, post-processed like the environment does, and run against the hidden tests
by the :class:`~codegym.execution.SandboxExecutor`. So the table isolates the effect of wording::

    from codegym.models import load_small_model
    from codegym.models.evaluation import evaluate_by_group

    report = evaluate_by_group(load_small_model(), size=100)
    print(report.table())
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from codegym.tasks.base import Task

__all__ = ["GroupReport", "GroupRow", "evaluate_by_group"]


@dataclass(frozen=True)
class GroupRow:
    """Results of one phrasing group.

    Attributes:
        group: The phrasing group (``"A"`` .. ``"F"``).
        trained: Whether the model was trained on this group (``None`` when unknown).
        tasks: Tasks evaluated.
        pass_at_1: Fraction of tasks whose greedy program passed every hidden test.
        soft_pass: Mean fraction of hidden tests passed.
        compiled: Fraction of programs without a syntax error.

    """

    group: str
    trained: bool | None
    tasks: int
    pass_at_1: float
    soft_pass: float
    compiled: float


@dataclass
class GroupReport:
    """Pass rate by phrasing group; :meth:`table` formats it.

    Attributes:
        rows: One :class:`GroupRow` per group, in the order asked.
        model: The generator's name.
        split: The synthesis split the tasks came from.
        outcomes: ``{group: [passed?, ...]}`` per task, in task order (for paired comparisons).
        seconds: Wall-clock time of the evaluation.

    """

    rows: list[GroupRow]
    model: str = ""
    split: str = "eval"
    outcomes: dict[str, list[bool]] = field(default_factory=dict)
    seconds: float = 0.0

    def row(self, group: str) -> GroupRow:
        """Return the row of ``group``."""
        for r in self.rows:
            if r.group == group:
                return r
        raise KeyError(f"group {group!r} was not evaluated; evaluated: {[r.group for r in self.rows]}")

    def mean(self, trained: bool) -> float:
        """Mean pass@1 over the trained (``True``) or held-out (``False``) groups; NaN if there are none."""
        rows = [r for r in self.rows if r.trained is trained]
        return sum(r.pass_at_1 for r in rows) / len(rows) if rows else float("nan")

    def table(self) -> str:
        """Format a plain-text table: group, trained or held out, tasks, pass@1, soft pass, compiled."""
        lines = [
            f"pass rate by phrasing group: {self.model} on {self.rows[0].tasks if self.rows else 0} "
            f"{self.split}-split synthesis tasks",
            f"{'group':<6}{'training':<10}{'tasks':>6}{'pass@1':>9}{'soft pass':>11}{'compiled':>10}",
        ]
        for r in self.rows:
            kind = "-" if r.trained is None else ("trained" if r.trained else "held out")
            lines.append(
                f"{r.group:<6}{kind:<10}{r.tasks:>6}{r.pass_at_1:>9.3f}{r.soft_pass:>11.3f}{r.compiled:>10.3f}"
            )
        if any(r.trained for r in self.rows) and any(r.trained is False for r in self.rows):
            lines.append(
                f"mean pass@1: trained groups {self.mean(True):.3f}, held-out groups {self.mean(False):.3f}"
            )
        return "\n".join(lines)


def evaluate_by_group(
    generator: Any,
    tasks: Sequence[Task] | None = None,
    *,
    split: str = "eval",
    size: int = 100,
    seed: int = 0,
    groups: Sequence[str] | None = None,
    train_groups: Sequence[str] | None = None,
    prompt_style: str = "mbpp",
    max_new_tokens: int = 96,
    executor: Any = None,
    chunk: int = 64,
    progress: bool = False,
) -> GroupReport:
    """Greedy pass@1 and soft pass of ``generator`` on synthesis tasks worded in each phrasing group.

    Args:
        generator: A :class:`~codegym.backends.CodeGenerator`.
        tasks: Synthesis tasks (default: ``size`` tasks of ``split``, from ``seed``).
        split: Split of the default tasks (``"eval"``: problems the small model never trained on).
        size: Number of default tasks.
        seed: Seed of the default tasks.
        groups: Phrasing groups to evaluate (default: all six).
        train_groups: The groups the model was trained on, to label rows (default: unknown).
        prompt_style: Prompt style (the benchmark environment's is ``"mbpp"``).
        max_new_tokens: Generation budget per program.
        executor: A :class:`~codegym.execution.SandboxExecutor` (default: the process-wide one).
        chunk: Prompts per ``generate`` call.
        progress: Show a progress bar.

    Raises:
        ValueError: An unknown group, or tasks that are not synthesis tasks.

    """
    import time

    from codegym.execution import ExecutionRequest, get_default_executor
    from codegym.models.small import render_prompt
    from codegym.postprocess import postprocess
    from codegym.tasks.procedural.synthesis import PHRASING_GROUPS, load_synthesis_tasks, rephrase

    start = time.perf_counter()
    groups = tuple(PHRASING_GROUPS if groups is None else groups)
    bad = [g for g in groups if g not in PHRASING_GROUPS]
    if bad or not groups:
        raise ValueError(
            f"groups has unknown phrasing groups {bad or '(empty)'}; choose from {PHRASING_GROUPS}"
        )
    if tasks is not None:
        tasks = list(tasks)
        split = str(tasks[0].metadata.get("split", "custom")) if tasks else split
    else:
        tasks = load_synthesis_tasks(split=split, size=size, seed=seed)
    if not tasks:
        raise ValueError("no tasks to evaluate; pass a non-empty task list or size >= 1")
    items = [(g, t) for g in groups for t in tasks]
    prompts = [render_prompt(t, g, prompt_style) for g, t in items]
    completions: list[str] = []
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(prompts), desc="generating", unit="prompt")
    try:
        for i in range(0, len(prompts), chunk):
            outs = generator.generate(prompts[i : i + chunk], max_new_tokens=max_new_tokens)
            completions.extend(o[0] for o in outs)
            if bar is not None:
                bar.update(len(outs))
    finally:
        if bar is not None:
            bar.close()
    requests = []
    for (g, t), completion in zip(items, completions, strict=True):
        worded = rephrase(t, g)
        code = postprocess(completion, worded, mode="auto").code
        requests.append(ExecutionRequest(code, list(t.tests), setup=t.test_setup, entry_point=t.entry_point))
    results = (executor or get_default_executor()).run_batch(requests, progress=progress)
    rows = []
    outcomes: dict[str, list[bool]] = {}
    trained = set(train_groups) if train_groups is not None else None
    for g in groups:
        mine = [r for (gg, _), r in zip(items, results, strict=True) if gg == g]
        outcomes[g] = [r.passed for r in mine]
        rows.append(
            GroupRow(
                group=g,
                trained=None if trained is None else g in trained,
                tasks=len(mine),
                pass_at_1=sum(r.passed for r in mine) / len(mine),
                soft_pass=sum(r.pass_fraction for r in mine) / len(mine),
                compiled=sum(r.compiled for r in mine) / len(mine),
            )
        )
    return GroupReport(
        rows=rows,
        model=str(getattr(generator, "name", "?")),
        split=split,
        outcomes=outcomes,
        seconds=time.perf_counter() - start,
    )
