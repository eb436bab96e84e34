r"""The small code model codegym trains itself: a recipe, a cache, and a loader through the HF backend.

A newcomer without a GPU or the model hub still needs a code model that *works*, so that prompt
optimization has something to optimize. This module trains one from scratch on the procedural
function-synthesis suite (:mod:`codegym.tasks.procedural.synthesis`) in a few minutes on a CPU:

* **Architecture**: a CodeLlama-style ``LlamaForCausalLM`` (4 decoder layers, width 128, SwiGLU 256,
  RoPE), 0.79M parameters. A CodeT5-style ``T5ForConditionalGeneration`` of the same depth (2 + 2
  layers) is available as ``architecture="t5"``; ``benchmarks/bench_small_model.py --part arch`` trains
  both for the same CPU time and the decoder-only model had the better held-out pass rate (see
  ``docs/small_model.md``).
* **Tokenizer**: byte-level BPE trained on the training texts only, with every digit its own token so
  that constants copy from the description to the code whatever their value.
* **Data**: the train split of the synthesis suite, each task worded in the recipe's *training phrasing
  groups only* (default ``A``, ``C`` and ``E``), rendered exactly as the prompt-optimization environment
  renders it (the ``"mbpp"`` prompt style: description, ``Your code should pass these tests:``, the
  visible test), with the reference solution as the target. Phrasings of the other groups (``B``,
  ``D``, ``F``) are never seen, so the wording of a prompt matters to the model.
* **Training**: AdamW with warm-up and cosine decay, seeded, one torch thread by default, capped by
  steps *and* wall-clock time.
* **Cache**: ``$CODEGYM_CACHE_DIR/models/<name>-<architecture>-<hash>`` (default
  ``~/.cache/codegym/models``), where the hash covers the recipe's fields, :data:`RECIPE_VERSION`, a
  fingerprint of the synthesis suite and the ``transformers`` major version; change any of them and the
  model is rebuilt. Concurrent builders are safe: a lock file serialises them and the build is renamed
  into place atomically.
* **Loading**: the cached directory is an ordinary ``save_pretrained`` directory, loaded by
  :func:`codegym.backends.load_generator`, exactly as a hub model is.

Example::

    from codegym.models import load_small_model

    gen = load_small_model()  # trains on first use (a few minutes), then loads from the cache
    print(gen.generate(["Write a function add_3 that takes an integer x and returns x plus 3.\\n"
                        "Your code should pass these tests:\\n\\nassert add_3(1) == 4\\n"])[0][0])
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codegym.backends.base import CodeGenerator

if TYPE_CHECKING:  # pragma: no cover
    from codegym.backends.hf import HFCodeGenerator
    from codegym.tasks.base import Task

__all__ = [
    "ARCHITECTURES",
    "DEFAULT_RECIPE",
    "DEFAULT_THREADS",
    "RECIPE_VERSION",
    "SmallModelGenerator",
    "SmallModelRecipe",
    "build_small_model",
    "cache_root",
    "is_built",
    "load_small_model",
    "model_dir",
    "read_build_info",
    "small_model_path",
    "training_examples",
    "training_tasks",
]

#: Bump when the training code changes in a way that changes the model (loss, schedule, data layout).
RECIPE_VERSION = 1

#: Supported architectures: CodeT5-style encoder-decoder, CodeLlama-style decoder-only.
ARCHITECTURES = ("t5", "llama")

#: Special tokens in CodeT5+'s (RoBERTa-style) order: ``<pad>`` = 0, ``<s>`` = 1, ``</s>`` = 2.
_SPECIAL_TOKENS = ["<pad>", "<s>", "</s>", "<unk>", "<mask>"]
_PAD, _BOS, _EOS = 0, 1, 2

#: Environment variable naming codegym's cache folder (shared with :mod:`codegym.backends.tiny`).
CACHE_ENV = "CODEGYM_CACHE_DIR"

_COMPLETE = ".complete"

#: torch CPU threads used for training unless told otherwise. One thread: the model's matrices are small
#: (128 wide), so a second thread gains little, and on a loaded machine OpenMP's spinning threads made
#: training several times slower (measured: 0.13 s of CPU per step on one thread, 0.8-3.3 s on two).
DEFAULT_THREADS = 1


@dataclass(frozen=True)
class SmallModelRecipe:
    """Everything that determines the small model. Two equal recipes build the same model.

    Attributes:
        name: Prefix of the cache directory and of the generator's name.
        architecture: ``"t5"`` (CodeT5-style ``T5ForConditionalGeneration``) or ``"llama"``
            (``LlamaForCausalLM``).
        train_groups: Phrasing groups of the synthesis suite the model is trained on; the others are
            held out (and fail more often).
        num_tasks: Train-split synthesis tasks; each gives one example per training group.
        data_seed: Seed of the synthesis suite.
        prompt_style: Prompt style of :mod:`codegym.tasks.prompts` the examples are rendered in; the
            benchmark environment uses the same (``"mbpp"``).
        vocab_size: BPE vocabulary size, special tokens included.
        d_model: Hidden size.
        num_layers: Transformer layers in all: Llama's decoder layers; T5 splits them evenly between its
            encoder and decoder (so it must be even), which keeps the two architectures the same depth.
        num_heads: Attention heads.
        d_ff: Feed-forward size (T5's ReLU layer; Llama's SwiGLU gets two thirds of it, since it has
            three matrices instead of two, so both have the same feed-forward parameters).
        seed: Seed of the weight initialisation and of the batch order.
        batch_size: Examples per optimizer step.
        max_steps: Optimizer steps (the learning-rate schedule spans them).
        max_seconds: Wall-clock cap on training; when it is hit, training stops early and the build's
            ``training.json`` says ``"stopped_by": "time"`` (the model then depends on machine speed).
        learning_rate: Peak AdamW learning rate.
        warmup_steps: Linear warm-up steps.
        weight_decay: AdamW weight decay.
        max_new_tokens: Suggested generation budget (the longest target is well below it).

    """

    name: str = "codegym-small"
    architecture: str = "llama"
    train_groups: tuple[str, ...] = ("A", "C", "E")
    num_tasks: int = 1000
    data_seed: int = 0
    prompt_style: str = "mbpp"
    vocab_size: int = 1024
    d_model: int = 128
    num_layers: int = 4
    num_heads: int = 4
    d_ff: int = 384
    seed: int = 0
    batch_size: int = 32
    max_steps: int = 500
    max_seconds: float = 1800.0
    learning_rate: float = 3e-3
    warmup_steps: int = 50
    weight_decay: float = 0.01
    max_new_tokens: int = 96

    def __post_init__(self) -> None:
        if isinstance(self.train_groups, (list, str)):
            groups = (self.train_groups,) if isinstance(self.train_groups, str) else self.train_groups
            object.__setattr__(self, "train_groups", tuple(groups))

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad field and what it accepts."""
        from codegym.tasks.procedural.synthesis import PHRASING_GROUPS
        from codegym.tasks.prompts import PROMPT_STYLES

        if not self.name or any(c in self.name for c in "/\\ "):
            raise ValueError(
                "SmallModelRecipe.name must be a non-empty name without '/', '\\' or spaces, "
                f"got {self.name!r}"
            )
        if self.architecture not in ARCHITECTURES:
            raise ValueError(
                f"SmallModelRecipe.architecture must be one of {ARCHITECTURES}, got {self.architecture!r}"
            )
        bad = [g for g in self.train_groups if g not in PHRASING_GROUPS]
        if bad or not self.train_groups:
            raise ValueError(
                f"SmallModelRecipe.train_groups has unknown groups {bad or '(empty)'}; "
                f"choose from {PHRASING_GROUPS}"
            )
        if len(set(self.train_groups)) != len(self.train_groups):
            raise ValueError(f"SmallModelRecipe.train_groups repeats a group: {self.train_groups}")
        if self.prompt_style not in PROMPT_STYLES:
            raise ValueError(
                f"SmallModelRecipe.prompt_style must be one of {sorted(PROMPT_STYLES)}, "
                f"got {self.prompt_style!r}"
            )
        positive = (
            "num_tasks", "vocab_size", "d_model", "num_layers", "num_heads", "d_ff", "batch_size",
            "max_steps", "max_new_tokens",
        )  # fmt: skip
        for name in positive:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"SmallModelRecipe.{name} must be an int >= 1, got {value!r}")
        if self.architecture == "t5" and self.num_layers % 2:
            raise ValueError(
                f"SmallModelRecipe.num_layers must be even for architecture='t5' (split between encoder and "
                f"decoder), got {self.num_layers}"
            )
        if self.d_model % self.num_heads:
            raise ValueError(
                f"SmallModelRecipe.d_model ({self.d_model}) must be divisible by num_heads ({self.num_heads})"
            )
        if self.vocab_size < 300:
            raise ValueError(
                f"SmallModelRecipe.vocab_size must be >= 300 (256 bytes plus special tokens and merges), "
                f"got {self.vocab_size}"
            )
        for name in ("data_seed", "seed", "warmup_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"SmallModelRecipe.{name} must be an int >= 0, got {value!r}")
        if not self.max_seconds > 0:
            raise ValueError(f"SmallModelRecipe.max_seconds must be > 0, got {self.max_seconds!r}")
        if not self.learning_rate > 0:
            raise ValueError(f"SmallModelRecipe.learning_rate must be > 0, got {self.learning_rate!r}")
        if self.weight_decay < 0:
            raise ValueError(f"SmallModelRecipe.weight_decay must be >= 0, got {self.weight_decay!r}")

    def replace(self, **changes: Any) -> SmallModelRecipe:
        """Return a copy with some fields changed (``recipe.replace(max_steps=20)``)."""
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise ValueError(
                f"unknown SmallModelRecipe fields {unknown}; "
                f"valid fields: {[f.name for f in dataclasses.fields(self)]}"
            )
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a JSON-compatible dict."""
        out = dataclasses.asdict(self)
        out["train_groups"] = list(self.train_groups)
        return out

    @property
    def held_out_groups(self) -> tuple[str, ...]:
        """The phrasing groups the model never sees in training."""
        from codegym.tasks.procedural.synthesis import PHRASING_GROUPS

        return tuple(g for g in PHRASING_GROUPS if g not in self.train_groups)

    def fingerprint(self) -> str:
        """Hash of everything the build depends on: fields, code version, task suite, transformers major."""
        import importlib.metadata

        try:
            tf_major = importlib.metadata.version("transformers").split(".")[0]
        except importlib.metadata.PackageNotFoundError:  # pragma: no cover - the hf extra is missing
            tf_major = "none"
        payload = {
            "recipe": self.to_dict(),
            "recipe_version": RECIPE_VERSION,
            "suite": _suite_fingerprint(self.data_seed),
            "transformers": tf_major,
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:12]


#: The recipe of the default small model.
DEFAULT_RECIPE = SmallModelRecipe()


@lru_cache(maxsize=8)
def _suite_fingerprint(data_seed: int) -> str:
    """Hash the synthesis suite cheaply: its catalogue templates and its first generated tasks.

    A change to the families, phrasing frames or the generator changes this hash (and so the cache key)
    without generating the whole training set.
    """
    from codegym.tasks.procedural.synthesis import FAMILIES, PHRASING_FRAMES, load_synthesis_tasks

    h = hashlib.sha256()
    h.update(json.dumps(PHRASING_FRAMES, sort_keys=True).encode())
    for f in FAMILIES:
        h.update(
            repr(
                (f.name, f.args, f.returns_type, f.fn_names, f.inputs, f.returns, f.action, f.formula, f.body)
            ).encode()
        )
    for task in load_synthesis_tasks(split="train", size=32, seed=data_seed):
        h.update(
            repr(
                (
                    task.task_id,
                    task.metadata.get("phrasings"),
                    task.tests,
                    task.visible_tests,
                    task.reference_solution,
                )
            ).encode()
        )
    return h.hexdigest()[:16]


# ----------------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------------


def training_tasks(recipe: SmallModelRecipe = DEFAULT_RECIPE) -> list[Task]:
    """Return the train-split synthesis tasks of a recipe (see :func:`training_examples`)."""
    from codegym.tasks.procedural.synthesis import load_synthesis_tasks

    return load_synthesis_tasks(split="train", size=recipe.num_tasks, seed=recipe.data_seed)


def render_prompt(task: Task, group: str | None = None, style: str = "mbpp") -> str:
    """Return the prompt of a synthesis task worded in phrasing ``group`` (default: its own), in ``style``."""
    from codegym.tasks.procedural.synthesis import rephrase
    from codegym.tasks.prompts import format_prompt

    if group is not None:
        task = rephrase(task, group)
    return format_prompt(task, style)


def training_examples(
    recipe: SmallModelRecipe = DEFAULT_RECIPE, tasks: Sequence[Task] | None = None
) -> list[tuple[str, str]]:
    """Return ``(prompt, target)`` pairs: each task in each of ``recipe.train_groups``, target its reference.

    Only the training phrasing groups appear; the held-out groups' wording never reaches the model.
    """
    tasks = training_tasks(recipe) if tasks is None else tasks
    pairs = []
    for task in tasks:
        target = task.reference_solution.rstrip() + "\n"
        for group in recipe.train_groups:
            pairs.append((render_prompt(task, group, recipe.prompt_style), target))
    return pairs


# ----------------------------------------------------------------------------------------------------
# Tokenizer and model
# ----------------------------------------------------------------------------------------------------


def build_tokenizer(texts: Sequence[str], vocab_size: int, architecture: str = "t5") -> Any:
    """Train a byte-level BPE tokenizer on ``texts`` (digits split one per token) as a fast HF tokenizer.

    ``"t5"`` wraps inputs as ``<s> ... </s>`` like CodeT5+'s tokenizer; ``"llama"`` prepends ``<s>`` and
    has no pad token, like CodeLlama's.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=_SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(list(texts), trainer=trainer)
    specials: dict[str, Any] = {}
    if architecture == "t5":
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A </s>",
            pair="<s> $A </s> </s> $B </s>",
            special_tokens=[("<s>", _BOS), ("</s>", _EOS)],
        )
        specials = {"pad_token": "<pad>", "mask_token": "<mask>"}
    else:
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", _BOS)]
        )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        model_max_length=1024,
        **specials,
    )


