"""Compare prompt-optimization agents on the same held-out tasks and code model, like the PROMIS table.

Methods (each gets its own environments and caches, so model calls are counted per method):

* ``direct``: the original prompt, one model call per task.
* ``random``: uniformly random edit operators (never ``submit``) until the tests pass or ``max_steps``.
* ``epic_ga``: the EPiC genetic algorithm (``agents/epic_ga.py``), fitness = pass rate.
* ``ppo``: the PPO agent (``agents/ppo_prompt.py``), trained on the train split (or loaded).

For each: pass@1 (the final program passes every hidden test), soft pass (mean fraction of hidden tests
passed) and model calls per task (code model plus rewriter). With ``--feedback tests`` (the default, as
in PROMIS and EPiC) the search sees the hidden tests' results; ``--feedback visible`` lets it see only
the tests shown in the prompt, so pass@1 measures generalization to unseen tests.

Writes ``results.md``, ``results.json`` and ``results.png`` to ``--out-dir``.

Examples::

    # the real comparison (CodeT5+ 220M, MiniLM, 50 MBPP test tasks, PPO trained for 20k steps)
    python examples/compare_agents.py --backend Salesforce/codet5p-220m-py --eval-tasks 50
    # a smoke run on a random-weight tiny model (numbers are meaningless, the pipeline is real)
    python examples/compare_agents.py --backend tiny-t5 --embedder hashing --eval-tasks 4 \
        --train-tasks 8 --ppo-timesteps 64 --n-envs 4 --max-new-tokens 16
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the agents/ folder holds scripts, not an installed package
    sys.path.insert(0, str(ROOT))

from agents.ppo_prompt import Args, EvalReport, evaluate, load_policy, make_vec_env, task_ids_of, train  # noqa: E402
from codegym.envs.prompt_optimization import (  # noqa: E402
    DEFAULT_BACKEND,
    DEFAULT_OPERATORS,
    SUBMIT,
    protected_words,
    resolve_backend,
    resolve_embedder,
)

METHODS = ("direct", "random", "epic_ga", "ppo")
_OPTIONAL_INTS = ("eval_tasks", "train_tasks", "torch_threads", "max_steps", "max_new_tokens")


@dataclass
class CompareConfig:
    """Settings of a comparison (the command line mirrors these fields)."""

    env_id: str = "MBPPPrompt-v0"
    data_path: str | None = None
    backend: str | None = None  # None: the environment id's own code model
    embedder: str = "minilm"
    operators: tuple[str, ...] = DEFAULT_OPERATORS
    rewriter: str | None = None
    feedback: str = "tests"
    max_steps: int | None = None  # None: the environment id's default
    max_new_tokens: int | None = None
    eval_split: str = "test"
    eval_tasks: int | None = 50
    train_split: str = "train"
    train_tasks: int | None = None
    n_envs: int = 8
    seed: int = 0
    methods: tuple[str, ...] = METHODS
    ppo_timesteps: int = 20_000
    ppo_n_steps: int = 64
    ppo_checkpoint: str | None = None
    ga_population: int = 5
    ga_generations: int = 4
    out_dir: str = "results/compare"
    torch_threads: int | None = None

    def ppo_args(self) -> Args:
        """Return the PPO agent's settings for this comparison."""
        rollout = self.ppo_n_steps * self.n_envs
        return Args(
            seed=self.seed,
            log_dir=str(Path(self.out_dir) / "ppo"),
            env_id=self.env_id,
            train_split=self.train_split,
            eval_split=self.eval_split,
            train_tasks=self.train_tasks,
            eval_tasks=self.eval_tasks,
            data_path=self.data_path,
            backend=self.backend,
            embedder=self.embedder,
            operators=tuple(self.operators),
            rewriter=self.rewriter,
            feedback=self.feedback,
            max_steps=self.max_steps,
            max_new_tokens=self.max_new_tokens,
            n_envs=self.n_envs,
            n_steps=self.ppo_n_steps,
            batch_size=min(64, rollout),
            total_timesteps=self.ppo_timesteps,
            checkpoint_freq=max(self.ppo_timesteps // 4, 1),
        )


@dataclass
class MethodResult:
    """One row of the table."""

    method: str
    report: EvalReport
    seconds: float
    notes: dict[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        """Return the numbers of the row."""
        return {"method": self.method, **self.report.summary(), "seconds": self.seconds, **self.notes}


# ----------------------------------------------------------------------------------------------------
# The methods
# ----------------------------------------------------------------------------------------------------


def run_direct(venv: Any, task_ids: Sequence[str], seed: int) -> EvalReport:
    """Run the original prompt: submit at once (the reset already evaluated it)."""
    submit = venv.envs[0].operator_names.index(SUBMIT)
    return EvalReport(venv.run_episodes(lambda obs: np.full(len(obs), submit), task_ids, seed=seed))


def run_random(venv: Any, task_ids: Sequence[str], seed: int) -> EvalReport:
    """Uniformly random edit operators until solved or out of steps (PROMIS's random baseline)."""
    names = venv.envs[0].operator_names
    edits = np.array([i for i, n in enumerate(names) if n != SUBMIT])
    if not len(edits):
        raise ValueError("the random baseline needs at least one operator besides 'submit'")
    rng = np.random.default_rng(seed)
    return EvalReport(venv.run_episodes(lambda obs: rng.choice(edits, size=len(obs)), task_ids, seed=seed))


def run_epic_ga(
    venv: Any, task_ids: Sequence[str], seed: int, population: int, generations: int, mutation: Any = None
) -> EvalReport:
    """Run the EPiC GA per task; its best prompt's program is the answer."""
    from agents.epic_ga import EPiCGA, EPiCGAConfig

    env = venv.envs[0]
    evaluator = env.evaluator
    episodes = []
    for k, task_id in enumerate(task_ids):
        index = env._index[task_id]
        task = env.tasks[index]
        description, render, completion = env._split(index)

        def fitness(prompts: list[str], task: Any = task, completion: bool = completion) -> list[float]:
            return [e.pass_rate for e in evaluator.evaluate([(task, p, completion) for p in prompts])]

        config = EPiCGAConfig(population_size=population, max_generations=generations, seed=seed + k)
        ga = EPiCGA(config, mutation=mutation)
        result = ga.run(
            description,
            fitness,
            render=render,
            protected=protected_words(task),
            rng=np.random.default_rng(seed + k),
        )
        (best,) = evaluator.evaluate([(task, result.best_prompt, completion)])
        episodes.append(
            {
                "task_id": task_id,
                "prompt": best.prompt,
                "code": best.code,
                "pass_rate": best.pass_rate,
                "hidden_pass_rate": best.hidden_pass_rate,
                "model_calls": result.model_calls,
                "generations": len(result.generations),
                "stopped": result.stopped,
            }
        )
    return EvalReport(episodes)


def run_ppo(
    cfg: CompareConfig,
    venv: Any,
    task_ids: Sequence[str],
    backend: Any,
    over: dict[str, Any],
    log: Callable[[str], None] = print,
) -> EvalReport:
    """Train PPO on the train split (or load ``cfg.ppo_checkpoint``), then evaluate it."""
    if cfg.ppo_checkpoint:
        model = load_policy(cfg.ppo_checkpoint)
    else:
        from stable_baselines3.common.callbacks import BaseCallback

        class Progress(BaseCallback):
            """Log the environment steps done after every rollout."""

            def _on_step(self) -> bool:
                return True

            def _on_rollout_end(self) -> None:
                log(f"[compare] ppo: {self.num_timesteps}/{cfg.ppo_timesteps} training steps")

        args = cfg.ppo_args()
        train_ids = task_ids_of(args, args.train_split, args.train_tasks)
        train_venv = make_vec_env(args, args.train_split, train_ids, backend=backend, **over)
        model, _ = train(args, train_venv, callbacks=[Progress()])
    return evaluate(model, venv, task_ids, deterministic=True, seed=cfg.seed)


# ----------------------------------------------------------------------------------------------------
# Reporting
# ----------------------------------------------------------------------------------------------------


def markdown_table(results: Sequence[MethodResult], title: str = "") -> str:
    """Format the results as a Markdown table (percentages like the PROMIS table)."""
    lines = [f"**{title}**", ""] if title else []
    lines += [
        "| method | pass@1 (%) | soft pass (%) | model calls / task | tasks | time (s) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        s = r.report.summary()
        lines.append(
            f"| {r.method} | {100 * s['pass@1']:.1f} | {100 * s['soft_pass']:.1f} | {s['model_calls']:.2f} | "
            f"{s['tasks']} | {r.seconds:.0f} |"
        )
    return "\n".join(lines)


def plot(results: Sequence[MethodResult], path: Path, title: str = "") -> None:
    """Bar charts: pass@1 and soft pass per method (left), model calls per task (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r.method for r in results]
    x = np.arange(len(names))
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.bar(x - 0.2, [100 * r.report.pass_at_1 for r in results], 0.4, label="pass@1")
    left.bar(x + 0.2, [100 * r.report.soft_pass for r in results], 0.4, label="soft pass")
    left.set_xticks(x, names)
    left.set_ylabel("% of tasks / tests")
    left.set_ylim(0, 100)
    left.legend()
    right.bar(x, [r.report.model_calls for r in results], 0.6, color="tab:gray")
    right.set_xticks(x, names)
    right.set_ylabel("model calls per task")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ----------------------------------------------------------------------------------------------------
# Driver
# ----------------------------------------------------------------------------------------------------


def default_backend(env_id: str) -> Any:
    """Return the code model an environment id is registered with (``MBPPPrompt-v0``: CodeT5+ 220M)."""
    import gymnasium as gym

    import codegym  # noqa: F401  (registers the environment ids)

    return gym.spec(env_id).kwargs.get("backend", DEFAULT_BACKEND)


def compare(
    cfg: CompareConfig,
    *,
    backend: Any = None,
    embedder: Any = None,
    operators: Sequence[Any] | None = None,
    ga_mutation: Any = None,
    log: Callable[[str], None] = print,
) -> list[MethodResult]:
    """Run every method of ``cfg.methods`` on the same tasks and model; write the table and plot.

    Args:
        cfg: Settings.
        backend: A loaded code model to use instead of loading ``cfg.backend``.
        embedder: An embedder object instead of ``cfg.embedder``.
        operators: Operator objects/names instead of ``cfg.operators``.
        ga_mutation: The GA's mutation operator (default: EPiC's, with codegym's word vectors).
        log: Where progress lines go.

    """
    unknown = [m for m in cfg.methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown methods {unknown}; choose from {METHODS}")
    if cfg.torch_threads is not None:
        import torch

        torch.set_num_threads(cfg.torch_threads)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if backend is None:
        backend = cfg.backend if cfg.backend is not None else default_backend(cfg.env_id)
    backend = resolve_backend(backend)
    over: dict[str, Any] = {"embedder": resolve_embedder(embedder if embedder is not None else cfg.embedder)}
    if operators is not None:
        over["operators"] = list(operators)
    args = cfg.ppo_args()
    task_ids = task_ids_of(args, cfg.eval_split, cfg.eval_tasks)

    def fresh_venv() -> Any:  # a new evaluator (empty caches) per method: honest model-call counts
        return make_vec_env(args, cfg.eval_split, task_ids, backend=backend, **over)

    results = []
    for method in cfg.methods:
        log(f"[compare] {method} ...")
        t0 = time.perf_counter()
        venv = fresh_venv()
        ids = task_ids if task_ids is not None else [t.task_id for t in venv.envs[0].tasks]
        if method == "direct":
            report = run_direct(venv, ids, cfg.seed)
        elif method == "random":
            report = run_random(venv, ids, cfg.seed)
        elif method == "epic_ga":
            report = run_epic_ga(venv, ids, cfg.seed, cfg.ga_population, cfg.ga_generations, ga_mutation)
        else:
            report = run_ppo(cfg, venv, ids, backend, over, log)
        results.append(MethodResult(method, report, time.perf_counter() - t0))
        log(f"[compare] {method}: {report.summary()}")

    model_name = Path(str(getattr(backend, "name", cfg.backend))).name
    title = f"{cfg.env_id} {cfg.eval_split} ({len(results[0].report.episodes)} tasks), {model_name}"
    table = markdown_table(results, title)
    (out / "results.md").write_text(table + "\n")
    (out / "results.json").write_text(
        json.dumps({"config": asdict(cfg), "results": [r.row() for r in results]}, indent=2, default=str)
    )
    plot(results, out / "results.png", title)
    log(table)
    log(f"[compare] wrote {out / 'results.md'}, {out / 'results.json'}, {out / 'results.png'}")
    return results


def parse_args(argv: Sequence[str] | None = None) -> CompareConfig:
    """Build a :class:`CompareConfig` from ``--field-name value`` options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for name, default in asdict(CompareConfig()).items():
        flag = "--" + name.replace("_", "-")
        if isinstance(default, tuple):
            parser.add_argument(flag, nargs="+", default=default)
        elif default is None or name in _OPTIONAL_INTS:
            kind = int if name in _OPTIONAL_INTS else str
            parser.add_argument(
                flag, type=lambda s, k=kind: None if s.lower() == "none" else k(s), default=default
            )
        else:
            parser.add_argument(flag, type=type(default), default=default)
    ns = parser.parse_args(argv)
    return CompareConfig(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in vars(ns).items()})


def main(argv: Sequence[str] | None = None) -> list[MethodResult]:
    """Command-line entry point."""
    return compare(parse_args(argv))


if __name__ == "__main__":
    main()
