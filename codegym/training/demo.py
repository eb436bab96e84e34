"""Proof that the trainer learns: a tiny model, SFT on procedural tasks, then GRPO on execution rewards.

:func:`run_demo` builds a small Llama-architecture model from scratch (random weights, the tiny local
tokenizer of :mod:`codegym.backends.tiny`), fine-tunes it with :mod:`codegym.training.sft` on the
reference solutions of procedural function-synthesis tasks (:mod:`codegym.tasks.procedural`), then
trains it further with :mod:`codegym.training.grpo` against the environment's binary execution reward
(1 when every hidden test passes). The pass rate on *held-out* tasks is measured before SFT, after SFT
and after GRPO, in the same run.

Held-out means: the eval split of the procedural suite, whose problems (family, constants, names) are
disjoint from the training split's by construction; :func:`check_no_leak` also verifies that no
held-out problem appears among the training tasks and that no hidden test appears in any prompt (the
prompt shows one *visible* test whose input differs from the hidden ones).

``examples/train_grpo_tiny.py`` runs the full demonstration; ``tests/training/test_learning.py`` runs a
shorter one in CI.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class DemoConfig:
    """Settings of the learning demonstration (defaults: the example's full run, a few minutes on one core).

    Attributes:
        output_dir: Where the model, the runs and ``demo_results.json`` go.
        seed: Seed of the tasks, the model initialisation and the trainers.
        families: Procedural families to draw tasks from.
        phrasing_groups: Phrasing groups of the task descriptions.
        train_tasks: Training tasks (SFT pairs and GRPO prompts).
        eval_tasks: Held-out tasks (eval split).
        hidden_size: Width of the tiny model.
        num_layers: Its depth.
        sft_steps: SFT optimizer steps (batch ``sft_batch_size``).
        sft_batch_size: SFT examples per step.
        sft_lr: SFT learning rate.
        grpo_steps: GRPO optimizer steps (one per rollout batch).
        grpo_batch_size: Tasks per GRPO rollout batch.
        num_generations: GRPO group size.
        grpo_lr: GRPO learning rate.
        grpo_finetune: ``"full"`` or ``"lora"`` for the GRPO stage.
        temperature: GRPO sampling temperature (also the sampled evaluation's).
        beta: GRPO KL weight.
        eval_samples: Sampled completions per held-out task for the sampled pass rate.
        max_new_tokens: Longest completion.
        num_threads: torch CPU threads (1 avoids oversubscription on shared machines).
        progress: Show progress bars.

    """

    output_dir: str = "runs/demo"
    seed: int = 0
    families: tuple[str, ...] = ("add_k", "subtract_k", "multiply_k")
    phrasing_groups: tuple[str, ...] = ("A", "B", "C", "D", "E", "F")
    train_tasks: int = 400
    eval_tasks: int = 60
    hidden_size: int = 128
    num_layers: int = 2
    sft_steps: int = 150
    sft_batch_size: int = 16
    sft_lr: float = 3e-3
    grpo_steps: int = 40
    grpo_batch_size: int = 8
    num_generations: int = 8
    grpo_lr: float = 3e-4
    grpo_finetune: str = "full"
    temperature: float = 0.7
    beta: float = 0.02
    eval_samples: int = 8
    max_new_tokens: int = 32
    num_threads: int | None = 1
    progress: bool = False


@dataclass
class Measurement:
    """Held-out pass rates of one model: greedy pass@1 and pass@1 sampled at the GRPO temperature."""

    stage: str
    greedy_pass_at_1: float
    sampled_pass_at_1: float
    mean_reward: float
    seconds: float


@dataclass
class DemoResult:
    """The numbers of one demonstration run (also written to ``demo_results.json``)."""

    config: dict[str, Any]
    measurements: list[Measurement] = field(default_factory=list)
    sft_run: str = ""
    grpo_run: str = ""
    seconds: float = 0.0

    def stage(self, name: str) -> Measurement:
        """Return the measurement of stage ``name`` (``"base"``, ``"sft"``, ``"grpo"``)."""
        return next(m for m in self.measurements if m.stage == name)

    def table(self) -> str:
        """Format the measurements as a small table."""
        rows = [f"{'stage':<6} {'greedy pass@1':>14} {'sampled pass@1':>15} {'mean reward':>12}"]
        for m in self.measurements:
            rows.append(
                f"{m.stage:<6} {100 * m.greedy_pass_at_1:>13.1f}% {100 * m.sampled_pass_at_1:>14.1f}% "
                f"{m.mean_reward:>12.3f}"
            )
        return "\n".join(rows)


def build_tiny_causal_lm(
    directory: str | Path, hidden_size: int = 128, num_layers: int = 2, seed: int = 0
) -> Path:
    """Save a freshly initialised small ``LlamaForCausalLM`` (standard init) with the tiny local tokenizer.

    Unlike :func:`codegym.backends.tiny.tiny_llama_path` (weights drawn wide so that *untrained* output
    varies, for tests of generation), this model uses the usual initialisation, which trains well.
    """
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from codegym.backends.tiny import tiny_llama_path

    directory = Path(directory)
    if (directory / "config.json").is_file():
        return directory
    tokenizer = AutoTokenizer.from_pretrained(tiny_llama_path())
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=True,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def check_no_leak(train: Sequence[Any], held_out: Sequence[Any], prompts: Mapping[str, str]) -> None:
    """Raise if a held-out problem is among the training tasks or a hidden test shows in a prompt.

    Args:
        train: The training tasks.
        held_out: The held-out tasks.
        prompts: The prompt the environment shows for each task id (both sets).

    """
    train_keys = {t.metadata.get("content_key") for t in train}
    shared = [t.task_id for t in held_out if t.metadata.get("content_key") in train_keys]
    if shared:
        raise AssertionError(f"held-out tasks {shared[:3]} also appear in the training tasks")
    for task in [*train, *held_out]:
        prompt = prompts[task.task_id]
        leaked = [test for test in task.tests if test.strip() in prompt]
        if leaked:
            raise AssertionError(f"task {task.task_id}: hidden test {leaked[0]!r} appears in its prompt")


def run_demo(cfg: DemoConfig) -> DemoResult:
    """Run base -> SFT -> GRPO and measure the held-out pass rate after each stage."""
    import torch

    from codegym.tasks.procedural import load_synthesis_tasks
    from codegym.training.common import load_pretrained_policy
    from codegym.training.envs import EnvTasks
    from codegym.training.evaluation import evaluate_tasks
    from codegym.training.grpo import GRPOConfig
    from codegym.training.grpo import train as train_grpo
    from codegym.training.sft import SFTConfig
    from codegym.training.sft import train as train_sft

    start = time.perf_counter()
    if cfg.num_threads is not None:
        torch.set_num_threads(cfg.num_threads)
    out = Path(cfg.output_dir)
    options = {"families": cfg.families, "phrasing_groups": cfg.phrasing_groups}
    train_tasks = load_synthesis_tasks("train", size=cfg.train_tasks, seed=cfg.seed, **options)
    held_out = load_synthesis_tasks("eval", size=cfg.eval_tasks, seed=cfg.seed, **options)
    env_kwargs = {"tasks": train_tasks, "reward": "binary"}
    evaluation = EnvTasks("MBPPCodeGen-v0", {"tasks": held_out, "reward": "binary"}, num_envs=2)
    training = EnvTasks("MBPPCodeGen-v0", env_kwargs, num_envs=1)
    prompts = dict(zip(training.task_ids, training.prompts(training.task_ids), strict=True))
    prompts.update(zip(evaluation.task_ids, evaluation.prompts(evaluation.task_ids), strict=True))
    training.close()
    check_no_leak(train_tasks, held_out, prompts)
    max_length = 192
    result = DemoResult(config=asdict(cfg))

    def measure(stage: str, model_dir: Path) -> None:
        t0 = time.perf_counter()
        policy = load_pretrained_policy(str(model_dir), device="cpu")
        common = {"max_new_tokens": cfg.max_new_tokens, "max_prompt_tokens": max_length - cfg.max_new_tokens}
        greedy = evaluate_tasks(
            policy, evaluation, n_samples=1, temperature=0.0, ks=(1,), batch_size=64, **common
        )
        sampled = evaluate_tasks(
            policy,
            evaluation,
            n_samples=cfg.eval_samples,
            temperature=cfg.temperature,
            ks=(1,),
            batch_size=16,
            seed=cfg.seed + 1,
            **common,
        )
        m = Measurement(
            stage,
            greedy.pass_at_k["pass@1"],
            sampled.pass_at_k["pass@1"],
            sampled.mean_reward,
            time.perf_counter() - t0,
        )
        result.measurements.append(m)
        if cfg.progress:
            print(
                f"[demo] {stage}: greedy {m.greedy_pass_at_1:.3f}, sampled {m.sampled_pass_at_1:.3f}",
                flush=True,
            )

    shared = {
        "env": "MBPPCodeGen-v0",
        "env_kwargs": env_kwargs,
        "device": "cpu",
        "num_threads": cfg.num_threads,
        "seed": cfg.seed,
        "max_new_tokens": cfg.max_new_tokens,
        "max_length": max_length,
        "report_to": ("tensorboard",),
        "final_eval": False,
        "progress": cfg.progress,
        "output_dir": str(out),
        "num_envs": 2,
    }
    base = build_tiny_causal_lm(out / "base-model", cfg.hidden_size, cfg.num_layers, cfg.seed)
    measure("base", base)

    sft = train_sft(
        SFTConfig(
            model=str(base),
            finetune="full",
            run_name="tiny-synthesis-sft-full",
            learning_rate=cfg.sft_lr,
            lr_scheduler="cosine",
            warmup_ratio=0.05,
            batch_size=cfg.sft_batch_size,
            epochs=10_000,
            max_steps=cfg.sft_steps,
            **shared,
        )
    )
    result.sft_run = str(sft.run_dir)
    measure("sft", sft.model_dir)

    grpo = train_grpo(
        GRPOConfig(
            model=str(sft.model_dir),
            finetune=cfg.grpo_finetune,
            run_name=f"tiny-synthesis-grpo-{cfg.grpo_finetune}",
            learning_rate=cfg.grpo_lr,
            lr_scheduler="linear",
            lora_r=16,
            lora_alpha=32,
            batch_size=cfg.grpo_batch_size,
            num_generations=cfg.num_generations,
            temperature=cfg.temperature,
            beta=cfg.beta,
            epochs=10_000,
            max_steps=cfg.grpo_steps,
            **shared,
        )
    )
    result.grpo_run = str(grpo.run_dir)
    measure("grpo", grpo.model_dir)
    evaluation.close()
    result.seconds = time.perf_counter() - start
    (out / "demo_results.json").write_text(json.dumps(asdict(result), indent=2) + "\n")
    return result
