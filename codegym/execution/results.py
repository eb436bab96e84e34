"""Result types of the execution engine: per-test verdicts and the outcome of one candidate."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Outcome(str, Enum):
    """Verdict of one test (or of a whole candidate, see :attr:`ExecutionResult.status`)."""

    PASSED = "passed"
    FAILED = "failed"  # an assertion failed
    ERROR = "error"  # the code raised something other than AssertionError
    TIMEOUT = "timeout"  # wall-clock or CPU-time limit reached
    MEMORY = "memory"  # memory limit reached
    CRASHED = "crashed"  # the process died (signal, exit) before reporting this test
    SYNTAX_ERROR = "syntax_error"  # the candidate does not compile
    COMPILE_ERROR = "compile_error"  # a compiled language's compiler rejected the program
    NOT_RUN = "not_run"  # an earlier failure stopped the candidate before this test
    INFRA = "infra"  # the engine itself failed; never a verdict about the candidate

    @property
    def is_pass(self) -> bool:
        """True only for :attr:`PASSED`."""
        return self is Outcome.PASSED


@dataclass(frozen=True)
class Limits:
    """Resource limits for one candidate.

    Attributes:
        timeout_s: Wall-clock limit for each test, enforced from outside the child.
        total_timeout_s: Wall-clock limit for the whole candidate (set-up, definitions and all tests);
            ``None`` means ``timeout_s * (number of tests + 1)``.
        memory_mb: Address space the child may add on top of what it inherited from the worker.
        cpu_s: CPU-time backstop for the whole child (``RLIMIT_CPU``); ``None`` derives it from the
            wall-clock budget.
        file_size_mb: Largest file the child may write.
        max_processes: Processes/threads the child may create.
        output_bytes: Captured stdout/stderr beyond this many bytes is dropped.
        compile_timeout_s: Wall-clock limit of the compile step of compiled languages (C++, Rust),
            which runs in the sandbox too; exceeding it is ``compile_error``.

    """

    timeout_s: float = 3.0
    total_timeout_s: float | None = None
    memory_mb: int = 1024
    cpu_s: float | None = None
    file_size_mb: int = 16
    max_processes: int = 16
    output_bytes: int = 16_384
    compile_timeout_s: float = 60.0

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first limit that is out of range."""
        if not self.timeout_s > 0:
            raise ValueError(f"Limits.timeout_s must be > 0, got {self.timeout_s!r}")
        if self.total_timeout_s is not None and not self.total_timeout_s > 0:
            raise ValueError(f"Limits.total_timeout_s must be > 0 or None, got {self.total_timeout_s!r}")
        if self.memory_mb < 16:
            raise ValueError(f"Limits.memory_mb must be >= 16, got {self.memory_mb!r}")
        if self.cpu_s is not None and not self.cpu_s > 0:
            raise ValueError(f"Limits.cpu_s must be > 0 or None, got {self.cpu_s!r}")
        if self.file_size_mb < 0:
            raise ValueError(f"Limits.file_size_mb must be >= 0, got {self.file_size_mb!r}")
        if self.max_processes < 1:
            raise ValueError(f"Limits.max_processes must be >= 1, got {self.max_processes!r}")
        if self.output_bytes < 0:
            raise ValueError(f"Limits.output_bytes must be >= 0, got {self.output_bytes!r}")
        if not self.compile_timeout_s > 0:
            raise ValueError(f"Limits.compile_timeout_s must be > 0, got {self.compile_timeout_s!r}")


@dataclass(frozen=True)
class TestVerdict:
    """The verdict of one test.

    Attributes:
        index: Position of the test in the request's ``tests``.
        outcome: What happened.
        duration_s: Wall-clock time the test took (0.0 if it did not run).
        exception: Exception type name for :attr:`Outcome.ERROR` / :attr:`Outcome.FAILED`, else ``""``.
        message: A short, capped message (exception text, signal name, ...).

    """

    index: int
    outcome: Outcome
    duration_s: float = 0.0
    exception: str = ""
    message: str = ""

    @property
    def passed(self) -> bool:
        """True if the test passed."""
        return self.outcome is Outcome.PASSED


@dataclass(frozen=True)
class ExecutionResult:
    """Everything the engine learned from running one candidate against its tests.

    Attributes:
        status: :attr:`Outcome.PASSED` if every test passed; otherwise the first non-passing outcome
            (``SYNTAX_ERROR`` if the code does not compile, ``INFRA`` if the engine failed).
        tests: One :class:`TestVerdict` per requested test, in order.
        stdout: Captured standard output, capped at ``Limits.output_bytes``.
        stderr: Captured standard error, capped likewise.
        duration_s: Wall-clock time of the whole candidate.
        cached: True if this result came from the engine's result cache.
        message: Extra detail for ``SYNTAX_ERROR`` / ``COMPILE_ERROR`` / ``CRASHED`` / ``INFRA``.

    """

    status: Outcome
    tests: tuple[TestVerdict, ...] = ()
    stdout: str = ""
    stderr: str = ""
    duration_s: float = 0.0
    cached: bool = False
    message: str = ""
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def passed(self) -> bool:
        """True if there was at least one test and every test passed."""
        return bool(self.tests) and all(t.passed for t in self.tests)

    @property
    def num_passed(self) -> int:
        """Number of passing tests."""
        return sum(t.passed for t in self.tests)

    @property
    def pass_fraction(self) -> float:
        """Fraction of tests passed (0.0 when there are no tests)."""
        return self.num_passed / len(self.tests) if self.tests else 0.0

    @property
    def compiled(self) -> bool:
        """False if the candidate had a syntax or compile error."""
        return self.status not in (Outcome.SYNTAX_ERROR, Outcome.COMPILE_ERROR)
