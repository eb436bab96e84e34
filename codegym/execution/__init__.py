"""The sandboxed execution engine: runs untrusted candidate programs against tests in child processes."""

from codegym.execution.results import ExecutionResult, Limits, Outcome, TestVerdict

__all__ = ["ExecutionResult", "Limits", "Outcome", "TestVerdict"]