def model_config(recipe: SmallModelRecipe, vocab_size: int) -> Any:
    """Return the ``T5Config`` or ``LlamaConfig`` of a recipe."""
    if recipe.architecture == "t5":
        from transformers import T5Config

        return T5Config(
            vocab_size=vocab_size,
            d_model=recipe.d_model,
            d_kv=recipe.d_model // recipe.num_heads,
            d_ff=recipe.d_ff,
            num_layers=recipe.num_layers // 2,
            num_decoder_layers=recipe.num_layers // 2,
            num_heads=recipe.num_heads,
            relative_attention_num_buckets=32,
            relative_attention_max_distance=128,
            dropout_rate=0.0,
            feed_forward_proj="relu",
            is_encoder_decoder=True,
            pad_token_id=_PAD,
            bos_token_id=_BOS,
            eos_token_id=_EOS,
            decoder_start_token_id=_PAD,
            tie_word_embeddings=True,
        )
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=recipe.d_model,
        intermediate_size=recipe.d_ff * 2 // 3,
        num_hidden_layers=recipe.num_layers,
        num_attention_heads=recipe.num_heads,
        num_key_value_heads=recipe.num_heads,
        max_position_embeddings=512,
        rms_norm_eps=1e-5,
        bos_token_id=_BOS,
        eos_token_id=_EOS,
        pad_token_id=None,
        tie_word_embeddings=True,
    )


