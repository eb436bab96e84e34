"""HFCodeGenerator on tiny T5 / Llama models loaded from local directories (the real from_pretrained path)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from codegym.backends import (
    HFCodeGenerator,
    ModelLoadError,
    QuantizationUnavailableError,
    load_generator,
    truncate_at_stop,
)

from .conftest import PROMPTS


def test_loads_the_right_architecture_from_a_local_directory(t5_gen, llama_gen) -> None:
    from transformers import LlamaForCausalLM, T5ForConditionalGeneration

    assert isinstance(t5_gen.model, T5ForConditionalGeneration) and t5_gen.is_encoder_decoder
    assert isinstance(llama_gen.model, LlamaForCausalLM) and not llama_gen.is_encoder_decoder
    assert t5_gen.model.dtype == torch.float32 and str(t5_gen.device) == "cpu"
    assert llama_gen.tokenizer.pad_token is None  # like CodeLlama: the backend pads with eos itself
    assert llama_gen.pad_token_id == llama_gen.tokenizer.eos_token_id


@pytest.mark.parametrize("which", ["t5_gen", "llama_gen"])
def test_greedy_is_deterministic(which: str, request: pytest.FixtureRequest) -> None:
    gen = request.getfixturevalue(which)
    first = gen.generate(PROMPTS, max_new_tokens=12)
    assert first == gen.generate(PROMPTS, max_new_tokens=12)
    assert len(first) == len(PROMPTS) and all(len(c) == 1 and isinstance(c[0], str) for c in first)
    assert sum(bool(c[0].strip()) for c in first) >= 3  # the tiny models do emit text
    assert len({c[0] for c in first}) >= 3  # and it depends on the prompt


@pytest.mark.parametrize("which", ["llama_gen", "t5_gen"])
def test_batched_equals_one_by_one(which: str, request: pytest.FixtureRequest) -> None:
    # Left padding (causal) / right padding (seq2seq) must not change any row's greedy output.
    gen = request.getfixturevalue(which)
    batched = gen.generate(PROMPTS, max_new_tokens=16)
    single = [gen.generate([p], max_new_tokens=16)[0] for p in PROMPTS]
    assert batched == single


def test_batch_size_chunks_without_changing_results(tiny_llama_dir) -> None:
    one = load_generator(tiny_llama_dir, batch_size=1)
    many = load_generator(tiny_llama_dir, batch_size=64)
    assert one.generate(PROMPTS, max_new_tokens=8) == many.generate(PROMPTS, max_new_tokens=8)


@pytest.mark.parametrize("which", ["t5_gen", "llama_gen"])
def test_seeded_sampling_is_reproducible_and_batch_independent(
    which: str, request: pytest.FixtureRequest
) -> None:
    gen = request.getfixturevalue(which)
    state = torch.random.get_rng_state()
    a = gen.generate(PROMPTS, n=3, temperature=1.0, seed=123, max_new_tokens=10)
    assert torch.equal(state, torch.random.get_rng_state()), "sampling must not touch the global torch RNG"
    assert a == gen.generate(PROMPTS, n=3, temperature=1.0, seed=123, max_new_tokens=10)
    # A prompt's samples do not depend on the other prompts in the call or their order.
    reordered = gen.generate(PROMPTS[::-1], n=3, temperature=1.0, seed=123, max_new_tokens=10)
    assert reordered[::-1] == a
    assert gen.generate(PROMPTS[2:3], n=3, temperature=1.0, seed=123, max_new_tokens=10)[0] == a[2]
    assert a != gen.generate(PROMPTS, n=3, temperature=1.0, seed=124, max_new_tokens=10)


def test_n_samples_per_prompt(llama_gen) -> None:
    sampled = llama_gen.generate(PROMPTS[:2], n=4, temperature=1.0, seed=0, max_new_tokens=10)
    assert [len(c) for c in sampled] == [4, 4]
    assert all(len(set(c)) > 1 for c in sampled)  # different samples
    greedy = llama_gen.generate(PROMPTS[:2], n=3, temperature=0.0, max_new_tokens=10)
    assert all(len(set(c)) == 1 for c in greedy)  # temperature 0: n copies of the greedy answer
    assert [c[0] for c in greedy] == [c[0] for c in llama_gen.generate(PROMPTS[:2], max_new_tokens=10)]


def test_unseeded_sampling_varies(llama_gen) -> None:
    a = llama_gen.generate(PROMPTS[:2], n=2, temperature=1.0, max_new_tokens=10)
    b = llama_gen.generate(PROMPTS[:2], n=2, temperature=1.0, max_new_tokens=10)
    assert a != b


def test_top_k_one_is_greedy(tiny_llama_dir) -> None:
    gen = load_generator(tiny_llama_dir, top_k=1)
    assert gen.generate(PROMPTS, temperature=1.5, seed=3, max_new_tokens=10) == gen.generate(
        PROMPTS, max_new_tokens=10
    )


def test_low_temperature_approaches_greedy_and_top_p_limits(tiny_llama_dir) -> None:
    gen = load_generator(tiny_llama_dir, top_p=1e-6)  # only the most likely token survives
    assert gen.generate(PROMPTS, temperature=1.0, seed=5, max_new_tokens=8) == gen.generate(
        PROMPTS, max_new_tokens=8
    )


@pytest.mark.parametrize("which", ["t5_gen", "llama_gen"])
def test_stop_strings_cut_the_completion(which: str, request: pytest.FixtureRequest) -> None:
    gen = request.getfixturevalue(which)
    full = gen.generate(PROMPTS, max_new_tokens=24)
    for (text,), prompt in zip(full, PROMPTS, strict=True):
        if len(text) < 8:
            continue
        stop = text[4:7]
        cut = gen.generate([prompt], max_new_tokens=24, stop=[stop, "\x00never"])[0][0]
        assert cut == text[: text.index(stop)]
        assert stop not in cut


def test_stop_string_ends_generation_early(llama_gen) -> None:
    calls: list[tuple[int, int]] = []
    original = llama_gen.model.generate

    def spy(*args, **kwargs):
        out = original(*args, **kwargs)
        calls.append((kwargs["input_ids"].shape[1], out.shape[1]))
        return out

    llama_gen.model.generate = spy
    try:
        text = llama_gen.generate(PROMPTS[:1], max_new_tokens=40)[0][0]
        llama_gen.generate(PROMPTS[:1], max_new_tokens=40, stop=[text[2:5]])
    finally:
        del llama_gen.model.generate
    (in0, out0), (in1, out1) = calls
    assert out0 - in0 == 40 and out1 - in1 < 40


def test_chat_template_is_applied_for_instruct_models(llama_gen, llama_instruct_gen) -> None:
    assert llama_instruct_gen.use_chat_template and not llama_gen.use_chat_template
    assert llama_instruct_gen.format_prompt("Write add") == "<s>[INST] Write add [/INST]"
    assert llama_gen.format_prompt("Write add") == "Write add"
    # generate() with the template equals generate_chat() with the same single user message ...
    msg = [{"role": "user", "content": PROMPTS[1]}]
    assert llama_instruct_gen.generate([PROMPTS[1]], max_new_tokens=8) == llama_instruct_gen.generate_chat(
        [msg], max_new_tokens=8
    )
    # ... and the template changes what the model sees (same weights family, different input).
    ids = llama_instruct_gen._encode(llama_instruct_gen.format_prompt("hi"), 0, 8, templated=True)
    assert ids[0] == llama_instruct_gen.tokenizer.bos_token_id and ids.count(ids[0]) == 1


def test_system_prompt_and_explicit_template_switch(tiny_llama_instruct_dir, tiny_llama_dir) -> None:
    gen = load_generator(tiny_llama_instruct_dir, system_prompt="Answer in Python.")
    assert gen.format_prompt("x") == "<s>[INST] <<SYS>>\nAnswer in Python.\n<</SYS>>\n\nx [/INST]"
    # A nickname does not hide that the directory is an instruct model's.
    assert load_generator(tiny_llama_instruct_dir, name="nickname").use_chat_template
    off = load_generator(tiny_llama_instruct_dir, use_chat_template=False)
    assert off.format_prompt("x") == "x"
    with pytest.raises(ValueError, match="no chat_template"):
        load_generator(tiny_llama_dir, use_chat_template=True)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA error path")
@pytest.mark.parametrize("flag", ["load_in_4bit", "load_in_8bit"])
def test_quantization_without_cuda_is_a_clear_error(flag: str, tiny_llama_dir) -> None:
    with pytest.raises(QuantizationUnavailableError, match=rf"{flag}=True needs a CUDA GPU"):
        load_generator(tiny_llama_dir, **{flag: True})


def test_quantization_flags_are_exclusive(tiny_llama_dir) -> None:
    with pytest.raises(ValueError, match="exclusive"):
        load_generator(tiny_llama_dir, load_in_4bit=True, load_in_8bit=True)


def test_hub_id_offline_says_so_and_suggests_a_local_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match=r"(?s)not in the local Hugging Face cache.*local directory"):
        load_generator("codegym-test/definitely-not-cached-model")


def test_missing_or_bad_local_paths(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="no model directory"):
        load_generator(str(tmp_path / "nope" / "model"))
    with pytest.raises(FileNotFoundError, match="no config.json"):
        load_generator(tmp_path)


def test_too_long_prompts_raise_or_truncate(tiny_llama_dir) -> None:
    gen = load_generator(tiny_llama_dir, max_prompt_tokens=16)
    long_prompt = "def f(x):\n    return x\n" * 20
    with pytest.raises(ValueError, match=r"prompts\[1\] is \d+ tokens"):
        gen.generate(["short", long_prompt], max_new_tokens=4)
    cut = load_generator(tiny_llama_dir, max_prompt_tokens=16, truncate_prompts=True)
    assert len(cut.generate(["short", long_prompt], max_new_tokens=4)) == 2


def test_bad_arguments_are_named(llama_gen, tiny_llama_dir) -> None:
    with pytest.raises(ValueError, match="n must be"):
        llama_gen.generate(["x"], n=0)
    with pytest.raises(ValueError, match="temperature"):
        llama_gen.generate(["x"], temperature=-1)
    with pytest.raises(ValueError, match="single string"):
        llama_gen.generate("x")
    with pytest.raises(ValueError, match="batch_size"):
        load_generator(tiny_llama_dir, batch_size=0)
    with pytest.raises(ValueError, match="dtype"):
        load_generator(tiny_llama_dir, dtype="float64")
    assert llama_gen.generate([], max_new_tokens=4) == []


def test_wraps_objects_already_in_memory(llama_gen) -> None:
    gen = HFCodeGenerator(llama_gen.model, llama_gen.tokenizer, name="mine")
    assert gen.name == "mine"
    assert gen.generate(PROMPTS[:2], max_new_tokens=6) == llama_gen.generate(PROMPTS[:2], max_new_tokens=6)


def test_model_generation_config_cannot_turn_greedy_into_sampling(tiny_llama_dir) -> None:
    # Qwen / DeepSeek ship generation_config.json with do_sample=True; temperature 0 must stay greedy.
    gen = load_generator(tiny_llama_dir)
    expected = gen.generate(PROMPTS, max_new_tokens=8)
    gen.model.generation_config.do_sample = True
    gen.model.generation_config.temperature = 0.7
    gen.model.generation_config.repetition_penalty = 1.3
    assert gen.generate(PROMPTS, max_new_tokens=8) == expected


def test_truncate_at_stop() -> None:
    assert truncate_at_stop("abc\ndef\nghi", ["\nd", "\ng"]) == "abc"
    assert truncate_at_stop("abc", ["", "x"]) == "abc"


def test_importing_backends_does_not_import_torch() -> None:
    code = "import codegym, codegym.backends, sys; assert 'torch' not in sys.modules, 'torch imported'"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
