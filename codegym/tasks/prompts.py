"""Prompt formats, selectable by name, and the editable/fixed split used by prompt optimization.

Styles (see :data:`PROMPT_STYLES`):

``"mbpp"``
    The MBPP paper's format: the task text, ``Your code should pass these tests:`` and the visible tests
    (for MBPP the first test). The model answers with a whole program.
``"humaneval"``
    Completion style: a function signature with a docstring, which the model continues with the body.
    For HumanEval this is the original prompt; for MBPP the signature is taken from the reference
    solution and the docstring holds the text and the visible tests.
``"instruct"``
    An instruction for chat models: the task, the function name, the visible tests (or, for HumanEval,
    the signature and docstring in a code block), and a request to reply with one ``python`` code block.

:func:`split_prompt` separates the natural-language description (the only part a prompt-mutation
operator may touch) from the fixed parts (signature, names, shown tests) and returns a function that
renders an edited description back into a full prompt of the chosen style.
"""

from __future__ import annotations

import ast
import inspect
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass

from codegym.tasks.base import Task


@dataclass(frozen=True)
class PromptStyle:
    """A named prompt format.

    Attributes:
        name: The name used in :func:`format_prompt` and on the command line.
        description: One line for listings.
        completion: True if the model continues the prompt (the graded program is prompt + completion);
            False if the model answers with a whole program (see :func:`build_program`).
        render: ``render(task, description)`` builds the prompt; ``description`` replaces the task's
            natural-language description when it is not ``None``.

    """

    name: str
    description: str
    completion: bool
    render: Callable[[Task, str | None], str]


# ----------------------------------------------------------------------------------------------------
# Descriptions: the editable natural-language part of a task
# ----------------------------------------------------------------------------------------------------


def _is_code_prompt(task: Task) -> bool:
    return bool(task.metadata.get("prompt_is_code", False))


@dataclass(frozen=True)
class _DocSpan:
    """Where the editable description sits inside a code prompt."""

    start: int  # offset of the first description character
    end: int  # offset just after the last description character
    indent: str  # indentation of the docstring's continuation lines
    quote: str  # the docstring's quote characters


_EXAMPLE_LINE = re.compile(r"^(>>>|(for\s+)?(an?\s+)?examples?\b)", re.IGNORECASE)


def _line_offsets(text: str) -> list[int]:
    offsets = [0]
    for line in text.splitlines(keepends=True):
        offsets.append(offsets[-1] + len(line))
    return offsets


def _char_offset(text: str, offsets: list[int], lineno: int, col_bytes: int) -> int:
    line_start = offsets[lineno - 1]
    line = text[line_start : offsets[lineno]] if lineno < len(offsets) else text[line_start:]
    return line_start + len(line.encode("utf-8")[:col_bytes].decode("utf-8", errors="ignore"))


def _docstring_span(task: Task) -> _DocSpan:
    """Locate the description inside the docstring of the task's entry point."""
    prompt = task.prompt
    try:
        tree = ast.parse(prompt)
    except SyntaxError as exc:
        raise ValueError(f"task {task.task_id}: its code prompt does not parse ({exc})") from None
    funcs = [
        node
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == task.entry_point
    ]
    if not funcs or not funcs[0].body:
        raise ValueError(f"task {task.task_id}: its prompt does not define {task.entry_point}()")
    # The first string statement of the function; usually its docstring, but HumanEval/115 puts an
    # import before it.
    strings = [
        node
        for node in funcs[0].body
        if isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    ]
    if not strings:
        raise ValueError(f"task {task.task_id}: {task.entry_point}() has no docstring to edit")
    doc = strings[0]
    offsets = _line_offsets(prompt)
    start = _char_offset(prompt, offsets, doc.lineno, doc.col_offset)
    end = _char_offset(prompt, offsets, doc.end_lineno or doc.lineno, doc.end_col_offset or 0)
    literal = prompt[start:end]
    prefix = len(literal) - len(literal.lstrip("rRuUbB"))
    body = literal[prefix:]
    quote = body[:3] if body[:3] in ('"""', "'''") else body[:1]
    inner_start = start + prefix + len(quote)
    inner_end = end - len(quote)
    inner = prompt[inner_start:inner_end]

    match = re.search(r"\S", inner)
    if match is None:  # an empty docstring: the description is empty, right after the quotes
        return _DocSpan(inner_start, inner_start, " " * (doc.col_offset), quote)
    desc_start = match.start()
    lines = inner[desc_start:].splitlines(keepends=True)
    cut = len(inner) - desc_start
    position = 0
    for i, line in enumerate(lines):
        stripped = line.strip()
        if i > 0 and (_EXAMPLE_LINE.match(stripped) or stripped.startswith(f"{task.entry_point}(")):
            cut = position
            break
        position += len(line)
    description = inner[desc_start : desc_start + cut].rstrip()
    continuation = [ln for ln in inner.splitlines()[1:] if ln.strip()]
    indent = min((ln[: len(ln) - len(ln.lstrip())] for ln in continuation), key=len, default=None)
    if indent is None:
        indent = " " * doc.col_offset
    return _DocSpan(inner_start + desc_start, inner_start + desc_start + len(description), indent, quote)


