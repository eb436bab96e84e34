"""The SB3 PPO prompt agent trains on the batched vector environment, checkpoints, and evaluates."""

from __future__ import annotations

import json

from agents.ppo_prompt import Args, evaluate, load_policy, make_vec_env, parse_args, task_ids_of, train


def test_ppo_trains_checkpoints_and_evaluates(tmp_path, mbpp_path, tiny_t5):
    args = Args(
        log_dir=str(tmp_path),
        data_path=str(mbpp_path),
        backend="tiny-t5",
        embedder="hashing",
        operators=("submit", "wordnet_synonym", "restore_original"),
        max_steps=4,
        max_new_tokens=8,
        n_envs=4,
        n_steps=32,
        batch_size=64,
        n_epochs=2,
        total_timesteps=256,
        checkpoint_freq=128,
        train_tasks=12,
    )
    venv = make_vec_env(args, "train", task_ids_of(args, "train", args.train_tasks), backend=tiny_t5)
    model, run_dir = train(args, venv)
    assert model.num_timesteps >= 256
    assert (run_dir / "final_model.zip").is_file()
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir())  # at least one checkpoint
    assert list(run_dir.rglob("events.out.tfevents.*"))  # TensorBoard logs
    assert json.loads((run_dir / "args.json").read_text())["total_timesteps"] == 256
    # one generate call per vector step, plus the first reset
    stats = venv.evaluators[0].stats
    assert stats.generate_calls <= model.num_timesteps // args.n_envs + 1

    eval_ids = task_ids_of(args, "test", 5)
    eval_venv = make_vec_env(args, "test", eval_ids, backend=tiny_t5)
    report = evaluate(load_policy(run_dir / "final_model.zip"), eval_venv, eval_ids)
    assert [e["task_id"] for e in report.episodes] == eval_ids
    summary = report.summary()
    assert summary["tasks"] == 5 and 1 <= summary["model_calls"] <= 5 and 0 <= summary["pass@1"] <= 1


def test_parse_args():
    args = parse_args(
        ["--n-envs", "2", "--operators", "submit", "epic", "--train-tasks", "3", "--eval-tasks", "none"]
    )
    assert args.n_envs == 2 and args.operators == ("submit", "epic")
    assert args.train_tasks == 3 and args.eval_tasks is None
