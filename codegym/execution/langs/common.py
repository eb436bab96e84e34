"""Helpers shared by the program builders: a small lexer for C-like test snippets.

Test snippets of C++ and Rust are trusted code, but they are pasted next to untrusted code in one
compilation unit; the builders use these helpers to wrap calls of the entry point (so that what it
returns is checked to be a standard-library value) and to list the identifiers a snippet uses.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def skip_literal(src: str, i: int, rust: bool) -> int:
    """If a string/char literal or comment starts at ``i``, return the index just after it, else ``i``."""
    c = src[i]
    nxt = src[i + 1] if i + 1 < len(src) else ""
    if c == "/" and nxt == "/":
        j = src.find("\n", i)
        return len(src) if j < 0 else j
    if c == "/" and nxt == "*":
        j = src.find("*/", i + 2)
        return len(src) if j < 0 else j + 2
    if rust and c == "r" and (nxt == '"' or nxt == "#"):
        m = re.compile(r'r(#*)"').match(src, i)
        if m and (i == 0 or not (src[i - 1].isalnum() or src[i - 1] == "_")):
            end = src.find('"' + m.group(1), m.end())
            return len(src) if end < 0 else end + 1 + len(m.group(1))
    if c == '"':
        j = i + 1
        while j < len(src):
            if src[j] == "\\":
                j += 2
                continue
            if src[j] == '"':
                return j + 1
            j += 1
        return len(src)
    if c == "'":
        # A char literal ('a', '\n', '\u{1F600}'); in Rust a quote followed by a name is a lifetime.
        m = re.compile(r"'(\\.[^']{0,10}|[^'\\])'").match(src, i)
        if m:
            return m.end()
        if not rust:
            j = src.find("'", i + 1)
            return len(src) if j < 0 else j + 1
    return i


def identifiers(src: str, rust: bool = False) -> set[str]:
    """Return the identifiers ``src`` uses outside string and character literals and comments."""
    out: set[str] = set()
    i = 0
    while i < len(src):
        j = skip_literal(src, i, rust)
        if j != i:
            i = j
            continue
        m = _IDENT.match(src, i)
        if m and (i == 0 or not (src[i - 1].isalnum() or src[i - 1] == "_")):
            out.add(m.group(0))
            i = m.end()
            continue
        i += 1
    return out


def _matching_paren(src: str, open_at: int, rust: bool) -> int:
    """Index of the ``)`` closing the ``(`` at ``open_at`` (-1 if unbalanced)."""
    depth = 0
    i = open_at
    while i < len(src):
        j = skip_literal(src, i, rust)
        if j != i:
            i = j
            continue
        ch = src[i]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                return i if ch == ")" else -1
        i += 1
    return -1


def wrap_calls(src: str, names: Iterable[str], wrap: Callable[[str], str], rust: bool = False) -> str:
    """Replace every call ``name(args)`` of one of ``names`` in ``src`` by ``wrap("name(args)")``.

    Calls inside the arguments are wrapped too. Member calls (``x.name(...)``, ``a::name(...)``,
    ``p->name(...)``) and Rust ``fn name(`` declarations are left alone.
    """
    wanted = {n for n in names if n}
    if not wanted:
        return src
    out: list[str] = []
    i = 0
    while i < len(src):
        j = skip_literal(src, i, rust)
        if j != i:
            out.append(src[i:j])
            i = j
            continue
        m = _IDENT.match(src, i)
        if not m or (i > 0 and (src[i - 1].isalnum() or src[i - 1] == "_")):
            out.append(src[i])
            i += 1
            continue
        name = m.group(0)
        k = m.end()
        while k < len(src) and src[k] in " \t":
            k += 1
        before = src[:i].rstrip()
        member = before.endswith((".", "::", "->")) or (rust and re.search(r"\bfn$", before) is not None)
        if name in wanted and not member and k < len(src) and src[k] == "(":
            close = _matching_paren(src, k, rust)
            if close > 0:
                inner = wrap_calls(src[k + 1 : close], wanted, wrap, rust)
                out.append(wrap(f"{name}({inner})"))
                i = close + 1
                continue
        out.append(name)
        i = m.end()
    return "".join(out)