def task_description(task: Task) -> str:
    """Return the natural-language description of a task: the only part prompt optimization may edit.

    For tasks whose prompt is code (HumanEval) this is the prose at the start of the entry point's
    docstring, up to the examples; otherwise it is ``task.prompt``.
    """
    if not _is_code_prompt(task):
        return task.prompt
    span = _docstring_span(task)
    return inspect.cleandoc(task.prompt[span.start : span.end])


def _sanitize_docstring_text(text: str, quote: str) -> str:
    """Keep an edited description from closing or breaking the docstring it is put into."""
    if len(quote) == 3:
        other = "'''" if quote == '"""' else '"""'
        while quote in text:
            text = text.replace(quote, other)
    else:
        text = text.replace(quote, "'" if quote == '"' else '"').replace("\n", " ")
    return text.rstrip().rstrip("\\")


def _with_description(task: Task, description: str | None) -> str:
    """Return the code prompt, with the docstring description replaced when ``description`` is given."""
    if description is None:
        return task.prompt
    span = _docstring_span(task)
    text = _sanitize_docstring_text(description.strip(), span.quote)
    lines = text.split("\n")
    rendered = "\n".join([lines[0]] + [(span.indent + ln) if ln.strip() else "" for ln in lines[1:]])
    return task.prompt[: span.start] + rendered + task.prompt[span.end :]


# ----------------------------------------------------------------------------------------------------
# Styles
# ----------------------------------------------------------------------------------------------------


def _tests_block(task: Task) -> str:
    return "\n".join(task.visible_tests)


def _render_mbpp(task: Task, description: str | None) -> str:
    if not task.visible_tests:
        raise ValueError(
            f"prompt style 'mbpp' shows the visible tests, but task {task.task_id} has none; "
            "use the 'humaneval' or 'instruct' style for it"
        )
    text = task_description(task) if description is None else description
    return f"{text.strip()}\nYour code should pass these tests:\n\n{_tests_block(task)}\n"


def _signature(task: Task) -> str:
    """``def name(args):`` for the entry point, from ``metadata["signature"]`` or the reference solution."""
    signature = task.metadata.get("signature")
    if signature:
        return str(signature).rstrip()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", (SyntaxWarning, DeprecationWarning))
            tree = ast.parse(task.reference_solution)
    except SyntaxError:
        tree = ast.Module(body=[], type_ignores=[])
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == task.entry_point:
            keyword = "async def" if isinstance(node, ast.AsyncFunctionDef) else "def"
            returns = f" -> {ast.unparse(node.returns)}" if node.returns else ""
            return f"{keyword} {node.name}({ast.unparse(node.args)}){returns}:"
    raise ValueError(
        f"prompt style 'humaneval' needs the signature of {task.entry_point}() for task {task.task_id}, "
        "but its reference solution does not define it and metadata['signature'] is not set; "
        "use the 'mbpp' or 'instruct' style"
    )


def _render_humaneval(task: Task, description: str | None) -> str:
    if _is_code_prompt(task):
        return _with_description(task, description)
    if task.language != "python":
        raise ValueError(
            f"prompt style 'humaneval' writes a Python signature and docstring, but task {task.task_id} "
            f"is in {task.language}; use the 'mbpp' or 'instruct' style"
        )
    text = task_description(task) if description is None else description
    parts = [text.strip()]
    if task.visible_tests:
        parts.append("Your code should pass these tests:\n" + _tests_block(task))
    doc = _sanitize_docstring_text("\n\n".join(parts), '"""')
    raw = "r" if "\\" in doc else ""
    body = "\n".join(("    " + ln) if ln.strip() else "" for ln in doc.split("\n"))
    return f'{_signature(task)}\n    {raw}"""\n{body}\n    """\n'


_LANGUAGE_NAMES = {"python": "Python", "javascript": "JavaScript", "cpp": "C++", "rust": "Rust"}


def _render_instruct(task: Task, description: str | None) -> str:
    name = _LANGUAGE_NAMES.get(task.language, task.language)
    tag = task.language
    reply = f"Reply with the complete {name} code in a single ```{tag} code block."
    if _is_code_prompt(task):
        code = _with_description(task, description).rstrip("\n")
        return f"Complete the following {name} function.\n\n```{tag}\n{code}\n```\n\n{reply}"
    text = (task_description(task) if description is None else description).strip()
    out = f"Write a {name} function `{task.entry_point}` for this task.\n\n{text}\n"
    if task.visible_tests:
        out += f"\nYour code should pass these tests:\n```{tag}\n{_tests_block(task)}\n```\n"
    return f"{out}\n{reply}"


