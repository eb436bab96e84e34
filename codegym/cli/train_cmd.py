"""``codegym train {sft,grpo,ppo,pipeline}`` and ``codegym evaluate-model``: the trainer's commands.

The trainers live in :mod:`codegym.training` (one file per algorithm, each starting with its config
dataclass). Their options become flags here, generated from the config fields and their help texts, so
``codegym train grpo --help`` lists every option. The flags of ``sft``/``grpo``/``ppo`` are added only
when that sub-command is parsed, which keeps ``codegym --help`` from importing torch.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import Any

TRAINERS = {
    "sft": ("codegym.training.sft", "SFTConfig", "supervised fine-tuning on the tasks' reference solutions"),
    "grpo": (
        "codegym.training.grpo",
        "GRPOConfig",
        "GRPO: group-relative policy optimisation on execution rewards",
    ),
    "ppo": ("codegym.training.ppo", "PPOConfig", "PPO with a value head, GAE and an adaptive KL penalty"),
    "pipeline": (
        "codegym.training.pipeline",
        "PipelineConfig",
        "the full pipeline in one command: SFT on the reference solutions, then GRPO from the SFT model, "
        "then the final evaluation (runs in <run>/sft and <run>/grpo; the sft-* options set the SFT stage, "
        "every other option is GRPO's and, where shared, SFT's)",
    ),
}

EPILOG = """\
precedence: option defaults < the --config YAML file (a mapping of option names) < flags.

examples:
  codegym train sft  --model codellama/CodeLlama-7b-hf --env MBPPCodeGen-v0 --env-kwargs '{"split": "train"}'
  codegym train grpo --model runs/CodeLlama-7b-hf-mbpp-sft-qlora/model --env MBPPCodeGen-v0 \\
      --env-kwargs '{"split": "train"}' --val-env-kwargs '{"split": "validation"}' --early-stopping-patience 3
  codegym train ppo  --config ppo.yaml --learning-rate 1e-5
  codegym train pipeline --model Qwen/Qwen2.5-0.5B --env CodeOutputPrediction-v0 \\
      --env-kwargs '{"size": 500}' --sft-epochs 1 --max-steps 200
      (output prediction: SFT targets are the expected outputs, rewards use the "unit" preset unless
      --env-kwargs names a "reward", and the evaluation adds exact / close accuracy)
