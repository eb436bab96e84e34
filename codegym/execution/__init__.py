r"""The sandboxed execution engine: runs untrusted candidate programs against tests in child processes.

>>> from codegym.execution import get_default_executor
>>> get_default_executor().run("def f(x):\n    return 2 * x", ["assert f(2) == 4"]).passed
True
"""

from codegym.execution.executor import (
    ExecutionRequest,
    ExecutorStats,
    SandboxExecutor,
    get_default_executor,
)
from codegym.execution.languages import Language, available_languages, get_language, register_language
from codegym.execution.results import ExecutionResult, Limits, Outcome, TestVerdict

__all__ = [
    "ExecutionRequest",
    "ExecutionResult",
    "ExecutorStats",
    "Language",
    "Limits",
    "Outcome",
    "SandboxExecutor",
    "TestVerdict",
    "available_languages",
    "get_default_executor",
    "get_language",
    "register_language",
]
