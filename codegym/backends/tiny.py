"""Tiny Hugging Face models built locally, for tests and examples that must run offline.

The models use the same architecture classes as the real ones (``T5ForConditionalGeneration`` like
CodeT5+, ``LlamaForCausalLM`` like CodeLlama) with a byte-level BPE tokenizer trained here with the
``tokenizers`` library over Python standard-library source. They are saved with ``save_pretrained`` into
a cache directory, so loading them goes through the real ``from_pretrained`` path on a local directory::

    from codegym.backends import load_generator
    from codegym.backends.tiny import tiny_t5_path

    gen = load_generator(tiny_t5_path())
    gen.generate(["def add(a, b):"], max_new_tokens=8)

Their weights are random (seeded): they produce deterministic gibberish, fast. Building one takes about a
second; later calls return the cached directory. The cache lives in ``$CODEGYM_CACHE_DIR/tiny`` (default
``~/.cache/codegym/tiny``); concurrent builders (pytest-xdist workers, several processes) are safe: each
builds in a private temporary directory and renames it into place atomically.

:func:`random_codet5p_220m` builds a model with the real CodeT5+-220M configuration (220M parameters,
random weights) for benchmarks.
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codegym.cache import cache_root

if TYPE_CHECKING:  # pragma: no cover
    from transformers import PreTrainedModel, PreTrainedTokenizerFast

#: Bump when the recipe changes, so stale cached builds are not reused.
BUILD_VERSION = 2

#: Special tokens in CodeT5+'s (RoBERTa-style) order: ``<pad>`` = 0, ``<s>`` = 1, ``</s>`` = 2.
SPECIAL_TOKENS = ["<pad>", "<s>", "</s>", "<unk>", "<mask>"]

#: A CodeLlama-Instruct (Llama-2) style chat template, saved with the instruct variant of the tiny Llama.
LLAMA2_CHAT_TEMPLATE = (
    "{% if messages[0]['role'] == 'system' %}"
    "{% set sys = '<<SYS>>\\n' + messages[0]['content'] + '\\n<</SYS>>\\n\\n' %}"
    "{% set msgs = messages[1:] %}"
    "{% else %}{% set sys = '' %}{% set msgs = messages %}{% endif %}"
    "{% for m in msgs %}"
    "{% if m['role'] == 'user' %}"
    "{{ bos_token + '[INST] ' + (sys if loop.first else '') + m['content'].strip() + ' [/INST]' }}"
    "{% else %}{{ ' ' + m['content'].strip() + ' ' + eos_token }}{% endif %}"
    "{% endfor %}"
)

# Standard-library modules whose source is the tokenizer's training corpus (about 400 KB of Python).
_CORPUS_MODULES = [
    "textwrap.py",
    "string.py",
    "functools.py",
    "heapq.py",
    "bisect.py",
    "fractions.py",
    "statistics.py",
    "collections/__init__.py",
    "json/encoder.py",
    "json/decoder.py",
    "random.py",
    "difflib.py",
    "shlex.py",
    "calendar.py",
]

# A little always-present text, so the corpus is never empty (e.g. a Python built without its sources).
_FALLBACK_CORPUS = '''
def add(a, b):
    """Return the sum of a and b."""
    return a + b


def is_palindrome(s: str) -> bool:
    """Check whether a string reads the same backwards."""
    return s == s[::-1]


class Stack:
    def __init__(self):
        self.items = []

    def push(self, item):
        self.items.append(item)

    def pop(self):
        return self.items.pop()

Write a python function to find the minimum of three numbers.
assert min_of_three(10, 20, 0) == 0
for i in range(10):
    if i % 2 == 0:
        print(i)
'''


def cache_dir() -> Path:
    """Return the directory tiny models are cached in (``<codegym cache>/tiny``)."""
    return cache_root() / "tiny"


def code_corpus() -> list[str]:
    """Return the tokenizer training corpus: standard-library source plus a built-in snippet."""
    lib = Path(sysconfig.get_paths()["stdlib"])
    texts = [_FALLBACK_CORPUS]
    for rel in _CORPUS_MODULES:
        path = lib / rel
        if path.is_file():
            texts.append(path.read_text(encoding="utf-8", errors="replace"))
    return texts


def build_tokenizer(
    vocab_size: int = 2048,
    *,
    flavour: str = "t5",
    chat_template: str | None = None,
    pad_to: int | None = None,
) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE tokenizer on :func:`code_corpus` and wrap it as a fast HF tokenizer.

    Args:
        vocab_size: BPE vocabulary size, special tokens included.
        flavour: ``"t5"`` wraps every input as ``<s> ... </s>`` like CodeT5+'s RoBERTa tokenizer;
            ``"llama"`` prepends ``<s>`` only, and has no pad token, like CodeLlama's.
        chat_template: A Jinja chat template to store with the tokenizer.
        pad_to: Add filler tokens ``<extra_id_N>`` until the vocabulary has exactly this many entries
            (to match a real model's embedding size).

    Returns:
        The tokenizer; ids 0-4 are ``<pad> <s> </s> <unk> <mask>``.

    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    if flavour not in ("t5", "llama"):
        raise ValueError(f"flavour must be 't5' or 'llama', got {flavour!r}")
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(code_corpus(), trainer=trainer)
    if flavour == "t5":
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", 1), ("</s>", 2)]
        )
        specials: dict[str, Any] = {"pad_token": "<pad>", "mask_token": "<mask>"}
    else:
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", 1)]
        )
        specials = {}
    hf = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        model_max_length=1024,
        **specials,
    )
    if chat_template is not None:
        hf.chat_template = chat_template
    if pad_to is not None:
        missing = pad_to - len(hf)
        if missing < 0:
            raise ValueError(f"pad_to={pad_to} is smaller than the trained vocabulary ({len(hf)})")
        hf.add_tokens([f"<extra_id_{i}>" for i in range(missing)])
    return hf


def _cached_build(name: str, build: Callable[[Path], None], root: Path | None) -> Path:
    """Return ``root/name-<version>``, calling ``build(tmpdir)`` and renaming it into place if missing."""
    import transformers

    root = Path(root) if root is not None else cache_dir()
    py = f"{sys.version_info[0]}{sys.version_info[1]}"
    tag = f"v{BUILD_VERSION}-tf{transformers.__version__.split('.')[0]}-py{py}"
    final = root / f"{name}-{tag}"
    if (final / ".complete").is_file():
        return final
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))
    try:
        build(tmp)
        (tmp / ".complete").write_text("ok\n")
        try:
            os.rename(tmp, final)
        except OSError:
            # Another process finished first (the target exists and is not empty), or a stale
            # incomplete directory is in the way.
            if not (final / ".complete").is_file():
                shutil.rmtree(final, ignore_errors=True)
                os.rename(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def _seeded_init(
    seed: int, make: Callable[[], PreTrainedModel], matrix_std: float | None = None
) -> PreTrainedModel:
    """Build a model with random weights from ``seed`` without touching the global torch RNG state.

    ``matrix_std`` re-draws every weight matrix from N(0, matrix_std): with the default initialisation a
    tiny random model repeats one token forever; at 0.3 its greedy output varies with the prompt, which
    tests of stop strings, sampling and batching need.
    """
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = make()
        if matrix_std is not None:
            with torch.no_grad():
                for param in model.parameters():
                    if param.dim() == 2:
                        param.normal_(0.0, matrix_std)
    model.eval()
    return model


def tiny_t5_config(vocab_size: int) -> Any:
    """Return a CodeT5+-like ``T5Config`` (ReLU, RoBERTa special ids) with ~0.3M parameters."""
    from transformers import T5Config

    return T5Config(
        vocab_size=vocab_size,
        d_model=64,
        d_kv=16,
        d_ff=128,
        num_layers=2,
        num_decoder_layers=2,
        num_heads=4,
        relative_attention_num_buckets=32,
        relative_attention_max_distance=128,
        dropout_rate=0.0,
        feed_forward_proj="relu",
        is_encoder_decoder=True,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        decoder_start_token_id=0,
        tie_word_embeddings=True,
    )


def tiny_llama_config(vocab_size: int) -> Any:
    """Return a CodeLlama-like ``LlamaConfig`` (grouped-query attention, RoPE), shrunk to ~0.3M parameters."""
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        rms_norm_eps=1e-5,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=None,
        tie_word_embeddings=True,
    )


def tiny_t5_path(cache: str | os.PathLike[str] | None = None) -> Path:
    """Return a local directory holding a tiny CodeT5+-like ``T5ForConditionalGeneration`` and tokenizer.

    Args:
        cache: Parent directory for the build (default :func:`cache_dir`).

    Returns:
        A directory ``from_pretrained`` and :func:`codegym.backends.load_generator` accept.

    """

    def build(out: Path) -> None:
        from transformers import T5ForConditionalGeneration

        tok = build_tokenizer(flavour="t5")
        model = _seeded_init(0, lambda: T5ForConditionalGeneration(tiny_t5_config(len(tok))), 0.3)
        model.save_pretrained(out)
        tok.save_pretrained(out)

    return _cached_build("tiny-codet5p", build, Path(cache) if cache is not None else None)


def tiny_llama_path(instruct: bool = False, cache: str | os.PathLike[str] | None = None) -> Path:
    """Return a local directory holding a tiny CodeLlama-like ``LlamaForCausalLM`` and tokenizer.

    Args:
        instruct: Build the instruct variant: its tokenizer carries a Llama-2 ``[INST]`` chat template and
            its directory name contains ``instruct``, so :func:`codegym.backends.load_generator` applies the
            template automatically (as it does for ``codellama/CodeLlama-7b-Instruct-hf``).
        cache: Parent directory for the build (default :func:`cache_dir`).

    Returns:
        A directory ``from_pretrained`` and :func:`codegym.backends.load_generator` accept. Like
        CodeLlama's, the tokenizer has no pad token.

    """

    def build(out: Path) -> None:
        from transformers import LlamaForCausalLM

        tok = build_tokenizer(flavour="llama", chat_template=LLAMA2_CHAT_TEMPLATE if instruct else None)
        model = _seeded_init(1, lambda: LlamaForCausalLM(tiny_llama_config(len(tok))), 0.3)
        model.save_pretrained(out)
        tok.save_pretrained(out)

    name = "tiny-codellama-instruct" if instruct else "tiny-codellama"
    return _cached_build(name, build, Path(cache) if cache is not None else None)


def codet5p_220m_config() -> Any:
    """Return the ``T5Config`` of ``Salesforce/codet5p-220m`` (written out here; nothing is downloaded)."""
    from transformers import T5Config

    return T5Config(
        vocab_size=32100,
        d_model=768,
        d_kv=64,
        d_ff=3072,
        num_layers=12,
        num_decoder_layers=12,
        num_heads=12,
        relative_attention_num_buckets=32,
        relative_attention_max_distance=128,
        dropout_rate=0.1,
        layer_norm_epsilon=1e-6,
        initializer_factor=1.0,
        feed_forward_proj="relu",
        is_encoder_decoder=True,
        use_cache=True,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        decoder_start_token_id=0,
        tie_word_embeddings=True,
        n_positions=512,
    )


def random_codet5p_220m(seed: int = 0) -> tuple[PreTrainedModel, PreTrainedTokenizerFast]:
    """Build a CodeT5+-220M-shaped ``T5ForConditionalGeneration`` with random weights, in memory.

    The configuration is CodeT5+-220M's (12+12 layers, d_model 768, vocabulary 32100: about 223M
    parameters); the tokenizer is the locally trained one padded with filler tokens to 32100 entries. Use
    it for throughput measurements: the compute per token equals the real model's.

    Returns:
        ``(model, tokenizer)`` in eval mode, float32, on the CPU.

    """
    from transformers import T5ForConditionalGeneration

    config = codet5p_220m_config()
    tok = build_tokenizer(flavour="t5", pad_to=config.vocab_size)
    model = _seeded_init(seed, lambda: T5ForConditionalGeneration(config))
    return model, tok