"""


class _LazyParser(argparse.ArgumentParser):
    """An ArgumentParser that adds its arguments the first time it parses (or prints help)."""

    populate: Callable[[argparse.ArgumentParser], None] | None = None

    def _ensure(self) -> None:
        populate, self.populate = self.populate, None
        if populate is not None:
            populate(self)

    def parse_known_args(self, args: Sequence[str] | None = None, namespace: Any = None) -> Any:  # type: ignore[override]
        self._ensure()
        return super().parse_known_args(args, namespace)

    def format_help(self) -> str:
        self._ensure()
        return super().format_help()


def _config_class(method: str) -> type:
    module_name, cls_name, _ = TRAINERS[method]
    return getattr(importlib.import_module(module_name), cls_name)


def _populate(method: str) -> Callable[[argparse.ArgumentParser], None]:
    def populate(parser: argparse.ArgumentParser) -> None:
        from codegym.training.config import add_config_arguments

        parser.add_argument(
            "--config",
            metavar="FILE.yaml",
            default=None,
            help="read options from a YAML file (flags override it)",
        )
        parser.add_argument(
            "--print-config", action="store_true", help="print the resolved options as YAML and exit"
        )
        add_config_arguments(parser, _config_class(method))

    return populate


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``train`` and ``evaluate-model`` commands."""
    train = subparsers.add_parser(
        "train",
        help="fine-tune an LLM policy on a code-generation or output-prediction environment "
        "(SFT, GRPO, PPO, SFT then GRPO; LoRA / QLoRA)",
        description=(
            "Fine-tune a Hugging Face causal or seq2seq model against codegym's execution rewards, "
            "with LoRA, QLoRA (CUDA) or full fine-tuning. Each run writes checkpoints, TensorBoard logs, "
            "a merged model and a pass@k evaluation under <output-dir>/<run-name>/."
        ),
        epilog="Run 'codegym train METHOD --help' for every option of a method.",
    )
    methods = train.add_subparsers(title="methods", metavar="METHOD", parser_class=_LazyParser)
    for method, (_, _, summary) in TRAINERS.items():
        sub = methods.add_parser(
            method,
            help=summary,
            description=f"{summary}. Every option below can also be set in the --config YAML file.",
            epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.populate = _populate(method)
        sub.set_defaults(func=run_train, method=method)
    train.set_defaults(func=lambda args: (train.print_help(), 2)[1])

    ev = subparsers.add_parser(
        "evaluate-model",
        help="pass@k of a trained model (a model directory or LoRA adapters) on code-generation environments",
        description=(
            "Sample completions from a model, run them in the environments' sandboxed tests and report "
            "pass@k (the unbiased estimator) per suite, as a table and as JSON. This is the evaluation "
            "'codegym train' runs after training."
        ),
    )
    ev.add_argument("--model", required=True, help="model directory or hub id, or a LoRA adapter directory")
    ev.add_argument(
        "--base-model", default=None, help="base model of a LoRA adapter (default: the one it records)"
    )
    ev.add_argument(
        "--suites",
        nargs="+",
        default=["MBPPCodeGen-v0:test", "HumanEvalCodeGen-v0"],
        metavar="ENV[:SPLIT]",
        help="environments to evaluate on, as ENV_ID, ENV_ID:split or ENV_ID:{json kwargs} "
        "(default: MBPPCodeGen-v0:test HumanEvalCodeGen-v0)",
    )
    ev.add_argument("--samples", type=int, default=15, help="completions per task (default: 15)")
    ev.add_argument("--temperature", type=float, default=0.2, help="sampling temperature (default: 0.2)")
    ev.add_argument("--k", type=int, nargs="+", default=[1, 5, 10], help="the k of pass@k (default: 1 5 10)")
    ev.add_argument("--max-tasks", type=int, default=None, help="evaluate at most N tasks per suite")
    ev.add_argument("--max-new-tokens", type=int, default=256, help="longest completion (default: 256)")
    ev.add_argument(
        "--max-prompt-tokens", type=int, default=768, help="longer prompts keep their end (default: 768)"
    )
    ev.add_argument("--batch-size", type=int, default=16, help="prompts per generation call (default: 16)")
    ev.add_argument("--seed", type=int, default=0, help="sampling seed (default: 0)")
    ev.add_argument("--device", default="auto", help="torch device (default: cuda if available, else cpu)")
    ev.add_argument(
        "--chat-template",
        default="auto",
        choices=("auto", "on", "off"),
        help="wrap prompts with the tokenizer's chat template (auto: for instruct/chat models that have one)",
    )
    ev.add_argument(
        "--output", default=None, help="write the results JSON (and the samples jsonl beside it) here"
    )
    ev.set_defaults(func=run_evaluate)


def run_train(args: argparse.Namespace) -> int:
    """Resolve the options (defaults < YAML < flags) and run the trainer."""
    from codegym.training.config import config_from_args

    cls = _config_class(args.method)
    cfg = config_from_args(cls, args, args.config)
    if args.print_config:
        import yaml

        print(yaml.safe_dump(cfg.to_dict(), sort_keys=False), end="")
        return 0
    cfg.validate()
    module = importlib.import_module(TRAINERS[args.method][0])
    result = module.train(cfg)
    if args.method == "pipeline":
        print(f"pipeline directory: {result.run_dir}")
        result = result.grpo
    print(f"run directory: {result.run_dir}")
    if result.model_dir is not None:
        print(f"model: {result.model_dir}")
    if result.best_val is not None:
        print(
            f"best validation pass@1: {result.best_val:.3f}"
            + (" (stopped early)" if result.stopped_early else "")
        )
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    """Load the model and print (and optionally write) pass@k per suite."""
    from codegym.training.common import load_pretrained_policy
    from codegym.training.config import parse_suite
    from codegym.training.evaluation import evaluate_policy, format_table

    for suite in args.suites:
        parse_suite(suite)
    bad = [k for k in args.k if not 1 <= k <= args.samples]
    if bad:
        raise ValueError(f"--k {bad} needs at least that many --samples (got {args.samples})")
    if args.temperature == 0 and args.samples > 1:
        raise ValueError("--temperature 0 is greedy and gives identical samples; use --samples 1 --k 1")
    policy = load_pretrained_policy(
        args.model, device=args.device, base_model=args.base_model, chat_template=args.chat_template
    )
    results = evaluate_policy(
        policy,
        args.suites,
        n_samples=args.samples,
        temperature=args.temperature,
        ks=args.k,
        max_tasks=args.max_tasks,
        batch_size=args.batch_size,
        max_new_tokens=args.max_new_tokens,
        max_prompt_tokens=args.max_prompt_tokens,
        seed=args.seed,
        output=args.output,
    )
    print(format_table(results))
    if args.output:
        print(f"results: {args.output}", file=sys.stderr)
    return 0
