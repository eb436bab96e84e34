"""A lossless tokenizer for prompt text that keeps code-ish tokens intact.

Mutation operators edit words, never code: identifiers (``min_cost``, ``camelCase``, ``os.path``),
function calls and subscripts (``cost[][]``, ``f(x)``), numbers, quoted strings and backtick spans are
single tokens of kind ``"code"``, ``"number"`` or ``"string"`` and are never eligible for an edit; so
are single letters other than "a" and "I" (variables such as ``m`` in "(m, n)").
``"".join(t.text for t in tokenize(s)) == s`` always holds, so edits keep every other character as it was.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

TokenKind = Literal["word", "code", "number", "string", "punct", "space"]

#: Kinds that are never edited.
PROTECTED_KINDS: frozenset[str] = frozenset({"code", "number", "string"})

# Order matters: the first alternative that matches at a position wins.
_TOKEN_RE = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>`[^`\n]*`                                  # `code span`
      | (?<![\w'"])'[^'\n]*'(?![\w'])                     # 'quoted' (not an apostrophe)
      | (?<![\w'"])"[^"\n]*"(?![\w"]))                    # "quoted"
  | (?P<number>[-+]?(?<![\w.])(?:0[xob][0-9a-fA-F_]+|\d[\d_]*(?:\.\d+)?(?:[eE][-+]?\d+)?)(?![\w]))
  | (?P<code>
        [A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+    # dotted name: os.path, str.join
      | [A-Za-z_]\w*(?=[(\[])                                   # call or subscript: f(x), cost[i]
      | \w*_\w*                                                 # anything with an underscore
      | [A-Za-z]+\d\w* | \d+[A-Za-z]\w*                         # letters and digits mixed: x1, 2d
      | [a-z]+[A-Z]\w*                                          # camelCase
    )
  | (?P<word>[A-Za-z]+(?:['\u2019-][A-Za-z]+)*)
  | (?P<punct>.)
    """,
    re.VERBOSE | re.DOTALL,
)


_ONE_LETTER_WORDS = frozenset({"a", "A", "I"})


@dataclass(frozen=True)
class Token:
    """One token of a text: its exact characters, where they are, and their kind."""

    text: str
    start: int
    kind: TokenKind

    @property
    def end(self) -> int:
        """Index one past the last character."""
        return self.start + len(self.text)

    @property
    def protected(self) -> bool:
        """True for code, numbers and quoted strings: tokens no operator may change."""
        return self.kind in PROTECTED_KINDS


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens that join back to exactly ``text``.

    Raises:
        TypeError: ``text`` is not a string.

    """
    if not isinstance(text, str):
        raise TypeError(f"tokenize() needs a str, got {type(text).__name__}")
    tokens: list[Token] = []
    for m in _TOKEN_RE.finditer(text):
        kind = m.lastgroup
        assert kind is not None
        if kind == "word" and len(m.group()) == 1 and m.group() not in _ONE_LETTER_WORDS:
            kind = "code"  # a lone letter in a programming prompt is a variable: "(m, n)", "list x"
        tokens.append(Token(m.group(), m.start(), kind))  # type: ignore[arg-type]
    return tokens


def detokenize(tokens: list[Token]) -> str:
    """Join tokens back into text (the inverse of :func:`tokenize`)."""
    return "".join(t.text for t in tokens)


def is_sentence_end(token: Token) -> bool:
    """Tell whether a token ends a sentence (``.``, ``!``, ``?``, ``:``, ``;``) or a blank line."""
    if token.kind == "punct":
        return token.text in ".!?:;"
    return token.kind == "space" and token.text.count("\n") >= 2
