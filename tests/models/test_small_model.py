"""The small code model: recipe, training data, cache (reuse and rebuild), HF-backend loading, evaluation."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from codegym.backends.base import CodeGenerator
from codegym.models import small
from codegym.models.evaluation import evaluate_by_group
from codegym.models.small import (
    DEFAULT_RECIPE,
    SmallModelGenerator,
    SmallModelRecipe,
    build_tokenizer,
    load_small_model,
    model_dir,
    read_build_info,
    small_model_path,
    training_examples,
)
from codegym.tasks.procedural.synthesis import PHRASING_GROUPS, load_synthesis_tasks

ROOT = Path(__file__).resolve().parents[2]


def test_training_data_has_only_the_training_phrasing_groups(tiny_recipe: SmallModelRecipe) -> None:
    tasks = small.training_tasks(tiny_recipe)
    pairs = training_examples(tiny_recipe, tasks)
    assert len(pairs) == len(tasks) * len(tiny_recipe.train_groups)
    held_out = tiny_recipe.held_out_groups
    assert set(held_out) == set(PHRASING_GROUPS) - set(tiny_recipe.train_groups) and held_out
    by_prompt = {prompt for prompt, _ in pairs}
    for task in tasks:
        phrasings = task.metadata["phrasings"]
        for group in tiny_recipe.train_groups:
            assert any(p.startswith(phrasings[group] + "\n") for p in by_prompt)
        for group in held_out:
            if phrasings[group] not in {phrasings[g] for g in tiny_recipe.train_groups}:
                assert not any(p.startswith(phrasings[group] + "\n") for p in by_prompt)
    # Rendered like the environment renders them (the "mbpp" style), target = the reference solution.
    prompt, target = pairs[0]
    assert "Your code should pass these tests:" in prompt and tasks[0].visible_tests[0] in prompt
    assert target.startswith("def " + tasks[0].entry_point)


def test_training_tasks_are_train_split_and_disjoint_from_eval(tiny_recipe: SmallModelRecipe) -> None:
    train = small.training_tasks(tiny_recipe)
    evaluation = load_synthesis_tasks(split="eval", size=40)
    keys = {t.metadata["content_key"] for t in train}
    assert all(t.metadata["split"] == "train" for t in train)
    assert not keys & {t.metadata["content_key"] for t in evaluation}


def test_tokenizer_splits_digits_so_constants_copy() -> None:
    tok = build_tokenizer(["return x + 17\n", "add 17 to x", "return x + 3"] * 20, 300)
    pieces = tok.convert_ids_to_tokens(tok("x + 1234", add_special_tokens=False)["input_ids"])
    assert [p for p in pieces if p.strip("Ġ").isdigit()] == ["1", "2", "3", "4"]
    assert tok.decode(tok("return x + 1234\n", add_special_tokens=False)["input_ids"]) == "return x + 1234\n"


def test_recipe_validation_names_the_bad_field() -> None:
    with pytest.raises(ValueError, match="architecture"):
        SmallModelRecipe(architecture="gpt").validate()
    with pytest.raises(ValueError, match="train_groups"):
        SmallModelRecipe(train_groups=("A", "Z")).validate()
    with pytest.raises(ValueError, match="divisible"):
        SmallModelRecipe(d_model=30, num_heads=4).validate()
    with pytest.raises(ValueError, match="max_steps"):
        SmallModelRecipe(max_steps=0).validate()
    with pytest.raises(ValueError, match="unknown SmallModelRecipe fields"):
        DEFAULT_RECIPE.replace(steps=3)
    DEFAULT_RECIPE.validate()
    assert DEFAULT_RECIPE.held_out_groups == ("B", "D", "F")


def test_build_loads_through_the_hf_backend(model_cache: Path, tiny_recipe: SmallModelRecipe) -> None:
    from codegym.backends import load_generator
    from codegym.backends.hf import HFCodeGenerator

    path = small_model_path(tiny_recipe, cache_dir=model_cache, build=False)
    assert path == model_dir(tiny_recipe, model_cache) and path.parent == model_cache
    assert path.name.startswith("test-small-llama-") and (path / "config.json").is_file()
    info = read_build_info(path)
    assert info["recipe"]["fingerprint"] == tiny_recipe.fingerprint()
    assert info["training"]["steps"] == tiny_recipe.max_steps and info["training"]["stopped_by"] == "steps"
    gen = load_small_model(tiny_recipe, cache_dir=model_cache, build=False)
    assert isinstance(gen, HFCodeGenerator) and not gen.is_encoder_decoder
    prompt = small.render_prompt(small.training_tasks(tiny_recipe)[0], "A")
    out = gen.generate([prompt], max_new_tokens=8)
    # Exactly the code path of a hub model: load_generator on the directory gives the same output.
    assert load_generator(path, device="cpu").generate([prompt], max_new_tokens=8) == out
    assert isinstance(out[0][0], str)


def test_t5_recipe_builds_a_seq2seq_model(tiny_recipe: SmallModelRecipe, tmp_path: Path) -> None:
    recipe = tiny_recipe.replace(architecture="t5", num_layers=2, max_steps=2)
    gen = load_small_model(recipe, cache_dir=tmp_path, progress=False)
    assert gen.is_encoder_decoder and gen.model.config.num_layers == gen.model.config.num_decoder_layers == 1
    prompt = small.render_prompt(small.training_tasks(recipe)[0], "E")
    assert isinstance(gen.generate([prompt], max_new_tokens=4)[0][0], str)
    with pytest.raises(ValueError, match="even"):
        recipe.replace(num_layers=3).validate()


def test_cache_is_reused(model_cache: Path, tiny_recipe: SmallModelRecipe, monkeypatch) -> None:
    def boom(*args, **kwargs):
        raise AssertionError("a cached model was rebuilt")

    monkeypatch.setattr(small, "build_small_model", boom)
    path = small_model_path(tiny_recipe, cache_dir=model_cache)
    assert (path / ".complete").is_file()


def test_a_changed_recipe_is_rebuilt(model_cache: Path, tiny_recipe: SmallModelRecipe, monkeypatch) -> None:
    changed = tiny_recipe.replace(seed=1)
    assert changed.fingerprint() != tiny_recipe.fingerprint()
    with pytest.raises(FileNotFoundError, match="codegym model build"):
        small_model_path(changed, cache_dir=model_cache, build=False)
    # A new version of the training code changes every fingerprint (and so every cache directory).
    before = tiny_recipe.fingerprint()
    monkeypatch.setattr(small, "RECIPE_VERSION", small.RECIPE_VERSION + 1)
    assert tiny_recipe.fingerprint() != before
    monkeypatch.undo()
    # Building the changed recipe goes to its own directory and leaves the old one alone.
    built = []
    real = small.build_small_model

    def spy(recipe, out, **kwargs):
        built.append(recipe)
        return real(recipe, out, **kwargs)

    monkeypatch.setattr(small, "build_small_model", spy)
    path = small_model_path(changed, cache_dir=model_cache, progress=False)
    assert built == [changed] and path != model_dir(tiny_recipe, model_cache)
    assert (model_dir(tiny_recipe, model_cache) / ".complete").is_file()


def test_training_is_seeded_and_reproducible(tiny_recipe: SmallModelRecipe, tmp_path: Path) -> None:
    import torch
    from safetensors.torch import load_file

    recipe = tiny_recipe.replace(max_steps=3)
    state = torch.random.get_rng_state()
    small.build_small_model(recipe, tmp_path / "one", progress=False)
    small.build_small_model(recipe, tmp_path / "two", progress=False)
    assert torch.equal(state, torch.random.get_rng_state())  # the global RNG is left alone
    one, two = (load_file(str(tmp_path / d / "model.safetensors")) for d in ("one", "two"))
    assert one.keys() == two.keys() and all(torch.equal(one[k], two[k]) for k in one)


def test_cache_root_follows_the_environment(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CODEGYM_CACHE_DIR", str(tmp_path))
    assert small.cache_root() == tmp_path / "models"
    assert model_dir().parent == tmp_path / "models"
    monkeypatch.delenv("CODEGYM_CACHE_DIR")
    assert small.cache_root() == Path.home() / ".cache" / "codegym" / "models"


def test_lazy_generator_builds_on_first_use(model_cache: Path, tiny_recipe: SmallModelRecipe) -> None:
    gen = SmallModelGenerator(tiny_recipe, cache_dir=model_cache, progress=False)
    assert "test-small" in repr(gen)
    twin = copy.deepcopy(gen)  # Gymnasium deep-copies registered kwargs: no model is copied
    prompt = small.render_prompt(small.training_tasks(tiny_recipe)[1], "C")
    assert gen.generate([prompt], max_new_tokens=6) == twin.generate([prompt], max_new_tokens=6)
    assert gen.generator is twin.generator  # one loaded model per process and recipe
    assert gen.name.startswith("test-small-llama-")


class ReferenceGenerator(CodeGenerator):
    """Answers every synthesis prompt with the reference solution of its task (an oracle)."""

    name = "oracle"

    def __init__(self, tasks) -> None:
        self.by_test = {t.visible_tests[0]: t.reference_solution for t in tasks}

    def generate(self, prompts: Sequence[str], **kwargs: object) -> list[list[str]]:
        return [[next(v for k, v in self.by_test.items() if k in p)] for p in prompts]


def test_pass_rate_by_group_runs_through_the_sandbox(
    model_cache: Path, tiny_recipe: SmallModelRecipe
) -> None:
    tasks = load_synthesis_tasks(split="eval", size=4)
    oracle = evaluate_by_group(ReferenceGenerator(tasks), tasks, train_groups=("A", "C", "E"))
    assert [r.group for r in oracle.rows] == list(PHRASING_GROUPS)
    assert all(r.pass_at_1 == 1.0 and r.soft_pass == 1.0 and r.tasks == 4 for r in oracle.rows)
    assert oracle.mean(True) == oracle.mean(False) == 1.0
    table = oracle.table()
    assert "held out" in table and "trained" in table and "mean pass@1" in table

    gen = load_small_model(tiny_recipe, cache_dir=model_cache, build=False)
    report = evaluate_by_group(gen, size=3, groups=("A", "B"), train_groups=tiny_recipe.train_groups)
    assert [(r.group, r.trained, r.tasks) for r in report.rows] == [("A", True, 3), ("B", False, 3)]
    assert all(0.0 <= r.pass_at_1 <= r.soft_pass <= 1.0 for r in report.rows)
    with pytest.raises(ValueError, match="unknown phrasing groups"):
        evaluate_by_group(gen, size=1, groups=("Q",))


def test_cli_model_info_build_eval(tmp_path: Path, capsys) -> None:
    from codegym.cli import main

    out = subprocess.run(
        [sys.executable, "-m", "codegym.cli", "model", "info", "--json", "--cache-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    info = json.loads(out.stdout)
    assert info["built"] is False and info["held_out_groups"] == ["B", "D", "F"]
    assert info["path"].startswith(str(tmp_path))
    assert main(["model", "eval", "--no-build", "--cache-dir", str(tmp_path), "--quiet", "--size", "1"]) == 1
    # A two-step build of the default architecture, then its evaluation table.
    short = ["--max-steps", "2", "--num-tasks", "20", "--cache-dir", str(tmp_path)]
    assert main(["model", "build", *short, "--quiet"]) == 0
    assert main(["model", "info", *short]) == 0
    assert main(["model", "eval", *short, "--no-build", "--quiet", "--size", "1", "--groups", "A", "B"]) == 0
    printed = capsys.readouterr().out
    assert "built: " in printed and "stopped by steps" in printed and "held out" in printed
