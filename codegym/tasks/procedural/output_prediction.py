"""Code output prediction: small programs with inputs, and the exact text they print.

A *family* of :mod:`~codegym.tasks.procedural.programs` (``arithmetic``, ``strings``, ``lists``,
``dicts``, ``loops``, ``conditionals``, ``recursion``, ``functions``, ``classes``, ``exceptions``) draws
one program at a difficulty level (1 to 3) from a ``random.Random`` and renders it in every language it
supports (Python, JavaScript, C++ and Rust). While drawing, the family computes the values the program
prints with trusted Python in the generator, formatted the way each language prints them. The program
itself is then run through :class:`codegym.execution.SandboxExecutor` (never ``exec`` in this process;
C++ and Rust programs are compiled there, through the engine's build cache) and its real stdout must
equal the computed text, otherwise generation fails loudly (a generator bug, not a data point). A
language whose toolchain (node, g++, rustc) is missing cannot be verified: generation raises
:class:`~codegym.execution.toolchains.ToolchainMissing` unless ``verify=False``.

Every program has an *input block* of assignments (``n = 12`` / ``let n = 12;`` at the top of a Python
or JavaScript program, ``long long n = 12;`` / ``let n: i64 = 12;`` at the top of ``main`` in C++ and
Rust) followed by the code that uses them, so an environment can show the program and its input
separately.

Example::

    from codegym.tasks.procedural import OutputPredictionConfig, generate_output_prediction

    items = generate_output_prediction(OutputPredictionConfig(seed=0, size=3, verify=False))
    print(items[0].program, items[0].expected_output)
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from codegym.tasks.procedural.common import (
    as_tuple,
    draw_in_split,
    item_rng,
    take_unique,
    validate_seed,
    validate_size,
    validate_split,
)
from codegym.tasks.procedural.programs import (
    DISPLAY_NAMES,
    LANGUAGES,
    OUTPUT_FAMILIES,
    OUTPUT_FAMILY_BY_NAME,
    OutputFamily,
    Program,
    expected_stdout,
)

SOURCE = "procedural/output_prediction"
#: Languages assumed runnable when the execution engine's language registry cannot be imported (the
#: registry, :func:`codegym.execution.languages.available_languages`, is asked first).
VERIFIABLE_LANGUAGES = ("python",)


# ----------------------------------------------------------------------------------------------------
# Items, config, generation


@dataclass(frozen=True)
class OutputPredictionItem:
    r"""One output-prediction problem.

    Attributes:
        item_id: ``"outpred/<language>/<index>"`` (train) or ``"outpred/eval/<language>/<index>"``.
        language: ``"python"``, ``"javascript"``, ``"cpp"`` or ``"rust"``.
        program: The full runnable program (its input block first; in C++ and Rust first in ``main``).
        input: The input block alone (the assignments or declarations it starts with, not indented).
        expected_output: Exactly what the program writes to stdout (one ``\n`` after each line).
        family: The program family.
        difficulty: 1, 2 or 3.
        verified: True when ``expected_output`` was checked by running ``program`` in the sandbox.
        split: ``"train"`` or ``"eval"``.
        index: Position of the program in the generated list (shared by its renderings).
        seed: The config seed.
        metadata: ``topic`` (variant within the family), ``code`` (program without the input block).

    """

    item_id: str
    language: str
    program: str
    input: str
    expected_output: str
    family: str
    difficulty: int
    verified: bool = False
    split: str = "train"
    index: int = 0
    seed: int = 0
    metadata: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serializable dict (the jsonl record, with ``"suite": "output-prediction"``)."""
        return {
            "suite": "output-prediction",
            "item_id": self.item_id,
            "language": self.language,
            "program": self.program,
            "input": self.input,
            "expected_output": self.expected_output,
            "family": self.family,
            "difficulty": self.difficulty,
            "verified": self.verified,
            "split": self.split,
            "index": self.index,
            "seed": self.seed,
            "metadata": dict(self.metadata),
        }

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> OutputPredictionItem:
        """Inverse of :meth:`to_dict` (the ``suite`` key is ignored)."""
        fields = {k: v for k, v in record.items() if k != "suite"}
        missing = [k for k in ("item_id", "language", "program", "expected_output") if k not in fields]
        if missing:
            raise ValueError(f"output-prediction record lacks {missing}: {str(record)[:200]}")
        return cls(**fields)


