"""The trainer learns: a tiny model, SFT on procedural tasks, then GRPO; held-out pass rate before/after.

A shorter version of ``examples/train_grpo_tiny.py`` (see ``docs/training.md`` for the full run's
numbers). Everything is seeded and runs on one CPU thread, so the numbers repeat run after run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")

from codegym.training.demo import DemoConfig, run_demo  # noqa: E402

#: The CI configuration: under two minutes on one core.
CI = {
    "sft_steps": 150,
    "grpo_steps": 24,
    "grpo_batch_size": 6,
    "train_tasks": 300,
    "eval_tasks": 40,
    "eval_samples": 4,
}


@pytest.mark.slow
def test_sft_then_grpo_improves_held_out_pass_rate(tmp_path: Path) -> None:
    result = run_demo(DemoConfig(output_dir=str(tmp_path), **CI))
    base, sft, grpo = result.stage("base"), result.stage("sft"), result.stage("grpo")
    print("\n" + result.table())
    # A freshly initialised model solves nothing.
    assert base.greedy_pass_at_1 == 0 and base.sampled_pass_at_1 == 0
    # SFT on the training tasks' reference solutions transfers to held-out problems.
    assert sft.greedy_pass_at_1 >= 0.3
    # GRPO on execution rewards alone (no reference solutions) raises the held-out pass rate at its
    # sampling temperature (this run: 6.2% -> 13.1%); greedy accuracy dips early in GRPO and recovers with
    # more steps (the example's 40 steps), so here it only must not collapse (this run: 62.5% -> 57.5%).
    assert grpo.sampled_pass_at_1 >= sft.sampled_pass_at_1 + 0.03
    assert grpo.greedy_pass_at_1 >= sft.greedy_pass_at_1 - 0.15
    assert (tmp_path / "demo_results.json").is_file()
    assert (Path(result.grpo_run) / "metrics.jsonl").is_file()
