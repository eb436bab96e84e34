"""SynthPrompt-v0: registration, check_env with a shortened small model, the phrasing-catalogue rewriter."""

from __future__ import annotations

import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import codegym  # noqa: F401  (registers the ids)
from codegym.models.benchmark import (
    BENCHMARK_DATASET,
    BENCHMARK_MAX_STEPS,
    PhrasingCatalogue,
    PhrasingCatalogueRewriter,
    load_benchmark_tasks,
)
from codegym.models.small import DEFAULT_RECIPE, SmallModelGenerator, SmallModelRecipe
from codegym.observation import HashingEmbedder

#: The registered operators minus the two that need word vectors (trained on first use; slow here).
OPERATORS = ["submit", "wordnet_synonym", "llm_rewrite", "restore_original"]


def make_env(cache: Path, recipe: SmallModelRecipe, **kwargs) -> gym.Env:
    kwargs.setdefault("operators", OPERATORS)
    return gym.make(
        "SynthPrompt-v0",
        backend=SmallModelGenerator(recipe, cache_dir=cache, progress=False),
        embedder=HashingEmbedder(dim=32),
        **kwargs,
    )


def test_registered_with_the_small_model_and_the_catalogue_rewriter() -> None:
    spec = gym.spec("SynthPrompt-v0")
    assert spec.entry_point == gym.spec("MBPPPrompt-v0").entry_point
    kwargs = spec.kwargs
    assert kwargs["dataset"] == BENCHMARK_DATASET and kwargs["split"] == "eval"
    assert isinstance(kwargs["backend"], SmallModelGenerator) and kwargs["backend"].recipe == DEFAULT_RECIPE
    assert isinstance(kwargs["rewriter"], PhrasingCatalogueRewriter)
    # Same observation, operators and rewards as MBPPPrompt-v0: none of them is overridden.
    for key in ("embedder", "operators", "reward_mode", "feedback"):
        assert key not in kwargs and key not in gym.spec("MBPPPrompt-v0").kwargs
    assert kwargs["max_steps"] == BENCHMARK_MAX_STEPS == 4


def test_check_env(model_cache: Path, tiny_recipe: SmallModelRecipe) -> None:
    from gymnasium.utils.env_checker import check_env

    env = make_env(model_cache, tiny_recipe)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # check_env reports problems as warnings
        check_env(env.unwrapped, skip_render_check=True)


def test_episodes_start_held_out_and_the_rewrite_reaches_trained_wording(
    model_cache: Path, tiny_recipe: SmallModelRecipe
) -> None:
    env = make_env(model_cache, tiny_recipe, operators=["submit", "llm_rewrite", "restore_original"])
    inner = env.unwrapped
    assert len(inner.tasks) == 200 and all(t.metadata["split"] == "eval" for t in inner.tasks)
    assert {t.metadata["phrasing_group"] for t in inner.tasks} == set(DEFAULT_RECIPE.held_out_groups)
    assert inner.observation_space.shape == (32 + 4,)
    _, info = env.reset(seed=3)
    task = inner.task
    inverse = {text: g for g, text in task.metadata["phrasings"].items()}
    groups = [inverse[info["description"]]]
    for _ in range(3):
        _, _, terminated, truncated, info = env.step(1)
        assert info["operator"] == "llm_rewrite" and info["changed"] and not info["fallback"]
        assert task.entry_point in info["prompt"] and task.visible_tests[0] in info["prompt"]
        groups.append(inverse[info["description"]])
        if groups[-1] in DEFAULT_RECIPE.train_groups or terminated or truncated:
            break
    assert groups[0] in DEFAULT_RECIPE.held_out_groups and groups[-1] in DEFAULT_RECIPE.train_groups
    assert info["rewriter_calls"] == len(groups) - 1
    if not (terminated or truncated):
        _, _, _, _, info = env.step(2)  # restore_original
        assert info["description"] == task.prompt
    env.close()


