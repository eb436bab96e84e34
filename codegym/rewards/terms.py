"""The built-in reward terms and the AST metrics behind the readability term.

Every term maps a :class:`~codegym.rewards.RewardContext` to a float in ``[0, 1]``:

=================  =====================================================================================
``compiles``       1 if the program compiles (the engine reported no syntax/compile error)
``syntax_error``   1 if it does not compile (give it a negative weight to make a penalty)
``pass_fraction``  fraction of the hidden tests that passed
``all_passed``     1 if every test passed
``timed_out``      1 if a test or the whole program hit the time limit
``readability``    AST score from length, nesting depth and cyclomatic complexity (0 if it does not parse)
``efficiency``     speed of the passing tests on a log scale between ``fast_s`` and the time limit,
                   times the fraction passed (so wrong code earns none)
``format``         1 if post-processing found code in the completion at all
=================  =====================================================================================
"""

from __future__ import annotations

import ast
import io
import math
import tokenize
from dataclasses import dataclass

from codegym.execution.results import Outcome
from codegym.rewards.base import RewardContext

__all__ = [
    "AllPassedTerm",
    "BUILTIN_TERMS",
    "CodeMetrics",
    "CompilesTerm",
    "EfficiencyTerm",
    "FormatTerm",
    "PassFractionTerm",
    "ReadabilityTerm",
    "SyntaxErrorTerm",
    "TimedOutTerm",
    "code_metrics",
]


class CompilesTerm:
    """1.0 if the program compiles, else 0.0."""

    name = "compiles"

    def __call__(self, ctx: RewardContext) -> float:
        """Score one completion."""
        return 1.0 if ctx.result.compiled else 0.0


class SyntaxErrorTerm:
    """1.0 if the program has a syntax or compile error, else 0.0 (use with a negative weight)."""

    name = "syntax_error"

    def __call__(self, ctx: RewardContext) -> float:
        """Score one completion."""
        return 0.0 if ctx.result.compiled else 1.0


class PassFractionTerm:
    """Fraction of the hidden tests that passed."""

    name = "pass_fraction"

    def __call__(self, ctx: RewardContext) -> float:
        """Score one completion."""
        return float(ctx.result.pass_fraction)


class AllPassedTerm:
    """1.0 if there was at least one test and every test passed, else 0.0."""

    name = "all_passed"

    def __call__(self, ctx: RewardContext) -> float:
        """Score one completion."""
        return 1.0 if ctx.result.passed else 0.0


class TimedOutTerm:
    """1.0 if a test (or the whole program) hit the time limit, else 0.0."""

    name = "timed_out"

    def __call__(self, ctx: RewardContext) -> float:
        """Score one completion."""
        if ctx.result.status is Outcome.TIMEOUT:
            return 1.0
        return 1.0 if any(t.outcome is Outcome.TIMEOUT for t in ctx.result.tests) else 0.0


class FormatTerm:
    """1.0 if post-processing found code in the completion, else 0.0."""

    name = "format"

    def __call__(self, ctx: RewardContext) -> float:
        """Score one completion."""
        return 1.0 if ctx.code_found and ctx.code.strip() else 0.0


@dataclass(frozen=True)
class CodeMetrics:
    """Static size and shape of a program.

    Attributes:
        lines: Lines holding code (blank lines, comment-only lines and docstrings excluded).
        max_nesting: Deepest nesting of control-flow blocks (``if``/``for``/``while``/``with``/``try``/
            ``match``) inside one function or the module body; a flat function has 0.
        max_complexity: Largest McCabe cyclomatic complexity of a function (or of the module-level code).

    """

    lines: int
    max_nesting: int
    max_complexity: int


_BLOCKS: tuple[type[ast.AST], ...] = (
    ast.If,
    ast.For,
    ast.AsyncFor,
    ast.While,
    ast.With,
    ast.AsyncWith,
    ast.Try,
    ast.Match,
) + ((ast.TryStar,) if hasattr(ast, "TryStar") else ())  # TryStar is Python 3.11+
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


def _nesting(node: ast.AST, depth: int = 0) -> int:
    """Deepest control-flow nesting below ``node``; function and class bodies restart at 0."""
    best = depth
    for child in ast.iter_child_nodes(node):
        if isinstance(child, _SCOPES):
            best = max(best, _nesting(child, 0))
        elif isinstance(child, _BLOCKS):
            best = max(best, _nesting(child, depth + 1))
        else:
            best = max(best, _nesting(child, depth))
    return best


def _decisions(node: ast.AST) -> int:
    """Decision points in ``node``'s own scope (nested functions and classes are scored separately)."""
    count = 0
    for child in ast.iter_child_nodes(node):
        if isinstance(child, _SCOPES):
            continue
        if isinstance(child, (ast.If, ast.IfExp, ast.For, ast.AsyncFor, ast.While, ast.ExceptHandler)):
            count += 1
        elif isinstance(child, ast.BoolOp):
            count += len(child.values) - 1
        elif isinstance(child, ast.comprehension):
            count += 1 + len(child.ifs)
        elif isinstance(child, ast.match_case):
            count += 1
        elif isinstance(child, ast.Assert):
            count += 1
        count += _decisions(child)
    return count


def _complexity(tree: ast.Module) -> int:
    """Largest McCabe complexity (decision points + 1) over every function and the module body."""
    scores = [1 + _decisions(tree)]
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            scores.append(1 + _decisions(node))
    return max(scores)


