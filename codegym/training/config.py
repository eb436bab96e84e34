"""The options shared by every trainer, and the machinery that turns config dataclasses into CLI flags.

Each algorithm file (:mod:`codegym.training.sft`, :mod:`~codegym.training.grpo`,
:mod:`~codegym.training.ppo`) starts with its own config dataclass, a subclass of :class:`TrainConfig`.
Every field carries its help text (``option(default, "help")``), so ``codegym train grpo --help``
documents every option and a YAML file given with ``--config`` uses the same names.

Precedence: dataclass defaults < the YAML file < flags on the command line.

This module imports neither torch nor transformers (``codegym --help`` must stay light).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

C = TypeVar("C", bound="TrainConfig")

#: LoRA target modules tried by ``lora_target_modules=("auto",)``: the attention and MLP projections of
#: the common code-model families (Llama / CodeLlama / Mistral / Qwen / DeepSeek-Coder / StarCoder2 use
#: the first seven names, T5 / CodeT5+ the next ones, GPT-2 / GPT-BigCode / GPT-NeoX the rest).
AUTO_LORA_TARGETS = (
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
    "q",
    "k",
    "v",
    "o",
    "wi",
    "wi_0",
    "wi_1",
    "wo",
    "c_attn",
    "c_proj",
    "c_fc",
    "query_key_value",
    "dense",
    "dense_h_to_4h",
    "dense_4h_to_h",
)

FINETUNE_MODES = ("auto", "lora", "qlora", "full")
PRECISIONS = ("auto", "fp32", "fp16", "bf16")
MODEL_TYPES = ("auto", "causal", "seq2seq")
SCHEDULERS = ("linear", "cosine", "constant")
REPORTERS = ("tensorboard", "wandb", "none")


def option(default: Any, help: str, *, choices: Sequence[Any] | None = None, group: str = "") -> Any:
    """Declare a dataclass field with its ``--help`` text (and optional choices) in the field metadata.

    Mutable defaults (dicts, lists) are copied per instance.
    """
    meta = {"help": help, "choices": tuple(choices) if choices else None, "group": group}
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda d=default: type(d)(d), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class TrainConfig:
    """Options shared by SFT, GRPO and PPO. Defaults are the reference QLoRA recipe for code models.

    See each field's help (``codegym train sft --help``) or ``docs/training.md``.
    """

    # -- model -----------------------------------------------------------------------------------
    model: str = option("", "Hugging Face model id or local directory (causal or seq2seq).", group="model")
    tokenizer: str | None = option(None, "Tokenizer id or directory (default: the model's).", group="model")
    model_type: str = option(
        "auto", "Model kind; 'auto' reads the model config.", choices=MODEL_TYPES, group="model"
    )
    finetune: str = option(
        "auto",
        "What to train: 'lora' adapters, 'qlora' (4-bit base via bitsandbytes, needs CUDA), 'full' "
        "fine-tuning; 'auto' is qlora when CUDA is available and lora otherwise.",
        choices=FINETUNE_MODES,
        group="model",
    )
    chat_template: str = option(
        "auto",
        "Wrap each prompt as a user message with the tokenizer's chat template: 'auto' does when the "
        "tokenizer has one and the model name looks like an instruct/chat model (as codegym's HF backend "
        "does), 'on', 'off'.",
        choices=("auto", "on", "off"),
        group="model",
    )
    lora_r: int = option(64, "LoRA rank.", group="model")
    lora_alpha: int = option(16, "LoRA alpha (scaling = alpha / r).", group="model")
    lora_dropout: float = option(0.1, "Dropout on the LoRA input (SFT; RL disables dropout).", group="model")
    lora_target_modules: tuple[str, ...] = option(
        ("auto",),
        "Module names LoRA wraps; 'auto' picks the attention and MLP projections the model has "
        "(q/k/v/o/gate/up/down for Llama-like models, q/k/v/o/wi/wo for T5).",
        group="model",
    )
    bnb_4bit_quant_type: str = option(
        "nf4", "QLoRA 4-bit quantization type.", choices=("nf4", "fp4"), group="model"
    )
    bnb_4bit_compute_dtype: str = option(
        "float16", "QLoRA compute dtype.", choices=("float16", "bfloat16", "float32"), group="model"
    )
    bnb_4bit_double_quant: bool = option(
        True, "QLoRA double quantization of the quantization constants.", group="model"
    )
    precision: str = option(
        "auto",
        "Mixed precision on GPU: fp16 (with loss scaling) or bf16; 'auto' is bf16 where supported, else "
        "fp16, and fp32 on CPU.",
        choices=PRECISIONS,
        group="model",
    )
    gradient_checkpointing: bool = option(
        False, "Recompute activations in the backward pass to save memory.", group="model"
    )
    trust_remote_code: bool = option(False, "Allow model code from the model repository.", group="model")
    device: str = option("auto", "Torch device ('auto': cuda if available, else cpu).", group="model")
    num_threads: int | None = option(
        None,
        "CPU threads torch may use (default: torch's choice). On a machine shared with other jobs, 1 "
        "avoids oversubscription, which can slow small models down tenfold.",
        group="model",
    )

    # -- environment / data ----------------------------------------------------------------------
    env: str = option("MBPPCodeGen-v0", "Registered code-generation environment id.", group="data")
    env_kwargs: dict[str, Any] = option(
        {}, 'Keyword arguments of gym.make for training, as JSON (e.g. \'{"split": "train"}\').', group="data"
    )
    val_env_kwargs: dict[str, Any] | None = option(
        None,
        "gym.make keyword arguments of the validation environment (same id), as JSON; enables validation "
        'and early stopping. Example: \'{"split": "validation"}\'.',
        group="data",
    )
    max_train_tasks: int | None = option(None, "Use only the first N training tasks.", group="data")
    max_val_tasks: int | None = option(None, "Validate on at most N tasks.", group="data")
    max_length: int = option(1024, "Longest prompt + completion, in tokens.", group="data")
    max_new_tokens: int = option(256, "Longest generated completion, in tokens.", group="data")

    # -- optimisation ----------------------------------------------------------------------------
    learning_rate: float = option(3e-6, "Peak learning rate (AdamW).", group="optim")
    weight_decay: float = option(0.0, "AdamW weight decay.", group="optim")
    lr_scheduler: str = option(
        "linear", "Learning-rate schedule after warm-up.", choices=SCHEDULERS, group="optim"
    )
    warmup_ratio: float = option(0.0, "Fraction of the optimizer steps spent warming up.", group="optim")
    max_grad_norm: float = option(1.0, "Gradient clipping norm (0 disables).", group="optim")
    batch_size: int = option(
        12,
        "Examples per optimizer step (SFT), or tasks per rollout batch (GRPO, PPO).",
        group="optim",
    )
    gradient_accumulation_steps: int = option(
        1, "Split each batch into this many micro-batches whose gradients are summed.", group="optim"
    )
    epochs: int = option(2, "Passes over the training tasks.", group="optim")
    max_steps: int | None = option(
        None, "Stop after this many optimizer steps (overrides epochs).", group="optim"
    )
    seed: int = option(0, "Seed of data order, sampling, LoRA initialisation.", group="optim")

    # -- run, checkpoints, logging ----------------------------------------------------------------
    output_dir: str = option("runs", "Parent directory of the run directory.", group="run")
    run_name: str | None = option(
        None, "Run directory name (default {model}-{dataset}-{method}-{mode}).", group="run"
    )
    resume: str | None = option(
        None,
        "Resume from a checkpoint directory, or 'latest' for the newest checkpoint of this run.",
        group="run",
    )
    save_every: int = option(
        0, "Save a checkpoint every N optimizer steps (0: only at the end).", group="run"
    )
    save_total_limit: int = option(
        2, "Keep at most N step checkpoints (older ones are deleted).", group="run"
    )
    log_every: int = option(1, "Log metrics every N optimizer steps.", group="run")
    report_to: tuple[str, ...] = option(
        ("tensorboard",), "Metric sinks: tensorboard, wandb, none.", choices=REPORTERS, group="run"
    )
    wandb_project: str = option("codegym", "W&B project when report_to includes wandb.", group="run")
    progress: bool = option(True, "Show a progress bar.", group="run")

    # -- validation and early stopping ------------------------------------------------------------
    eval_every: int = option(
        0, "Validate every N optimizer steps (0: at the end of each epoch).", group="val"
    )
    val_samples: int = option(1, "Completions per validation task.", group="val")
    val_temperature: float = option(0.0, "Validation sampling temperature (0: greedy).", group="val")
    early_stopping_patience: int | None = option(
        None, "Stop after N validations without improvement of the validation pass rate.", group="val"
    )
    load_best_at_end: bool = option(
        True,
        "With validation, restore the best validated weights before merging and evaluating.",
        group="val",
    )

    # -- after training ---------------------------------------------------------------------------
    merge_adapters: bool = option(
        True, "Merge LoRA adapters into a standalone model in <run>/merged.", group="final"
    )
    merge_every_epoch: bool = option(False, "Also write a merged model after every epoch.", group="final")
    final_eval: bool = option(True, "Evaluate pass@k after training.", group="final")
    eval_suites: tuple[str, ...] = option(
        ("MBPPCodeGen-v0:test", "HumanEvalCodeGen-v0"),
        "Final evaluation suites as ENV_ID[:split] or ENV_ID:{json kwargs}. Left at the default (MBPP test "
        "and HumanEval), an output-prediction --env is evaluated on its own eval split instead.",
        group="final",
    )
    eval_samples: int = option(15, "Completions per task in the final evaluation.", group="final")
    eval_temperature: float = option(0.2, "Sampling temperature of the final evaluation.", group="final")
    eval_k: tuple[int, ...] = option((1, 5, 10), "The k of pass@k.", group="final")
    eval_max_tasks: int | None = option(None, "Evaluate on at most N tasks per suite.", group="final")
    eval_batch_size: int = option(16, "Prompts per generation call during evaluation.", group="final")

    # ----------------------------------------------------------------------------------------------
    method: typing.ClassVar[str] = "base"

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad option and what to use instead."""
        if not self.model:
            raise ValueError("no model given: pass --model (a Hugging Face id or a local directory)")
        for name in (
            "model_type",
            "finetune",
            "precision",
            "lr_scheduler",
            "bnb_4bit_quant_type",
            "bnb_4bit_compute_dtype",
        ):
            meta = _field_map(type(self))[name].metadata
            if getattr(self, name) not in meta["choices"]:
                raise ValueError(f"{name}={getattr(self, name)!r} is not one of {meta['choices']}")
        bad = [r for r in self.report_to if r not in REPORTERS]
        if bad:
            raise ValueError(f"report_to has unknown sinks {bad}; choose from {REPORTERS}")
        positive = [
            "lora_r",
            "batch_size",
            "gradient_accumulation_steps",
            "epochs",
            "max_length",
            "max_new_tokens",
        ]
        positive += ["log_every", "val_samples", "eval_samples", "eval_batch_size"]
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if self.max_new_tokens >= self.max_length:
            raise ValueError(
                f"max_new_tokens ({self.max_new_tokens}) must be smaller than max_length "
                f"({self.max_length}): the prompt needs room"
            )
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        if not 0 <= self.lora_dropout < 1:
            raise ValueError(f"lora_dropout must be in [0, 1), got {self.lora_dropout}")
        if not 0 <= self.warmup_ratio < 1:
            raise ValueError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"max_steps must be >= 1 or None, got {self.max_steps}")
        if self.early_stopping_patience is not None:
            if self.val_env_kwargs is None:
                raise ValueError(
                    "early_stopping_patience needs a validation set: pass --val-env-kwargs "
                    '(for MBPP: \'{"split": "validation"}\')'
                )
            if self.early_stopping_patience < 1:
                raise ValueError(f"early_stopping_patience must be >= 1, got {self.early_stopping_patience}")
        if self.val_temperature < 0 or self.eval_temperature < 0:
            raise ValueError("val_temperature and eval_temperature must be >= 0")
        for prefix in ("val", "eval"):
            if getattr(self, f"{prefix}_temperature") == 0 and getattr(self, f"{prefix}_samples") > 1:
                raise ValueError(
                    f"{prefix}_temperature=0 is greedy decoding, which gives {prefix}_samples identical "
                    f"completions; set {prefix}_samples=1 or a temperature > 0"
                )
        if any(k < 1 or k > self.eval_samples for k in self.eval_k):
            raise ValueError(
                f"eval_k={self.eval_k} needs every k in [1, eval_samples={self.eval_samples}]; "
                "raise --eval-samples or lower --eval-k"
            )
        for suite in self.eval_suites:
            parse_suite(suite)

    # -- serialisation ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Return the options as plain JSON/YAML types."""
        out = dataclasses.asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}

    @classmethod
    def from_dict(cls: type[C], values: Mapping[str, Any]) -> C:
        """Build a config from a mapping (YAML or JSON); keys may use ``-`` or ``_``.

        Raises:
            ValueError: A key is not an option of this trainer; the message lists the valid ones.

        """
        fields = _field_map(cls)
        kwargs: dict[str, Any] = {}
        for raw_key, value in values.items():
            key = str(raw_key).replace("-", "_")
            if key not in fields:
                raise ValueError(
                    f"unknown option {raw_key!r} for {cls.method}; valid options: {', '.join(sorted(fields))}"
                )
            kwargs[key] = _coerce(value, fields[key], cls)
        return cls(**kwargs)

    @classmethod
    def from_yaml(cls: type[C], path: str | Path, **overrides: Any) -> C:
        """Read options from a YAML file (a flat mapping of option names), then apply ``overrides``."""
        values = load_yaml(path)
        values.update(overrides)
        return cls.from_dict(values)

    def save_yaml(self, path: str | Path) -> None:
        """Write the options to a YAML file that :meth:`from_yaml` reads back."""
        import yaml

        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a flat YAML mapping of options.

    Raises:
        FileNotFoundError: The file does not exist.
        ValueError: It is not a mapping, or PyYAML is missing.

    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} does not exist")
    try:
        import yaml
    except ImportError as exc:  # pragma: no cover - pyyaml is in codegym[train]
        raise ValueError("reading --config needs PyYAML: pip install 'codegym[train]'") from exc
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(
            f"config file {path} must hold a mapping of option names to values, got {type(data).__name__}"
        )
    return data


