from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from codegym.backends.base import CodeGenerator
from codegym.mutation import LLMRewrite, RestoreOriginal, clean_rewrite, make_operator

DESC = "Write a function to find the shared elements from the given two lists, e.g. x_list and 3 items."


class FakeGenerator(CodeGenerator):
    """Returns canned answers in order and records the calls."""

    name = "fake"

    def __init__(self, answers: list[str]) -> None:
        self.answers = list(answers)
        self.calls: list[dict] = []

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
        self.calls.append({"prompts": list(prompts), "temperature": temperature, "seed": seed})
        return [[self.answers.pop(0)] for _ in prompts]


GOOD = "Write a function that returns the elements common to both given lists, e.g. x_list and 3 items."


def test_rewrite_is_cleaned_and_used():
    gen = FakeGenerator(
        [f"Sure! Here is the rewritten description:\n\n```\n{GOOD}\n```\n\nNote: I kept the names."]
    )
    op = LLMRewrite(gen)
    res = op.mutate(DESC, np.random.default_rng(0))
    assert res.text == GOOD and res.changed and not res.fallback
    assert op.model_calls == 1 and op.fallbacks == 0
    call = gen.calls[0]
    assert call["temperature"] == 0.0 and call["seed"] is None
    assert DESC in call["prompts"][0] and "Rewrite" in call["prompts"][0]


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("", "empty"),
        ("   \n ", "empty"),
        ("def f(a, b):\n    return set(a) & set(b)", "code"),
        ("Write a function that returns the common elements of two lists.", "protected tokens"),
        ("Find common items, e.g. x_list and 3 items. " * 20, "length ratio"),
    ],
)
def test_unusable_output_falls_back_with_a_flag(answer, reason):
    op = LLMRewrite(FakeGenerator([answer]))
    res = op.mutate(DESC, np.random.default_rng(0))
    assert res.fallback and not res.changed and res.text == DESC
    assert reason in res.info["reason"]
    assert res.info["raw"] == answer
    assert op.fallbacks == 1 and op.model_calls == 1


def test_protected_names_must_survive():
    op = LLMRewrite(
        FakeGenerator(["Write a routine to find shared items of two lists, e.g. x_list and 3 items."])
    )
    res = op.mutate(DESC, np.random.default_rng(0), protected={"function"})
    assert res.fallback and "protected names" in res.info["reason"]


def test_batch_is_one_model_call():
    gen = FakeGenerator([GOOD, ""])
    op = LLMRewrite(gen)
    results = op.mutate_batch([DESC, DESC], [np.random.default_rng(0), np.random.default_rng(1)])
    assert len(gen.calls) == 1 and len(gen.calls[0]["prompts"]) == 2
    assert [r.fallback for r in results] == [False, True]
    assert op.model_calls == 2


def test_sampling_seed_comes_from_the_rng():
    gen = FakeGenerator([GOOD, GOOD])
    op = LLMRewrite(gen, temperature=0.7)
    op.mutate(DESC, np.random.default_rng(42))
    op.mutate(DESC, np.random.default_rng(42))
    assert gen.calls[0]["seed"] == gen.calls[1]["seed"] is not None


def test_clean_rewrite():
    assert clean_rewrite('"Return the sum."') == "Return the sum."
    assert clean_rewrite("Rewritten description: Return the sum.") == "Return the sum."
    assert (
        clean_rewrite("Here's a clearer version:\nReturn the sum.\n\nExplanation: shorter.")
        == "Return the sum."
    )


def test_llm_rewrite_needs_a_generator():
    with pytest.raises(TypeError, match="CodeGenerator"):
        LLMRewrite("gpt")  # type: ignore[arg-type]
    assert make_operator("llm_rewrite", generator=FakeGenerator([])).name == "llm_rewrite"


def test_llm_rewrite_with_a_tiny_local_model():
    pytest.importorskip("transformers")
    from codegym.backends import load_generator
    from codegym.backends.tiny import tiny_llama_path

    gen = load_generator(tiny_llama_path(instruct=True))
    op = LLMRewrite(gen, max_new_tokens=16)
    a = op.mutate(DESC, np.random.default_rng(0))
    b = op.mutate(DESC, np.random.default_rng(1))
    assert a.text == b.text  # greedy: the rng does not matter
    # a random tiny model writes gibberish; whatever it wrote, the result is honest about it
    assert a.fallback == ("reason" in a.info)
    assert op.model_calls == 2


def test_restore_original():
    op = RestoreOriginal()
    res = op.mutate("edited text", np.random.default_rng(0), original=DESC)
    assert res.text == DESC and res.changed
    assert not op.mutate(DESC, np.random.default_rng(0), original=DESC).changed
    with pytest.raises(ValueError, match="original="):
        op.mutate("edited", np.random.default_rng(0))
