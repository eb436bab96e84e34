"""GRPO: group-relative policy optimisation against the environment's execution reward.

For each task of a batch the policy samples a *group* of ``num_generations`` completions; the
environment runs each one and returns its reward. A completion's advantage is its reward relative to
its group, ``A_i = (r_i - mean(r)) / (std(r) + eps)``, so no value network is needed (Shao et al. 2024,
DeepSeekMath). The loss per completion token is

    -min(ratio * A, clip(ratio, 1 - clip_eps, 1 + clip_eps_high) * A) + beta * KL_t,

with ``ratio = pi(token) / pi_old(token)`` (``pi_old``: the policy that sampled the batch) and
``KL_t = exp(ref - logp) - (ref - logp) - 1``, the non-negative k3 estimator of KL(pi || pi_ref). With
LoRA the reference policy ``pi_ref`` is the base model with its adapters disabled; with full
fine-tuning it is a frozen copy of the initial weights.

Run it with ``codegym train grpo --model ... --env ...`` or :func:`train`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch

from codegym.training.common import (
    Throughput,
    completion_logprobs,
    crossed,
    disable_dropout,
    epoch_order,
    load_policy,
    make_optimizer,
    make_scaler,
    masked_mean,
    optimizer_step,
    progress_bar,
    reference_logprobs,
    sample,
)
from codegym.training.config import TrainConfig, option
from codegym.training.envs import EnvTasks, check_valid, reward_summary
from codegym.training.run import Run, TrainResult


@dataclass
class GRPOConfig(TrainConfig):
    """Options of GRPO (plus every option of :class:`TrainConfig`; ``batch_size`` counts tasks)."""

    method: ClassVar[str] = "grpo"

    num_generations: int = option(8, "Completions sampled per task (the group size G).")
    beta: float = option(0.02, "Weight of the KL penalty to the reference policy (0 disables it).")
    clip_eps: float = option(0.2, "PPO-style clipping of the probability ratio, lower side (1 - eps).")
    clip_eps_high: float | None = option(None, "Upper clipping (1 + eps_high); default: clip_eps.")
    temperature: float = option(1.0, "Sampling temperature of the rollouts.")
    update_epochs: int = option(1, "Optimisation passes over each rollout batch (mu in the GRPO paper).")
    num_mini_batches: int = option(1, "Optimizer steps per pass over a rollout batch.")
    scale_rewards: bool = option(True, "Divide advantages by the group's reward standard deviation.")
    loss_type: str = option(
        "grpo",
        "'grpo': mean over each completion's tokens, then over completions; 'token': mean over all "
        "tokens of the batch (DAPO), which does not favour short completions.",
        choices=("grpo", "token"),
    )
    disable_dropout: bool = option(True, "Turn dropout off, so that log-probabilities are deterministic.")
    num_envs: int = option(4, "Environments stepped concurrently when scoring completions.")

    def validate(self) -> None:
        """Check the GRPO options, then the shared ones."""
        super().validate()
        if self.num_generations < 2:
            raise ValueError(
                "num_generations must be >= 2 (advantages are relative to a group), "
                f"got {self.num_generations}"
            )
        if self.temperature <= 0:
            raise ValueError(
                f"temperature must be > 0 for GRPO (the group needs distinct samples), got {self.temperature}"
            )
        for name in ("update_epochs", "num_mini_batches", "num_envs"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.beta < 0 or self.clip_eps <= 0:
            raise ValueError("beta must be >= 0 and clip_eps > 0")
        if self.loss_type not in ("grpo", "token"):
            raise ValueError(f"loss_type must be 'grpo' or 'token', got {self.loss_type!r}")


def group_advantages(
    rewards: torch.Tensor, group_size: int, scale: bool = True, eps: float = 1e-4
) -> torch.Tensor:
    """Advantages relative to each group of ``group_size`` consecutive rewards.

    >>> group_advantages(torch.tensor([1.0, 0.0, 0.0, 0.0]), 4, scale=False)
    tensor([ 0.7500, -0.2500, -0.2500, -0.2500])
    """
    grouped = rewards.view(-1, group_size)
    centred = grouped - grouped.mean(dim=1, keepdim=True)
    if scale:
        centred = centred / (grouped.std(dim=1, keepdim=True) + eps)
    return centred.reshape(-1)


def grpo_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    ref_logprobs: torch.Tensor | None,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    cfg: GRPOConfig,
    total_tokens: int,
    total_sequences: int,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Compute the clipped GRPO objective (to minimise) over one micro-batch.

    Args:
        logprobs: ``[N, C]`` under the current policy (with gradient).
        old_logprobs: ``[N, C]`` under the policy that sampled the rollouts.
        ref_logprobs: ``[N, C]`` under the reference policy (``None`` when ``beta == 0``).
        advantages: ``[N]`` per completion (weight 0 rows contribute nothing).
        mask: ``[N, C]`` completion tokens.
        cfg: Clipping, beta and loss type.
        total_tokens: Tokens of the whole mini-batch (for ``loss_type="token"``).
        total_sequences: Completions of the whole mini-batch (for ``loss_type="grpo"``).

    Returns:
        The loss (already divided so that micro-batch losses sum to the mini-batch loss) and statistics.

    """
    mask = mask.float()
    ratio = torch.exp(logprobs - old_logprobs)
    high = cfg.clip_eps_high if cfg.clip_eps_high is not None else cfg.clip_eps
    adv = advantages.unsqueeze(1)
    unclipped = ratio * adv
    clipped = torch.clamp(ratio, 1.0 - cfg.clip_eps, 1.0 + high) * adv
    per_token = -torch.minimum(unclipped, clipped)
    kl = torch.zeros_like(per_token)
    if ref_logprobs is not None and cfg.beta > 0:
        delta = ref_logprobs - logprobs
        kl = torch.exp(delta) - delta - 1.0
        per_token = per_token + cfg.beta * kl
    if cfg.loss_type == "token":
        loss = (per_token * mask).sum() / max(1, total_tokens)
    else:
        loss = ((per_token * mask).sum(1) / mask.sum(1).clamp(min=1.0)).sum() / max(1, total_sequences)
    with torch.no_grad():
        is_clipped = ((ratio < 1.0 - cfg.clip_eps) & (adv < 0)) | ((ratio > 1.0 + high) & (adv > 0))
        stats = {
            "kl": float(masked_mean(kl, mask)),
            "clip_fraction": float(masked_mean(is_clipped.float(), mask)),
            "ratio": float(masked_mean(ratio, mask)),
        }
    return loss, stats


