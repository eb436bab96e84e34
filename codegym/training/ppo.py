"""PPO with a value head, GAE and an adaptive KL penalty (Ziegler et al. 2019; Ouyang et al. 2022).

The policy samples a completion per task; the environment's reward arrives at the completion's last
token. Each token also pays ``kl_coef * (logp - ref_logp)``, a per-token estimate of the KL divergence
from the reference policy (the base model with the LoRA adapters disabled, or a frozen copy for full
fine-tuning). A value head (one linear layer on the policy's last hidden state) estimates the return
at each token; advantages come from GAE over the tokens (``advantage="gae"``) or from one
sequence-level estimate ``R - V(prompt)`` shared by every token (``advantage="sequence"``). The loss is
PPO's clipped surrogate plus ``vf_coef`` times the clipped value loss. After each rollout batch the
KL coefficient moves toward ``target_kl`` (``kl_control="adaptive"``) or stays fixed.

Note: TRL removed its ``PPOTrainer``; this file is self-contained.

Run it with ``codegym train ppo --model ... --env ...`` or :func:`train`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

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
class PPOConfig(TrainConfig):
    """Options of PPO (plus every option of :class:`TrainConfig`; ``batch_size`` counts tasks)."""

    method: ClassVar[str] = "ppo"

    ppo_epochs: int = option(2, "Optimisation passes over each rollout batch.")
    num_mini_batches: int = option(1, "Optimizer steps per pass over a rollout batch.")
    samples_per_task: int = option(1, "Completions sampled per task in a rollout batch.")
    clip_eps: float = option(0.15, "Clipping of the probability ratio (1 +- eps).")
    value_clip: float = option(0.2, "Clipping of the value change per update (0 disables).")
    vf_coef: float = option(0.1, "Weight of the value loss.")
    gamma: float = option(1.0, "Discount over completion tokens.")
    lam: float = option(0.95, "GAE lambda.")
    advantage: str = option(
        "gae",
        "'gae': per-token GAE; 'sequence': one advantage R - V(prompt) for the whole completion.",
        choices=("gae", "sequence"),
    )
    whiten_advantages: bool = option(True, "Normalise advantages to mean 0, std 1 over the batch's tokens.")
    kl_control: str = option(
        "adaptive",
        "'adaptive': move kl_coef so the per-completion KL to the reference approaches target_kl; 'fixed'.",
        choices=("adaptive", "fixed"),
    )
    init_kl_coef: float = option(
        0.05, "Initial KL penalty coefficient (0 with 'fixed' disables the reference)."
    )
    target_kl: float = option(0.3, "Target KL(policy || reference) per completion, in nats, for 'adaptive'.")
    kl_horizon: int = option(10_000, "Horizon of the adaptive KL controller, in completions.")
    early_stop_kl: float | None = option(
        None, "Stop a batch's update epochs once the approximate KL(old || new) per token exceeds this."
    )
    value_head_lr: float | None = option(None, "Learning rate of the value head (default: learning_rate).")
    temperature: float = option(1.0, "Sampling temperature of the rollouts.")
    disable_dropout: bool = option(True, "Turn dropout off, so that log-probabilities are deterministic.")
    num_envs: int = option(4, "Environments stepped concurrently when scoring completions.")

    def validate(self) -> None:
        """Check the PPO options, then the shared ones."""
        super().validate()
        for name in ("ppo_epochs", "num_mini_batches", "samples_per_task", "num_envs", "kl_horizon"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.clip_eps <= 0 or self.target_kl <= 0 or self.temperature <= 0:
            raise ValueError("clip_eps, target_kl and temperature must be > 0")
        if not 0 <= self.lam <= 1 or not 0 <= self.gamma <= 1:
            raise ValueError(f"gamma and lam must be in [0, 1], got gamma={self.gamma}, lam={self.lam}")
        if self.advantage not in ("gae", "sequence") or self.kl_control not in ("adaptive", "fixed"):
            raise ValueError("advantage must be 'gae' or 'sequence'; kl_control 'adaptive' or 'fixed'")


class ValueHead(nn.Module):
    """``V(s_t)`` from the last hidden state: one linear layer, zero-initialised (every value starts at 0)."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.summary = nn.Linear(hidden_size, 1)
        nn.init.zeros_(self.summary.weight)
        nn.init.zeros_(self.summary.bias)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """``[N, C, H] -> [N, C]`` (computed in fp32)."""
        return self.summary(hidden.float()).squeeze(-1)


