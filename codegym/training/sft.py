"""Supervised fine-tuning on reference solutions: prompt -> solution, loss on the completion tokens only.

The training pairs come from the environment itself: the prompt is the observation of
``reset(options={"task_id": ...})`` and the target is the task's reference solution, written the way the
prompt style expects it (for completion-style prompts such as HumanEval's, the part after the prompt).
With ``verify_references`` every target is first stepped through the environment, and only targets the
environment accepts (every hidden test passes) are kept, so the model is never taught a wrong answer or
a format the post-processing cannot read.

Run it with ``codegym train sft --model ... --env ...`` or :func:`train`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from codegym.training.common import (
    Policy,
    Rollout,
    Throughput,
    completion_logprobs,
    encode_completions,
    encode_prompts,
    epoch_order,
    load_policy,
    make_optimizer,
    make_scaler,
    optimizer_step,
    progress_bar,
)
from codegym.training.config import TrainConfig, option
from codegym.training.envs import EnvTasks
from codegym.training.run import Run, TrainResult


@dataclass
class SFTConfig(TrainConfig):
    """Options of supervised fine-tuning (plus every option of :class:`TrainConfig`)."""

    method: ClassVar[str] = "sft"

    verify_references: bool = option(
        True, "Step each reference solution through the environment and train only on those it accepts."
    )
    num_envs: int = option(4, "Environments stepped concurrently when verifying references and validating.")


@dataclass(frozen=True)
class Example:
    """One SFT pair: the environment's prompt and the target completion."""

    task_id: str
    prompt: str
    target: str


def target_for(prompt: str, reference: str) -> str:
    """Return the completion that answers ``prompt`` with ``reference``.

    For completion-style prompts (the reference solution starts with the prompt, as HumanEval's
    ``prompt + canonical_solution`` does) the target is the continuation; otherwise the whole program.
    """
    if reference.startswith(prompt):
        return reference[len(prompt) :]
    stripped = prompt.rstrip()
    if stripped and reference.startswith(stripped):
        return reference[len(stripped) :]
    return reference


def build_examples(tasks: EnvTasks, verify: bool = True) -> tuple[list[Example], int]:
    """SFT pairs for every task with a reference solution.

    Returns:
        ``(examples, rejected)``: the pairs, and how many references the environment rejected.

    Raises:
        ValueError: No task has a usable reference solution.

    """
    candidates = []
    for task in tasks.tasks:
        if task.reference_solution.strip():
            prompt = tasks.prompt(task.task_id)
            candidates.append(Example(task.task_id, prompt, target_for(prompt, task.reference_solution)))
    rejected = 0
    if verify and candidates:
        scored = tasks.score([e.task_id for e in candidates], [e.target for e in candidates])
        kept = [e for e, s in zip(candidates, scored, strict=True) if s.passed]
        rejected = len(candidates) - len(kept)
        candidates = kept
    if not candidates:
        raise ValueError(
            f"no usable reference solution among the {len(tasks)} tasks of {tasks.env_id} "
            f"({rejected} rejected by the environment); SFT needs tasks with reference solutions"
        )
    return candidates, rejected


def sft_batch(policy: Policy, examples: list[Example], max_length: int) -> Rollout:
    """Tokenize prompts (left-padded for causal models) and targets (right-padded, with eos).

    The target keeps at most ``max_length - prompt length`` tokens (causal models) so that each
    sequence fits ``max_length``; a seq2seq target gets ``max_length`` minus the longest prompt.
    """
    prompt_ids, prompt_mask, _ = encode_prompts(policy, [e.prompt for e in examples], max_length - 1)
    room = max(1, max_length - prompt_ids.shape[1])
    completion_ids, completion_mask = encode_completions(policy, [e.target for e in examples], room)
    return Rollout(prompt_ids, prompt_mask, completion_ids, completion_mask)


