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
        _collect_binding(node, names)
    return names


def _collect_binding(node: ast.AST, names: set[str]) -> None:
    t = type(node)
    if t is ast.Name:
        if type(node.ctx) is not ast.Load:
            names.add(node.id)
    elif t in (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef):
        names.add(node.name)
    elif t is ast.arg:
        names.add(node.arg)
    elif t is ast.alias:
        names.add((node.asname or node.name).split(".")[0])
    elif t in (ast.Global, ast.Nonlocal):
        names.update(node.names)
    elif t in (ast.ExceptHandler, ast.MatchAs, ast.MatchStar) and node.name:
        names.add(node.name)
    elif t is ast.MatchMapping and node.rest:
        names.add(node.rest)


_BINDERS = frozenset(
    {
        ast.FunctionDef,
        ast.AsyncFunctionDef,
        ast.ClassDef,
        ast.arg,
        ast.alias,
        ast.Global,
        ast.Nonlocal,
        ast.ExceptHandler,
        ast.MatchAs,
        ast.MatchStar,
        ast.MatchMapping,
    }
)
_LEAVES = frozenset(
    {ast.Constant, ast.Load, ast.Store, ast.Del, type(None), str, int}
    | {
        cls
        for cls in vars(ast).values()
        if isinstance(cls, type) and issubclass(cls, (ast.operator, ast.cmpop, ast.unaryop, ast.boolop))
    }
)
_AST = ast.AST


def _located(new: ast.AST, old: ast.AST) -> ast.AST:
    new.lineno = old.lineno
    new.col_offset = old.col_offset
    new.end_lineno = old.end_lineno
    new.end_col_offset = old.end_col_offset
    return new


class _Pass:
    """One recursive pass: rewrites comparisons and candidate calls, collects names."""

    def __init__(self, cmp_name: str, ret_name: str) -> None:
        self.cmp_name = cmp_name
        self.ret_name = ret_name
        self.bound: set[str] = set()
        self.reads: set[str] = set()
        self.builtin_loads: list[ast.Name] = []
        self.wrapped: list[tuple[ast.Call, ast.Call]] = []
        self.imports: set[str] = set()

    def visit(self, node: ast.AST) -> ast.AST:
        t = type(node)
        if t is ast.Name:
            if type(node.ctx) is ast.Load:
                self.reads.add(node.id)
                if node.id in BUILTIN_NAMES:
                    self.builtin_loads.append(node)
            else:
                self.bound.add(node.id)
            return node
        if t in _LEAVES:
            return node
        visit = self.visit
        leaves = _LEAVES
        for field in node._fields:
            value = getattr(node, field, None)
            if type(value) is list:
                for i, item in enumerate(value):
                    if type(item) in leaves or not isinstance(item, _AST):
                        continue
                    new = visit(item)
                    if new is not item:
                        value[i] = new
            elif type(value) not in leaves and isinstance(value, _AST):
                new = visit(value)
                if new is not value:
                    setattr(node, field, new)
        if t is ast.Compare:
            if len(node.ops) == 1:
                if type(node.ops[0]) in _OPS:
                    return self._compare(node.ops[0], node.left, node.comparators[0], node)
            elif any(type(o) in _OPS for o in node.ops) and all(
                type(c) in (ast.Constant, ast.Name) for c in node.comparators[:-1]
            ):
                # a == b == c with side-effect-free middle operands: (a == b) and (b == c).
                lefts = [node.left, *node.comparators[:-1]]
                parts = [
                    self._compare(o, lhs, rhs, node)
                    for o, lhs, rhs in zip(node.ops, lefts, node.comparators, strict=True)
                ]
                return _located(ast.BoolOp(op=ast.And(), values=parts), node)
        elif t is ast.Call:
            f = node.func
            if type(f) is ast.Name and f.id not in BUILTIN_NAMES:
                # Possibly a candidate function: wrapped for now, unwrapped later if the test binds it.
                func = _located(ast.Name(id=self.ret_name, ctx=ast.Load()), node)
                wrapper = _located(ast.Call(func=func, args=[node], keywords=[]), node)
                self.wrapped.append((wrapper, node))
                return wrapper
        elif t in _BINDERS:
            _collect_binding(node, self.bound)
        elif t is ast.Import:
            for alias in node.names:
                self._imported(alias.name)
        elif t is ast.ImportFrom and not node.level and node.module:
            self._imported(node.module)
        return node

    def _imported(self, module: str) -> None:
        """Note an imported module and the packages above it (``a.b.c``: ``a``, ``a.b``, ``a.b.c``)."""
        parts = module.split(".")
        self.imports.update(".".join(parts[: i + 1]) for i in range(len(parts)))

    def _compare(self, op: ast.cmpop, left: ast.expr, right: ast.expr, where: ast.AST) -> ast.expr:
        if type(op) not in _OPS:
            return _located(ast.Compare(left=left, ops=[op], comparators=[right]), where)
        func = _located(ast.Name(id=self.cmp_name, ctx=ast.Load()), where)
        code = _located(ast.Constant(value=_OPS[type(op)]), where)
        return _located(ast.Call(func=func, args=[code, left, right], keywords=[]), where)


def rewrite_test(
    source: str,
    *,
    cmp_name: str,
    ret_name: str,
    soft_name: str,
    builtins_prefix: str,
    entry_point: str = "",
    extra_bound: Iterable[str] = (),
) -> tuple[ast.Module, set[str], set[str], set[str]]:
    """Parse and rewrite one test.

    Calls of functions the test does not define itself (the candidate's) are wrapped in a sanitizer:
    ``ret_name`` (builtin subclasses become builtin values, objects with Python-level operators are
    poisoned) for the entry point and ``candidate``, or for every such call when no entry point is
    known; ``soft_name`` (builtin subclasses only) for other candidate functions when it is.

    Args:
        source: The test's source code.
        cmp_name: Global name under which the strict comparator is installed.
        ret_name: Global name of the full return-value sanitizer.
        soft_name: Global name of the soft sanitizer.
        builtins_prefix: Loads of a builtin ``name`` that the test does not bind become loads of the
            global ``builtins_prefix + name``, which the harness binds to the original builtin.
        entry_point: The candidate's function name, if known.
        extra_bound: Names bound elsewhere by trusted code (the set-up), which are not redirected.

    Returns:
        The rewritten tree, the names it reads (before redirection), the builtin names it redirects,
        and the modules it imports (absolute imports; ``a.b`` also gives ``a``).

    Raises:
        SyntaxError: If the test does not parse.

    """
    tree = ast.parse(source, mode="exec")
    p = _Pass(cmp_name, ret_name)
    p.visit(tree)
    trusted = p.bound | set(extra_bound)
    full = {"candidate", entry_point} if entry_point else None
    for wrapper, inner in p.wrapped:
        name = inner.func.id
        if name in trusted and name != "candidate":
            # A function of the test or the set-up: undo the wrapping in place.
            wrapper.func, wrapper.args, wrapper.keywords = inner.func, inner.args, inner.keywords
        elif full is not None and name not in full:
            wrapper.func.id = soft_name
    keep = trusted | ({entry_point} if entry_point else set())
    redirected: set[str] = set()
    for node in p.builtin_loads:
        if node.id not in keep:
            redirected.add(node.id)
            node.id = builtins_prefix + node.id
    return tree, p.reads, redirected, p.imports