def _make_model(recipe: SmallModelRecipe, vocab_size: int) -> Any:
    from transformers import LlamaForCausalLM, T5ForConditionalGeneration

    cls = T5ForConditionalGeneration if recipe.architecture == "t5" else LlamaForCausalLM
    return cls(model_config(recipe, vocab_size))


# ----------------------------------------------------------------------------------------------------
# Training
# ----------------------------------------------------------------------------------------------------


@dataclass
class TrainingReport:
    """What a build did (saved as ``training.json`` next to the model).

    Attributes:
        steps: Optimizer steps taken.
        seconds: Wall-clock training time (tokenizer and data excluded).
        cpu_seconds: CPU time of the training process over the same span (on a loaded machine, the
            better measure of the work done).
        threads: torch CPU threads used.
        stopped_by: ``"steps"`` (the recipe's ``max_steps``), ``"time"`` (``max_seconds`` was hit first)
            or ``"cpu"`` (a benchmark's CPU-time cap was hit first).
        examples: Training pairs.
        parameters: Model parameters.
        final_loss: Mean loss over the last 50 steps.
        losses: Mean loss of every 50 steps.
        data_seconds: Time to generate the data and train the tokenizer.

    """

    steps: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    threads: int = 1
    stopped_by: str = "steps"
    examples: int = 0
    parameters: int = 0
    final_loss: float = float("nan")
    losses: list[float] = field(default_factory=list)
    data_seconds: float = 0.0