def parse_suite(spec: str) -> tuple[str, dict[str, Any]]:
    """Parse an evaluation suite ``ENV_ID``, ``ENV_ID:split`` or ``ENV_ID:{json kwargs}``.

    >>> parse_suite("MBPPCodeGen-v0:test")
    ('MBPPCodeGen-v0', {'split': 'test'})
    """
    env_id, sep, rest = spec.partition(":")
    if not env_id:
        raise ValueError(f"evaluation suite {spec!r} has no environment id; use ENV_ID[:split]")
    if not sep or not rest:
        return env_id, {}
    if rest.lstrip().startswith("{"):
        try:
            kwargs = json.loads(rest)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"evaluation suite {spec!r}: the kwargs after ':' are not valid JSON ({exc})"
            ) from None
        if not isinstance(kwargs, dict):
            raise ValueError(f"evaluation suite {spec!r}: the kwargs after ':' must be a JSON object")
        return env_id, kwargs
    return env_id, {"split": rest}


# ------------------------------------------------------------------------------------------------
# Config <-> argparse


def _field_map(cls: type) -> dict[str, dataclasses.Field[Any]]:
    return {f.name: f for f in dataclasses.fields(cls)}


def _resolved_type(cls: type, name: str) -> Any:
    return typing.get_type_hints(cls)[name]