class AdaptiveKLController:
    """Ziegler et al.'s proportional KL controller.

    After each batch: ``kl_coef *= 1 + clip(KL / target - 1, -0.2, 0.2) * n / horizon``.
    """

    def __init__(self, init_coef: float, target: float, horizon: int, adaptive: bool = True) -> None:
        self.value = init_coef
        self.target = target
        self.horizon = horizon
        self.adaptive = adaptive

    def update(self, current_kl: float, n_completions: int) -> None:
        """Move the coefficient after a batch of ``n_completions`` with mean KL ``current_kl``."""
        if not self.adaptive:
            return
        error = min(max(current_kl / self.target - 1.0, -0.2), 0.2)
        self.value *= 1.0 + error * n_completions / self.horizon


def gae(
    rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float, lam: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation over completion tokens.

    Args:
        rewards: ``[N, C]`` per-token rewards.
        values: ``[N, C]`` value estimates ``V(s_t)``.
        mask: ``[N, C]``; each row's valid tokens are a prefix (``mask`` 1).
        gamma: Discount.
        lam: GAE lambda.

    Returns:
        ``(advantages, returns)``, 0 on padding.

    >>> adv, ret = gae(torch.tensor([[0.0, 1.0]]), torch.zeros(1, 2), torch.ones(1, 2), 1.0, 1.0)
    >>> adv.tolist(), ret.tolist()
    ([[1.0, 1.0]], [[1.0, 1.0]])

    """
    mask = mask.float()
    n_tokens = rewards.shape[1]
    advantages = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[:, 0])
    for t in reversed(range(n_tokens)):
        next_mask = mask[:, t + 1] if t + 1 < n_tokens else torch.zeros_like(running)
        next_value = values[:, t + 1] * next_mask if t + 1 < n_tokens else torch.zeros_like(running)
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        running = delta + gamma * lam * next_mask * running
        advantages[:, t] = running
    advantages = advantages * mask
    return advantages, (advantages + values) * mask


def whiten(values: torch.Tensor, mask: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Normalise the masked entries to mean 0 and standard deviation 1."""
    mean = masked_mean(values, mask)
    var = masked_mean((values - mean) ** 2, mask)
    return (values - mean) * torch.rsqrt(var + eps) * mask


def ppo_loss(
    logprobs: torch.Tensor,
    values: torch.Tensor,
    old_logprobs: torch.Tensor,
    old_values: torch.Tensor,
    advantages: torch.Tensor,
    returns: torch.Tensor,
    policy_mask: torch.Tensor,
    value_mask: torch.Tensor,
    cfg: PPOConfig,
    total_policy_tokens: int,
    total_value_tokens: int,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Compute PPO's clipped surrogate plus the clipped value loss over one micro-batch.

    Sums are divided by the mini-batch's token counts, so that micro-batch losses add up to the
    mini-batch loss.
    """
    policy_mask, value_mask = policy_mask.float(), value_mask.float()
    log_ratio = logprobs - old_logprobs
    ratio = torch.exp(log_ratio)
    pg = torch.maximum(
        -advantages * ratio, -advantages * torch.clamp(ratio, 1 - cfg.clip_eps, 1 + cfg.clip_eps)
    )
    pg_loss = (pg * policy_mask).sum() / max(1, total_policy_tokens)
    v_loss_unclipped = (values - returns) ** 2
    if cfg.value_clip > 0:
        v_clipped = old_values + torch.clamp(values - old_values, -cfg.value_clip, cfg.value_clip)
        v_loss = 0.5 * torch.maximum(v_loss_unclipped, (v_clipped - returns) ** 2)
    else:
        v_loss = 0.5 * v_loss_unclipped
    vf_loss = (v_loss * value_mask).sum() / max(1, total_value_tokens)
    loss = pg_loss + cfg.vf_coef * vf_loss
    with torch.no_grad():
        stats = {
            "pg_loss": float(pg_loss),
            "vf_loss": float(vf_loss),
            "approx_kl": float(masked_mean((ratio - 1) - log_ratio, policy_mask)),
            "clip_fraction": float(masked_mean(((ratio - 1).abs() > cfg.clip_eps).float(), policy_mask)),
        }
    return loss, stats


def train(cfg: PPOConfig) -> TrainResult:
    """Train ``cfg.model`` with PPO on the tasks of ``cfg.env``."""
    cfg.validate()
    tasks = EnvTasks(cfg.env, cfg.env_kwargs, max_tasks=cfg.max_train_tasks, num_envs=cfg.num_envs)
    use_reference = cfg.kl_control == "adaptive" or cfg.init_kl_coef > 0
    policy = load_policy(cfg, with_reference=use_reference)
    if cfg.disable_dropout:
        disable_dropout(policy.model)
    value_head = ValueHead(policy.hidden_size).to(policy.device)
    run = Run(cfg, policy, extra_modules={"value_head": value_head})
    K = cfg.samples_per_task
    print(f"[ppo] {run.name}: {len(tasks)} tasks, {cfg.batch_size} tasks x {K} samples per rollout batch")

    batches_per_epoch = math.ceil(len(tasks) / cfg.batch_size)
    updates_per_batch = cfg.ppo_epochs * cfg.num_mini_batches
    total_steps = cfg.max_steps or cfg.epochs * batches_per_epoch * updates_per_batch
    policy_params = policy.trainable_parameters()
    params = policy_params + list(value_head.parameters())
    groups = [
        {"params": policy_params},
        {"params": list(value_head.parameters()), "lr": cfg.value_head_lr or cfg.learning_rate},
    ]
    optimizer, scheduler = make_optimizer(groups, cfg, total_steps)
    scaler = make_scaler(policy)
    kl_ctl = AdaptiveKLController(
        cfg.init_kl_coef, cfg.target_kl, cfg.kl_horizon, cfg.kl_control == "adaptive"
    )
    state = run.resume(optimizer, scheduler, scaler) or {"step": 0, "epoch": 0, "batch": 0}
    kl_ctl.value = state.get("kl_coef", kl_ctl.value)
    step, position = state["step"], {"epoch": state["epoch"], "batch": state["batch"]}
    bar = progress_bar(total_steps, f"ppo {run.name}", cfg.progress, initial=step)
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

            # -- 1. rollouts, scored by the environment --------------------------------------------------
            rollout = sample(
                policy,
                tasks.prompts(task_ids),
                n=K,
                temperature=cfg.temperature,
                max_new_tokens=cfg.max_new_tokens,
                max_prompt_tokens=run.max_prompt_tokens,
                seed=cfg.seed * 1_000_003 + rollout_index,
            )
            scored = tasks.score([task_ids[i] for i in rollout.prompt_index], rollout.texts)
            check_valid(scored)
            n = len(rollout)
            mask = rollout.completion_mask.float()
            # Completions the engine failed on carry no signal: they are left out of the loss.
            valid = torch.tensor([s.valid for s in scored], dtype=torch.float32, device=policy.device)
            policy_mask = mask * valid.unsqueeze(1)
            scores = torch.tensor([s.reward for s in scored], dtype=torch.float32, device=policy.device)
            speed.add(int(mask.sum()))

            # -- 2. old log-probabilities, values and reference log-probabilities ----------------------------
            micro = max(1, math.ceil(n / cfg.num_mini_batches / cfg.gradient_accumulation_steps))
            old_logprobs = torch.zeros_like(mask)
            old_values = torch.zeros_like(mask)
            ref_logprobs = torch.zeros_like(mask)
            with torch.no_grad():
                for start in range(0, n, micro):
                    rows = list(range(start, min(n, start + micro)))
                    part = rollout.select(rows)
                    width = part.completion_ids.shape[1]
                    logprobs, hidden = completion_logprobs(
                        policy.model, policy, part, temperature=cfg.temperature, return_hidden=True
                    )
                    old_logprobs[rows, :width] = logprobs
                    old_values[rows, :width] = value_head(hidden) * part.completion_mask
                    if use_reference:
                        ref_logprobs[rows, :width] = reference_logprobs(policy, part, cfg.temperature)

            # -- 3. rewards: KL penalty on every token, the environment's reward on the last -------------
            kl = (old_logprobs - ref_logprobs) * mask
            token_rewards = -kl_ctl.value * kl
            last = (mask.sum(1).long() - 1).clamp(min=0)
            token_rewards[torch.arange(n), last] += scores
            if cfg.advantage == "gae":
                advantages, returns = gae(token_rewards, old_values, mask, cfg.gamma, cfg.lam)
                value_mask = policy_mask
            else:
                sequence_return = token_rewards.sum(1)
                advantages = (sequence_return - old_values[:, 0]).unsqueeze(1) * mask
                returns = sequence_return.unsqueeze(1).expand_as(mask) * mask
                value_mask = torch.zeros_like(mask)
                value_mask[:, 0] = valid  # V(prompt) predicts the completion's return
            if cfg.whiten_advantages:
                advantages = whiten(advantages, policy_mask)

            # -- 4. optimisation: ppo_epochs passes of num_mini_batches optimizer steps ------------------
            policy.model.train()
            generator = torch.Generator().manual_seed(cfg.seed * 7_919 + rollout_index)
            stats: dict[str, list[float]] = {
                k: [] for k in ("loss", "pg_loss", "vf_loss", "approx_kl", "clip_fraction", "grad_norm")
            }
            for _ in range(cfg.ppo_epochs):
                permutation = torch.randperm(n, generator=generator).tolist()
                mb_size = math.ceil(n / cfg.num_mini_batches)
                epoch_kl: list[float] = []
                for mb_start in range(0, n, mb_size):
                    if step >= total_steps:
                        break
                    mb_rows = permutation[mb_start : mb_start + mb_size]
                    policy_tokens = int(policy_mask[mb_rows].sum())
                    value_tokens = int(value_mask[mb_rows].sum())
                    mb_loss = 0.0
                    for start in range(0, len(mb_rows), micro):
                        rows = mb_rows[start : start + micro]
                        part = rollout.select(rows)
                        width = part.completion_ids.shape[1]
                        logprobs, hidden = completion_logprobs(
                            policy.model, policy, part, temperature=cfg.temperature, return_hidden=True
                        )
                        loss, s = ppo_loss(
                            logprobs,
                            value_head(hidden),
                            old_logprobs[rows, :width],
                            old_values[rows, :width],
                            advantages[rows, :width],
                            returns[rows, :width],
                            policy_mask[rows, :width],
                            value_mask[rows, :width],
                            cfg,
                            policy_tokens,
                            value_tokens,
                        )
                        scaler.scale(loss).backward()
                        mb_loss += float(loss.detach())
                        for key in ("pg_loss", "vf_loss", "approx_kl", "clip_fraction"):
                            stats[key].append(s[key])
                        epoch_kl.append(s["approx_kl"])
                        speed.add(int(part.prompt_mask.sum()) + int(part.completion_mask.sum()))
                    stats["grad_norm"].append(
                        optimizer_step(policy, params, optimizer, scheduler, scaler, cfg.max_grad_norm)
                    )
                    stats["loss"].append(mb_loss)
                    step += 1
                    bar.update(1)
                if (
                    cfg.early_stop_kl is not None
                    and epoch_kl
                    and sum(epoch_kl) / len(epoch_kl) > cfg.early_stop_kl
                ):
                    break

            # -- 5. KL controller, logging, validation, checkpoints --------------------------------------
            sequence_kl = float((kl.sum(1) * valid).sum() / valid.sum().clamp(min=1.0))
            kl_ctl.update(sequence_kl, n)
            end_of_epoch = b == batches_per_epoch - 1
            position = {
                "epoch": epoch + int(end_of_epoch),
                "batch": 0 if end_of_epoch else b + 1,
                "kl_coef": kl_ctl.value,
            }
            bar.set_postfix(reward=f"{float(scores.mean()):.3f}", kl=f"{sequence_kl:.3f}")
            if crossed(step, steps_before, cfg.log_every):
                metrics = {f"train/{k}": sum(v) / len(v) for k, v in stats.items() if v}
                metrics.update(reward_summary(scored))
                metrics.update(
                    {
                        "train/kl": sequence_kl,
                        "train/kl_coef": kl_ctl.value,
                        "train/lr": scheduler.get_last_lr()[0],
                        "train/epoch": epoch + (b + 1) / batches_per_epoch,
                        "train/completion_tokens": float(mask.sum(1).mean()),
                        "train/value_mean": float(masked_mean(old_values, mask)),
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