def _encode_examples(
    tokenizer: Any, pairs: Sequence[tuple[str, str]], architecture: str
) -> list[tuple[list[int], list[int]]]:
    """Token ids ``(source, target)``; the same encoding the HF backend uses at generation time."""
    prompts = tokenizer([p for p, _ in pairs], add_special_tokens=True)["input_ids"]
    targets = tokenizer([t for _, t in pairs], add_special_tokens=False)["input_ids"]
    return [(list(p), [*t, _EOS]) for p, t in zip(prompts, targets, strict=True)]


def _batch_tensors(batch: Sequence[tuple[list[int], list[int]]], architecture: str) -> dict[str, Any]:
    import torch

    if architecture == "t5":
        src_w = max(len(s) for s, _ in batch)
        tgt_w = max(len(t) for _, t in batch)
        ids = torch.full((len(batch), src_w), _PAD, dtype=torch.long)
        mask = torch.zeros((len(batch), src_w), dtype=torch.long)
        labels = torch.full((len(batch), tgt_w), -100, dtype=torch.long)
        for k, (s, t) in enumerate(batch):
            ids[k, : len(s)] = torch.tensor(s)
            mask[k, : len(s)] = 1
            labels[k, : len(t)] = torch.tensor(t)
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}
    width = max(len(s) + len(t) for s, t in batch)
    ids = torch.full((len(batch), width), _EOS, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    labels = torch.full((len(batch), width), -100, dtype=torch.long)
    for k, (s, t) in enumerate(batch):
        row = s + t
        ids[k, : len(row)] = torch.tensor(row)
        mask[k, : len(row)] = 1
        labels[k, len(s) : len(row)] = torch.tensor(t)  # loss on the target only (shifted by the model)
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def _batches(n: int, batch_size: int, rng: random.Random) -> Iterator[list[int]]:
    """Endless shuffled epochs of index batches."""
    while True:
        order = list(range(n))
        rng.shuffle(order)
        for start in range(0, n - batch_size + 1, batch_size):
            yield order[start : start + batch_size]


@contextlib.contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def train_model(
    recipe: SmallModelRecipe,
    tokenizer: Any,
    pairs: Sequence[tuple[str, str]],
    *,
    progress: bool = True,
    report: TrainingReport | None = None,
    threads: int = 1,
    max_cpu_seconds: float | None = None,
) -> tuple[Any, TrainingReport]:
    """Train a fresh model of ``recipe`` on ``pairs``; returns ``(model, report)``.

    Seeded (no global RNG is used or changed). ``threads`` sets torch's CPU threads for the duration;
    ``max_cpu_seconds`` adds a cap on the process's CPU time (for comparisons under equal compute).
    """
    import torch

    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be an int >= 1, got {threads!r}")
    report = report if report is not None else TrainingReport()
    report.threads = threads
    encoded = _encode_examples(tokenizer, pairs, recipe.architecture)
    if len(encoded) < recipe.batch_size:
        raise ValueError(
            f"{len(encoded)} training examples are fewer than batch_size={recipe.batch_size}; "
            "raise num_tasks or lower batch_size"
        )
    report.examples = len(encoded)
    rng = random.Random(recipe.seed)
    with _torch_threads(threads), torch.random.fork_rng(devices=[]):
        torch.manual_seed(recipe.seed)
        model = _make_model(recipe, len(tokenizer))
        report.parameters = sum(p.numel() for p in model.parameters())
        model.train()
        decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
        no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
        optimizer = torch.optim.AdamW(
            [
                {"params": decay, "weight_decay": recipe.weight_decay},
                {"params": no_decay, "weight_decay": 0.0},
            ],
            lr=recipe.learning_rate,
            betas=(0.9, 0.98),
        )

        def lr_at(step: int) -> float:
            if step < recipe.warmup_steps:
                return recipe.learning_rate * (step + 1) / recipe.warmup_steps
            span = max(1, recipe.max_steps - recipe.warmup_steps)
            progress_frac = min(1.0, (step - recipe.warmup_steps) / span)
            return recipe.learning_rate * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress_frac)))

        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(
                total=recipe.max_steps, desc=f"training {recipe.name} ({recipe.architecture})", unit="step"
            )
        window: list[float] = []
        start = time.perf_counter()
        cpu_start = time.process_time()
        batches = _batches(len(encoded), recipe.batch_size, rng)
        try:
            for step in range(recipe.max_steps):
                if time.perf_counter() - start > recipe.max_seconds:
                    report.stopped_by = "time"
                    break
                if max_cpu_seconds is not None and time.process_time() - cpu_start > max_cpu_seconds:
                    report.stopped_by = "cpu"
                    break
                for group in optimizer.param_groups:
                    group["lr"] = lr_at(step)
                batch = _batch_tensors([encoded[i] for i in next(batches)], recipe.architecture)
                loss = model(**batch).loss
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                window.append(float(loss.detach()))
                report.steps = step + 1
                if len(window) == 50:
                    report.losses.append(sum(window) / len(window))
                    window = []
                if bar is not None:
                    bar.update(1)
                    if step % 10 == 0:
                        bar.set_postfix(loss=f"{float(loss.detach()):.3f}")
        finally:
            if bar is not None:
                bar.close()
        report.seconds = time.perf_counter() - start
        report.cpu_seconds = time.process_time() - cpu_start
        tail = window or (report.losses[-1:] if report.losses else [])
        report.final_loss = sum(tail) / len(tail) if tail else float("nan")
        if window:
            report.losses.append(report.final_loss)
        model.eval()
    return model, report


