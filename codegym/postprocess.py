"""Turn what a model wrote into the program that gets executed.

Real models need different treatment:

* **chat / instruct models** answer in prose with markdown fences (or CodeLlama's ``[PYTHON]`` tags):
  the code is taken from the fence that defines the task's entry point (:func:`extract_code`);
* **completion (base) models** given a HumanEval-style signature continue the function body: the
  continuation is cut where the function ends (bigcode-evaluation-harness's stop sequences) and the
  prompt is prepended (:func:`truncate_continuation`, :func:`prepend_prompt`);
* **base models writing a whole program** (MBPP) go on with example calls, asserts or a new problem
  after the solution: that tail is dropped (:func:`truncate_program`).

:func:`postprocess` picks the right treatment for a completion and a :class:`~codegym.tasks.Task`
(``mode="auto"``) and returns an :class:`Extraction`.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from dataclasses import dataclass

from codegym.tasks.base import Task

__all__ = [
    "CHAT_STOP_TOKENS",
    "HUMANEVAL_STOP_SEQUENCES",
    "MBPP_STOP_SEQUENCES",
    "MODES",
    "CodeBlock",
    "Extraction",
    "apply_stop_sequences",
    "extract_code",
    "find_code_blocks",
    "is_code_prompt",
    "postprocess",
    "prepend_prompt",
    "truncate_continuation",
    "truncate_program",
]

#: End-of-turn / end-of-text tokens of common model families; text after them is never code.
CHAT_STOP_TOKENS: tuple[str, ...] = (
    "<|endoftext|>",
    "<|im_end|>",
    "<|eot_id|>",
    "<|end_of_text|>",
    "<|EOT|>",
    "<|end|>",
    "</s>",
    "<file_sep>",
    "<|file_separator|>",
    "<|fim_prefix|>",
    "<|fim_middle|>",
    "<|fim_suffix|>",
)

#: bigcode-evaluation-harness's HumanEval stop sequences: where a continued function body ends.
HUMANEVAL_STOP_SEQUENCES: tuple[str, ...] = (
    "\nclass",
    "\ndef",
    "\n#",
    "\n@",
    "\nprint",
    "\nif",
    "\n```",
    "<file_sep>",
)

#: bigcode-evaluation-harness's MBPP stop sequences (for callers that pass them to a generator).
MBPP_STOP_SEQUENCES: tuple[str, ...] = ("\nclass", "\nassert", '\n"""', "\nprint", "\nif", "\n<|/", "\n```")

#: Accepted values of ``postprocess(mode=...)``.
MODES: tuple[str, ...] = ("auto", "chat", "completion", "program", "raw")

_LANGUAGE_TAGS: dict[str, frozenset[str]] = {
    "python": frozenset({"python", "py", "python3", "py3", "pycon", "ipython"}),
    "javascript": frozenset({"javascript", "js", "node", "nodejs"}),
    "typescript": frozenset({"typescript", "ts"}),
    "java": frozenset({"java"}),
    "cpp": frozenset({"cpp", "c++", "cc", "cxx"}),
    "c": frozenset({"c"}),
    "go": frozenset({"go", "golang"}),
    "rust": frozenset({"rust", "rs"}),
}

