"""Rewrite trusted test code so that candidate objects cannot forge its comparisons.

The tests are trusted dataset code (``assert f(1) == 2``, HumanEval's ``check(candidate)``), but they
operate on values the untrusted candidate returns. An object whose ``__eq__`` always returns ``True``
would make ``assert f(x) == y`` pass for every ``y``. Before the candidate runs, the worker rewrites the
test's syntax tree:

* ``a == b``, ``a != b``, ``a in b``, ``a not in b`` (single comparisons) become calls to the harness's
  strict comparator, which compares builtin values with builtin semantics (see ``harness.py``);
* calls of the candidate's entry point (and of the conventional ``candidate`` parameter) are wrapped in the
  harness's return-value sanitizer, which turns subclasses of builtin types into the builtin types and
  poisons objects whose operators are written in Python (so ``abs(f(x) - y) < 1e-6`` cannot be forged);
* loads of builtin names the test does not bind itself (``abs``, ``all``, ``isinstance``, ...) read the
  worker's snapshot of the builtins, so a candidate that defines or patches ``abs`` does not change them.

Only the standard library is used; the helper names are chosen per worker by the caller.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Iterable

#: Comparator operation codes, shared with ``harness.strict_compare``.
OP_EQ, OP_NE, OP_IN, OP_NOT_IN = 0, 1, 2, 3
_OPS = {ast.Eq: OP_EQ, ast.NotEq: OP_NE, ast.In: OP_IN, ast.NotIn: OP_NOT_IN}

#: Builtin names whose loads are redirected to the harness's snapshot.
BUILTIN_NAMES = frozenset(
    name for name in dir(builtins) if not name.startswith("__") and name not in ("True", "False", "None")
)


def bound_names(tree: ast.AST) -> set[str]:
    """Every name a module binds anywhere (assignments, defs, imports, parameters, loop targets...)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            names.update(node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            names.add(node.rest)
    return names


def loaded_names(tree: ast.AST) -> set[str]:
    """Every name a module reads."""
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


class _Rewriter(ast.NodeTransformer):
    def __init__(self, cmp_name: str, ret_name: str, builtins_name: str, call_names, builtin_loads) -> None:
        self.cmp_name = cmp_name
        self.ret_name = ret_name
        self.builtins_name = builtins_name
        self.call_names = frozenset(call_names)
        self.builtin_loads = frozenset(builtin_loads)

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        if len(node.ops) == 1 and type(node.ops[0]) in _OPS:
            call = ast.Call(
                func=ast.Name(id=self.cmp_name, ctx=ast.Load()),
                args=[ast.Constant(value=_OPS[type(node.ops[0])]), node.left, node.comparators[0]],
                keywords=[],
            )
            return ast.copy_location(call, node)
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id in self.call_names:
            wrapped = ast.Call(func=ast.Name(id=self.ret_name, ctx=ast.Load()), args=[node], keywords=[])
            return ast.copy_location(wrapped, node)
        return node

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if isinstance(node.ctx, ast.Load) and node.id in self.builtin_loads:
            sub = ast.Subscript(
                value=ast.Name(id=self.builtins_name, ctx=ast.Load()),
                slice=ast.Constant(value=node.id),
                ctx=ast.Load(),
            )
            return ast.copy_location(sub, node)
        return node


def rewrite_test(
    source: str,
    *,
    cmp_name: str,
    ret_name: str,
    builtins_name: str,
    entry_point: str = "",
    extra_bound: Iterable[str] = (),
) -> tuple[ast.Module, set[str]]:
    """Parse and rewrite one test; return the new tree and the names the test reads.

    Args:
        source: The test's source code.
        cmp_name: Global name under which the strict comparator is installed.
        ret_name: Global name of the return-value sanitizer.
        builtins_name: Global name of the read-only builtins snapshot.
        entry_point: The candidate's function name; its calls are sanitized (``candidate`` always is).
        extra_bound: Names bound elsewhere by trusted code (the set-up), which are not redirected.

    Raises:
        SyntaxError: If the test does not parse.

    """
    tree = ast.parse(source, mode="exec")
    call_names = {"candidate"}
    if entry_point:
        call_names.add(entry_point)
    bound = bound_names(tree) | set(extra_bound) | call_names
    reads = loaded_names(tree)
    builtin_loads = (reads & BUILTIN_NAMES) - bound
    new = _Rewriter(cmp_name, ret_name, builtins_name, call_names, builtin_loads).visit(tree)
    ast.fix_missing_locations(new)
    return new, reads
