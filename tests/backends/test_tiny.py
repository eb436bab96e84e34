"""codegym.backends.tiny: locally built models and tokenizers."""

from __future__ import annotations

import threading
from pathlib import Path

import torch

from codegym.backends import tiny


def test_cached_directories_hold_a_complete_model(tiny_t5_dir: Path, tiny_llama_instruct_dir: Path) -> None:
    for path in (tiny_t5_dir, tiny_llama_instruct_dir):
        names = {p.name for p in path.iterdir()}
        assert {"config.json", "model.safetensors", "tokenizer.json", ".complete"} <= names
    assert tiny.tiny_t5_path() == tiny_t5_dir  # the second call reuses the build


def test_concurrent_builders_agree(tmp_path: Path) -> None:
    results: list[Path] = []
    errors: list[BaseException] = []

    def build() -> None:
        try:
            results.append(tiny.tiny_llama_path(cache=tmp_path))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=build) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(results)) == 1
    assert [p.name for p in tmp_path.iterdir()] == [results[0].name]  # no temporary directories left


def test_tokenizer_round_trips_code(tiny_t5_dir: Path, tiny_llama_dir: Path) -> None:
    from transformers import AutoTokenizer

    code = 'def f(x):\n    """Doc ✓."""\n    return {"a": x ** 2}\t# é\n'
    t5 = AutoTokenizer.from_pretrained(tiny_t5_dir)
    ids = t5(code)["input_ids"]
    assert ids[0] == t5.bos_token_id == 1 and ids[-1] == t5.eos_token_id == 2 and t5.pad_token_id == 0
    assert t5.decode(ids, skip_special_tokens=True) == code
    llama = AutoTokenizer.from_pretrained(tiny_llama_dir)
    ids = llama(code)["input_ids"]
    assert ids[0] == llama.bos_token_id and ids[-1] != llama.eos_token_id and llama.pad_token is None
    assert llama.decode(ids, skip_special_tokens=True) == code


def test_codet5p_220m_shape() -> None:
    from transformers import T5ForConditionalGeneration

    config = tiny.codet5p_220m_config()
    with torch.device("meta"):
        model = T5ForConditionalGeneration(config)
    params = sum(p.numel() for p in model.parameters())
    assert 220e6 < params < 226e6
    assert (config.d_model, config.num_layers, config.num_heads, config.vocab_size) == (768, 12, 12, 32100)


def test_tokenizer_padding_to_a_vocabulary_size() -> None:
    tok = tiny.build_tokenizer(512, pad_to=700)
    assert len(tok) == 700