@dataclass(frozen=True)
class OutputPredictionConfig:
    """What :func:`generate_output_prediction` generates.

    Attributes:
        seed: Base seed; raw program ``i`` of a split is drawn from ``Random(seed + offset + i)``.
        size: Number of distinct programs; each is rendered in every language of ``languages``, so
            ``size * len(languages)`` items are produced.
        split: ``"train"`` or ``"eval"``; seed ranges and programs are disjoint.
        languages: Languages to render (subset of :data:`LANGUAGES`).
        families: Family names (``None``: all of :data:`OUTPUT_FAMILIES`).
        difficulty: Allowed difficulty levels.
        verify: Run every program in the sandbox and check its stdout (a language whose toolchain is
            missing raises :class:`~codegym.execution.toolchains.ToolchainMissing`).
        timeout_s: Per-program wall-clock limit when verifying.

    """

    seed: int = 0
    size: int = 100
    split: str = "train"
    languages: tuple[str, ...] = ("python",)
    families: tuple[str, ...] | None = None
    difficulty: tuple[int, ...] = (1, 2, 3)
    verify: bool = True
    timeout_s: float = 5.0

    def __post_init__(self) -> None:
        for name in ("languages", "families", "difficulty"):
            object.__setattr__(self, name, as_tuple(getattr(self, name)))

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad field and its allowed values."""
        validate_size(self.size, "OutputPredictionConfig")
        validate_seed(self.seed, self.size, "OutputPredictionConfig")
        validate_split(self.split, "OutputPredictionConfig")
        bad = [lang for lang in self.languages if lang not in LANGUAGES]
        if bad or not self.languages or len(set(self.languages)) != len(self.languages):
            raise ValueError(
                f"OutputPredictionConfig.languages must be distinct names from {LANGUAGES}, "
                f"got {self.languages!r}"
            )
        if self.families is not None:
            unknown = [f for f in self.families if f not in OUTPUT_FAMILY_BY_NAME]
            if unknown or not self.families:
                raise ValueError(
                    f"OutputPredictionConfig.families has unknown names {unknown or '(empty)'}; "
                    f"choose from {sorted(OUTPUT_FAMILY_BY_NAME)}"
                )
        bad_levels = [d for d in self.difficulty if d not in (1, 2, 3)]
        if bad_levels or not self.difficulty:
            raise ValueError(
                f"OutputPredictionConfig.difficulty must be a non-empty subset of (1, 2, 3), "
                f"got {self.difficulty!r}"
            )
        if not isinstance(self.timeout_s, (int, float)) or not self.timeout_s > 0:
            raise ValueError(f"OutputPredictionConfig.timeout_s must be > 0, got {self.timeout_s!r}")
        if not self.allowed_families():
            raise ValueError(
                f"OutputPredictionConfig selects no family: none of {self.families or 'all families'} "
                f"renders "
                f"{self.languages} at difficulty {self.difficulty}"
            )

    def allowed_families(self) -> tuple[OutputFamily, ...]:
        """Families that render every requested language at one of the requested difficulties."""
        return tuple(
            f
            for f in OUTPUT_FAMILIES
            if (self.families is None or f.name in self.families)
            and all(lang in f.languages for lang in self.languages)
            and any(d in f.difficulties for d in self.difficulty)
        )


def _draw_program(rng: random.Random, families: Sequence[OutputFamily], difficulty: Sequence[int]) -> Program:
    family = rng.choice(families)
    level = rng.choice([d for d in difficulty if d in family.difficulties])
    return family.draw(rng, level)


def _content_key(program: Program) -> str:
    return (
        program.family
        + "\n"
        + program.source("python" if "python" in program.code else sorted(program.code)[0])
    )


def output_prediction_program(config: OutputPredictionConfig, raw_index: int) -> Program:
    """Raw program ``raw_index`` of a config, from ``Random(seed + offset + raw_index)``, without dedupe."""
    return _raw_program(config, raw_index, config.allowed_families())


def _raw_program(config: OutputPredictionConfig, raw_index: int, families: Sequence[OutputFamily]) -> Program:
    rng = item_rng(config.seed, config.split, raw_index)

    def draw(r: random.Random) -> tuple[str, Program]:
        program = _draw_program(r, families, config.difficulty)
        return _content_key(program), program

    return draw_in_split(rng, config.split, draw)


def _item(
    program: Program, language: str, config: OutputPredictionConfig, index: int
) -> OutputPredictionItem:
    prefix = "outpred" if config.split == "train" else "outpred/eval"
    return OutputPredictionItem(
        item_id=f"{prefix}/{language}/{index}",
        language=language,
        program=program.source(language),
        input=program.input_block(language),
        expected_output=expected_stdout(program.outputs, language),
        family=program.family,
        difficulty=program.difficulty,
        verified=False,
        split=config.split,
        index=index,
        seed=config.seed,
        metadata={"topic": program.topic, "code": program.body(language), "source": SOURCE},
    )


def generate_output_prediction(
    config: OutputPredictionConfig, progress: bool = False, executor: Any = None
) -> list[OutputPredictionItem]:
    """Generate ``config.size`` distinct programs, each rendered in every language of the config.

    Items are ordered program by program (``[p0/python, p0/javascript, p1/python, ...]``). Reproducible
    and prefix-stable like :func:`~codegym.tasks.procedural.generate_synthesis_tasks`.

    Args:
        config: What to generate; validated first.
        progress: Show tqdm progress bars (generation, then verification).
        executor: A :class:`codegym.execution.SandboxExecutor` to verify with (default: a new one,
            closed afterwards). Only used when ``config.verify``.

    Raises:
        ValueError: ``config`` is invalid or allows fewer than ``size`` distinct programs.
        RuntimeError: A verified program printed something other than its expected output (a bug in
            a family), or the engine failed to run it.
        ToolchainMissing: ``config.verify`` and a language's toolchain is not installed (a
            ``ValueError`` naming the binary and how to install it).

    """
    config.validate()
    if config.verify:
        require_verifiable(config.languages, executor)
    families = config.allowed_families()
    programs = take_unique(
        lambda i: _raw_program(config, i, families),
        key=_content_key,
        size=config.size,
        what="output-prediction programs",
        progress=progress,
    )
    items = [_item(p, lang, config, i) for i, p in enumerate(programs) for lang in config.languages]
    if config.verify:
        items = verify_items(items, executor=executor, timeout_s=config.timeout_s, progress=progress)
    return items


def load_output_prediction(
    split: str = "train",
    size: int = 100,
    seed: int = 0,
    languages: Sequence[str] = ("python",),
    **options: Any,
) -> list[OutputPredictionItem]:
    """Generate from keyword arguments (fields of :class:`OutputPredictionConfig`)."""
    config = OutputPredictionConfig(seed=seed, size=size, split=split, languages=tuple(languages), **options)
    return generate_output_prediction(config)


def format_question(item: OutputPredictionItem) -> str:
    """Return a plain prompt for the item: the program in a fenced block and the question."""
    return (
        f"What does this {DISPLAY_NAMES.get(item.language, item.language)} program print? "
        "Answer with the exact output only.\n\n"
        f"```{item.language}\n{item.program}```\n"
    )


# ----------------------------------------------------------------------------------------------------
# Verification through the sandbox


def verifiable_languages(executor: Any = None) -> tuple[str, ...]:
    """Languages of :data:`LANGUAGES` the execution engine can run.

    Asks ``executor.languages`` when the executor has it, else
    ``codegym.execution.languages.available_languages()``, else assumes :data:`VERIFIABLE_LANGUAGES`.
    """
    langs = getattr(executor, "languages", None) if executor is not None else None
    if langs is None:
        try:
            from codegym.execution.languages import available_languages
        except ImportError:
            return VERIFIABLE_LANGUAGES
        langs = available_languages()
    return tuple(lang for lang in LANGUAGES if lang in tuple(langs))


def run_programs(
    programs: Sequence[str], language: str = "python", executor: Any = None, timeout_s: float = 5.0
) -> list[Any]:
    """Run whole programs in the sandbox; return their :class:`~codegym.execution.ExecutionResult` s.

    Each program is the request's code with no tests: ``result.status`` is ``PASSED`` when it ran to
    the end without an exception, and ``result.stdout`` is what it printed.

    Args:
        programs: Complete programs.
        language: Their language (one the engine supports).
        executor: A :class:`~codegym.execution.SandboxExecutor` (default: a new one, closed afterwards).
        timeout_s: Wall-clock limit per program.

    """
    from codegym.execution import ExecutionRequest, Limits, SandboxExecutor

    own = executor is None
    if own:
        executor = SandboxExecutor()
    try:
        limits = Limits(timeout_s=timeout_s)
        requests = [
            ExecutionRequest(code=code, tests=(), limits=limits, language=language) for code in programs
        ]
        return list(executor.run_batch(requests))
    finally:
        if own:
            executor.close()


def require_verifiable(languages: Sequence[str], executor: Any = None) -> None:
    """Raise unless the execution engine (``executor``'s, by default this machine's) runs ``languages``.

    Raises:
        ToolchainMissing: A language's toolchain (node, g++, rustc) is not installed; the message names
            the binary, how to install it, and that ``verify=False`` (``--no-verify``) generates the
            items unverified instead.
        ValueError: ``executor`` reports that it cannot run a language although its toolchain is here.

    """
    runnable = verifiable_languages(executor)
    for language in dict.fromkeys(languages):
        if language in runnable:
            continue
        from codegym.execution.languages import get_language
        from codegym.execution.toolchains import ToolchainMissing

        try:
            get_language(language).require()
        except ToolchainMissing as exc:
            detail = str(exc).split(", which ", 1)[-1]
            raise ToolchainMissing(
                exc.language,
                exc.binary,
                f"{detail}. Without it the {DISPLAY_NAMES.get(language, language)} programs cannot be "
                "verified: install it, or generate them unverified with verify=False "
                "(codegym data generate --no-verify)",
            ) from exc
        raise ValueError(
            f"the executor {executor!r} cannot run {language} programs (it runs {list(runnable)}); pass "
            "an executor that can, or verify=False"
        )


def verify_items(
    items: Sequence[OutputPredictionItem],
    executor: Any = None,
    timeout_s: float = 5.0,
    progress: bool = False,
) -> list[OutputPredictionItem]:
    """Run every item's program in the sandbox and mark it ``verified``.

    Args:
        items: Items to check.
        executor: A :class:`~codegym.execution.SandboxExecutor` (default: a new one, closed afterwards).
        timeout_s: Wall-clock limit per program (C++ and Rust: besides the compile step's own limit).
        progress: Show a tqdm progress bar.

    Raises:
        RuntimeError: A program's stdout differs from its ``expected_output``, or it did not run
            cleanly; the message shows the program, both outputs and the engine's verdict.
        ToolchainMissing: An item's language has no toolchain here (see :func:`require_verifiable`).

    """
    require_verifiable([item.language for item in items], executor)
    langs = verifiable_languages(executor)
    todo = [i for i, item in enumerate(items) if item.language in langs]
    out = list(items)
    if not todo:
        return out
    own = executor is None
    if own:
        from codegym.execution import SandboxExecutor

        executor = SandboxExecutor()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(todo), desc="verifying programs", unit="program")
    try:
        for start in range(0, len(todo), 64):
            chunk = todo[start : start + 64]
            for language in langs:
                idx = [i for i in chunk if items[i].language == language]
                if not idx:
                    continue
                results = run_programs([items[i].program for i in idx], language, executor, timeout_s)
                for i, result in zip(idx, results, strict=True):
                    _check(items[i], result)
                    out[i] = replace(items[i], verified=True)
            if bar is not None:
                bar.update(len(chunk))
    finally:
        if bar is not None:
            bar.close()
        if own:
            executor.close()
    return out


def _check(item: OutputPredictionItem, result: Any) -> None:
    status = result.status.value
    if status != "passed" or result.stdout != item.expected_output:
        raise RuntimeError(
            f"output-prediction item {item.item_id} ({item.family}, difficulty {item.difficulty}) "
            "does not print "
            f"its expected output (engine status {status!r}; {result.message!r}).\n"
            f"--- program ---\n{item.program}--- expected ---\n{item.expected_output!r}\n"
            f"--- stdout ---\n{result.stdout!r}\n--- stderr ---\n{result.stderr[-2000:]}"
        )
