"""What SFT, GRPO and PPO share: the policy model, sampling, log-probabilities, the training loop's plumbing.

Read top to bottom:

1. :func:`load_policy` loads any Hugging Face causal or seq2seq model with LoRA (peft), QLoRA (a 4-bit
   nf4 base through bitsandbytes; CUDA only) or for full fine-tuning, and returns a :class:`Policy`.
2. :func:`sample` generates completions (token ids and texts); :func:`completion_logprobs` scores given
   completions under the policy (and optionally returns the hidden states a value head reads). With
   LoRA, the *reference* policy is the same model with its adapters disabled (:func:`reference_logprobs`).
3. :class:`Batches`, :func:`make_optimizer`, :class:`RunLogger`, :func:`save_checkpoint` /
   :func:`load_checkpoint` and :func:`merge_and_save` are the loop's plumbing.

The environments are driven through :class:`codegym.training.envs.EnvTasks`.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import math
import os
import re
import shutil
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from codegym.training.config import AUTO_LORA_TARGETS, TrainConfig

log = logging.getLogger("codegym.training")

# ================================================================================================
# 1. The policy
# ================================================================================================


@dataclass
class Policy:
    """A model being trained, with everything needed to sample from it and score completions.

    Attributes:
        model: The model (a ``peft.PeftModel`` for LoRA/QLoRA).
        tokenizer: Its tokenizer (with a pad token).
        is_seq2seq: True for encoder-decoder models (T5, CodeT5+).
        finetune: ``"lora"``, ``"qlora"`` or ``"full"``.
        device: Where the model lives.
        amp_dtype: The autocast dtype on GPU (``None``: no mixed precision).
        ref_model: A frozen copy of the initial model for full fine-tuning with a KL term (LoRA uses the
            base model with adapters disabled instead, so this stays ``None``).
        name: The model id or path it was loaded from.
        use_chat_template: Prompts are wrapped as a user message with the tokenizer's chat template.

    """

    model: Any
    tokenizer: Any
    is_seq2seq: bool
    finetune: str
    device: torch.device
    amp_dtype: torch.dtype | None = None
    ref_model: Any = None
    name: str = ""
    use_chat_template: bool = False

    @property
    def uses_adapters(self) -> bool:
        """True for LoRA and QLoRA."""
        return self.finetune in ("lora", "qlora")

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """Mixed-precision context on GPU; a no-op on CPU or in fp32."""
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def trainable_parameters(self) -> list[nn.Parameter]:
        """Return the parameters the optimizer updates."""
        return [p for p in self.model.parameters() if p.requires_grad]

    @property
    def hidden_size(self) -> int:
        """Width of the last hidden state (the input of a value head)."""
        config = self.model.config
        for attr in ("hidden_size", "d_model", "n_embd"):
            if getattr(config, attr, None):
                return int(getattr(config, attr))
        raise ValueError(f"cannot find the hidden size in the config of {self.name}")


def resolve_device(name: str) -> torch.device:
    """``"auto"`` is cuda when available, else cpu; any other name is checked."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={name!r} but torch sees no CUDA GPU; use --device cpu")
    return device


def resolve_finetune(mode: str, device: torch.device) -> str:
    """``"auto"`` becomes ``"qlora"`` on CUDA and ``"lora"`` elsewhere; QLoRA is checked to be possible."""
    if mode == "auto":
        mode = "qlora" if device.type == "cuda" and _has_bitsandbytes() else "lora"
    if mode == "qlora":
        if device.type != "cuda":
            raise ValueError(
                "finetune='qlora' loads the base model in 4 bits through bitsandbytes, which needs a "
                f"CUDA GPU (device is {device.type}); use --finetune lora (or full for tiny models) "
                "on this machine"
            )
        if not _has_bitsandbytes():
            raise ValueError("finetune='qlora' needs bitsandbytes: pip install 'codegym[gpu]'")
    return mode


def resolve_precision(precision: str, device: torch.device) -> torch.dtype | None:
    """Return the autocast dtype: ``None`` for fp32; fp16/bf16 need a GPU."""
    if precision == "auto":
        if device.type != "cuda":
            return None
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if precision == "fp32":
        return None
    if device.type != "cuda":
        raise ValueError(
            f"precision={precision!r} is mixed precision, which needs a CUDA GPU; use --precision fp32"
        )
    return torch.float16 if precision == "fp16" else torch.bfloat16


def _has_bitsandbytes() -> bool:
    import importlib.util

    return importlib.util.find_spec("bitsandbytes") is not None


def _dtype(name: str) -> torch.dtype:
    return {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}[name]


