"""SFT, GRPO and PPO end to end on tiny models: runs, checkpoints and exact resume, merge, evaluation, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from codegym.backends.tiny import tiny_llama_path, tiny_t5_path  # noqa: E402
from codegym.cli import main  # noqa: E402

SYNTH = {"dataset": "procedural/synthesis", "split": "train", "reward": "binary"}
SYNTH_EVAL = 'MBPPCodeGen-v0:{"dataset": "procedural/synthesis", "split": "eval"}'
FAST = {
    "env": "MBPPCodeGen-v0",
    "env_kwargs": SYNTH,
    "max_train_tasks": 4,
    "batch_size": 2,
    "max_new_tokens": 12,
    "max_length": 128,
    "lora_r": 4,
    "lora_alpha": 8,
    "learning_rate": 1e-3,
    "device": "cpu",
    "num_threads": 1,
    "report_to": ("none",),
    "progress": False,
    "final_eval": False,
}


def _safetensors(directory: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    out: dict[str, torch.Tensor] = {}
    for f in sorted(directory.glob("*.safetensors")):
        out.update(load_file(str(f)))
    return out


def test_sft_lora_with_validation_merge_and_final_eval(tmp_path: Path) -> None:
    from codegym.training.sft import SFTConfig, train

    cfg = SFTConfig(
        model=str(tiny_llama_path()),
        finetune="lora",
        **{**FAST, "final_eval": True, "report_to": ("tensorboard",)},
        epochs=2,
        output_dir=str(tmp_path),
        val_env_kwargs={"dataset": "procedural/synthesis", "split": "eval", "reward": "binary"},
        max_val_tasks=2,
        eval_every=1,
        early_stopping_patience=1,
        eval_suites=(SYNTH_EVAL,),
        eval_max_tasks=2,
        eval_samples=2,
        eval_k=(1, 2),
    )
    result = train(cfg)
    run = tmp_path / "tiny-codellama-v2-tf5-py311-procedural-synthesis-sft-lora"
    assert result.run_dir == run
    # A random tiny model never passes: validation cannot improve, so patience 1 stops after 2 validations.
    assert result.stopped_early and result.steps == 2 and len(result.validations) == 2
    assert (run / "config.yaml").is_file() and list((run / "tensorboard").iterdir())
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert {"train/loss", "perf/tokens_per_s", "val/pass@1"} <= set().union(*metrics)
    assert (run / "adapter" / "adapter_config.json").is_file()
    # The merged model is standalone: plain transformers loads it without peft, and it equals the
    # adapted policy.
    from transformers import AutoModelForCausalLM

    merged = AutoModelForCausalLM.from_pretrained(result.model_dir)
    assert not any("lora" in n for n, _ in merged.named_parameters())
    results = json.loads((run / "eval_results.json").read_text())
    assert set(results[SYNTH_EVAL]) >= {"pass@1", "pass@2", "num_tasks", "num_samples"}
    assert results[SYNTH_EVAL]["num_tasks"] == 2 and results[SYNTH_EVAL]["num_samples"] == 2
    samples = Path(results[SYNTH_EVAL]["samples_file"]).read_text().splitlines()
    assert len(samples) == 4 and {"task_id", "completion", "passed"} <= set(json.loads(samples[0]))


def test_sft_on_real_mbpp_keeps_only_references_the_env_accepts(tmp_path: Path, mbpp_path: Path) -> None:
    from codegym.training.envs import EnvTasks
    from codegym.training.sft import build_examples, target_for

    tasks = EnvTasks("MBPPCodeGen-v0", {"split": "train", "path": str(mbpp_path)}, max_tasks=6, num_envs=2)
    examples, rejected = build_examples(tasks)
    assert len(examples) + rejected == 6 and len(examples) >= 5
    assert examples[0].prompt.startswith(tasks.tasks[0].prompt.split("\n")[0])
    tasks.close()
    he = EnvTasks("HumanEvalCodeGen-v0", max_tasks=2, num_envs=1)
    prompt = he.prompt(he.task_ids[0])
    target = target_for(prompt, he.tasks[0].reference_solution)
    assert not target.startswith("from typing")  # completion-style prompt: only the body is the target
    assert he.score(he.task_ids[:1], [target])[0].passed
    he.close()


def test_grpo_resume_reproduces_the_uninterrupted_run(tmp_path: Path) -> None:
    from codegym.training.grpo import GRPOConfig, train

    common = dict(
        model=str(tiny_llama_path()),
        finetune="lora",
        **FAST,
        num_generations=2,
        num_mini_batches=2,
        max_steps=5,
        save_every=2,
        save_total_limit=5,
        merge_adapters=False,
        num_envs=2,
    )
    straight = train(GRPOConfig(**common, output_dir=str(tmp_path / "a")))
    assert straight.steps == 5
    # Copy the step-2 checkpoint into a fresh run directory and resume from it.
    import shutil

    run_b = tmp_path / "b" / straight.run_dir.name
    shutil.copytree(straight.run_dir / "checkpoints" / "step-2", run_b / "checkpoints" / "step-2")
    resumed = train(GRPOConfig(**common, output_dir=str(tmp_path / "b"), resume="latest"))
    assert resumed.steps == 5
    a, b = _safetensors(straight.adapter_dir), _safetensors(resumed.adapter_dir)
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-6)
    metrics = [json.loads(line) for line in (straight.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert {
        "train/kl",
        "train/clip_fraction",
        "reward/mean",
        "reward/pass_rate",
        "reward/term/all_passed",
    } <= set(metrics[-1])


def test_grpo_seq2seq_full_finetuning(tmp_path: Path) -> None:
    from codegym.training.grpo import GRPOConfig, train

    result = train(
        GRPOConfig(
            model=str(tiny_t5_path()),
            finetune="full",
            **FAST,
            num_generations=2,
            max_steps=1,
            output_dir=str(tmp_path),
        )
    )
    assert result.adapter_dir is None and (result.model_dir / "config.json").is_file()
    from transformers import AutoModelForSeq2SeqLM

    AutoModelForSeq2SeqLM.from_pretrained(result.model_dir)


@pytest.mark.parametrize("advantage", ["gae", "sequence"])
def test_ppo_runs_and_saves_its_value_head(tmp_path: Path, advantage: str) -> None:
    from codegym.training.ppo import PPOConfig, train

    result = train(
        PPOConfig(
            model=str(tiny_llama_path()),
            finetune="lora",
            **FAST,
            samples_per_task=2,
            advantage=advantage,
            max_steps=2,
            value_head_lr=1e-2,
            merge_adapters=False,
            output_dir=str(tmp_path),
        )
    )
    assert result.steps == 2 and (result.run_dir / "value_head.pt").is_file()
    metrics = [json.loads(line) for line in (result.run_dir / "metrics.jsonl").read_text().splitlines()]
    last = metrics[-1]
    assert {"train/pg_loss", "train/vf_loss", "train/kl_coef", "train/approx_kl"} <= set(last)
    assert last["train/kl_coef"] != 0.05  # the adaptive controller moved it


def test_cli_train_then_evaluate_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "sft.yaml"
    config.write_text(
        "env: MBPPCodeGen-v0\n"
        f"env_kwargs: {json.dumps(SYNTH)}\n"
        "max_train_tasks: 2\nbatch_size: 2\nmax_new_tokens: 8\nmax_length: 96\nlora_r: 2\n"
        "report_to: [none]\nfinal_eval: false\nnum_threads: 1\n"
    )
    args = ["train", "sft", "--config", str(config), "--model", str(tiny_llama_path()), "--max-steps", "1"]
    args += [
        "--output-dir",
        str(tmp_path / "runs"),
        "--run-name",
        "cli",
        "--no-progress",
        "--merge-every-epoch",
    ]
    assert main(args) == 0
    model_dir = tmp_path / "runs" / "cli" / "model"
    assert "run directory" in capsys.readouterr().out and model_dir.is_dir()
    assert (tmp_path / "runs" / "cli" / "epoch-1" / "model" / "config.json").is_file()
    out_json = tmp_path / "eval.json"
    args = ["evaluate-model", "--model", str(model_dir), "--suites", SYNTH_EVAL, "--max-tasks", "2"]
    args += [
        "--samples",
        "2",
        "--k",
        "1",
        "2",
        "--max-new-tokens",
        "8",
        "--device",
        "cpu",
        "--output",
        str(out_json),
    ]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "pass@1" in printed and "pass@2" in printed
    assert json.loads(out_json.read_text())[SYNTH_EVAL]["num_tasks"] == 2
    # The adapter directory evaluates too (on its recorded base model).
    args[2] = str(tmp_path / "runs" / "cli" / "adapter")
    assert main(args) == 0


def test_wandb_without_wandb_installed_is_a_clear_error(tmp_path: Path) -> None:
    import importlib.util

    if importlib.util.find_spec("wandb") is not None:
        pytest.skip("wandb is installed")
    from codegym.training.sft import SFTConfig, train

    cfg = SFTConfig(
        model=str(tiny_llama_path()), **{**FAST, "report_to": ("wandb",)}, output_dir=str(tmp_path)
    )
    with pytest.raises(ValueError, match="pip install wandb"):
        train(cfg)