def test_train_split_and_vector_env(model_cache: Path, tiny_recipe: SmallModelRecipe) -> None:
    from codegym.envs.prompt_vec_env import make_prompt_vec_env

    env = make_env(model_cache, tiny_recipe, split="train")
    assert all(t.metadata["split"] == "train" for t in env.unwrapped.tasks)
    assert len(env.unwrapped.tasks) == 500
    venv = make_prompt_vec_env(
        "SynthPrompt-v0",
        n_envs=2,
        seed=0,
        backend=SmallModelGenerator(tiny_recipe, cache_dir=model_cache, progress=False),
        embedder=HashingEmbedder(dim=32),
        operators=OPERATORS,
    )
    obs = venv.reset()
    assert obs.shape == (2, 36)
    venv.step_async(np.array([2, 2]))
    obs, rewards, dones, infos = venv.step_wait()
    assert obs.shape == (2, 36) and len(infos) == 2
    assert all(info["operator"] == "llm_rewrite" for info in infos)
    venv.close()


def test_catalogue_rewrites_keep_names_numbers_and_reach_every_trained_group() -> None:
    from codegym.mutation import make_operator
    from codegym.mutation.llm import protected_tokens

    tasks = load_benchmark_tasks("eval", size=60)
    op = make_operator("llm_rewrite", generator=PhrasingCatalogueRewriter())
    rng = np.random.default_rng(0)
    steps_needed = []
    for task in tasks:
        inverse = {text: g for g, text in task.metadata["phrasings"].items()}
        text, seen = task.prompt, [task.metadata["phrasing_group"]]
        for _ in range(5):
            result = op.mutate(text, rng, original=task.prompt, protected=(task.entry_point,))
            assert not result.fallback, result.info
            assert all(tok in result.text for tok in protected_tokens(text))
            text = result.text
            seen.append(inverse[text])
            if seen[-1] in DEFAULT_RECIPE.train_groups:
                break
        assert seen[-1] in DEFAULT_RECIPE.train_groups, (task.task_id, seen)
        steps_needed.append(len(seen) - 1)
    assert max(steps_needed) <= 3 and min(steps_needed) == 1
    # Deterministic at temperature 0; seeded and varied at temperature > 0.
    rewriter = PhrasingCatalogueRewriter()
    assert rewriter.rewrite(tasks[0].prompt) == rewriter.rewrite(tasks[0].prompt)
    draws = {rewriter.rewrite(tasks[0].prompt, seed=s) for s in range(20)}
    assert len(draws) >= 2 and tasks[0].prompt not in draws


def test_catalogue_finds_edited_descriptions_and_leaves_unknown_text_alone() -> None:
    tasks = load_benchmark_tasks("eval", size=10, start_groups=("D",))
    catalogue = PhrasingCatalogue()
    catalogue.add(tasks)
    assert len(catalogue) == 10
    task = tasks[4]
    edited = task.prompt.replace("Create", "Make").replace("function", "routine")
    found = catalogue.lookup(edited)
    assert found is not None and found[0] == task.metadata["phrasings"] and found[1] == "D"
    rewriter = PhrasingCatalogueRewriter(catalogue)
    assert rewriter.rewrite("Write a function to sort a list.") == "Write a function to sort a list."
    prompt = "Rewrite this.\n\nDescription:\n" + edited + "\n\nRewritten description:\n"
    (out,) = rewriter.generate([prompt])
    assert out[0] in task.metadata["phrasings"].values() and out[0] != task.prompt
    with pytest.raises(ValueError, match="phrasings"):
        catalogue.add([task.__class__("x/1", "p", "f", ("assert f() == 1",))])


def test_backend_names_resolve_to_the_small_model_and_the_catalogue_rewriter() -> None:
    """Scripts that take a backend name (``--backend``, ``--rewriter``) can name codegym's own generators."""
    from codegym.envs.prompt_optimization import CATALOGUE_REWRITER, SMALL_MODEL, resolve_backend

    small = resolve_backend(SMALL_MODEL)  # constructing it is free: nothing trains or loads yet
    assert isinstance(small, SmallModelGenerator) and small.recipe == DEFAULT_RECIPE
    assert isinstance(resolve_backend(CATALOGUE_REWRITER, role="rewriter"), PhrasingCatalogueRewriter)