def train(cfg: SFTConfig) -> TrainResult:
    """Fine-tune ``cfg.model`` on the reference solutions of ``cfg.env``'s tasks."""
    cfg.validate()
    # -- data and model --------------------------------------------------------------------------------
    tasks = EnvTasks(cfg.env, cfg.env_kwargs, max_tasks=cfg.max_train_tasks, num_envs=cfg.num_envs)
    examples, rejected = build_examples(tasks, cfg.verify_references)
    tasks.close()
    policy = load_policy(cfg)
    run = Run(cfg, policy)
    lengths = [
        len(ids) + len(target) + 1
        for ids, target in zip(
            policy.tokenizer([e.prompt for e in examples])["input_ids"],
            policy.tokenizer([e.target for e in examples], add_special_tokens=False)["input_ids"],
            strict=True,
        )
    ]
    too_long = sum(length > cfg.max_length for length in lengths)
    print(
        f"[sft] {run.name}: {len(examples)} examples ({rejected} references rejected by the environment"
        + (f"; {too_long} longer than max_length={cfg.max_length} are cut" if too_long else "")
        + ")"
    )

    steps_per_epoch = math.ceil(len(examples) / cfg.batch_size)
    total_steps = cfg.max_steps or cfg.epochs * steps_per_epoch
    params = policy.trainable_parameters()
    optimizer, scheduler = make_optimizer(params, cfg, total_steps)
    scaler = make_scaler(policy)
    state = run.resume(optimizer, scheduler, scaler) or {"step": 0, "epoch": 0, "batch": 0}
    step = state["step"]

    # -- the loop --------------------------------------------------------------------------------------
    bar = progress_bar(total_steps, f"sft {run.name}", cfg.progress, initial=step)
    speed = Throughput()
    stopped_early = False
    position = {"epoch": state["epoch"], "batch": state["batch"]}
    policy.model.train()
    for epoch in range(state["epoch"], cfg.epochs):
        order = epoch_order(len(examples), cfg.seed, epoch)
        first_batch = state["batch"] if epoch == state["epoch"] else 0
        for b in range(first_batch, steps_per_epoch):
            if step >= total_steps:
                break
            batch_examples = [examples[i] for i in order[b * cfg.batch_size : (b + 1) * cfg.batch_size]]
            # Loss: mean negative log-likelihood over every target token of the whole batch, so that
            # gradient accumulation over micro-batches equals one large batch.
            micro = math.ceil(len(batch_examples) / cfg.gradient_accumulation_steps)
            chunks = [
                sft_batch(policy, batch_examples[i : i + micro], cfg.max_length)
                for i in range(0, len(batch_examples), micro)
            ]
            n_tokens = sum(int(c.completion_mask.sum()) for c in chunks)
            total_loss = 0.0
            for chunk in chunks:
                logprobs, _ = completion_logprobs(policy.model, policy, chunk)
                loss = -logprobs.sum() / n_tokens
                scaler.scale(loss).backward()
                total_loss += float(loss.detach())
                speed.add(int(chunk.prompt_mask.sum()) + int(chunk.completion_mask.sum()))
            grad_norm = optimizer_step(policy, params, optimizer, scheduler, scaler, cfg.max_grad_norm)
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{total_loss:.4f}")
            if step % cfg.log_every == 0:
                run.logger.log(
                    {
                        "train/loss": total_loss,
                        "train/grad_norm": grad_norm,
                        "train/lr": scheduler.get_last_lr()[0],
                        "train/epoch": epoch + (b + 1) / steps_per_epoch,
                        "perf/tokens_per_s": speed.rate(),
                    },
                    step,
                )
            end_of_epoch = b == steps_per_epoch - 1
            position = {"epoch": epoch + int(end_of_epoch), "batch": 0 if end_of_epoch else b + 1}
            if run.should_validate(step, end_of_epoch):
                run.validate(step)
                policy.model.train()
            if cfg.save_every and step % cfg.save_every == 0:
                run.save(step, optimizer, scheduler, scaler, position)
            if run.should_stop:
                stopped_early = True
                break
        if position["epoch"] > epoch:  # the epoch's last batch ran
            run.end_epoch(epoch)
        if stopped_early or step >= total_steps:
            break
    bar.close()
    run.save(step, optimizer, scheduler, scaler, position)
    return run.finish(step, stopped_early)