def build_small_model(
    recipe: SmallModelRecipe, out_dir: str | os.PathLike[str], *, progress: bool = True, threads: int = 1
) -> TrainingReport:
    """Build the model of ``recipe`` into ``out_dir`` (created if needed): data, tokenizer, training, save.

    Writes the ``save_pretrained`` files, ``recipe.json`` (the recipe and its fingerprint) and
    ``training.json`` (the :class:`TrainingReport`). Prefer :func:`small_model_path`, which caches.
    ``threads`` is torch's CPU thread count (see :data:`DEFAULT_THREADS`); it is not part of the recipe.
    """
    recipe.validate()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    pairs = training_examples(recipe)
    tokenizer = build_tokenizer(
        [text for pair in pairs for text in pair], recipe.vocab_size, recipe.architecture
    )
    report = TrainingReport(data_seconds=time.perf_counter() - t0)
    model, report = train_model(recipe, tokenizer, pairs, progress=progress, report=report, threads=threads)
    if report.stopped_by == "time":
        print(
            f"codegym: training {recipe.name} stopped at the time cap after {report.steps} of "
            f"{recipe.max_steps} steps ({recipe.max_seconds:.0f} s); the model depends on this machine's "
            "speed. Raise max_seconds for a fully reproducible build.",
            file=sys.stderr,
        )
    model.generation_config.max_new_tokens = recipe.max_new_tokens
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    info = {
        "recipe": recipe.to_dict(),
        "fingerprint": recipe.fingerprint(),
        "recipe_version": RECIPE_VERSION,
        "held_out_groups": list(recipe.held_out_groups),
    }
    (out / "recipe.json").write_text(json.dumps(info, indent=2) + "\n")
    (out / "training.json").write_text(json.dumps(dataclasses.asdict(report), indent=2) + "\n")
    return report


