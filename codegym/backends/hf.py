"""Hugging Face backends: seq2seq (CodeT5+) and causal (CodeLlama, DeepSeek-Coder, StarCoder2, Qwen2.5-Coder).

:func:`load_generator` reads a model's config (hub id or local directory), picks
``AutoModelForSeq2SeqLM`` when ``config.is_encoder_decoder`` and ``AutoModelForCausalLM`` otherwise, and
returns an :class:`HFCodeGenerator`::

    gen = load_generator("Salesforce/codet5p-220m-py")                 # seq2seq
    gen = load_generator("codellama/CodeLlama-7b-Instruct-hf", load_in_4bit=True)  # causal, chat template

Decoding:

* ``temperature == 0`` is greedy decoding: deterministic.
* ``temperature > 0`` samples with the Gumbel-max trick: each completion row (prompt ``i``, sample ``j``)
  draws its noise from its own ``torch.Generator`` seeded from ``(seed, prompt, j)``, and greedy-picks
  ``argmax(logits / T + Gumbel)``, which is an exact draw from ``softmax(logits / T)``. So a prompt's
  samples do not depend on which other prompts share the batch, on ``batch_size``, or on the order of the
  prompts, and the global torch RNG is never touched. ``seed=None`` draws fresh seeds from the OS.
* ``top_p`` / ``top_k`` (constructor options) restrict sampling as usual.
* Causal models are batched with left padding (an attention mask hides the pads; Llama-style models derive
  position ids from it), seq2seq models with right padding of the encoder input.
* Stop strings end a row early (``transformers``' ``StopStringCriteria``) and are cut from the text.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codegym.backends.base import CodeGenerator, truncate_at_stop, validate_generation_args
from codegym.backends.errors import ModelLoadError, QuantizationUnavailableError

if TYPE_CHECKING:  # pragma: no cover
    import torch

#: Model names matching this get their tokenizer's chat template applied when ``use_chat_template=None``.
INSTRUCT_NAME = re.compile(r"instruct|chat|(^|[-_/])it($|[-_/])", re.IGNORECASE)

_DTYPES = ("auto", "float32", "float16", "bfloat16")


def _row_seed(seed: int, prompt: str, sample: int) -> int:
    """Derive the 63-bit seed of completion ``sample`` of ``prompt`` from the call's ``seed``."""
    digest = hashlib.sha256(f"{seed}\x00{sample}\x00{prompt}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def _looks_like_path(spec: str) -> bool:
    """Return True for strings that can only be a filesystem path, never a hub id."""
    return (
        spec.startswith(("/", "./", "../", "~", "\\"))
        or spec.count("/") > 1
        or os.sep != "/"
        and os.sep in spec
    )


def resolve_dtype(dtype: str | torch.dtype, device: str) -> torch.dtype:
    """Map ``"auto"`` / ``"float32"`` / ``"float16"`` / ``"bfloat16"`` (or a torch dtype) to a torch dtype.

    ``"auto"`` is bfloat16 on a CUDA GPU that supports it, float16 on other CUDA GPUs, float32 on the CPU.
    """
    import torch

    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in _DTYPES:
        raise ValueError(f"dtype must be one of {_DTYPES} or a torch.dtype, got {dtype!r}")
    if dtype == "auto":
        if str(device).startswith("cuda"):
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    return getattr(torch, dtype)


def quantization_config(
    load_in_4bit: bool, load_in_8bit: bool, compute_dtype: torch.dtype
) -> Any:  # transformers.BitsAndBytesConfig | None
    """Return the ``BitsAndBytesConfig`` for 4-bit (nf4, double quantisation) or 8-bit loading, or None.

    Raises:
        ValueError: Both are requested.
        QuantizationUnavailableError: No CUDA GPU is visible or bitsandbytes is not installed.

    """
    if not (load_in_4bit or load_in_8bit):
        return None
    if load_in_4bit and load_in_8bit:
        raise ValueError("load_in_4bit and load_in_8bit are exclusive; pass only one of them")
    import torch

    what = "load_in_4bit" if load_in_4bit else "load_in_8bit"
    if not torch.cuda.is_available():
        raise QuantizationUnavailableError(
            f"{what}=True needs a CUDA GPU (bitsandbytes quantises on the GPU), but "
            "torch.cuda.is_available() is False on this machine. Load the model without quantisation "
            "(it runs in float32 on the CPU), or run on a machine with an NVIDIA GPU and a CUDA build "
            "of torch."
        )
    try:
        import bitsandbytes  # noqa: F401
    except ImportError as exc:
        raise QuantizationUnavailableError(
            f"{what}=True needs the bitsandbytes package, which is not installed: pip install 'codegym[gpu]'"
        ) from exc
    from transformers import BitsAndBytesConfig

    if load_in_4bit:
        return BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_compute_dtype=compute_dtype,
            bnb_4bit_use_double_quant=True,
        )
    return BitsAndBytesConfig(load_in_8bit=True)