_OPEN_FENCE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})[ \t]*([^\s`{]*)")
_TAG_BLOCK = re.compile(r"\[PYTHON\]\s*\n?(.*?)(?:\[/PYTHON\]|\Z)", re.S)
# A top-level line that is plausibly Python rather than prose.
_CODE_START = re.compile(r"^(?:async\s+def|def|class|import|from\s+[\w.]+\s+import|@)\b|^@")
_CODE_LINE = re.compile(
    r"^(?:async\s+def|def|class|import|from|@|if|elif|else|for|while|try|except|finally|with|return|"
    r"raise|assert|print|pass|del|global|nonlocal|#)\b|^[#@)\]}]|^[A-Za-z_][\w.]*(?:\[[^\]]*\])?\s*"
    r"(?:=|\(|\+=|-=|\*=|/=|,|:\s*[\w\[\]., |]+\s*=)"
)
# Top-level lines where a base model's program has ended and test/demo code or a new problem starts.
_PROGRAM_END = re.compile(
    r"^(?:assert\b|print\s*\(|if\s+__name__\s*==|\"\"\"|'''|```|~~~|<\||>>>|\[/?PYTHON\]|"
    r"(?:#+\s*)?(?:test|tests|example|examples|usage|output|driver code)\b.*$)",
    re.I,
)
_MAIN_GUARD = re.compile(r"^if\s+__name__\s*==\s*['\"]__main__['\"]\s*:")


@dataclass(frozen=True)
class CodeBlock:
    """One fenced code block of a chat answer.

    Attributes:
        language: The fence's language tag, lower-cased (``""`` when untagged).
        code: The block's content.
        closed: False when the answer ended inside the block (the model hit its token limit).

    """

    language: str
    code: str
    closed: bool = True


@dataclass(frozen=True)
class Extraction:
    """The program taken from a completion.

    Attributes:
        code: The program to execute.
        found: False when no code was found and ``code`` is the (stop-truncated) completion itself,
            run as is so that prose counts as a syntax error rather than as an empty program.
        method: How it was obtained: ``"fence"``, ``"tags"`` (``[PYTHON]``), ``"raw"`` (the answer was
            code), ``"prose"`` (code lines found among prose), ``"continuation"`` (prompt + continued
            body), ``"program"`` (a whole program, trailing test code dropped), ``"none"``.

    """

    code: str
    found: bool
    method: str


def apply_stop_sequences(text: str, stop: Sequence[str]) -> str:
    """Cut ``text`` at the earliest occurrence of any stop sequence (the sequence itself is removed)."""
    if isinstance(stop, str):
        raise TypeError("stop must be a sequence of strings, not a single string; wrap it in a list")
    cut = len(text)
    for s in stop:
        if s:
            i = text.find(s)
            if i != -1:
                cut = min(cut, i)
    return text[:cut]


def find_code_blocks(text: str) -> list[CodeBlock]:
    """Every markdown fenced block (```` ``` ```` or ``~~~``) in ``text``, in order.

    A block left open at the end of the text (the model hit its token limit) is returned with
    ``closed=False``; a closing fence glued to the last code line (``return x```) is recognised.
    """
    lines = text.split("\n")
    blocks: list[CodeBlock] = []
    i = 0
    while i < len(lines):
        m = _OPEN_FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, language = m.group(1), m.group(2).lower().lstrip(".")
        body: list[str] = []
        closed = False
        i += 1
        while i < len(lines):
            stripped = lines[i].strip()
            if stripped.startswith(fence) and not stripped.strip(fence[0]):
                closed = True
                i += 1
                break
            if fence[0] == "`" and stripped.endswith(fence) and stripped != fence:
                body.append(lines[i].rstrip()[: -len(fence)])
                closed = True
                i += 1
                break
            body.append(lines[i])
            i += 1
        blocks.append(CodeBlock(language=language, code="\n".join(body), closed=closed))
    return blocks


def _defines(code: str, name: str) -> bool:
    return re.search(rf"^[ \t]*(?:async\s+)?def\s+{re.escape(name)}\s*\(", code, re.M) is not None


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False
    return True


def _top_level_blocks(code: str) -> list[str]:
    """Split a program into top-level chunks: a column-0 line plus the indented/blank lines after it."""
    chunks: list[list[str]] = []
    for line in code.split("\n"):
        starts_chunk = line[:1] not in ("", " ", "\t") and not (
            chunks and line.startswith((")", "]", "}", "else", "elif", "except", "finally"))
        )
        if starts_chunk or not chunks:
            chunks.append([line])
        else:
            chunks[-1].append(line)
    return ["\n".join(c) for c in chunks]


def _trim_to_parse(code: str, entry_point: str | None = None) -> str:
    """Drop trailing top-level chunks (a function cut off by the token limit, junk) until it parses.

    Never drops the chunk defining ``entry_point``; returns ``code`` unchanged if no prefix parses.
    """
    if _parses(code):
        return code
    chunks = _top_level_blocks(code)
    for end in range(len(chunks) - 1, 0, -1):
        candidate = "\n".join(chunks[:end])
        if entry_point and not _defines(candidate, entry_point):
            break
        if candidate.strip() and _parses(candidate):
            return candidate.rstrip() + "\n"
    return code


def _strip_main_guard(code: str) -> str:
    """Remove a top-level ``if __name__ == "__main__":`` block (demo code that may read stdin)."""
    chunks = _top_level_blocks(code)
    kept = [c for c in chunks if not _MAIN_GUARD.match(c)]
    return "\n".join(kept) if len(kept) != len(chunks) else code


def _dedent_if_uniform(code: str) -> str:
    lines = [ln for ln in code.split("\n") if ln.strip()]
    if not lines:
        return code
    indent = min(len(ln) - len(ln.lstrip()) for ln in lines)
    if indent == 0:
        return code
    dedented = "\n".join(ln[indent:] for ln in code.split("\n"))
    # Only whole programs are dedented; an indented function body (HumanEval) stays a body.
    if not _CODE_START.match(dedented.lstrip()) or not _parses(dedented):
        return code
    return dedented


def _code_from_prose(text: str, entry_point: str | None) -> str:
    """Find a run of code lines in an answer without fences."""
    lines = text.split("\n")
    start = next((i for i, ln in enumerate(lines) if _CODE_START.match(ln)), None)
    if start is None:
        return ""
    region: list[str] = []
    for line in lines[start:]:
        if line[:1] in (" ", "\t") or not line.strip() or _CODE_LINE.match(line):
            region.append(line)
        else:
            break
    code = "\n".join(region).strip("\n")
    return _trim_to_parse(code, entry_point if entry_point and _defines(code, entry_point) else None)


def extract_code(text: str, entry_point: str | None = None, language: str = "python") -> Extraction:
    """Take the program out of a chat answer.

    Looks, in order, for fenced blocks (tagged with ``language`` or untagged; among them the first
    that defines ``entry_point``, else the first that defines any function or class, else the first),
    CodeLlama ``[PYTHON]`` tags, an answer that is code as a whole, and a run of code lines inside
    prose. A top-level ``if __name__ == "__main__":`` block is removed. When nothing is found, the
    text itself is returned with ``found=False``.

    Args:
        text: The answer (stop sequences already applied).
        entry_point: Name of the function the tests call, used to choose among blocks.
        language: The task's language; fences tagged with another language are ignored.

    """
    tags = _LANGUAGE_TAGS.get(language, frozenset({language}))
    blocks = [b for b in find_code_blocks(text) if b.code.strip()]
    candidates = [b for b in blocks if b.language in tags or b.language == ""]
    method = "fence"
    if not candidates and language == "python":
        candidates = [
            CodeBlock("python", m.group(1)) for m in _TAG_BLOCK.finditer(text) if m.group(1).strip()
        ]
        method = "tags"
    if candidates:
        chosen = None
        if entry_point:
            chosen = next((b for b in candidates if _defines(b.code, entry_point)), None)
        if chosen is None:
            chosen = next((b for b in candidates if re.search(r"^\s*(def|class)\s", b.code, re.M)), None)
        if chosen is None:
            chosen = candidates[0]
        code = chosen.code
        if language == "python":
            code = _strip_main_guard(_dedent_if_uniform(code))
            if not chosen.closed:
                code = _trim_to_parse(
                    code, entry_point if entry_point and _defines(code, entry_point) else None
                )
        return Extraction(code=code.strip("\n") + "\n", found=True, method=method)
    if language != "python":
        return Extraction(code=text, found=False, method="none")
    stripped = text.strip("\n")
    if stripped.strip() and _parses(stripped) and (_CODE_START.match(stripped.lstrip()) or "\n" in stripped):
        return Extraction(code=_strip_main_guard(stripped) + "\n", found=True, method="raw")
    code = _code_from_prose(text, entry_point)
    if code.strip():
        return Extraction(code=_strip_main_guard(code).strip("\n") + "\n", found=True, method="prose")
    return Extraction(code=text, found=False, method="none")


def truncate_continuation(completion: str, stop: Sequence[str] = HUMANEVAL_STOP_SEQUENCES) -> str:
    """Cut a continued function body where the function ends.

    This is bigcode-evaluation-harness's HumanEval post-processing: the continuation stops at the first
    top-level ``class``, ``def``, comment, decorator, ``print``, ``if`` or markdown fence. End-of-text
    tokens (:data:`CHAT_STOP_TOKENS`) are cut too.
    """
    return apply_stop_sequences(completion, tuple(stop) + CHAT_STOP_TOKENS)


def truncate_program(code: str, entry_point: str | None = None) -> str:
    """Drop what a base model writes after a whole program: tests, demos, a new problem, prose.

    Cuts at the first top-level line (after the program started) that begins test or demo code
    (``assert``, ``print(``, ``if __name__ == ...``, ``# Test``...), a docstring opening a new problem,
    a markdown fence, a chat token or ``>>>``, or prose; then drops trailing chunks that do not parse
    (a helper cut off by the token limit), keeping the one that defines ``entry_point``.
    """
    code = apply_stop_sequences(code, CHAT_STOP_TOKENS)
    lines = code.split("\n")
    kept: list[str] = []
    started = False
    for line in lines:
        top_level = line[:1] not in ("", " ", "\t")
        if top_level and started:
            if _PROGRAM_END.match(line) or not _CODE_LINE.match(line):
                break
        kept.append(line)
        if line.strip() and not line.lstrip().startswith("#"):
            started = True
    result = "\n".join(kept).strip("\n")
    if entry_point and not _defines(result, entry_point):
        entry_point = None
    return _trim_to_parse(result, entry_point).rstrip() + "\n" if result.strip() else ""


def prepend_prompt(prompt: str, completion: str) -> str:
    """Return ``prompt + completion``, unless the completion already starts with the prompt (echo)."""
    if completion.startswith(prompt):
        return completion
    stripped = prompt.strip()
    if stripped and completion.lstrip().startswith(stripped):
        return completion.lstrip()
    return prompt + completion


def is_code_prompt(task: Task) -> bool:
    """Tell whether the task's prompt is code a completion model continues (HumanEval's signature).

    Uses ``task.metadata["prompt_is_code"]`` when the loader set it, else looks for the entry point's
    ``def`` in the prompt.
    """
    flag = task.metadata.get("prompt_is_code") if task.metadata else None
    if flag is not None:
        return bool(flag)
    return task.language == "python" and _defines(task.prompt, task.entry_point)


def _program_with_prompt(prompt: str, code: str, entry_point: str) -> str:
    """Combine a code prompt with a chat answer's code.

    An answer that defines the entry point runs after the prompt (its imports and helper functions,
    e.g. HumanEval/10's ``is_palindrome``, stay available; the answer's definition replaces the stub);
    an answer holding only a function body continues the prompt.
    """
    if _defines(code, entry_point):
        if _parses(prompt):
            return prompt.rstrip() + "\n\n\n" + code
        imports = [ln for ln in prompt.split("\n") if re.match(r"^(import|from)\s", ln) and ln not in code]
        return "\n".join(imports) + ("\n\n" if imports else "") + code
    if code[:1] in (" ", "\t"):
        return prepend_prompt(prompt, code)
    return code


def _starts_with_code(text: str) -> bool:
    first = next((ln for ln in text.split("\n") if ln.strip()), "")
    return bool(_CODE_LINE.match(first.lstrip()))


def postprocess(
    completion: str,
    task: Task | None = None,
    *,
    mode: str = "auto",
    stop: Sequence[str] = (),
    prompt: str | None = None,
) -> Extraction:
    """Turn a completion into the program to execute.

    ``"auto"`` mode uses ``"chat"`` when the completion has a fence or ``[PYTHON]`` tag, ``"program"``
    when it starts with code and defines the entry point itself, ``"completion"`` when there is a code
    prompt to continue, and ``"chat"`` otherwise.

    Args:
        completion: What the model generated (without the prompt, unless the backend echoes it).
        task: The task; used to prefer the fence defining the entry point and to find a code prompt.
        mode: ``"auto"``, ``"chat"`` (:func:`extract_code`; with a code prompt, the prompt's imports
            and helpers are kept), ``"completion"`` (a continuation of a code prompt:
            :func:`truncate_continuation` then :func:`prepend_prompt`), ``"program"`` (a whole program:
            :func:`truncate_program`) or ``"raw"`` (only ``stop`` and end-of-text tokens are applied).
        stop: Extra stop sequences applied to the completion first.
        prompt: The code prompt the model was given to continue, when it is not ``task.prompt`` (for
            example an MBPP task rendered as a signature with a docstring). Default: ``task.prompt``
            if that is code (:func:`is_code_prompt`), else none.

    Raises:
        TypeError: ``completion`` is not a string (chat message lists: pass the assistant's content).
        ValueError: Unknown ``mode``, or ``"completion"`` mode without a code prompt.

    """
    if not isinstance(completion, str):
        raise TypeError(
            f"completion must be a str, got {type(completion).__name__}; for chat messages pass the "
            "assistant message's content"
        )
    if mode not in MODES:
        raise ValueError(f"unknown post-processing mode {mode!r}; choose one of {MODES}")
    text = apply_stop_sequences(completion, tuple(stop) + CHAT_STOP_TOKENS)
    entry_point = task.entry_point if task is not None else None
    language = task.language if task is not None else "python"
    if prompt is None and task is not None and is_code_prompt(task):
        prompt = task.prompt
    if mode == "auto":
        if find_code_blocks(text) or "[PYTHON]" in text:
            mode = "chat"
        elif entry_point and _defines(text, entry_point) and _starts_with_code(text):
            mode = "program"
        elif prompt is not None:
            mode = "completion"
        else:
            mode = "chat"
    if mode == "raw":
        return Extraction(code=text, found=bool(text.strip()), method="raw")
    if mode == "completion":
        if prompt is None:
            raise ValueError(
                "mode='completion' continues a code prompt (a function signature, as in HumanEval), "
                f"but task {getattr(task, 'task_id', None)!r} has none: pass prompt=... or use "
                "mode='chat' or 'program'"
            )
        body = truncate_continuation(text[len(prompt) :] if text.startswith(prompt) else text)
        return Extraction(code=prepend_prompt(prompt, body), found=bool(body.strip()), method="continuation")
    if mode == "program":
        if language != "python":
            return Extraction(code=text, found=bool(text.strip()), method="program")
        code = truncate_program(text, entry_point)
        if prompt is not None and entry_point:
            code = _program_with_prompt(prompt, code, entry_point)
        return Extraction(code=code, found=bool(code.strip()), method="program")
    extraction = extract_code(text, entry_point, language)
    if extraction.found and prompt is not None and entry_point:
        code = _program_with_prompt(prompt, extraction.code, entry_point)
        return Extraction(code=code, found=True, method=extraction.method)
    return extraction
