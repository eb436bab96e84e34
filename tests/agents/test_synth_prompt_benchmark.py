"""examples/synth_prompt_benchmark.py (the README's main job), shortened: two seeds in two processes."""

from __future__ import annotations

import json

import pytest
from _shared import TINY_SMALL_RECIPE


def test_benchmark_end_to_end_in_worker_processes(tmp_path):
    from codegym.models.small import small_model_path
    from examples.synth_prompt_benchmark import BenchmarkConfig, run_benchmark

    model = small_model_path(TINY_SMALL_RECIPE, cache_dir=tmp_path / "models", progress=False)
    cfg = BenchmarkConfig(
        model=str(model),  # a local directory, loaded by each worker like a hub checkpoint
        embedder="hashing",
        operators=("submit", "wordnet_synonym", "llm_rewrite", "restore_original"),
        seeds=(0, 1),
        eval_tasks=4,
        train_tasks=8,
        n_envs=2,
        ppo_timesteps=32,
        ppo_n_steps=16,
        ga_population=2,
        ga_generations=1,
        jobs=2,
        out_dir=str(tmp_path / "out"),
    )
    lines: list[str] = []
    result = run_benchmark(cfg, log=lines.append)

    rows = result["rows"]
    assert [(r["seed"], r["method"]) for r in rows] == [
        (s, m) for s in (0, 1) for m in ("direct", "random", "epic_ga", "ppo")
    ]
    assert all(r["tasks"] == 4 for r in rows)
    assert all(r["model_calls"] == 1.0 for r in rows if r["method"] == "direct")
    summary = result["summary"]
    for method in ("direct", "random", "epic_ga", "ppo"):
        per_seed = [r["pass@1"] for r in rows if r["method"] == method]
        assert summary[method]["pass@1"]["per_seed"] == per_seed
        assert summary[method]["pass@1"]["mean"] == pytest.approx(sum(per_seed) / 2)
    margin = result["ppo_minus_random"]
    by = {(r["method"], r["seed"]): r["pass@1"] for r in rows}
    assert margin["per_seed"] == pytest.approx([by["ppo", s] - by["random", s] for s in (0, 1)])

    out = tmp_path / "out"
    assert (out / "results.png").stat().st_size > 1000
    table = (out / "results.md").read_text()
    assert "| ppo |" in table and "PPO minus random operators" in table
    assert json.loads((out / "results.json").read_text())["summary"].keys() == summary.keys()
    assert (out / "seed1" / "results.md").is_file()  # each seed's own table
    assert "PPO minus random operators" in lines[-2]


def test_summary_margin_and_validation():
    from examples.synth_prompt_benchmark import BenchmarkConfig, markdown, ppo_margin, summarize

    rows = [
        {"seed": s, "method": m, "pass@1": p, "soft_pass": p, "model_calls": c}
        for s, m, p, c in [
            (0, "random", 0.7, 3.0),
            (1, "random", 0.8, 3.2),
            (0, "ppo", 0.9, 4.0),
            (1, "ppo", 0.75, 4.0),
        ]
    ]
    summary = summarize(rows, ["random", "ppo"])
    assert summary["random"]["pass@1"]["mean"] == pytest.approx(0.75)
    assert summary["random"]["pass@1"]["std"] == pytest.approx(0.0707107, rel=1e-5)  # ddof=1
    margin = ppo_margin(rows)
    assert margin["per_seed"] == pytest.approx([0.2, -0.05]) and margin["wins"] == 1
    assert "PPO ahead on 1 of 2 seeds" in markdown(summary, margin, "t")
    assert ppo_margin([r for r in rows if r["method"] == "ppo"]) is None

    for bad, word in [
        ({"seeds": ()}, "seeds"),
        ({"seeds": (1, 1)}, "distinct"),
        ({"methods": ("ppo", "oracle")}, "methods"),
        ({"jobs": 0}, "jobs"),
        ({"eval_tasks": 0}, "eval_tasks"),
    ]:
        with pytest.raises(ValueError, match=word):
            BenchmarkConfig(**bad).validate()


def test_agent_scripts_use_the_id_s_own_tasks_model_and_steps() -> None:
    """Unset script options keep SynthPrompt-v0's registered tasks, model and step limit."""
    from agents.ppo_prompt import Args, env_kwargs, task_ids_of
    from codegym.models.benchmark import load_benchmark_tasks
    from codegym.models.small import SmallModelGenerator
    from examples.compare_agents import default_backend

    args = Args(env_id="SynthPrompt-v0")
    ids = task_ids_of(args, "eval", 3)
    assert ids == [t.task_id for t in load_benchmark_tasks("eval")[:3]]  # not MBPP's (the class default)
    kwargs = env_kwargs(args, "eval")
    assert not {"backend", "max_steps", "max_new_tokens", "rewriter"} & kwargs.keys()
    assert isinstance(default_backend("SynthPrompt-v0"), SmallModelGenerator)
    assert default_backend("MBPPPrompt-v0") == "Salesforce/codet5p-220m-py"


def test_a_model_that_is_not_here_exits_with_a_message_naming_it(tmp_path, monkeypatch):
    from examples.synth_prompt_benchmark import main

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # no waiting on a hub that cannot be reached
    missing = str(tmp_path / "no-such-model")
    argv = ["--model", missing, "--seeds", "0", "--jobs", "1", "--embedder", "hashing"]
    with pytest.raises(SystemExit, match="no-such-model"):
        main([*argv, "--eval-tasks", "2", "--out-dir", str(tmp_path / "out")])
    with pytest.raises(SystemExit, match="seeds must be distinct"):
        main(["--seeds", "1", "1"])