def train(cfg: GRPOConfig) -> TrainResult:
    """Train ``cfg.model`` with GRPO on the tasks of ``cfg.env``."""
    cfg.validate()
    tasks = EnvTasks(cfg.env, cfg.env_kwargs, max_tasks=cfg.max_train_tasks, num_envs=cfg.num_envs)
    policy = load_policy(cfg, with_reference=cfg.beta > 0)
    if cfg.disable_dropout:
        disable_dropout(policy.model)
    run = Run(cfg, policy)
    G = cfg.num_generations
    print(f"[grpo] {run.name}: {len(tasks)} tasks, {cfg.batch_size} tasks x {G} samples per rollout batch")

    batches_per_epoch = math.ceil(len(tasks) / cfg.batch_size)
    updates_per_batch = cfg.update_epochs * cfg.num_mini_batches
    total_steps = cfg.max_steps or cfg.epochs * batches_per_epoch * updates_per_batch
    params = policy.trainable_parameters()
    optimizer, scheduler = make_optimizer(params, cfg, total_steps)
    scaler = make_scaler(policy)
    state = run.resume(optimizer, scheduler, scaler) or {"step": 0, "epoch": 0, "batch": 0}
    step, position = state["step"], {"epoch": state["epoch"], "batch": state["batch"]}
    bar = progress_bar(total_steps, f"grpo {run.name}", cfg.progress, initial=step)
    speed = Throughput()
    stopped_early = False

    for epoch in range(state["epoch"], cfg.epochs):
        order = epoch_order(len(tasks), cfg.seed, epoch)
        first_batch = state["batch"] if epoch == state["epoch"] else 0
        for b in range(first_batch, batches_per_epoch):
            if step >= total_steps:
                break
            rollout_index = epoch * batches_per_epoch + b
            steps_before = step
            task_ids = [tasks.task_ids[i] for i in order[b * cfg.batch_size : (b + 1) * cfg.batch_size]]

            # -- 1. rollouts: G samples per task, scored by the environment --------------------------------
            rollout = sample(
                policy,
                tasks.prompts(task_ids),
                n=G,
                temperature=cfg.temperature,
                max_new_tokens=cfg.max_new_tokens,
                max_prompt_tokens=run.max_prompt_tokens,
                seed=cfg.seed * 1_000_003 + rollout_index,
            )
            scored = tasks.score([task_ids[i] for i in rollout.prompt_index], rollout.texts)
            check_valid(scored)
            rewards = torch.tensor([s.reward for s in scored], dtype=torch.float32, device=policy.device)
            valid = torch.tensor([s.valid for s in scored], dtype=torch.bool, device=policy.device)
            # An engine failure says nothing about the completion: give it the group mean (advantage 0).
            grouped, valid_g = (rewards * valid).view(-1, G), valid.view(-1, G).float()
            group_mean = (grouped.sum(1, keepdim=True) / valid_g.sum(1, keepdim=True).clamp(min=1.0)).expand(
                -1, G
            )
            group_mean = group_mean.reshape(-1)
            rewards = torch.where(valid, rewards, group_mean)
            advantages = group_advantages(rewards, G, cfg.scale_rewards)
            speed.add(int(rollout.completion_mask.sum()))

            # -- 2. log-probabilities of the sampling policy and of the reference --------------------------
            n = len(rollout)
            micro = max(1, math.ceil(n / cfg.num_mini_batches / cfg.gradient_accumulation_steps))
            # With one optimizer step per batch the weights that score the completions in the update are
            # those that sampled them, so the update's own (detached) log-probabilities serve as "old".
            single_update = cfg.update_epochs == 1 and cfg.num_mini_batches == 1
            old_logprobs = (
                None if single_update else torch.zeros_like(rollout.completion_mask, dtype=torch.float32)
            )
            ref_logprobs = (
                torch.zeros_like(rollout.completion_mask, dtype=torch.float32) if cfg.beta > 0 else None
            )
            with torch.no_grad():
                for start in range(0, n, micro):
                    rows = list(range(start, min(n, start + micro)))
                    part = rollout.select(rows)
                    width = part.completion_ids.shape[1]
                    if old_logprobs is not None:
                        old_logprobs[rows, :width] = completion_logprobs(
                            policy.model, policy, part, temperature=cfg.temperature
                        )[0]
                    if ref_logprobs is not None:
                        ref_logprobs[rows, :width] = reference_logprobs(policy, part, cfg.temperature)

            # -- 3. optimisation: update_epochs passes, num_mini_batches optimizer steps each ---------------
            policy.model.train()
            generator = torch.Generator().manual_seed(cfg.seed * 7_919 + rollout_index)
            stats: dict[str, list[float]] = {
                "loss": [],
                "kl": [],
                "clip_fraction": [],
                "ratio": [],
                "grad_norm": [],
            }
            for _ in range(cfg.update_epochs):
                permutation = torch.randperm(n, generator=generator).tolist()
                mb_size = math.ceil(n / cfg.num_mini_batches)
                for mb_start in range(0, n, mb_size):
                    if step >= total_steps:
                        break
                    mb_rows = permutation[mb_start : mb_start + mb_size]
                    mb_tokens = int(rollout.completion_mask[mb_rows].sum())
                    mb_loss = 0.0
                    for start in range(0, len(mb_rows), micro):
                        rows = mb_rows[start : start + micro]
                        part = rollout.select(rows)
                        width = part.completion_ids.shape[1]
                        logprobs, _ = completion_logprobs(
                            policy.model, policy, part, temperature=cfg.temperature
                        )
                        loss, s = grpo_loss(
                            logprobs,
                            old_logprobs[rows, :width] if old_logprobs is not None else logprobs.detach(),
                            ref_logprobs[rows, :width] if ref_logprobs is not None else None,
                            advantages[rows],
                            part.completion_mask,
                            cfg,
                            total_tokens=mb_tokens,
                            total_sequences=len(mb_rows),
                        )
                        scaler.scale(loss).backward()
                        mb_loss += float(loss.detach())
                        for key in ("kl", "clip_fraction", "ratio"):
                            stats[key].append(s[key])
                        speed.add(int(part.prompt_mask.sum()) + int(part.completion_mask.sum()))
                    stats["grad_norm"].append(
                        optimizer_step(policy, params, optimizer, scheduler, scaler, cfg.max_grad_norm)
                    )
                    stats["loss"].append(mb_loss)
                    step += 1
                    bar.update(1)

            # -- 4. logging, validation, checkpoints ---------------------------------------------------------
            end_of_epoch = b == batches_per_epoch - 1
            position = {"epoch": epoch + int(end_of_epoch), "batch": 0 if end_of_epoch else b + 1}
            zero_std = float((rewards.view(-1, G).std(1) == 0).float().mean())
            bar.set_postfix(
                reward=f"{float(rewards.mean()):.3f}", pass_rate=f"{sum(s.passed for s in scored) / n:.2f}"
            )
            if crossed(step, steps_before, cfg.log_every):
                metrics = {f"train/{k}": sum(v) / len(v) for k, v in stats.items() if v}
                metrics.update(reward_summary(scored))
                metrics.update(
                    {
                        "train/lr": scheduler.get_last_lr()[0],
                        "train/epoch": epoch + (b + 1) / batches_per_epoch,
                        "train/completion_tokens": float(rollout.completion_mask.sum(1).float().mean()),
                        "train/zero_std_groups": zero_std,
                        "perf/tokens_per_s": speed.rate(),
                    }
                )
                run.logger.log(metrics, step)
            if run.should_validate(step, end_of_epoch, steps_before):
                run.validate(step)
            if cfg.save_every and crossed(step, steps_before, cfg.save_every):
                run.save(step, optimizer, scheduler, scaler, position)
            if run.should_stop:
                stopped_early = True
                break
        if position["epoch"] > epoch:  # the epoch's last batch ran
            run.end_epoch(epoch)
        if stopped_early or step >= total_steps:
            break
    bar.close()
    tasks.close()
    run.save(step, optimizer, scheduler, scaler, position)
    return run.finish(step, stopped_early)


__all__ = ["GRPOConfig", "group_advantages", "grpo_loss", "train"]
