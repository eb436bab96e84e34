"""The :class:`Task` type shared by every dataset, environment and evaluator."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Task:
    """One programming problem.

    Attributes:
        task_id: Unique id, prefixed by the dataset (``"MBPP/11"``, ``"HumanEval/0"``).
        prompt: The natural-language part of the problem. For MBPP the task text; for HumanEval the
            function signature with its docstring (the text a completion model continues).
        entry_point: Name of the function the tests call.
        tests: Hidden tests used for reward and evaluation. Each entry is Python source run after the
            candidate, in the candidate's namespace (for example ``"assert f(1) == 2"``).
        visible_tests: Tests that may be shown in prompts. Never used alone for grading.
        test_setup: Trusted code run before the candidate and its tests (imports, helpers, constants),
            in the same namespace. It cannot use the candidate's definitions.
        reference_solution: A known-correct program (may be empty for generated tasks).
        language: Programming language of the solution (``"python"``, ``"javascript"``, ...).
        source: Dataset name (``"mbpp"``, ``"humaneval"``, ``"procedural/..."``).
        metadata: Dataset-specific extras (split, difficulty, phrasing group, ...).

    """

    task_id: str
    prompt: str
    entry_point: str
    tests: tuple[str, ...]
    visible_tests: tuple[str, ...] = ()
    test_setup: str = ""
    reference_solution: str = ""
    language: str = "python"
    source: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        if not self.task_id:
            raise ValueError("Task.task_id must be a non-empty string")
        if not isinstance(self.tests, tuple):
            object.__setattr__(self, "tests", tuple(self.tests))
        if not isinstance(self.visible_tests, tuple):
            object.__setattr__(self, "visible_tests", tuple(self.visible_tests))
        if not self.tests:
            raise ValueError(f"Task {self.task_id!r} has no tests; a task without tests cannot be graded")