def _strip_optional(tp: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return tp, False


def _coerce(value: Any, f: dataclasses.Field[Any], cls: type) -> Any:
    """Convert a YAML/CLI value to the field's type; error messages name the option."""
    tp, optional = _strip_optional(_resolved_type(cls, f.name))
    if value is None or (optional and isinstance(value, str) and value.lower() in ("none", "null")):
        if optional:
            return None
        raise ValueError(f"option {f.name} cannot be empty")
    origin = typing.get_origin(tp)
    try:
        if tp is bool:
            if isinstance(value, str):
                if value.lower() in ("1", "true", "yes", "on"):
                    return True
                if value.lower() in ("0", "false", "no", "off"):
                    return False
                raise ValueError(value)
            return bool(value)
        if tp is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(value)
        if tp is float:
            return float(value)
        if tp is str:
            return str(value)
        if origin is tuple:
            (item_tp, *_rest) = typing.get_args(tp)
            items = value if isinstance(value, (list, tuple)) else re.split(r"[,\s]+", str(value).strip())
            return tuple(item_tp(v) for v in items if v != "")
        if origin is dict:
            if isinstance(value, str):
                value = json.loads(value)
            if not isinstance(value, dict):
                raise ValueError(value)
            return dict(value)
    except (TypeError, ValueError, json.JSONDecodeError):
        raise ValueError(f"option {f.name}: cannot read {value!r} as {tp}") from None
    return value


def add_config_arguments(parser: argparse.ArgumentParser, cls: type[TrainConfig]) -> None:
    """Add one ``--flag`` per config field, grouped, with the field's help text.

    Defaults are suppressed so that only flags actually given override the YAML file.
    """
    titles = {
        "model": "model and fine-tuning",
        "data": "environment and data",
        "optim": "optimisation",
        "algo": f"{cls.method} algorithm",
        "sft": "SFT stage (before GRPO)",
        "run": "run, checkpoints and logging",
        "val": "validation and early stopping",
        "final": "after training: merge and evaluation",
    }
    groups: dict[str, argparse._ArgumentGroup] = {}
    for f in dataclasses.fields(cls):
        group_name = f.metadata.get("group") or "algo"
        if group_name not in groups:
            groups[group_name] = parser.add_argument_group(titles.get(group_name, group_name))
        group = groups[group_name]
        flag = "--" + f.name.replace("_", "-")
        tp, optional = _strip_optional(_resolved_type(cls, f.name))
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        shown = json.dumps(default) if isinstance(default, dict) else default
        if isinstance(shown, tuple):
            shown = " ".join(map(str, shown))
        help_text = f.metadata.get("help", "")
        if "default" not in help_text and shown not in ("", None):
            help_text += f" (default: {shown})"
        help_text = help_text.replace("%", "%%")
        kwargs: dict[str, Any] = {"dest": f.name, "default": argparse.SUPPRESS, "help": help_text}
        choices = f.metadata.get("choices")
        if tp is bool:
            group.add_argument(flag, action=argparse.BooleanOptionalAction, **kwargs)
            continue
        if typing.get_origin(tp) is tuple:
            kwargs["nargs"] = "+"
            if choices:
                kwargs["choices"] = choices
            kwargs["metavar"] = f.name.upper().rstrip("S") if not choices else None
            if kwargs["metavar"] is None:
                del kwargs["metavar"]
            group.add_argument(flag, **kwargs)
            continue
        if typing.get_origin(tp) is dict:
            kwargs["metavar"] = "JSON"
        elif choices:
            kwargs["choices"] = choices
        elif tp in (int, float) or optional:
            kwargs["metavar"] = {int: "N", float: "X"}.get(tp, "VALUE")
        group.add_argument(flag, **kwargs)


def config_from_args(cls: type[C], args: argparse.Namespace, config_path: str | None = None) -> C:
    """Defaults, then the YAML file at ``config_path``, then the flags present in ``args``."""
    values: dict[str, Any] = load_yaml(config_path) if config_path else {}
    for f in dataclasses.fields(cls):
        if hasattr(args, f.name):
            values[f.name] = getattr(args, f.name)
    return cls.from_dict(values)