#: The prompt styles, by name.
PROMPT_STYLES: dict[str, PromptStyle] = {
    "mbpp": PromptStyle(
        "mbpp",
        "MBPP paper: task text, 'Your code should pass these tests:' and the visible tests",
        completion=False,
        render=_render_mbpp,
    ),
    "humaneval": PromptStyle(
        "humaneval",
        "completion: function signature plus docstring; the model writes the body",
        completion=True,
        render=_render_humaneval,
    ),
    "instruct": PromptStyle(
        "instruct",
        "chat instruction: task, function name, visible tests; reply with one python code block",
        completion=False,
        render=_render_instruct,
    ),
}


def get_style(style: str | PromptStyle) -> PromptStyle:
    """Return the :class:`PromptStyle` of a name (or the style itself).

    Raises:
        ValueError: Unknown name; the message lists the valid ones.

    """
    if isinstance(style, PromptStyle):
        return style
    try:
        return PROMPT_STYLES[style]
    except KeyError:
        raise ValueError(
            f"unknown prompt style {style!r}; valid styles are: {', '.join(PROMPT_STYLES)}"
        ) from None


def default_style(task: Task) -> str:
    """Return the usual style for a task.

    ``"humaneval"`` for code prompts, ``"mbpp"`` for tasks with visible tests, else ``"instruct"``.
    """
    if _is_code_prompt(task):
        return "humaneval"
    return "mbpp" if task.visible_tests else "instruct"


def format_prompt(task: Task, style: str | PromptStyle | None = None) -> str:
    r"""Render the prompt of ``task`` in a style (default: :func:`default_style`).

    >>> from codegym.tasks import Task
    >>> t = Task("demo/1", "Write a function to add two numbers.", "add", ("assert add(1, 2) == 3",),
    ...          visible_tests=("assert add(1, 2) == 3",),
    ...          reference_solution="def add(a, b):\n    return a + b")
    >>> print(format_prompt(t, "mbpp"))
    Write a function to add two numbers.
    Your code should pass these tests:
    <BLANKLINE>
    assert add(1, 2) == 3
    <BLANKLINE>
    >>> lines = format_prompt(t, "humaneval").splitlines()
    >>> lines[0], lines[2]
    ('def add(a, b):', '    Write a function to add two numbers.')
    """
    chosen = get_style(default_style(task) if style is None else style)
    return chosen.render(task, None)


def split_prompt(task: Task, style: str | PromptStyle | None = None) -> tuple[str, Callable[[str], str]]:
    """Split a prompt into its editable description and a renderer for the fixed rest.

    Returns:
        ``(description, render)``: ``render(edited)`` is the full prompt in ``style`` with the
        description replaced by ``edited``; ``render(description)`` equals ``format_prompt(task, style)``
        up to whitespace normalisation inside a docstring. Signature, names and shown tests never change.

    >>> from codegym.tasks import Task
    >>> t = Task("demo/1", "Write a function to add two numbers.", "add", ("assert add(1, 2) == 3",),
    ...          visible_tests=("assert add(1, 2) == 3",))
    >>> text, render = split_prompt(t, "mbpp")
    >>> text
    'Write a function to add two numbers.'
    >>> print(render("Return the sum of a and b."))
    Return the sum of a and b.
    Your code should pass these tests:
    <BLANKLINE>
    assert add(1, 2) == 3
    <BLANKLINE>

    """
    chosen = get_style(default_style(task) if style is None else style)
    description = task_description(task)
    chosen.render(task, None)  # fail now, not on the first edit, if the style does not fit the task

    def render(edited: str) -> str:
        if not isinstance(edited, str):
            raise TypeError(f"the edited description must be a str, got {type(edited).__name__}")
        return chosen.render(task, edited)

    return description, render


def build_program(
    task: Task, completion: str, style: str | PromptStyle | None = None, prompt: str | None = None
) -> str:
    """Return the program to execute for a model output.

    * Completion styles (``"humaneval"``): ``prompt + completion``, where ``prompt`` defaults to
      ``format_prompt(task, style)`` (pass the prompt actually used if it was edited).
    * Whole-program styles: the completion itself; for tasks whose prompt is code (HumanEval) the
      original prompt is put first so its imports and helper functions exist (the candidate's own
      definition of the entry point replaces the stub).

    The completion is used as it is: raw model output (markdown fences, trailing prose, example calls)
    should go through :mod:`codegym.postprocess` first.
    """
    chosen = get_style(default_style(task) if style is None else style)
    if chosen.completion:
        return (format_prompt(task, chosen) if prompt is None else prompt) + completion
    if _is_code_prompt(task):
        return task.prompt.rstrip("\n") + "\n\n\n" + completion
    return completion