class _GumbelSampler:
    """A logits processor that turns greedy decoding into seeded per-row sampling (Gumbel-max trick)."""

    def __init__(
        self, seeds: Sequence[int], temperature: float, top_k: int, top_p: float, device: Any
    ) -> None:
        import torch

        self.temperature = temperature
        self.top_k = top_k
        self.top_p = top_p
        gen_device = torch.device(device)
        if gen_device.type not in ("cpu", "cuda"):
            gen_device = torch.device("cpu")
        self.generators = [torch.Generator(device=gen_device).manual_seed(s) for s in seeds]
        self.gen_device = gen_device

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        import torch

        scores = scores / self.temperature
        vocab = scores.shape[-1]
        if 0 < self.top_k < vocab:
            kth = torch.topk(scores, self.top_k, dim=-1).values[..., -1:]
            scores = scores.masked_fill(scores < kth, float("-inf"))
        if self.top_p < 1.0:
            sorted_scores, sorted_idx = torch.sort(scores, descending=True, dim=-1)
            cum = sorted_scores.softmax(dim=-1).cumsum(dim=-1)
            # Drop a token when the tokens ranked above it already cover top_p (the best is always kept).
            drop_sorted = (cum - sorted_scores.softmax(dim=-1)) >= self.top_p
            drop = drop_sorted.scatter(-1, sorted_idx, drop_sorted)
            scores = scores.masked_fill(drop, float("-inf"))
        uniform = torch.stack(
            [
                torch.rand(vocab, generator=g, device=self.gen_device, dtype=torch.float32)
                for g in self.generators
            ]
        ).to(scores.device)
        gumbel = -torch.log(-torch.log(uniform.clamp(min=1e-20, max=1.0 - 1e-7)))
        return scores + gumbel