def is_seq2seq_model(model: str, model_type: str = "auto", trust_remote_code: bool = False) -> bool:
    """Tell whether ``model`` is an encoder-decoder (from its config unless ``model_type`` says)."""
    if model_type != "auto":
        return model_type == "seq2seq"
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(model, trust_remote_code=trust_remote_code)
    return bool(getattr(config, "is_encoder_decoder", False))


def load_tokenizer(name: str, trust_remote_code: bool = False) -> Any:
    """Load a tokenizer and give it a pad token (the eos token) when it has none, as CodeLlama's lacks one."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(name, trust_remote_code=trust_remote_code)
    if tokenizer.pad_token_id is None:
        if tokenizer.eos_token_id is None:
            raise ValueError(f"tokenizer {name} has neither a pad nor an eos token; add one before training")
        tokenizer.pad_token = tokenizer.eos_token
    if tokenizer.eos_token_id is None:
        raise ValueError(f"tokenizer {name} has no eos token, so completions could never end; add one")
    return tokenizer


def resolve_chat_template(tokenizer: Any, name: str, mode: str = "auto") -> bool:
    """Decide whether prompts get the chat template (``mode``: ``"auto"``, ``"on"`` or ``"off"``)."""
    has_template = bool(getattr(tokenizer, "chat_template", None))
    if mode == "off":
        return False
    if mode == "on":
        if not has_template:
            raise ValueError(
                f"chat_template='on' but the tokenizer of {name} has none; use --chat-template off"
            )
        return True
    from codegym.backends.hf import INSTRUCT_NAME

    return has_template and bool(INSTRUCT_NAME.search(str(name)))


def lora_targets(model: nn.Module, requested: Sequence[str]) -> list[str]:
    """Resolve ``lora_target_modules``: ``("auto",)`` picks the known projection names the model has."""
    linear_names: set[str] = set()
    for name, module in model.named_modules():
        leaf = name.rsplit(".", 1)[-1]
        kind = type(module).__name__
        if isinstance(module, nn.Linear) or kind in ("Conv1D", "Linear4bit", "Linear8bitLt"):
            if leaf != "lm_head":
                linear_names.add(leaf)
    if tuple(requested) == ("auto",):
        found = [n for n in AUTO_LORA_TARGETS if n in linear_names]
        if not found:
            raise ValueError(
                "no known projection layers found for LoRA (the model's linear layers are "
                f"{sorted(linear_names)}); pass --lora-target-modules NAME ..."
            )
        return found
    missing = [n for n in requested if n not in linear_names]
    if missing:
        raise ValueError(
            f"lora_target_modules {missing} match no linear layer of the model; its linear layers are "
            f"{sorted(linear_names)}"
        )
    return list(requested)


def load_policy(cfg: TrainConfig, *, with_reference: bool = False) -> Policy:
    """Load ``cfg.model`` ready for training.

    Args:
        cfg: The run's options (model, finetune mode, LoRA/QLoRA settings, precision, device, seed).
        with_reference: Keep a frozen copy of the initial weights as the KL reference. Only full
            fine-tuning needs the copy; LoRA disables its adapters instead.

    Returns:
        The :class:`Policy`; for LoRA/QLoRA only the adapters are trainable.

    Raises:
        ValueError: QLoRA without CUDA or bitsandbytes, mixed precision on CPU, unknown LoRA targets.

    """
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM

    if cfg.num_threads is not None:
        torch.set_num_threads(cfg.num_threads)
    device = resolve_device(cfg.device)
    mode = resolve_finetune(cfg.finetune, device)
    amp_dtype = resolve_precision(cfg.precision, device)
    seq2seq = is_seq2seq_model(cfg.model, cfg.model_type, cfg.trust_remote_code)
    tokenizer = load_tokenizer(cfg.tokenizer or cfg.model, cfg.trust_remote_code)
    auto_cls = AutoModelForSeq2SeqLM if seq2seq else AutoModelForCausalLM

    kwargs: dict[str, Any] = {"trust_remote_code": cfg.trust_remote_code}
    if mode == "qlora":
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type=cfg.bnb_4bit_quant_type,
            bnb_4bit_compute_dtype=_dtype(cfg.bnb_4bit_compute_dtype),
            bnb_4bit_use_double_quant=cfg.bnb_4bit_double_quant,
        )
        kwargs["dtype"] = _dtype(cfg.bnb_4bit_compute_dtype)
        kwargs["device_map"] = {"": device.index if device.index is not None else torch.cuda.current_device()}
    elif mode == "lora" and amp_dtype is not None:
        # The frozen base is stored in the half dtype; the adapters stay fp32 (peft's default).
        kwargs["dtype"] = amp_dtype
    else:
        kwargs["dtype"] = torch.float32
    torch.manual_seed(cfg.seed)  # LoRA's A matrices are drawn from the global generator
    model = auto_cls.from_pretrained(cfg.model, **kwargs)
    if mode != "qlora":
        model.to(device)
    model.config.use_cache = False

    if mode == "qlora":
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=cfg.gradient_checkpointing)
    elif cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if mode in ("lora", "qlora"):
        from peft import LoraConfig, get_peft_model

        lora = LoraConfig(
            r=cfg.lora_r,
            lora_alpha=cfg.lora_alpha,
            lora_dropout=cfg.lora_dropout,
            target_modules=lora_targets(model, cfg.lora_target_modules),
            task_type="SEQ_2_SEQ_LM" if seq2seq else "CAUSAL_LM",
            bias="none",
        )
        model = get_peft_model(model, lora)
        if cfg.gradient_checkpointing and mode == "lora":
            model.enable_input_require_grads()
    ref_model = None
    if with_reference and mode == "full":
        ref_model = copy.deepcopy(model).eval().requires_grad_(False)
    chat = resolve_chat_template(tokenizer, cfg.model, cfg.chat_template)
    return Policy(model, tokenizer, seq2seq, mode, device, amp_dtype, ref_model, cfg.model, chat)


def load_pretrained_policy(
    path: str, *, device: str = "auto", base_model: str | None = None, chat_template: str = "auto"
) -> Policy:
    """Load a trained model for inference: a standalone model directory, or a LoRA adapter directory.

    An adapter directory (it holds ``adapter_config.json``) is loaded on top of ``base_model`` or of the
    base recorded in the adapter config.
    """
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM

    dev = resolve_device(device)
    dtype = torch.float16 if dev.type == "cuda" else torch.float32
    adapter_cfg = Path(path) / "adapter_config.json"
    if adapter_cfg.is_file():
        from peft import PeftModel

        base = base_model or json.loads(adapter_cfg.read_text()).get("base_model_name_or_path")
        if not base:
            raise ValueError(f"{path} is a LoRA adapter without a recorded base model; pass base_model=")
        seq2seq = is_seq2seq_model(base)
        auto_cls = AutoModelForSeq2SeqLM if seq2seq else AutoModelForCausalLM
        model = PeftModel.from_pretrained(auto_cls.from_pretrained(base, dtype=dtype), path)
        tok_dir = path if (Path(path) / "tokenizer_config.json").is_file() else base
        finetune = "lora"
    else:
        seq2seq = is_seq2seq_model(path)
        auto_cls = AutoModelForSeq2SeqLM if seq2seq else AutoModelForCausalLM
        model = auto_cls.from_pretrained(path, dtype=dtype)
        tok_dir = path
        finetune = "full"
    model.to(dev).eval()
    tokenizer = load_tokenizer(str(tok_dir))
    name = f"{base_model or ''} {path}"
    chat = resolve_chat_template(tokenizer, name, chat_template)
    return Policy(model, tokenizer, seq2seq, finetune, dev, None, None, str(path), chat)


def disable_dropout(model: nn.Module) -> None:
    """Set every dropout probability to 0 (RL compares log-probabilities of the same weights)."""
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0


# ================================================================================================
# 2. Sampling and scoring completions
# ================================================================================================


@dataclass
class Rollout:
    """Prompts and the completions sampled for them, as padded token tensors.

    Causal prompts are left-padded, completions right-padded; ``completion_mask`` covers the completion
    tokens up to and including the first eos (the tokens the policy is trained on).

    Attributes:
        prompt_ids, prompt_mask: ``[N, P]``; row ``i`` is the prompt of completion ``i``.
        completion_ids, completion_mask: ``[N, C]``.
        texts: The decoded completions (special tokens dropped).
        prompt_index: For each completion, the index of its prompt in the list given to :func:`sample`.

    """

    prompt_ids: torch.Tensor
    prompt_mask: torch.Tensor
    completion_ids: torch.Tensor
    completion_mask: torch.Tensor
    texts: list[str] = field(default_factory=list)
    prompt_index: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.completion_ids.shape[0])

    def select(self, index: Sequence[int] | torch.Tensor) -> Rollout:
        """Return the rows ``index`` (all-padding columns at the edges are trimmed)."""
        idx = torch.as_tensor(index, dtype=torch.long, device=self.completion_ids.device)
        rows = idx.tolist()
        pm, cm = self.prompt_mask[idx], self.completion_mask[idx]
        p_keep = int(pm.sum(0).nonzero().min()) if pm.any() else 0
        c_keep = int(cm.sum(0).nonzero().max()) + 1 if cm.any() else 1
        return Rollout(
            self.prompt_ids[idx][:, p_keep:],
            pm[:, p_keep:],
            self.completion_ids[idx][:, :c_keep],
            cm[:, :c_keep],
            [self.texts[i] for i in rows] if self.texts else [],
            [self.prompt_index[i] for i in rows] if self.prompt_index else [],
        )


def encode_prompts(
    policy: Policy, prompts: Sequence[str], max_tokens: int
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Tokenize and pad prompts (left for causal models, right for seq2seq encoders).

    Prompts longer than ``max_tokens`` keep their last ``max_tokens`` tokens (causal; the end of the
    prompt is what the completion continues) or their first (seq2seq).

    Returns:
        ``(ids, mask, number_truncated)`` on the policy's device.

    """
    tok = policy.tokenizer
    if policy.use_chat_template:
        texts = [
            tok.apply_chat_template(
                [{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True
            )
            for p in prompts
        ]
        encoded = tok(texts, add_special_tokens=False)["input_ids"]  # the template has the special tokens
    else:
        encoded = tok(list(prompts), add_special_tokens=True)["input_ids"]
    truncated = sum(len(ids) > max_tokens for ids in encoded)
    if policy.is_seq2seq:
        encoded = [ids[:max_tokens] for ids in encoded]
    else:
        encoded = [ids[-max_tokens:] for ids in encoded]
    width = max(len(ids) for ids in encoded)
    pad = tok.pad_token_id
    ids = torch.full((len(encoded), width), pad, dtype=torch.long)
    mask = torch.zeros((len(encoded), width), dtype=torch.long)
    for i, row in enumerate(encoded):
        if policy.is_seq2seq:
            ids[i, : len(row)] = torch.tensor(row)
            mask[i, : len(row)] = 1
        else:
            ids[i, width - len(row) :] = torch.tensor(row)
            mask[i, width - len(row) :] = 1
    return ids.to(policy.device), mask.to(policy.device), truncated


def encode_completions(
    policy: Policy, texts: Sequence[str], max_tokens: int, add_eos: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Tokenize target completions (no special tokens, a final eos), right-padded, cut at ``max_tokens``."""
    tok = policy.tokenizer
    encoded = tok(list(texts), add_special_tokens=False)["input_ids"]
    rows = [(ids + [tok.eos_token_id] if add_eos else ids)[:max_tokens] for ids in encoded]
    width = max(1, max(len(r) for r in rows))
    ids = torch.full((len(rows), width), tok.pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        mask[i, : len(row)] = 1
    return ids.to(policy.device), mask.to(policy.device)


def completion_mask_from_eos(ids: torch.Tensor, eos_id: int) -> torch.Tensor:
    """1 for every token up to and including the first ``eos_id`` of each row, 0 after it."""
    is_eos = ids == eos_id
    after_eos = (is_eos.cumsum(dim=1) - is_eos.long()) > 0
    return (~after_eos).long()


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA) for one sampling call; numpy and ``random`` are never used globally."""
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


@torch.no_grad()
def sample(
    policy: Policy,
    prompts: Sequence[str],
    *,
    n: int = 1,
    temperature: float = 1.0,
    max_new_tokens: int = 256,
    max_prompt_tokens: int = 768,
    seed: int = 0,
) -> Rollout:
    """Sample ``n`` completions for each prompt (greedy when ``temperature == 0``).

    The same ``seed`` and inputs give the same completions. Sampling is plain ancestral sampling from
    the temperature-scaled distribution (no top-k / top-p), which is the distribution
    :func:`completion_logprobs` scores.
    """
    model, tok = policy.model, policy.tokenizer
    was_training = model.training
    model.eval()
    prompt_ids, prompt_mask, truncated = encode_prompts(policy, prompts, max_prompt_tokens)
    if truncated:
        warnings.warn(
            f"{truncated} of {len(prompts)} prompts are longer than {max_prompt_tokens} tokens and keep only "
            "their end; raise max_length (the prompt gets max_length - max_new_tokens tokens)",
            stacklevel=2,
        )
    gen_kwargs: dict[str, Any] = {
        "max_new_tokens": max_new_tokens,
        "num_return_sequences": n,
        "pad_token_id": tok.pad_token_id,
        "eos_token_id": tok.eos_token_id,
        "use_cache": True,
    }
    if temperature > 0:
        gen_kwargs.update(do_sample=True, temperature=temperature, top_k=0, top_p=1.0)
    else:
        gen_kwargs.update(do_sample=False, num_beams=1)
        if n > 1:
            raise ValueError(f"greedy decoding (temperature 0) gives identical samples; asked for n={n}")
    seed_everything(seed)
    with policy.autocast():
        out = model.generate(input_ids=prompt_ids, attention_mask=prompt_mask, **gen_kwargs)
    model.train(was_training)
    # Causal models return prompt + completion; seq2seq models return decoder_start + completion.
    completion = out[:, prompt_ids.shape[1] :] if not policy.is_seq2seq else out[:, 1:]
    if completion.shape[1] == 0:
        completion = torch.full((out.shape[0], 1), tok.eos_token_id, dtype=torch.long, device=out.device)
    mask = completion_mask_from_eos(completion, tok.eos_token_id)
    completion = torch.where(mask.bool(), completion, torch.full_like(completion, tok.pad_token_id))
    texts = decode_completions(policy, completion, mask)
    index = [i for i in range(len(prompts)) for _ in range(n)]
    return Rollout(
        prompt_ids.repeat_interleave(n, dim=0),
        prompt_mask.repeat_interleave(n, dim=0),
        completion,
        mask,
        texts,
        index,
    )


def decode_completions(policy: Policy, ids: torch.Tensor, mask: torch.Tensor) -> list[str]:
    """Decode completion rows, dropping padding, the eos and other special tokens."""
    rows = []
    for row, m in zip(ids.tolist(), mask.tolist(), strict=True):
        rows.append([t for t, keep in zip(row, m, strict=True) if keep])
    return policy.tokenizer.batch_decode(rows, skip_special_tokens=True)


def _supports_logits_to_keep(model: Any) -> bool:
    import inspect

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return "logits_to_keep" in inspect.signature(base.forward).parameters


def completion_logprobs(
    model: Any,
    policy: Policy,
    batch: Rollout,
    *,
    temperature: float = 1.0,
    return_hidden: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Log-probability of every completion token under ``model`` (``[N, C]``, 0 on padding).

    Args:
        model: The network to score with (the policy's model, or its frozen reference copy).
        policy: Tells the model kind (causal or seq2seq) and the tokenizer.
        batch: Prompts and completions.
        temperature: Logits are divided by it (the sampling temperature, so that the scores are those
            of the distribution the completions came from).
        return_hidden: Also return the last hidden state at each completion position (``[N, C, H]``),
            the input of a value head: for token ``t`` it is the state *before* the token was emitted.

    Returns:
        ``(logprobs, hidden_or_None)``.

    """
    n_completion = batch.completion_ids.shape[1]
    with policy.autocast():
        if policy.is_seq2seq:
            labels = batch.completion_ids
            start = model.config.decoder_start_token_id
            if start is None:
                start = policy.tokenizer.pad_token_id
            decoder_input = torch.cat([torch.full_like(labels[:, :1], start), labels[:, :-1]], dim=1)
            out = model(
                input_ids=batch.prompt_ids,
                attention_mask=batch.prompt_mask,
                decoder_input_ids=decoder_input,
                output_hidden_states=return_hidden,
                use_cache=False,
            )
            logits = out.logits
            hidden = out.decoder_hidden_states[-1] if return_hidden else None
        else:
            ids = torch.cat([batch.prompt_ids, batch.completion_ids], dim=1)
            mask = torch.cat([batch.prompt_mask, batch.completion_mask], dim=1)
            # Positions count real tokens only, as in generate() with left padding.
            positions = (mask.cumsum(dim=1) - 1).clamp(min=0)
            kwargs: dict[str, Any] = {}
            if _supports_logits_to_keep(model):
                kwargs["logits_to_keep"] = n_completion + 1
            out = model(
                input_ids=ids,
                attention_mask=mask,
                position_ids=positions,
                output_hidden_states=return_hidden,
                use_cache=False,
                **kwargs,
            )
            # The logits at position j predict token j + 1: keep those that predict the completion.
            logits = out.logits[:, -(n_completion + 1) : -1]
            hidden = out.hidden_states[-1][:, -(n_completion + 1) : -1] if return_hidden else None
    logits = logits.float()
    if temperature != 1.0:
        logits = logits / temperature
    token_logits = logits.gather(-1, batch.completion_ids.unsqueeze(-1)).squeeze(-1)
    logprobs = token_logits - torch.logsumexp(logits, dim=-1)
    logprobs = logprobs * batch.completion_mask
    return logprobs, hidden


@torch.no_grad()
def reference_logprobs(policy: Policy, batch: Rollout, temperature: float = 1.0) -> torch.Tensor:
    """Score completions under the reference policy.

    The reference is the base model with the LoRA adapters disabled, or the frozen initial copy for full
    fine-tuning.
    """
    if policy.uses_adapters:
        with policy.model.disable_adapter():
            return completion_logprobs(policy.model, policy, batch, temperature=temperature)[0]
    if policy.ref_model is None:
        raise ValueError("full fine-tuning with a KL term needs load_policy(..., with_reference=True)")
    return completion_logprobs(policy.ref_model, policy, batch, temperature=temperature)[0]


def masked_mean(values: torch.Tensor, mask: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """Mean of ``values`` where ``mask`` is 1 (over ``dim``, or everything)."""
    mask = mask.to(values.dtype)
    if dim is None:
        return (values * mask).sum() / mask.sum().clamp(min=1.0)
    return (values * mask).sum(dim) / mask.sum(dim).clamp(min=1.0)


def crossed(step: int, previous: int, every: int) -> bool:
    """Tell whether a multiple of ``every`` lies in ``(previous, step]`` (an event fell due)."""
    return every > 0 and step // every > previous // every


def micro_batches(n: int, size: int) -> Iterator[list[int]]:
    """Consecutive index lists of at most ``size`` covering ``range(n)``."""
    for start in range(0, n, size):
        yield list(range(start, min(n, start + size)))


# ================================================================================================
# 3. Loop plumbing: data order, optimizer, logging, checkpoints, merging
# ================================================================================================


def epoch_order(n: int, seed: int, epoch: int) -> list[int]:
    """Return the task order of one epoch, a permutation from ``numpy.random.default_rng([seed, epoch])``.

    It depends only on (seed, epoch), so a resumed run sees the same order.
    """
    return [int(i) for i in np.random.default_rng([seed, epoch]).permutation(n)]


def make_optimizer(
    params: Sequence[nn.Parameter] | Sequence[dict[str, Any]], cfg: TrainConfig, total_steps: int
) -> tuple[torch.optim.Optimizer, Any]:
    """AdamW and the learning-rate schedule (warm-up then linear / cosine / constant)."""
    from transformers import get_scheduler

    optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    warmup = int(round(cfg.warmup_ratio * total_steps))
    name = {"constant": "constant_with_warmup"}.get(cfg.lr_scheduler, cfg.lr_scheduler)
    scheduler = get_scheduler(
        name, optimizer, num_warmup_steps=warmup, num_training_steps=max(1, total_steps)
    )
    return optimizer, scheduler


def make_scaler(policy: Policy) -> Any:
    """Return a gradient scaler for fp16 training (disabled otherwise)."""
    return torch.amp.GradScaler("cuda", enabled=policy.amp_dtype == torch.float16)


def optimizer_step(
    policy: Policy,
    params: Sequence[nn.Parameter],
    optimizer: Any,
    scheduler: Any,
    scaler: Any,
    max_grad_norm: float,
) -> float:
    """Unscale, clip, step and zero the gradients; returns the gradient norm before clipping."""
    scaler.unscale_(optimizer)
    if max_grad_norm > 0:
        norm = torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
    else:
        norms = [p.grad.detach().norm() for p in params if p.grad is not None]
        norm = torch.linalg.vector_norm(torch.stack(norms)) if norms else torch.zeros(())
    scaler.step(optimizer)
    scaler.update()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return float(norm)


def _short(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "x"


def dataset_name(env_id: str, env_kwargs: Mapping[str, Any]) -> str:
    """Return a short dataset name for run names: ``MBPPCodeGen-v0`` -> ``mbpp``."""
    tasks = env_kwargs.get("tasks")
    if tasks:
        source = getattr(next(iter(tasks)), "source", "") or "custom"
        return _short(source.lower().replace("/", "-"))
    if isinstance(env_kwargs.get("dataset"), str):
        return _short(str(env_kwargs["dataset"]).lower().replace("/", "-"))
    name = env_id.split(":")[-1]
    name = re.sub(r"-v\d+$", "", name)
    name = re.sub(r"CodeGen$", "", name) or name
    return _short(name.lower())


def run_name(cfg: TrainConfig, finetune: str) -> str:
    """``{model}-{dataset}-{method}-{lora|qlora|full}``, e.g. ``CodeLlama-7b-hf-mbpp-grpo-qlora``."""
    if cfg.run_name:
        return _short(cfg.run_name)
    model = Path(cfg.model.rstrip("/")).name
    return f"{_short(model)}-{dataset_name(cfg.env, cfg.env_kwargs)}-{cfg.method}-{finetune}"


class RunLogger:
    """Writes metrics to TensorBoard (default), W&B (when asked) and ``<run>/metrics.jsonl`` (always).

    Args:
        run_dir: The run directory; TensorBoard files go to ``run_dir/tensorboard``.
        report_to: Sinks: ``"tensorboard"``, ``"wandb"``, ``"none"``.
        config: The run's options (stored with W&B runs).
        wandb_project: W&B project.

    """

    def __init__(
        self,
        run_dir: Path,
        report_to: Sequence[str],
        config: Mapping[str, Any],
        wandb_project: str = "codegym",
    ) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._jsonl = open(self.run_dir / "metrics.jsonl", "a")  # noqa: SIM115 - closed in close()
        self._tb = None
        self._wandb = None
        if "tensorboard" in report_to:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as exc:
                raise ValueError(
                    "report_to includes tensorboard but it is not installed: pip install tensorboard, "
                    "or pass --report-to none"
                ) from exc
            self._tb = SummaryWriter(log_dir=str(self.run_dir / "tensorboard"))
        if "wandb" in report_to:
            try:
                import wandb
            except ImportError as exc:
                raise ValueError(
                    "report_to includes wandb but it is not installed: pip install wandb"
                ) from exc
            self._wandb = wandb.init(project=wandb_project, name=self.run_dir.name, config=dict(config))

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        """Record scalar metrics at optimizer step ``step``."""
        clean = {k: float(v) for k, v in metrics.items() if v is not None and math.isfinite(float(v))}
        self._jsonl.write(json.dumps({"step": step, **clean}) + "\n")
        self._jsonl.flush()
        if self._tb is not None:
            for key, value in clean.items():
                self._tb.add_scalar(key, value, step)
        if self._wandb is not None:
            self._wandb.log(clean, step=step)

    def close(self) -> None:
        """Flush and close every sink."""
        self._jsonl.close()
        if self._tb is not None:
            self._tb.close()
        if self._wandb is not None:
            self._wandb.finish()


def rng_state() -> dict[str, Any]:
    """Return the torch generator states (CPU and CUDA), for checkpoints.

    Nothing in the trainers draws from numpy's or ``random``'s global generators (data order comes from
    :func:`epoch_order`), so torch's are the only ones to restore.
    """
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore what :func:`rng_state` returned."""
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_model(policy: Policy, directory: Path) -> None:
    """Save the trainable weights: the adapters (LoRA) or the whole model (full), plus the tokenizer."""
    directory.mkdir(parents=True, exist_ok=True)
    policy.model.save_pretrained(str(directory))
    policy.tokenizer.save_pretrained(str(directory))


def _load_safetensors_dir(directory: Path, pattern: str) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    state: dict[str, torch.Tensor] = {}
    files = sorted(directory.glob(pattern))
    if not files:
        raise FileNotFoundError(f"no {pattern} in {directory}: not a checkpoint written by codegym train")
    for path in files:
        state.update(load_file(str(path)))
    return state


def load_model_weights(policy: Policy, directory: Path) -> None:
    """Load weights written by :func:`save_model` into ``policy.model`` (in place)."""
    if policy.uses_adapters:
        from peft import set_peft_model_state_dict

        state = _load_safetensors_dir(directory, "adapter_model*.safetensors")
        result = set_peft_model_state_dict(policy.model, state)
        unexpected = getattr(result, "unexpected_keys", [])
        if unexpected:
            raise ValueError(
                f"adapter weights in {directory} do not fit this model: unexpected {unexpected[:5]}"
            )
    else:
        state = _load_safetensors_dir(directory, "model*.safetensors")
        result = policy.model.load_state_dict(state, strict=False)
        if result.unexpected_keys:
            raise ValueError(
                f"weights in {directory} do not fit this model: unexpected {result.unexpected_keys[:5]}"
            )


def save_checkpoint(
    directory: Path,
    policy: Policy,
    optimizer: Any,
    scheduler: Any,
    scaler: Any,
    state: Mapping[str, Any],
    extra_modules: Mapping[str, nn.Module] | None = None,
) -> Path:
    """Write a resumable checkpoint.

    It holds the weights (``model/``) and ``trainer_state.pt``: optimizer, scheduler, gradient scaler,
    RNG states, the loop's counters and extra modules such as a value head.

    The checkpoint is written to a temporary directory and renamed into place, so a crash never leaves a
    half-written checkpoint that ``--resume latest`` would pick.
    """
    directory = Path(directory)
    tmp = directory.with_name(directory.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    save_model(policy, tmp / "model")
    torch.save(
        {
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict(),
            "state": dict(state),
            "rng": rng_state(),
            "extra": {k: m.state_dict() for k, m in (extra_modules or {}).items()},
        },
        tmp / "trainer_state.pt",
    )
    shutil.rmtree(directory, ignore_errors=True)
    os.replace(tmp, directory)
    return directory


def load_checkpoint(
    directory: Path,
    policy: Policy,
    optimizer: Any,
    scheduler: Any,
    scaler: Any,
    extra_modules: Mapping[str, nn.Module] | None = None,
) -> dict[str, Any]:
    """Restore a checkpoint written by :func:`save_checkpoint`; returns the loop's counters."""
    directory = Path(directory)
    state_file = directory / "trainer_state.pt"
    if not state_file.is_file():
        raise FileNotFoundError(
            f"{directory} is not a checkpoint (no trainer_state.pt); pass a step-N directory"
        )
    load_model_weights(policy, directory / "model")
    blob = torch.load(state_file, map_location="cpu", weights_only=False)
    optimizer.load_state_dict(blob["optimizer"])
    scheduler.load_state_dict(blob["scheduler"])
    scaler.load_state_dict(blob["scaler"])
    for key, module in (extra_modules or {}).items():
        module.load_state_dict(blob["extra"][key])
    set_rng_state(blob["rng"])
    return dict(blob["state"])


def find_checkpoint(run_dir: Path, resume: str) -> Path:
    """Resolve ``--resume``: ``"latest"`` is the newest ``run_dir/checkpoints/step-N``; else a path."""
    if resume != "latest":
        path = Path(resume)
        if not (path / "trainer_state.pt").is_file():
            raise FileNotFoundError(
                f"--resume {resume}: no trainer_state.pt there; pass a checkpoints/step-N directory"
            )
        return path
    candidates = [p for p in (run_dir / "checkpoints").glob("step-*") if (p / "trainer_state.pt").is_file()]
    if not candidates:
        raise FileNotFoundError(f"--resume latest: no checkpoint in {run_dir / 'checkpoints'}")
    return max(candidates, key=lambda p: int(p.name.split("-")[1]))


def prune_checkpoints(run_dir: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` step checkpoints."""
    steps = sorted(
        (p for p in (run_dir / "checkpoints").glob("step-*") if p.is_dir() and not p.name.endswith(".tmp")),
        key=lambda p: int(p.name.split("-")[1]),
    )
    for old in steps[: max(0, len(steps) - keep)]:
        shutil.rmtree(old, ignore_errors=True)


def merge_and_save(policy: Policy, adapter_dir: Path, out_dir: Path) -> Path:
    """Write a standalone model: the base model with the adapters in ``adapter_dir`` merged into its weights.

    The base is reloaded unquantized (fp16 on GPU, fp32 on CPU), because merging into a 4-bit base would
    round the merged weights; the training model is left untouched. For full fine-tuning the trained
    model itself is saved.
    """
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM

    out_dir = Path(out_dir)
    if not policy.uses_adapters:
        save_model(policy, out_dir)
        return out_dir
    from peft import PeftModel

    dtype = torch.float16 if policy.device.type == "cuda" else torch.float32
    auto_cls = AutoModelForSeq2SeqLM if policy.is_seq2seq else AutoModelForCausalLM
    base = auto_cls.from_pretrained(policy.name, dtype=dtype)
    merged = PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()
    out_dir.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(str(out_dir))
    policy.tokenizer.save_pretrained(str(out_dir))
    del merged, base
    return out_dir


class EarlyStopping:
    """Track the best validation score; ``should_stop`` after ``patience`` validations without a gain."""

    def __init__(self, patience: int | None, min_delta: float = 0.0) -> None:
        self.patience = patience
        self.min_delta = min_delta
        self.best: float | None = None
        self.best_step = -1
        self.bad = 0

    def update(self, score: float, step: int) -> bool:
        """Record a validation score; returns True if it is the best so far."""
        if self.best is None or score > self.best + self.min_delta:
            self.best, self.best_step, self.bad = score, step, 0
            return True
        self.bad += 1
        return False

    @property
    def should_stop(self) -> bool:
        """True once ``patience`` validations in a row did not improve."""
        return self.patience is not None and self.bad >= self.patience

    def state(self) -> dict[str, Any]:
        """For checkpoints."""
        return {"best": self.best, "best_step": self.best_step, "bad": self.bad}

    def load(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state`."""
        self.best, self.best_step, self.bad = state["best"], state["best_step"], state["bad"]


class Throughput:
    """Counts tokens per second over a window (generation and training tokens)."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.tokens = 0

    def add(self, tokens: int) -> None:
        """Count ``tokens`` more tokens."""
        self.tokens += int(tokens)

    def rate(self) -> float:
        """Tokens per second since the last reset, then reset."""
        now = time.perf_counter()
        rate = self.tokens / max(now - self.start, 1e-9)
        self.start, self.tokens = now, 0
        return rate


def progress_bar(total: int, desc: str, enabled: bool, initial: int = 0) -> Any:
    """Return a tqdm bar (one that shows nothing when ``enabled`` is False)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, initial=initial, disable=not enabled, dynamic_ncols=True, unit="step")
