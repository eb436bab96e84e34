"""examples/compare_agents.py runs every method end to end on a tiny model (shortened)."""

from __future__ import annotations

import json

from codegym.mutation import EPiCMutation


def test_compare_agents_end_to_end(tmp_path, mbpp_path, tiny_t5, small_vectors):
    from examples.compare_agents import CompareConfig, compare

    cfg = CompareConfig(
        data_path=str(mbpp_path),
        backend="tiny-t5",
        embedder="hashing",
        max_steps=3,
        max_new_tokens=8,
        eval_tasks=3,
        train_tasks=4,
        n_envs=2,
        ppo_timesteps=64,
        ppo_n_steps=16,
        ga_population=3,
        ga_generations=2,
        out_dir=str(tmp_path / "cmp"),
    )
    epic = EPiCMutation(vectors=small_vectors)
    results = compare(
        cfg,
        backend=tiny_t5,
        operators=["submit", epic, "wordnet_synonym", "restore_original"],
        ga_mutation=epic,
        log=lambda line: None,
    )
    assert [r.method for r in results] == ["direct", "random", "epic_ga", "ppo"]
    rows = {r.method: r.report.summary() for r in results}
    assert rows["direct"]["model_calls"] == 1.0
    assert all(row["tasks"] == 3 for row in rows.values())
    assert 1.0 <= rows["random"]["model_calls"] <= 4.0
    assert 1.0 <= rows["epic_ga"]["model_calls"] <= 6.0
    out = tmp_path / "cmp"
    assert (out / "results.png").stat().st_size > 1000
    assert "| epic_ga |" in (out / "results.md").read_text()
    assert len(json.loads((out / "results.json").read_text())["results"]) == 4