class HFCodeGenerator(CodeGenerator):
    """A Hugging Face ``transformers`` model (seq2seq or causal) as a :class:`CodeGenerator`.

    Build one with :func:`load_generator` (or :meth:`from_pretrained`), or wrap a model and tokenizer you
    already hold. Calls are serialised by a lock, so one instance can serve several threads.

    Args:
        model: A ``PreTrainedModel`` with a ``generate`` method (encoder-decoder or decoder-only).
        tokenizer: Its tokenizer.
        name: Model name used in cache keys and server responses (default: ``config.name_or_path``).
        batch_size: Most completion rows (prompts x ``n``) per ``model.generate`` call; larger calls are
            chunked. Rows are sorted by prompt length first, so chunks hold similar lengths.
        use_chat_template: Wrap each prompt as a user message with the tokenizer's chat template. ``None``
            (default) applies it when the tokenizer has one and ``name`` looks like an instruct/chat model
            (:data:`INSTRUCT_NAME`), or the hub id / directory it was loaded from does; ``True``
            requires a template.
        system_prompt: System message placed before the user message when the chat template is used.
        top_p: Nucleus sampling threshold at ``temperature > 0`` (1.0 = off).
        top_k: Keep only the ``top_k`` most likely tokens at ``temperature > 0`` (0 = off).
        max_prompt_tokens: Longest prompt in tokens. Default: ``max_position_embeddings`` minus
            ``max_new_tokens`` for causal models, unlimited for seq2seq models.
        truncate_prompts: Keep the last ``max_prompt_tokens`` tokens of a longer prompt instead of raising.
        generation_kwargs: Extra ``GenerationConfig`` fields (e.g. ``{"repetition_penalty": 1.1}``).

    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        name: str | None = None,
        batch_size: int = 16,
        use_chat_template: bool | None = None,
        system_prompt: str | None = None,
        top_p: float = 1.0,
        top_k: int = 0,
        max_prompt_tokens: int | None = None,
        truncate_prompts: bool = False,
        generation_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if not 0.0 < top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {top_p}")
        if top_k < 0:
            raise ValueError(f"top_k must be >= 0 (0 = off), got {top_k}")
        if max_prompt_tokens is not None and max_prompt_tokens < 1:
            raise ValueError(f"max_prompt_tokens must be >= 1 or None, got {max_prompt_tokens}")
        self.model = model
        self.tokenizer = tokenizer
        self.name = name or str(getattr(model.config, "name_or_path", "") or type(model).__name__)
        self.batch_size = batch_size
        self.system_prompt = system_prompt
        self.top_p = top_p
        self.top_k = top_k
        self.max_prompt_tokens = max_prompt_tokens
        self.truncate_prompts = truncate_prompts
        self.generation_kwargs = dict(generation_kwargs or {})
        self.is_encoder_decoder = bool(getattr(model.config, "is_encoder_decoder", False))
        has_template = bool(getattr(tokenizer, "chat_template", None))
        if use_chat_template is None:
            # The served name may be a nickname: the hub id / directory it was loaded from counts too.
            source = str(getattr(model.config, "name_or_path", "") or "")
            instruct = INSTRUCT_NAME.search(self.name) or INSTRUCT_NAME.search(source)
            use_chat_template = has_template and bool(instruct)
        elif use_chat_template and not has_template:
            raise ValueError(
                f"use_chat_template=True but the tokenizer of {self.name!r} has no chat_template; "
                "set tokenizer.chat_template or pass use_chat_template=False"
            )
        self.use_chat_template = bool(use_chat_template)
        self._lock = threading.Lock()
        self._eos_ids = self._find_eos_ids()
        pad = tokenizer.pad_token_id
        if pad is None:
            pad = self._eos_ids[0] if self._eos_ids else 0
        self.pad_token_id: int = int(pad)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_pretrained(
        cls,
        model_id_or_path: str | os.PathLike[str],
        *,
        device: str | None = None,
        dtype: str | Any = "auto",
        load_in_4bit: bool = False,
        load_in_8bit: bool = False,
        device_map: str | dict[str, Any] | None = None,
        revision: str | None = None,
        trust_remote_code: bool = False,
        **kwargs: Any,
    ) -> HFCodeGenerator:
        """Load a model and tokenizer by hub id or local directory; see :func:`load_generator`."""
        import torch
        from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

        spec = os.fspath(model_id_or_path)
        local = Path(spec).expanduser()
        if local.exists():
            if not local.is_dir() or not (local / "config.json").is_file():
                raise FileNotFoundError(
                    f"{spec!r} is not a model directory (no config.json in it); pass a directory written by "
                    "save_pretrained() or a Hugging Face hub id such as 'Salesforce/codet5p-220m'"
                )
            spec = str(local)
        elif _looks_like_path(spec):
            raise FileNotFoundError(f"no model directory at {spec!r}; check the path")
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        torch_dtype = resolve_dtype(dtype, device)
        quant = quantization_config(load_in_4bit, load_in_8bit, torch_dtype)
        hub_kw: dict[str, Any] = {"revision": revision, "trust_remote_code": trust_remote_code}
        try:
            config = AutoConfig.from_pretrained(spec, **hub_kw)
            tokenizer = AutoTokenizer.from_pretrained(spec, **hub_kw)
        except OSError as exc:
            if local.exists():
                raise
            why = "HF_HUB_OFFLINE is set" if os.environ.get("HF_HUB_OFFLINE") else "no network?"
            raise ModelLoadError(
                f"cannot load {spec!r}: it is not in the local Hugging Face cache and the hub could not be "
                f"reached ({why}). "
                f"Download it where there is network (huggingface-cli download {spec} --local-dir DIR) "
                "and pass the local directory instead, e.g. load_generator('/models/codet5p-220m'). "
                "For tests, codegym.backends.tiny builds small models offline."
            ) from exc
        auto = AutoModelForSeq2SeqLM if getattr(config, "is_encoder_decoder", False) else AutoModelForCausalLM
        model_kw: dict[str, Any] = {"dtype": torch_dtype, **hub_kw}
        if quant is not None:
            model_kw["quantization_config"] = quant
            if device_map is None:
                index = torch.device(device).index if str(device).startswith("cuda") else None
                device_map = {"": index if index is not None else torch.cuda.current_device()}
            model_kw["device_map"] = device_map
        elif device_map is not None:
            model_kw["device_map"] = device_map
        try:
            model = auto.from_pretrained(spec, **model_kw)
        except OSError as exc:
            raise ModelLoadError(
                f"cannot load the weights of {spec!r} ({exc}); check that the directory or cache holds the "
                "complete model (config, tokenizer and *.safetensors / *.bin files)"
            ) from exc
        if quant is None and device_map is None:
            model.to(device)
        model.eval()
        kwargs.setdefault("name", os.fspath(model_id_or_path))
        return cls(model, tokenizer, **kwargs)

    # ------------------------------------------------------------------ helpers
    def _find_eos_ids(self) -> list[int]:
        gc = getattr(self.model, "generation_config", None)
        eos = getattr(gc, "eos_token_id", None) if gc is not None else None
        if eos is None:
            eos = self.tokenizer.eos_token_id
        if eos is None:
            return []
        return [int(e) for e in eos] if isinstance(eos, (list, tuple)) else [int(eos)]

    @property
    def device(self) -> torch.device:
        """The device the model's inputs go to."""
        return self.model.device

    @property
    def cache_identity(self) -> str:
        """Everything besides the call's arguments that changes the output; part of cache keys."""
        gen = sorted(self.generation_kwargs.items())
        return (
            f"{self.name}|chat={self.use_chat_template}|system={self.system_prompt!r}|top_p={self.top_p}"
            f"|top_k={self.top_k}|dtype={getattr(self.model, 'dtype', '?')}|gen={gen}"
        )

    def format_prompt(self, prompt: str) -> str:
        """Return the text the model is fed for ``prompt`` (the chat template applied if enabled)."""
        if not self.use_chat_template:
            return prompt
        messages = []
        if self.system_prompt is not None:
            messages.append({"role": "system", "content": self.system_prompt})
        messages.append({"role": "user", "content": prompt})
        return self.format_messages(messages)

    def format_messages(self, messages: Sequence[Mapping[str, str]]) -> str:
        """Render a conversation with the tokenizer's chat template, ending with the assistant's turn."""
        if not getattr(self.tokenizer, "chat_template", None):
            raise ValueError(
                f"the tokenizer of {self.name!r} has no chat_template; pass plain prompts instead"
            )
        text = self.tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
        return str(text)

    def _encode(self, text: str, index: int, max_new_tokens: int, templated: bool) -> list[int]:
        # A chat template writes its own special tokens (e.g. <s>[INST]); plain prompts get the tokenizer's.
        ids = list(self.tokenizer(text, add_special_tokens=not templated)["input_ids"])
        limit = self.max_prompt_tokens
        if limit is None and not self.is_encoder_decoder:
            max_pos = getattr(self.model.config, "max_position_embeddings", None)
            if isinstance(max_pos, int) and 0 < max_pos < 10_000_000:
                limit = max_pos - max_new_tokens
                if limit < 1:
                    raise ValueError(
                        f"max_new_tokens={max_new_tokens} leaves no room for a prompt in the context of "
                        f"{self.name!r} ({max_pos} positions); lower max_new_tokens"
                    )
        if limit is not None and len(ids) > limit:
            if not self.truncate_prompts:
                raise ValueError(
                    f"prompts[{index}] is {len(ids)} tokens, more than the {limit} allowed for {self.name!r} "
                    "(context minus max_new_tokens, or max_prompt_tokens); shorten it, lower max_new_tokens, "
                    "or pass truncate_prompts=True to keep its last tokens"
                )
            bos = self.tokenizer.bos_token_id
            keep = ids[-limit:]
            if bos is not None and ids[0] == bos and keep[0] != bos:
                keep = [bos, *keep[1:]]
            ids = keep
        if not ids:
            raise ValueError(f"prompts[{index}] encodes to no tokens; pass a non-empty prompt")
        return ids

    def _pad(self, rows: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        import torch

        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), self.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for k, r in enumerate(rows):
            if self.is_encoder_decoder:  # right padding for the encoder
                ids[k, : len(r)] = torch.tensor(r, dtype=torch.long)
                mask[k, : len(r)] = 1
            else:  # left padding, so every row's last prompt token is the last column
                ids[k, width - len(r) :] = torch.tensor(r, dtype=torch.long)
                mask[k, width - len(r) :] = 1
        return ids.to(self.device), mask.to(self.device)

    def _generation_config(self, max_new_tokens: int, stop: Sequence[str]) -> Any:
        from transformers import GenerationConfig

        gc = getattr(self.model, "generation_config", None)
        fields: dict[str, Any] = {
            "max_new_tokens": max_new_tokens,
            # Greedy search always: sampling happens in _GumbelSampler, so temperature 0 is exactly greedy
            # whatever the model's generation_config.json recommends (do_sample, repetition_penalty, ...).
            "do_sample": False,
            "num_beams": 1,
            "temperature": 1.0,
            "top_p": 1.0,
            "top_k": 50,
            "repetition_penalty": 1.0,
            "eos_token_id": self._eos_ids or None,
            "pad_token_id": self.pad_token_id,
            "use_cache": True,
        }
        if self.is_encoder_decoder:
            start = getattr(gc, "decoder_start_token_id", None)
            if start is None:
                start = getattr(self.model.config, "decoder_start_token_id", None)
            fields["decoder_start_token_id"] = start if start is not None else self.pad_token_id
        if stop:
            fields["stop_strings"] = list(stop)
        fields.update(self.generation_kwargs)
        return GenerationConfig(**fields)

    # ------------------------------------------------------------------ generation
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
        """Generate ``n`` completions per prompt; see :class:`codegym.backends.base.CodeGenerator`."""
        validate_generation_args(prompts, n, temperature, max_new_tokens)
        texts = [self.format_prompt(p) for p in prompts]
        return self._generate_texts(texts, self.use_chat_template, n, temperature, max_new_tokens, seed, stop)

    def generate_chat(
        self,
        conversations: Sequence[Sequence[Mapping[str, str]]],
        *,
        n: int = 1,
        temperature: float = 0.0,
        max_new_tokens: int = 256,
        seed: int | None = None,
        stop: Sequence[str] = (),
    ) -> list[list[str]]:
        """Like :meth:`generate`, for whole conversations (lists of ``{"role", "content"}`` messages).

        The tokenizer's chat template renders each conversation up to the assistant's next turn.
        """
        texts = [self.format_messages(c) for c in conversations]
        validate_generation_args(texts, n, temperature, max_new_tokens)
        return self._generate_texts(texts, True, n, temperature, max_new_tokens, seed, stop)

    def _generate_texts(
        self,
        texts: Sequence[str],
        templated: bool,
        n: int,
        temperature: float,
        max_new_tokens: int,
        seed: int | None,
        stop: Sequence[str],
    ) -> list[list[str]]:
        import torch
        from transformers import LogitsProcessorList

        stop = [s for s in stop if s]
        if not texts:
            return []
        encoded = [self._encode(t, i, max_new_tokens, templated) for i, t in enumerate(texts)]
        rows = [(i, j) for i in range(len(texts)) for j in range(n)]
        row_seeds: list[int] = []
        if temperature > 0:
            if seed is None:
                row_seeds = [secrets.randbits(63) for _ in rows]
            else:
                row_seeds = [_row_seed(seed, texts[i], j) for i, j in rows]
        order = sorted(range(len(rows)), key=lambda r: len(encoded[rows[r][0]]))
        config = self._generation_config(max_new_tokens, stop)
        results: list[list[str]] = [[""] * n for _ in texts]
        with self._lock, torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                chunk = order[start : start + self.batch_size]
                input_ids, attention_mask = self._pad([encoded[rows[r][0]] for r in chunk])
                processors = LogitsProcessorList()
                if temperature > 0:
                    processors.append(
                        _GumbelSampler(
                            [row_seeds[r] for r in chunk], temperature, self.top_k, self.top_p, self.device
                        )
                    )
                out = self.model.generate(
                    input_ids=input_ids,
                    attention_mask=attention_mask,
                    generation_config=config,
                    logits_processor=processors,
                    tokenizer=self.tokenizer if stop else None,
                )
                generated = out[:, 1:] if self.is_encoder_decoder else out[:, input_ids.shape[1] :]
                for k, r in enumerate(chunk):
                    i, j = rows[r]
                    results[i][j] = truncate_at_stop(self._decode(generated[k]), stop)
        return results

    def _decode(self, tokens: torch.Tensor) -> str:
        ids = tokens.tolist()
        for pos, tok in enumerate(ids):
            if tok in self._eos_ids:
                ids = ids[:pos]
                break
        return str(self.tokenizer.decode(ids, skip_special_tokens=True))

    def close(self) -> None:
        """Drop the model and free GPU memory. Idempotent."""
        if getattr(self, "model", None) is None:
            return
        on_cuda = str(self.device).startswith("cuda")
        self.model = None
        if on_cuda:
            import torch

            torch.cuda.empty_cache()


