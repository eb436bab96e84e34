"""The trainer's building blocks on tiny models: loading, log-probabilities, reference policy, losses."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from codegym.backends.tiny import tiny_llama_path, tiny_t5_path  # noqa: E402
from codegym.training import common  # noqa: E402
from codegym.training.config import TrainConfig  # noqa: E402
from codegym.training.grpo import GRPOConfig, group_advantages, grpo_loss  # noqa: E402
from codegym.training.ppo import AdaptiveKLController, gae, whiten  # noqa: E402

PROMPTS = ["def add(a, b):\n", "Write a function that returns the square of x.\n", "x = 1"]


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def _policy(path: str, finetune: str = "lora", **kw: object) -> common.Policy:
    cfg = TrainConfig(model=str(path), finetune=finetune, lora_r=4, lora_alpha=8, device="cpu", **kw)
    return common.load_policy(cfg, with_reference=True)


def _direct_logprobs(policy: common.Policy, prompt: str, completion_ids: list[int]) -> torch.Tensor:
    """Log-probabilities of one completion computed without any padding, the plain way."""
    tok = policy.tokenizer
    prompt_ids = tok(prompt)["input_ids"]
    with torch.no_grad():
        if policy.is_seq2seq:
            start = policy.model.config.decoder_start_token_id
            out = policy.model(
                input_ids=torch.tensor([prompt_ids]),
                decoder_input_ids=torch.tensor([[start] + completion_ids[:-1]]),
            )
            logits = out.logits[0]
        else:
            out = policy.model(input_ids=torch.tensor([prompt_ids + completion_ids]))
            logits = out.logits[0, len(prompt_ids) - 1 : -1]
    return logits.log_softmax(-1).gather(-1, torch.tensor(completion_ids)[:, None]).squeeze(-1)


@pytest.mark.parametrize("kind", ["causal", "seq2seq"])
def test_batched_logprobs_equal_unpadded_ones(kind: str) -> None:
    policy = _policy(tiny_llama_path() if kind == "causal" else tiny_t5_path())
    policy.model.eval()
    rollout = common.sample(policy, PROMPTS, n=2, temperature=1.0, max_new_tokens=12, seed=3)
    assert len(rollout) == 6 and rollout.prompt_index == [0, 0, 1, 1, 2, 2]
    with torch.no_grad():
        batched, hidden = common.completion_logprobs(policy.model, policy, rollout, return_hidden=True)
    assert hidden is not None and hidden.shape[:2] == batched.shape
    for i in range(len(rollout)):
        n = int(rollout.completion_mask[i].sum())
        ids = rollout.completion_ids[i, :n].tolist()
        direct = _direct_logprobs(policy, PROMPTS[rollout.prompt_index[i]], ids)
        torch.testing.assert_close(batched[i, :n], direct, atol=1e-4, rtol=1e-4)
        assert torch.all(batched[i, n:] == 0)
    # A sub-batch (with its own padding) scores the same.
    part = rollout.select([5, 1])
    with torch.no_grad():
        again, _ = common.completion_logprobs(policy.model, policy, part)
    width = again.shape[1]
    torch.testing.assert_close(again, batched[[5, 1], :width], atol=1e-4, rtol=1e-4)


def test_sampling_is_seeded_and_stops_at_eos() -> None:
    policy = _policy(tiny_llama_path())
    a = common.sample(policy, PROMPTS, n=2, temperature=1.0, max_new_tokens=10, seed=7)
    b = common.sample(policy, PROMPTS, n=2, temperature=1.0, max_new_tokens=10, seed=7)
    c = common.sample(policy, PROMPTS, n=2, temperature=1.0, max_new_tokens=10, seed=8)
    assert a.texts == b.texts and a.texts != c.texts
    eos = policy.tokenizer.eos_token_id
    for ids, mask in zip(a.completion_ids.tolist(), a.completion_mask.tolist(), strict=True):
        kept = [t for t, m in zip(ids, mask, strict=True) if m]
        assert eos not in kept[:-1]  # nothing after an eos is trained on
    greedy = common.sample(policy, PROMPTS, n=1, temperature=0.0, max_new_tokens=10)
    assert greedy.texts == common.sample(policy, PROMPTS, n=1, temperature=0.0, max_new_tokens=10).texts
    with pytest.raises(ValueError, match="greedy"):
        common.sample(policy, PROMPTS, n=2, temperature=0.0)


def test_reference_is_the_base_model_without_adapters() -> None:
    policy = _policy(tiny_llama_path())
    base = _policy(tiny_llama_path(), finetune="full")
    rollout = common.sample(policy, PROMPTS, n=1, temperature=1.0, max_new_tokens=8, seed=1)
    with torch.no_grad():
        for name, param in policy.model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.5)  # make the adapters matter
        policy_lp, _ = common.completion_logprobs(policy.model, policy, rollout)
        base_lp, _ = common.completion_logprobs(base.model, base, rollout)
    ref_lp = common.reference_logprobs(policy, rollout)
    torch.testing.assert_close(ref_lp, base_lp, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(policy_lp, base_lp, atol=1e-3)
    # Full fine-tuning keeps a frozen copy as its reference.
    assert base.ref_model is not None and not any(p.requires_grad for p in base.ref_model.parameters())


def test_lora_targets_and_trainable_parameters() -> None:
    llama = _policy(tiny_llama_path())
    targets = set(llama.model.peft_config["default"].target_modules)
    assert targets == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
    assert all("lora_" in n for n, p in llama.model.named_parameters() if p.requires_grad)
    t5 = _policy(tiny_t5_path())
    assert {"q", "k", "v", "o", "wi", "wo"} <= set(t5.model.peft_config["default"].target_modules)
    with pytest.raises(ValueError, match="match no linear layer"):
        _policy(tiny_llama_path(), lora_target_modules=("nope",))


def test_qlora_and_mixed_precision_need_cuda() -> None:
    cpu = torch.device("cpu")
    with pytest.raises(ValueError, match="CUDA GPU.*--finetune lora"):
        common.resolve_finetune("qlora", cpu)
    assert common.resolve_finetune("auto", cpu) == "lora"
    with pytest.raises(ValueError, match="needs a CUDA GPU"):
        common.resolve_precision("fp16", cpu)
    assert common.resolve_precision("auto", cpu) is None
    with pytest.raises(ValueError, match="CUDA"):
        _policy(tiny_llama_path(), finetune="qlora")


def test_group_advantages_and_grpo_loss_direction() -> None:
    adv = group_advantages(torch.tensor([1.0, 0.0, 1.0, 1.0, 0.5, 0.5]), 2)
    assert adv[0] > 0 > adv[1] and adv[2] == adv[3] == 0 and adv[4] == adv[5] == 0
    # The gradient raises the log-probability of a positively advantaged completion and lowers the other.
    logprobs = torch.tensor([[-1.0, -1.0], [-1.0, -1.0]], requires_grad=True)
    cfg = GRPOConfig(model="m", beta=0.0)
    mask = torch.ones(2, 2)
    loss, stats = grpo_loss(logprobs, logprobs.detach(), None, torch.tensor([1.0, -1.0]), mask, cfg, 4, 2)
    loss.backward()
    assert logprobs.grad[0].lt(0).all() and logprobs.grad[1].gt(0).all()
    assert stats["ratio"] == pytest.approx(1.0) and stats["clip_fraction"] == 0.0
    # Outside the clip range a positive advantage gives no gradient.
    lp = torch.tensor([[0.0]], requires_grad=True)
    loss, stats = grpo_loss(
        lp, torch.tensor([[-1.0]]), None, torch.tensor([1.0]), torch.ones(1, 1), cfg, 1, 1
    )
    loss.backward()
    assert lp.grad.abs().sum() == 0 and stats["clip_fraction"] == 1.0
    # The KL term is zero at the reference and positive away from it.
    cfg = GRPOConfig(model="m", beta=0.5)
    lp = torch.tensor([[-1.0, -2.0]])
    _, at_ref = grpo_loss(lp, lp, lp, torch.zeros(1), torch.ones(1, 2), cfg, 2, 1)
    _, away = grpo_loss(lp, lp, lp - 1.0, torch.zeros(1), torch.ones(1, 2), cfg, 2, 1)
    assert at_ref["kl"] == 0.0 and away["kl"] > 0


def test_gae_whiten_and_kl_controller() -> None:
    rewards = torch.tensor([[0.0, 0.0, 1.0, 0.0], [0.0, 2.0, 0.0, 0.0]])
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])
    adv, ret = gae(rewards, torch.zeros(2, 4), mask, gamma=1.0, lam=1.0)
    assert adv.tolist() == [[1.0, 1.0, 1.0, 0.0], [2.0, 2.0, 0.0, 0.0]]
    assert torch.equal(adv, ret)
    adv, _ = gae(rewards, torch.full((2, 4), 0.5), mask, gamma=1.0, lam=0.0)  # one-step TD errors
    assert adv[0].tolist() == [0.0, 0.0, 0.5, 0.0]
    w = whiten(torch.tensor([[1.0, 2.0, 99.0]]), torch.tensor([[1, 1, 0]]))
    assert w[0, 0] < 0 < w[0, 1] and w[0, 2] == 0
    ctl = AdaptiveKLController(0.1, target=0.3, horizon=100)
    ctl.update(3.0, 10)  # KL far above target: the penalty grows (by at most 20% x n / horizon)
    assert ctl.value == pytest.approx(0.1 * (1 + 0.2 * 10 / 100))
    ctl.update(0.0, 10)
    assert ctl.value < 0.1 * (1 + 0.2 * 10 / 100)
    fixed = AdaptiveKLController(0.1, 0.3, 100, adaptive=False)
    fixed.update(3.0, 10)
    assert fixed.value == 0.1


def test_run_names_and_crossed() -> None:
    cfg = TrainConfig(model="codellama/CodeLlama-7b-hf", env="MBPPCodeGen-v0")
    assert common.run_name(cfg, "qlora") == "CodeLlama-7b-hf-mbpp-base-qlora"
    from codegym.training.sft import SFTConfig

    sft = SFTConfig(model="/x/tiny/", env="HumanEvalCodeGen-v0")
    assert common.run_name(sft, "full") == "tiny-humaneval-sft-full"
    assert common.crossed(4, 2, 4) and not common.crossed(3, 2, 4) and not common.crossed(5, 4, 0)
    assert common.epoch_order(10, 0, 1) == common.epoch_order(10, 0, 1) != common.epoch_order(10, 0, 2)


def test_instruct_models_get_their_chat_template() -> None:
    instruct = _policy(tiny_llama_path(instruct=True))
    assert instruct.use_chat_template
    ids, _, _ = common.encode_prompts(instruct, ["Write add."], 64)
    assert instruct.tokenizer.decode(ids[0]).startswith("<s>[INST] Write add. [/INST]")
    assert not _policy(tiny_llama_path(instruct=True), chat_template="off").use_chat_template
    assert not _policy(tiny_llama_path()).use_chat_template  # a base model's prompts stay plain
    with pytest.raises(ValueError, match="has none"):
        _policy(tiny_llama_path(), chat_template="on")
