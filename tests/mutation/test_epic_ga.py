from __future__ import annotations

import importlib.util
import sys
from collections.abc import Collection
from pathlib import Path

import numpy as np
import pytest

from codegym.mutation import EPiCMutation, MutationOperator, MutationResult

ROOT = Path(__file__).resolve().parents[2]


def _load_agent():
    spec = importlib.util.spec_from_file_location("epic_ga", ROOT / "agents" / "epic_ga.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules["epic_ga"] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


ga_mod = _load_agent()
EPiCGA, EPiCGAConfig = ga_mod.EPiCGA, ga_mod.EPiCGAConfig

ORIGINAL = "Write a function to find the largest number in a given list of integers and return it quickly."


class AppendLetter(MutationOperator):
    """A cheap deterministic stand-in for mutation: appends a random letter."""

    name = "append_letter"

    def mutate(
        self,
        text: str,
        rng: np.random.Generator,
        *,
        original: str | None = None,
        protected: Collection[str] = (),
    ) -> MutationResult:
        return MutationResult(text + "abcdefghij"[int(rng.integers(10))], self.name, True)


class Counter:
    """Fitness = fraction of 'a' among the appended letters, capped; counts prompts scored."""

    def __init__(self, target: int = 3) -> None:
        self.target = target
        self.prompts: list[str] = []
        self.calls = 0

    def __call__(self, prompts: list[str]) -> list[float]:
        self.calls += 1
        self.prompts.extend(prompts)
        return [min(1.0, p[len(ORIGINAL) :].count("a") / self.target) for p in prompts]


def test_ga_improves_and_counts_every_model_call():
    fitness = Counter(target=3)
    cfg = EPiCGAConfig(population_size=6, max_generations=30, seed=0)
    result = EPiCGA(cfg, mutation=AppendLetter()).run(ORIGINAL, fitness)
    assert result.stopped == "threshold" and result.solved and result.best_fitness == 1.0
    assert result.generations[0].best < 1.0
    bests = [g.best for g in result.generations]
    assert bests == sorted(bests)  # the elite never lets the best fitness drop
    assert result.model_calls == len(fitness.prompts) == len(set(fitness.prompts))  # no prompt scored twice
    assert result.fitness_calls == fitness.calls == len(result.generations)
    assert result.generations[-1].model_calls == result.model_calls
    assert result.best_description.startswith(ORIGINAL)


def test_ga_is_reproducible_and_respects_max_generations():
    runs = [
        EPiCGA(EPiCGAConfig(max_generations=3, seed=5), mutation=AppendLetter()).run(ORIGINAL, Counter(50))
        for _ in range(2)
    ]
    assert runs[0].best_description == runs[1].best_description
    assert [g.descriptions for g in runs[0].generations] == [g.descriptions for g in runs[1].generations]
    assert runs[0].stopped == "max_generations" and len(runs[0].generations) == 3
    assert runs[0].generations[0].descriptions[0] == ORIGINAL


def test_ga_stops_at_a_threshold_and_at_once_when_the_original_passes():
    res = EPiCGA(EPiCGAConfig(fitness_threshold=0.3, max_generations=50), mutation=AppendLetter()).run(
        ORIGINAL, Counter(3)
    )
    assert res.stopped == "threshold" and 0.3 <= res.best_fitness < 1.0
    perfect = EPiCGA(EPiCGAConfig(population_size=5), mutation=AppendLetter()).run(
        ORIGINAL, lambda ps: [1.0] * len(ps)
    )
    assert len(perfect.generations) == 1 and perfect.model_calls == 5


def test_roulette_follows_fitness():
    rng = np.random.default_rng(0)
    draws = [EPiCGA._roulette([0.0, 0.1, 0.3], rng) for _ in range(4000)]
    counts = np.bincount(draws, minlength=3) / 4000
    assert counts[0] == 0 and counts[2] == pytest.approx(0.75, abs=0.03)
    zero = [EPiCGA._roulette([0.0, 0.0], rng) for _ in range(1000)]
    assert 0.4 < np.mean(zero) < 0.6  # uniform when all fitness is zero


def test_render_and_bad_fitness():
    seen = []

    def fitness(prompts):
        seen.extend(prompts)
        return [0.5] * len(prompts)

    ga = EPiCGA(EPiCGAConfig(population_size=3, max_generations=2), mutation=AppendLetter())
    result = ga.run(ORIGINAL, fitness, render=lambda d: f"<<{d}>>")
    assert all(p.startswith("<<") for p in seen)
    assert result.best_prompt == f"<<{result.best_description}>>"
    with pytest.raises(ValueError, match="fitness must be in"):
        ga.run(ORIGINAL, lambda ps: [2.0] * len(ps))
    with pytest.raises(ValueError, match="returned 1 values"):
        ga.run(ORIGINAL, lambda ps: [0.5])
    with pytest.raises(ValueError, match="elite"):
        EPiCGA(EPiCGAConfig(elite=9, population_size=3))


def test_ga_with_the_epic_operator(small_vectors):
    """With the real EPiC mutation: fitness = fraction of words changed (up to 3) reaches 1."""
    words = ORIGINAL.split()

    def changed_words(prompts):
        return [min(1.0, sum(a != b for a, b in zip(p.split(), words, strict=False)) / 3) for p in prompts]

    ga = EPiCGA(EPiCGAConfig(max_generations=10, seed=1), mutation=EPiCMutation(vectors=small_vectors))
    result = ga.run(ORIGINAL, changed_words, protected={"integers"})
    assert result.best_fitness == 1.0 and result.best_fitness > result.generations[0].fitness[0]
    assert "integers" in result.best_description
    assert result.model_calls == sum(
        len(set(g.descriptions) - {d for h in result.generations[: g.index] for d in h.descriptions})
        for g in result.generations
    )


def test_run_task_mutates_only_the_description(small_vectors):
    from codegym.tasks import Task

    task = Task(
        "demo/1",
        "Write a function to add two numbers and return their sum quickly.",
        "add_numbers",
        ("assert add_numbers(1, 2) == 3",),
        visible_tests=("assert add_numbers(1, 2) == 3",),
    )
    seen = []

    def fitness(prompts):
        seen.extend(prompts)
        return [0.0] * len(prompts)

    cfg = EPiCGAConfig(population_size=4, max_generations=2)
    result = ga_mod.run_task(
        task, fitness, cfg, mutation=EPiCMutation(probability=1.0, vectors=small_vectors)
    )
    assert result.model_calls == len(seen) > 1
    assert all("assert add_numbers(1, 2) == 3" in p for p in seen)
    assert result.stopped == "max_generations"


def test_ga_with_the_wordnet_lexicon_tagger(small_vectors):
    from codegym.nlp.pos import get_tagger

    op = EPiCMutation(probability=1.0, vectors=small_vectors, tagger=get_tagger("wordnet"))
    text = "Write a function that sorts the list nums_list and returns 3 values."
    out = op.apply(text, np.random.default_rng(0))
    assert out != text and "nums_list" in out and " 3 " in out
