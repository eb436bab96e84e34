"""The one-command pipeline (SFT, GRPO, evaluation) on CodeOutputPrediction-v0 with a tiny model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from codegym.backends.tiny import tiny_llama_path  # noqa: E402
from codegym.cli import main  # noqa: E402

ENV_KWARGS = {"size": 4, "seed": 0}


def test_env_tasks_reads_output_prediction_items() -> None:
    from codegym.training.envs import EnvTasks, reward_summary

    tasks = EnvTasks("CodeOutputPrediction-v0", ENV_KWARGS, num_envs=1)
    try:
        assert tasks.kind == "output_prediction" and len(tasks) == 4
        assert tasks.env_kwargs["reward"] == "unit"
        first = tasks.tasks[0]
        assert "print" in tasks.prompt(first.task_id)
        right, wrong = tasks.score([first.task_id] * 2, [first.reference_solution, "no idea"])
        assert right.passed and right.close and right.reward == 1.0
        assert not wrong.passed and wrong.close is False
        summary = reward_summary([right, wrong])
        assert summary["reward/exact_accuracy"] == 0.5 and summary["reward/close_accuracy"] == 0.5
    finally:
        tasks.close()


def test_pipeline_sft_then_grpo_then_accuracy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    torch.set_num_threads(1)
    rc = main(
        [
            "train",
            "pipeline",
            "--model",
            str(tiny_llama_path()),
            "--env",
            "CodeOutputPrediction-v0",
            "--env-kwargs",
            json.dumps(ENV_KWARGS),
            "--finetune",
            "lora",
            "--lora-r",
            "4",
            "--lora-alpha",
            "8",
            "--sft-max-steps",
            "2",
            "--max-steps",
            "1",
            "--batch-size",
            "2",
            "--num-generations",
            "2",
            "--num-envs",
            "1",
            "--max-new-tokens",
            "8",
            "--max-length",
            "256",
            "--eval-samples",
            "1",
            "--eval-temperature",
            "0",
            "--eval-k",
            "1",
            "--eval-max-tasks",
            "2",
            "--device",
            "cpu",
            "--num-threads",
            "1",
            "--report-to",
            "none",
            "--no-progress",
            "--output-dir",
            str(tmp_path),
            "--run-name",
            "op",
        ]
    )
    assert rc == 0
    root = tmp_path / "op"
    assert (root / "sft" / "model" / "config.json").is_file()
    assert (root / "grpo" / "model" / "config.json").is_file()
    sft_metrics = [json.loads(line) for line in (root / "sft" / "metrics.jsonl").read_text().splitlines()]
    assert any("train/loss" in m for m in sft_metrics)
    results = json.loads((root / "grpo" / "eval_results.json").read_text())
    (suite,) = results
    assert suite.startswith("CodeOutputPrediction-v0:") and '"split": "eval"' in suite
    r = results[suite]
    assert r["num_tasks"] == 2
    assert 0.0 <= r["exact_accuracy"] <= r["close_accuracy"] <= 1.0
    assert "pass@1" in r
    out = capsys.readouterr().out
    assert "exact" in out and "close" in out and "pipeline directory:" in out


# ---------------------------------------------------------------------------------------------------
# Every trainer's final evaluation defaults to the environment's own suite


class _Policy:
    """What ``Run`` reads of a policy when nothing is saved (merging is stubbed out)."""

    finetune = "full"
    uses_adapters = False


@pytest.mark.parametrize("method", ["sft", "grpo", "ppo"])
@pytest.mark.parametrize(
    ("env", "suites", "expected"),
    [
        # Output prediction: its eval split, not MBPP/HumanEval (the code-generation default).
        (
            "CodeOutputPrediction-v0",
            None,
            ('CodeOutputPrediction-v0:{"seed": 0, "size": 4, "split": "eval"}',),
        ),
        # --eval-suites overrides it.
        ("CodeOutputPrediction-v0", ("SynthCodeGen-v0:eval",), ("SynthCodeGen-v0:eval",)),
        # Code generation keeps the default.
        ("MBPPCodeGen-v0", None, ("MBPPCodeGen-v0:test", "HumanEvalCodeGen-v0")),
    ],
)
def test_final_evaluation_uses_the_environments_suite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, method: str, env: str, suites, expected
) -> None:
    import importlib

    from codegym.training import run as run_module

    module = importlib.import_module(f"codegym.training.{method}")
    config_cls = getattr(module, f"{method.upper()}Config")
    options = {} if suites is None else {"eval_suites": suites}
    cfg = config_cls(
        model="tiny",
        env=env,
        env_kwargs=ENV_KWARGS if env == "CodeOutputPrediction-v0" else {},
        output_dir=str(tmp_path),
        report_to=("none",),
        progress=False,
        **options,
    )
    seen: list[tuple[str, ...]] = []
    monkeypatch.setattr(run_module, "merge_and_save", lambda policy, adapter, out: out)
    monkeypatch.setattr(run_module, "evaluate_policy", lambda policy, s, **kw: seen.append(tuple(s)) or {})
    run_module.Run(cfg, _Policy()).finish(step=0)  # what sft.train, grpo.train and ppo.train end with
    assert seen == [expected]


def test_sft_cli_evaluates_output_prediction_on_its_eval_split(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    argv = ["train", "sft", "--model", str(tiny_llama_path()), "--env", "CodeOutputPrediction-v0"]
    argv += ["--env-kwargs", json.dumps(ENV_KWARGS), "--finetune", "lora", "--lora-r", "4"]
    argv += ["--max-steps", "1", "--batch-size", "2", "--max-new-tokens", "8", "--max-length", "256"]
    argv += ["--eval-samples", "1", "--eval-temperature", "0", "--eval-k", "1", "--eval-max-tasks", "1"]
    argv += ["--device", "cpu", "--num-threads", "1", "--report-to", "none", "--no-progress"]
    argv += ["--no-merge-adapters", "--output-dir", str(tmp_path), "--run-name", "sft"]
    assert main(argv) == 0
    (suite,) = json.loads((tmp_path / "sft" / "eval_results.json").read_text())
    assert suite == 'CodeOutputPrediction-v0:{"seed": 0, "size": 4, "split": "eval"}'