# ----------------------------------------------------------------------------------------------------
# Cache
# ----------------------------------------------------------------------------------------------------


def cache_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Return the folder cached small models live in.

    ``cache_dir`` if given, else ``$CODEGYM_CACHE_DIR/models``, else ``~/.cache/codegym/models``.
    """
    if cache_dir is not None:
        return Path(cache_dir)
    root = os.environ.get(CACHE_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "codegym")
    return Path(root) / "models"


def model_dir(
    recipe: SmallModelRecipe = DEFAULT_RECIPE, cache_dir: str | os.PathLike[str] | None = None
) -> Path:
    """Return where the model of ``recipe`` is (or will be) cached: ``<root>/<name>-<arch>-<fingerprint>``."""
    return cache_root(cache_dir) / f"{recipe.name}-{recipe.architecture}-{recipe.fingerprint()}"


def is_built(
    recipe: SmallModelRecipe = DEFAULT_RECIPE, cache_dir: str | os.PathLike[str] | None = None
) -> bool:
    """Whether the model of ``recipe`` is in the cache."""
    return (model_dir(recipe, cache_dir) / _COMPLETE).is_file()


@contextlib.contextmanager
def _build_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` between processes (a no-op where ``fcntl`` is missing)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def small_model_path(
    recipe: SmallModelRecipe | None = None,
    *,
    build: bool = True,
    progress: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
    threads: int = DEFAULT_THREADS,
) -> Path:
    """Return the directory of the small model of ``recipe``, training it first if it is not cached.

    Args:
        recipe: The recipe (default :data:`DEFAULT_RECIPE`).
        build: Train the model when it is missing; with ``False`` a missing model raises.
        progress: Show progress bars while training.
        cache_dir: Parent folder of the build (default :func:`cache_root`).
        threads: torch CPU threads for training (not part of the recipe).

    Returns:
        A ``save_pretrained`` directory: ``load_generator(path)`` and ``from_pretrained(path)`` load it.

    Raises:
        FileNotFoundError: ``build=False`` and the model is not in the cache.

    """
    recipe = DEFAULT_RECIPE if recipe is None else recipe
    recipe.validate()
    final = model_dir(recipe, cache_dir)
    if (final / _COMPLETE).is_file():
        return final
    if not build:
        raise FileNotFoundError(
            f"the small model {final.name} is not built (no {final}); run `codegym model build` or call "
            "small_model_path(build=True)"
        )
    root = final.parent
    root.mkdir(parents=True, exist_ok=True)
    with _build_lock(root / f".{final.name}.lock"):
        if (final / _COMPLETE).is_file():  # another process built it while we waited
            return final
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=root))
        try:
            build_small_model(recipe, tmp, progress=progress, threads=threads)
            (tmp / _COMPLETE).write_text("ok\n")
            if final.exists():  # an incomplete leftover of a killed build
                shutil.rmtree(final)
            os.rename(tmp, final)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return final


def read_build_info(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Return ``{"recipe": ..., "training": ...}`` of a built model (``recipe.json``, ``training.json``)."""
    path = Path(path)
    out: dict[str, Any] = {}
    for key, name in (("recipe", "recipe.json"), ("training", "training.json")):
        file = path / name
        if not file.is_file():
            raise FileNotFoundError(f"{file} is missing; {path} is not a small-model build (rebuild it)")
        out[key] = json.loads(file.read_text())
    return out


