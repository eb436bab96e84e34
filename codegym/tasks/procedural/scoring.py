r"""Scoring predicted program outputs: exact, close, wrong type, wrong, error; reward presets.

:func:`score_prediction` gives exactly one verdict per prediction, checked in this order:

``error``
    The prediction is ``None``, not a string, or empty/whitespace only (no answer).
``exact``
    Equal to the expected stdout after both are *exact-normalized*: ``\r\n`` and ``\r`` become
    ``\n`` and leading/trailing whitespace of the whole text is removed (print's final newline
    does not count). Nothing else is forgiven: case, inner spaces, quotes and number formats matter.
``close``
    Equal after *close-normalization* of both sides, then token by token:

    1. exact-normalize; if the whole prediction is one fenced code block (```` ```lang ... ``` ````),
       keep only its content;
    2. each line that is exactly one quoted string (``'a b'``, ``"a b"``, `` `a b` ``) is replaced
       by its content (stdout has no quotes, a model answering ``"hello"`` for ``hello`` is close);
    3. blank lines are dropped and the text is split into tokens: quoted strings, numbers
       (``-?digits[.digits][e±digits]``), words, and single punctuation characters; whitespace only
       separates tokens (so ``[1, 2]`` equals ``[1,2]``, ``a  b`` equals ``a\nb``, but ``ab`` is not
       ``a b``);
    4. tokens compare equal when: both are strings with the same content after collapsing whitespace
       runs (``'a'`` equals ``"a"``); both are integers (no ``.`` or exponent) with the same value;
       both are numbers, one not an integer, equal within a relative tolerance of ``1e-6`` (absolute
       ``1e-9``) (``5`` equals ``5.0``, ``0.1`` equals ``0.1000000001``); both are booleans of the same
       value in any of ``True``/``true``/``False``/``false``; both are nulls ``None``/``null``; or they
       are the same word or character.
``wrong_type``
    Not close, the same number of non-blank lines, and at least one line has a different *shape*
    (after steps 1-2): ``number`` (one number token), ``bool``, ``null``, ``list`` (``[...]``),
    ``dict`` (``{...}``), ``tuple`` (``(...)``) or ``text`` (anything else). ``12`` vs ``13`` is
    ``wrong``; ``12`` vs ``twelve``, ``[1, 2]`` vs ``3``, ``True`` vs ``1`` are ``wrong_type``.
``wrong``
    Anything else.

Rewards map verdicts to numbers (:data:`REWARD_PRESETS`); ``"reference"`` is the reference scheme
(exact 10, close 5, everything else 0).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

VERDICTS = ("exact", "close", "wrong_type", "wrong", "error")

#: Reward per verdict. ``"reference"``: the reference scheme (exact 10, close 5; codegym gives 0 to the
#: other verdicts). ``"penalized"``: the reference scheme with small penalties for a wrong type (-1) and
#: no answer (-2). ``"unit"``: the same shape scaled to ``[-0.2, 1]``. ``"binary"``: 1 for exact only.
#: ``"lenient"``: 1 for exact or close.
REWARD_PRESETS: dict[str, dict[str, float]] = {
    "reference": {"exact": 10.0, "close": 5.0, "wrong_type": 0.0, "wrong": 0.0, "error": 0.0},
    "penalized": {"exact": 10.0, "close": 5.0, "wrong_type": -1.0, "wrong": 0.0, "error": -2.0},
    "unit": {"exact": 1.0, "close": 0.5, "wrong_type": -0.1, "wrong": 0.0, "error": -0.2},
    "binary": {"exact": 1.0, "close": 0.0, "wrong_type": 0.0, "wrong": 0.0, "error": 0.0},
    "lenient": {"exact": 1.0, "close": 1.0, "wrong_type": 0.0, "wrong": 0.0, "error": 0.0},
}

REL_TOL = 1e-6
ABS_TOL = 1e-9


@dataclass(frozen=True)
class PredictionScore:
    """The verdict on one prediction.

    Attributes:
        verdict: One of :data:`VERDICTS`.
        detail: Why (for logs and ``info`` dicts).

    """

    verdict: str
    detail: str = ""

    @property
    def exact(self) -> bool:
        """True for an exact match."""
        return self.verdict == "exact"

    @property
    def close(self) -> bool:
        """True for an exact or a close match (close accuracy counts exact answers too)."""
        return self.verdict in ("exact", "close")

    def reward(self, preset: str | Mapping[str, float] = "reference") -> float:
        """Return the reward of this verdict under a preset name or a ``{verdict: reward}`` mapping."""
        return reward_table(preset)[self.verdict]


def reward_table(preset: str | Mapping[str, float]) -> dict[str, float]:
    """Resolve a preset name (a key of :data:`REWARD_PRESETS`) or check a custom ``{verdict: reward}``."""
    if isinstance(preset, str):
        if preset not in REWARD_PRESETS:
            raise ValueError(f"unknown reward preset {preset!r}; choose from {sorted(REWARD_PRESETS)}")
        return dict(REWARD_PRESETS[preset])
    table = {k: float(v) for k, v in dict(preset).items()}
    missing = [v for v in VERDICTS if v not in table]
    extra = [k for k in table if k not in VERDICTS]
    if missing or extra:
        raise ValueError(
            f"a reward table needs exactly the verdicts {VERDICTS}; missing {missing}, unknown {extra}"
        )
    return table


def normalize_exact(text: str) -> str:
    """Unify line endings and strip the whole text (the exact-match normalization)."""
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


_FENCE = re.compile(r"\A```[\w+#.-]*[ \t]*\n(.*?)\n?```\Z", re.S)
_STRING = r"'(?:[^'\\\n]|\\.)*'|\"(?:[^\"\\\n]|\\.)*\"|`(?:[^`\\\n]|\\.)*`"
_NUMBER = r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?"
_TOKEN = re.compile(rf"(?P<str>{_STRING})|(?P<num>{_NUMBER})|(?P<word>[A-Za-z_][A-Za-z0-9_]*)|(?P<punct>\S)")
_ONE_STRING = re.compile(rf"\A(?:{_STRING})\Z")
_BOOLS = {"True": True, "true": True, "False": False, "false": False}
_NULLS = {"None", "null"}


def _unescape(body: str) -> str:
    return re.sub(r"\\(.)", r"\1", body)


def _close_lines(text: str) -> list[str]:
    """Apply steps 1-2 of close-normalization: unfence, unquote one-string lines, drop blank lines."""
    text = normalize_exact(text)
    fence = _FENCE.match(text)
    if fence:
        text = fence.group(1).strip()
    lines = []
    for line in text.split("\n"):
        line = line.strip()
        if not line:
            continue
        if _ONE_STRING.match(line):
            line = _unescape(line[1:-1]).strip()
        lines.append(line)
    return lines


Token = tuple[str, Any]


def tokenize(line: str) -> list[Token]:
    """Close-match tokens of one line: ``("str", text)``, ``("int", n)``, ``("num", x)``, ``("bool", b)``,
    ``("null", None)``, ``("word", w)``, ``("punct", c)``.
    """  # noqa: D205
    tokens: list[Token] = []
    for m in _TOKEN.finditer(line):
        kind = m.lastgroup
        text = m.group()
        if kind == "str":
            tokens.append(("str", " ".join(_unescape(text[1:-1]).split())))
        elif kind == "num":
            if re.fullmatch(r"-?\d+", text):
                tokens.append(("int", int(text)))
            else:
                tokens.append(("num", float(text)))
        elif kind == "word" and text in _BOOLS:
            tokens.append(("bool", _BOOLS[text]))
        elif kind == "word" and text in _NULLS:
            tokens.append(("null", None))
        else:
            tokens.append((str(kind), text))
    return tokens


def _token_equal(a: Token, b: Token) -> bool:
    (ka, va), (kb, vb) = a, b
    if ka in ("int", "num") and kb in ("int", "num"):
        if ka == kb == "int":
            return bool(va == vb)
        return math.isclose(float(va), float(vb), rel_tol=REL_TOL, abs_tol=ABS_TOL)
    return ka == kb and va == vb


def _shape(line: str) -> str:
    tokens = tokenize(line)
    if len(tokens) == 1:
        kind = tokens[0][0]
        return {"int": "number", "num": "number", "bool": "bool", "null": "null"}.get(kind, "text")
    if len(tokens) == 2 and tokens[0] == ("punct", "-") and tokens[1][0] in ("int", "num"):
        return "number"
    for opening, closing, name in (("[", "]", "list"), ("{", "}", "dict"), ("(", ")", "tuple")):
        if line.startswith(opening) and line.endswith(closing):
            return name
    return "text"


def is_close(predicted: str, expected: str) -> bool:
    """Return True when ``predicted`` equals ``expected`` under close-normalization (module doc)."""
    a = [t for line in _close_lines(predicted) for t in tokenize(line)]
    b = [t for line in _close_lines(expected) for t in tokenize(line)]
    return len(a) == len(b) and all(_token_equal(x, y) for x, y in zip(a, b, strict=True))


def score_prediction(predicted: Any, expected: str) -> PredictionScore:
    """Judge a predicted stdout against the expected one (rules in the module docstring).

    Args:
        predicted: The model's answer (any object; non-strings score ``error``).
        expected: The program's real stdout.

    """
    if not isinstance(expected, str):
        raise TypeError(f"expected output must be a str, got {type(expected).__name__}")
    if predicted is None or not isinstance(predicted, str):
        return PredictionScore("error", f"no answer ({type(predicted).__name__})")
    if not predicted.strip():
        return PredictionScore("error", "empty answer")
    if normalize_exact(predicted) == normalize_exact(expected):
        return PredictionScore("exact")
    if is_close(predicted, expected):
        return PredictionScore("close", "equal up to whitespace, quotes, number format or true/True")
    p_lines, e_lines = _close_lines(predicted), _close_lines(expected)
    if len(p_lines) == len(e_lines):
        for i, (p, e) in enumerate(zip(p_lines, e_lines, strict=True)):
            if _shape(p) != _shape(e):
                return PredictionScore(
                    "wrong_type", f"line {i + 1}: expected a {_shape(e)}, got a {_shape(p)}"
                )
        return PredictionScore("wrong", "same shape, different value")
    return PredictionScore("wrong", f"expected {len(e_lines)} line(s), got {len(p_lines)}")


def prediction_reward(
    predicted: Any, expected: str, preset: str | Mapping[str, float] = "reference"
) -> float:
    """``score_prediction(predicted, expected).reward(preset)``."""
    return score_prediction(predicted, expected).reward(preset)


def prediction_metrics(scores: Iterable[PredictionScore]) -> dict[str, float]:
    """Exact accuracy, close accuracy (exact or close) and the share of every verdict."""
    scores = list(scores)
    n = len(scores)
    if n == 0:
        return {"n": 0, "exact_accuracy": 0.0, "close_accuracy": 0.0, **{f"{v}_rate": 0.0 for v in VERDICTS}}
    out: dict[str, float] = {
        "n": n,
        "exact_accuracy": sum(s.exact for s in scores) / n,
        "close_accuracy": sum(s.close for s in scores) / n,
    }
    for verdict in VERDICTS:
        out[f"{verdict}_rate"] = sum(s.verdict == verdict for s in scores) / n
    return out