def load_generator(model_id_or_path: str | os.PathLike[str], **kwargs: Any) -> HFCodeGenerator:
    """Load a Hugging Face model as a :class:`HFCodeGenerator`, seq2seq or causal according to its config.

    Args:
        model_id_or_path: A hub id (``"Salesforce/codet5p-220m"``, ``"codellama/CodeLlama-7b-Instruct-hf"``,
            ``"deepseek-ai/deepseek-coder-1.3b-instruct"``, ``"Qwen/Qwen2.5-Coder-1.5B-Instruct"``, ...) or a
            local directory written by ``save_pretrained`` (or ``huggingface-cli download --local-dir``).
        **kwargs: Loading options — ``device`` (default ``"cuda"`` when available, else ``"cpu"``),
            ``dtype`` (``"auto"``: bfloat16/float16 on GPU, float32 on CPU), ``load_in_4bit`` /
            ``load_in_8bit`` (bitsandbytes, CUDA only), ``device_map``, ``revision``,
            ``trust_remote_code`` — and any :class:`HFCodeGenerator` option (``batch_size``,
            ``use_chat_template``, ``system_prompt``, ``top_p``, ``top_k``, ``name``, ...).

    Raises:
        FileNotFoundError: A path that does not exist or is not a model directory.
        ModelLoadError: A hub id that is not cached locally while the hub cannot be reached.
        QuantizationUnavailableError: 4-bit/8-bit requested without CUDA or bitsandbytes.

    """
    return HFCodeGenerator.from_pretrained(model_id_or_path, **kwargs)