# ----------------------------------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------------------------------


def load_small_model(
    recipe: SmallModelRecipe | None = None,
    *,
    build: bool = True,
    progress: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
    threads: int = DEFAULT_THREADS,
    **generator_kwargs: Any,
) -> HFCodeGenerator:
    """Load the small model as a :class:`~codegym.backends.HFCodeGenerator`, training it first if needed.

    The directory goes through :func:`codegym.backends.load_generator`, the same code that loads hub
    models. ``generator_kwargs`` are its options (``device`` defaults to ``"cpu"``, ``batch_size`` to 32).
    """
    from codegym.backends.hf import load_generator

    recipe = DEFAULT_RECIPE if recipe is None else recipe
    path = small_model_path(recipe, build=build, progress=progress, cache_dir=cache_dir, threads=threads)
    generator_kwargs.setdefault("device", "cpu")
    generator_kwargs.setdefault("batch_size", 32)
    generator_kwargs.setdefault("name", f"{recipe.name}-{recipe.architecture}-{recipe.fingerprint()}")
    return load_generator(path, **generator_kwargs)


_LOADED: dict[tuple[str, str], Any] = {}


class SmallModelGenerator(CodeGenerator):
    """A :class:`~codegym.backends.CodeGenerator` for the small model that builds and loads it on first use.

    Constructing one is free (no torch import, no training), so environments can take it as their default
    backend; the first ``generate`` call trains the model if it is not cached (with a progress bar) and
    loads it through :func:`load_small_model`. Loaded models are shared by every instance in the process
    with the same recipe and cache folder, and the instance survives ``copy.deepcopy`` (Gymnasium copies
    registered keyword arguments) without copying a model.

    Args:
        recipe: The recipe (default :data:`DEFAULT_RECIPE`).
        cache_dir: Parent folder of the build (default :func:`cache_root`, read at first use).
        progress: Show a progress bar if training is needed.
        threads: torch CPU threads while this generator trains or generates (restored afterwards);
            ``None`` leaves torch's setting alone. The default, 1, is several times faster than two
            threads on a machine shared with other jobs (see :data:`DEFAULT_THREADS`).
        **generator_kwargs: Options of :func:`load_small_model` / :class:`~codegym.backends.HFCodeGenerator`.

    """

    def __init__(
        self,
        recipe: SmallModelRecipe | None = None,
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        progress: bool = True,
        threads: int | None = DEFAULT_THREADS,
        **generator_kwargs: Any,
    ) -> None:
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
            raise ValueError(f"threads must be an int >= 1 or None, got {threads!r}")
        self.threads = threads
        self.recipe = DEFAULT_RECIPE if recipe is None else recipe
        self.cache_dir = None if cache_dir is None else os.fspath(cache_dir)
        self.progress = progress
        self.generator_kwargs = dict(generator_kwargs)
        self.name = f"{self.recipe.name}-{self.recipe.architecture}"

    def __repr__(self) -> str:
        changed = {
            f.name: getattr(self.recipe, f.name)
            for f in dataclasses.fields(self.recipe)
            if getattr(self.recipe, f.name) != getattr(DEFAULT_RECIPE, f.name)
        }
        inner = ", ".join(f"{k}={v!r}" for k, v in changed.items())
        where = f", cache_dir={self.cache_dir!r}" if self.cache_dir else ""
        return (
            f"SmallModelGenerator({inner}{where})" if inner else f"SmallModelGenerator(default recipe{where})"
        )

    @property
    def generator(self) -> HFCodeGenerator:
        """The loaded :class:`~codegym.backends.HFCodeGenerator` (built and loaded on first access)."""
        key = (
            repr(sorted(self.recipe.to_dict().items())),
            str(cache_root(self.cache_dir)),
            repr(sorted(self.generator_kwargs.items())),
        )
        loaded = _LOADED.get(key)
        if loaded is None or loaded.model is None:
            loaded = load_small_model(
                self.recipe,
                cache_dir=self.cache_dir,
                progress=self.progress,
                threads=self.threads or DEFAULT_THREADS,
                **self.generator_kwargs,
            )
            _LOADED[key] = loaded
        self.name = loaded.name
        return loaded

    def generate(
        self,
        prompts: Sequence[str],
        *,
        n: int = 1,
        temperature: float = 0.0,
        max_new_tokens: int = 256,
        seed: int | None = None,
        stop: Sequence[str] = (),
    ) -> list[list[str]]:
        """Build/load the model if needed, then generate (see :class:`~codegym.backends.CodeGenerator`)."""
        generator = self.generator
        with _torch_threads(self.threads) if self.threads is not None else contextlib.nullcontext():
            return generator.generate(
                prompts, n=n, temperature=temperature, max_new_tokens=max_new_tokens, seed=seed, stop=stop
            )

    def __deepcopy__(self, memo: dict[int, Any]) -> SmallModelGenerator:
        return SmallModelGenerator(
            self.recipe,
            cache_dir=self.cache_dir,
            progress=self.progress,
            threads=self.threads,
            **self.generator_kwargs,
        )