def _docstring_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                end = first.end_lineno or first.lineno
                lines.update(range(first.lineno, end + 1))
    return lines


def _code_lines(code: str, tree: ast.Module) -> int:
    """Lines that hold a token other than comments/newlines, minus docstring lines."""
    lines: set[int] = set()
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT}
    skip.add(tokenize.ENDMARKER)
    try:
        for tok in tokenize.generate_tokens(io.StringIO(code).readline):
            if tok.type not in skip:
                lines.update(range(tok.start[0], tok.end[0] + 1))
    except (tokenize.TokenError, IndentationError, SyntaxError):  # pragma: no cover - ast.parse passed
        lines = {i + 1 for i, line in enumerate(code.splitlines()) if line.strip()}
    return len(lines - _docstring_lines(tree))


def code_metrics(code: str) -> CodeMetrics | None:
    """Measure a Python program; ``None`` if it does not parse."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    try:
        return CodeMetrics(
            lines=_code_lines(code, tree), max_nesting=_nesting(tree), max_complexity=_complexity(tree)
        )
    except RecursionError:  # absurdly deep programs
        return None


def _linear(value: float, good: float, bad: float) -> float:
    """1 at or below ``good``, 0 at or above ``bad``, linear between."""
    if value <= good:
        return 1.0
    if value >= bad:
        return 0.0
    return 1.0 - (value - good) / (bad - good)


class ReadabilityTerm:
    """Readability from the AST: the mean of three scores in ``[0, 1]``.

    * length: 1 up to ``good_lines`` code lines, falling linearly to 0 at ``bad_lines``;
    * nesting: 1 up to ``good_nesting`` nested blocks, falling linearly to 0 at ``bad_nesting``;
    * complexity: 1 up to ``good_complexity`` (McCabe), falling linearly to 0 at ``bad_complexity``.

    Programs that do not parse score 0. Non-Python tasks score 0 too (the metrics are Python's).
    """

    name = "readability"

    def __init__(
        self,
        good_lines: int = 40,
        bad_lines: int = 200,
        good_nesting: int = 3,
        bad_nesting: int = 7,
        good_complexity: int = 7,
        bad_complexity: int = 20,
    ) -> None:
        for label, good, bad in (
            ("lines", good_lines, bad_lines),
            ("nesting", good_nesting, bad_nesting),
            ("complexity", good_complexity, bad_complexity),
        ):
            if not 0 <= good < bad:
                raise ValueError(f"ReadabilityTerm needs 0 <= good_{label} < bad_{label}, got {good}, {bad}")
        self.good_lines, self.bad_lines = good_lines, bad_lines
        self.good_nesting, self.bad_nesting = good_nesting, bad_nesting
        self.good_complexity, self.bad_complexity = good_complexity, bad_complexity

    def score_code(self, code: str) -> float:
        """Score a program directly (no execution needed)."""
        metrics = code_metrics(code)
        if metrics is None or not code.strip():
            return 0.0
        parts = (
            _linear(metrics.lines, self.good_lines, self.bad_lines),
            _linear(metrics.max_nesting, self.good_nesting, self.bad_nesting),
            _linear(metrics.max_complexity, self.good_complexity, self.bad_complexity),
        )
        return sum(parts) / len(parts)

    def __call__(self, ctx: RewardContext) -> float:
        """Score one completion."""
        if ctx.task is not None and ctx.task.language != "python":
            return 0.0
        if not ctx.result.compiled:
            return 0.0
        return self.score_code(ctx.code)


class EfficiencyTerm:
    """Speed of the passing tests, from the engine's per-test wall-clock durations.

    With ``t`` the mean duration of the passing tests and ``T`` the per-test time limit
    (``ctx.limits.timeout_s``), the speed score is 1 for ``t <= fast_s``, 0 for ``t >= T``, and
    ``1 - log(t / fast_s) / log(T / fast_s)`` between. The term is the speed score times the fraction of
    tests passed, so wrong code earns no efficiency. With the default ``fast_s`` of 10 ms, ordinary
    solutions score exactly 1 and only genuinely slow ones (loops near the limit) lose points, which keeps
    rewards reproducible despite timing noise.
    """

    name = "efficiency"

    def __init__(self, fast_s: float = 0.01) -> None:
        if not fast_s > 0:
            raise ValueError(f"EfficiencyTerm.fast_s must be > 0 seconds, got {fast_s!r}")
        self.fast_s = fast_s

    def __call__(self, ctx: RewardContext) -> float:
        """Score one completion."""
        passing = [t.duration_s for t in ctx.result.tests if t.passed]
        if not passing:
            return 0.0
        mean = sum(passing) / len(passing)
        limit = ctx.effective_limits.timeout_s
        if mean <= self.fast_s:
            speed = 1.0
        elif mean >= limit or limit <= self.fast_s:
            speed = 0.0
        else:
            speed = 1.0 - math.log(mean / self.fast_s) / math.log(limit / self.fast_s)
        return speed * ctx.result.pass_fraction


#: Factories of the built-in terms by name; every composite reward reports all of them.
BUILTIN_TERMS = {
    "compiles": CompilesTerm,
    "syntax_error": SyntaxErrorTerm,
    "pass_fraction": PassFractionTerm,
    "all_passed": AllPassedTerm,
    "timed_out": TimedOutTerm,
    "readability": ReadabilityTerm,
    "efficiency": EfficiencyTerm,
    "format": FormatTerm,
}
