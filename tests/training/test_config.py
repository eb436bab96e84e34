"""Trainer options: dataclass <-> YAML <-> CLI flags, validation, and a torch-free command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from codegym.cli import build_parser, main
from codegym.training.config import TrainConfig, add_config_arguments, config_from_args, parse_suite


def _grpo_config_cls() -> type:
    from codegym.training.grpo import GRPOConfig

    return GRPOConfig


def test_defaults_are_the_reference_recipe() -> None:
    cfg = _grpo_config_cls()(model="m")
    assert (cfg.lora_r, cfg.lora_alpha, cfg.lora_dropout) == (64, 16, 0.1)
    assert (cfg.bnb_4bit_quant_type, cfg.bnb_4bit_compute_dtype) == ("nf4", "float16")
    assert (cfg.learning_rate, cfg.batch_size, cfg.epochs, cfg.max_length) == (3e-6, 12, 2, 1024)
    assert (cfg.num_generations, cfg.beta, cfg.clip_eps) == (8, 0.02, 0.2)
    assert (cfg.eval_samples, cfg.eval_temperature, cfg.eval_k) == (15, 0.2, (1, 5, 10))
    from codegym.training.ppo import PPOConfig

    ppo = PPOConfig(model="m")
    assert (ppo.ppo_epochs, ppo.clip_eps, ppo.target_kl) == (2, 0.15, 0.3)


def test_yaml_then_flags_precedence(tmp_path: Path) -> None:
    cls = _grpo_config_cls()
    (tmp_path / "c.yaml").write_text(
        "model: from-yaml\nlearning-rate: 1.0e-4\nbeta: 0.1\nreport_to: [none]\n"
    )
    import argparse

    parser = argparse.ArgumentParser()
    add_config_arguments(parser, cls)
    args = parser.parse_args(["--beta", "0.05", "--env-kwargs", '{"split": "train"}', "--no-scale-rewards"])
    cfg = config_from_args(cls, args, str(tmp_path / "c.yaml"))
    assert cfg.model == "from-yaml"  # YAML over defaults
    assert cfg.learning_rate == 1e-4
    assert cfg.beta == 0.05  # flag over YAML
    assert cfg.env_kwargs == {"split": "train"}
    assert cfg.scale_rewards is False
    assert cfg.report_to == ("none",)
    # Round trip through YAML.
    cfg.save_yaml(tmp_path / "out.yaml")
    assert cls.from_yaml(tmp_path / "out.yaml") == cfg


def test_unknown_yaml_key_names_the_valid_ones(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("model: m\nlearning_rat: 1\n")
    with pytest.raises(ValueError, match="unknown option 'learning_rat'.*learning_rate"):
        _grpo_config_cls().from_yaml(tmp_path / "c.yaml")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"model": ""}, "--model"),
        ({"finetune": "qlora4"}, "finetune"),
        ({"max_new_tokens": 2000}, "max_new_tokens"),
        ({"early_stopping_patience": 2}, "val-env-kwargs"),
        ({"eval_samples": 3}, "eval_k"),
        ({"num_generations": 1}, "num_generations"),
        ({"eval_suites": (":test",)}, "environment id"),
    ],
)
def test_validation_names_the_bad_option(changes: dict, message: str) -> None:
    cfg = _grpo_config_cls()(**{"model": "m", **changes})
    with pytest.raises(ValueError, match=message):
        cfg.validate()


def test_parse_suite() -> None:
    assert parse_suite("HumanEvalCodeGen-v0") == ("HumanEvalCodeGen-v0", {})
    assert parse_suite("MBPPCodeGen-v0:test") == ("MBPPCodeGen-v0", {"split": "test"})
    assert parse_suite('MBPPCodeGen-v0:{"split": "validation", "reward": "binary"}') == (
        "MBPPCodeGen-v0",
        {"split": "validation", "reward": "binary"},
    )


def test_base_config_has_help_for_every_field() -> None:
    import dataclasses

    for cls in (TrainConfig, _grpo_config_cls()):
        missing = [f.name for f in dataclasses.fields(cls) if not f.metadata.get("help")]
        assert not missing


def test_codegym_help_does_not_import_torch() -> None:
    code = "import sys\nfrom codegym.cli import build_parser\nbuild_parser()\nprint('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_train_help_lists_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    import dataclasses

    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "grpo", "--help"])
    text = capsys.readouterr().out
    for f in dataclasses.fields(_grpo_config_cls()):
        assert "--" + f.name.replace("_", "-") in text
    assert "--config" in text and "precedence" in text


def test_print_config(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "ppo", "--model", "x", "--target-kl", "0.5", "--print-config"]) == 0
    out = capsys.readouterr().out
    assert "target_kl: 0.5" in out and "model: x" in out


def test_cli_reports_bad_options_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "sft", "--model", "m", "--max-new-tokens", "4096"]) == 1
    assert "max_new_tokens" in capsys.readouterr().err
