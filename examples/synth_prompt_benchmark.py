"""The main job: prompt-optimization agents compared on ``SynthPrompt-v0``, offline, on a CPU, in minutes.

1. Build codegym's small code model (trained on first use, a few minutes; then loaded from the cache).
2. For each seed: run every method on the same held-out tasks of ``SynthPrompt-v0`` with
   ``examples/compare_agents.py``: ``direct`` (the original prompt), ``random`` (uniformly random edit
   operators), ``epic_ga`` (the EPiC genetic algorithm) and ``ppo`` (``agents/ppo_prompt.py``, trained on
   the benchmark's train split, then evaluated deterministically).
3. Print pass@1, soft pass and model calls per task as mean +- standard deviation over the seeds, PPO's
   margin over random operators on every seed, and save the table and a plot.

Seeds run in parallel worker processes (``--jobs``, default 3: the three seeds at once), each with one torch
thread; each process is busy only part of the time (waiting on the sandbox), so three keep two cores busy.

Examples::

    python examples/synth_prompt_benchmark.py                        # three seeds, 100 held-out tasks
    python examples/synth_prompt_benchmark.py --seeds 0 1 2 3 4 --eval-tasks 200
    # the real thing, where the model is available (hub or a local checkpoint)
    python examples/synth_prompt_benchmark.py --model Salesforce/codet5p-770m-py
    python examples/synth_prompt_benchmark.py --env-id MBPPPrompt-v0 --model /models/codet5p-220m-py \
        --rewriter /models/Llama-3.2-3B-Instruct --data-path mbpp.jsonl --max-steps 10

Writes ``results.md``, ``results.json`` and ``results.png`` to ``--out-dir`` (each seed's own table and
plot go to ``seed<k>/`` below it).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # agents/ and examples/ hold scripts, not installed packages
    sys.path.insert(0, str(ROOT))

from codegym.envs.prompt_optimization import DEFAULT_OPERATORS  # noqa: E402
from examples.compare_agents import METHODS, CompareConfig, compare  # noqa: E402


@dataclass
class BenchmarkConfig:
    """Every setting of the benchmark (the command line mirrors these fields)."""

    env_id: str = "SynthPrompt-v0"
    model: str | None = None  # code model; None: the env id's own (SynthPrompt-v0: codegym's small model)
    rewriter: str | None = None  # llm_rewrite's model; None: the env id's own (SynthPrompt-v0: catalogue)
    embedder: str = "minilm"  # observation: all-MiniLM-L6-v2 ("hashing": instant, for smoke tests)
    data_path: str | None = None  # MBPP jsonl for the MBPP environments
    operators: tuple[str, ...] = DEFAULT_OPERATORS  # the action list (names)
    seeds: tuple[int, ...] = (0, 1, 2)
    methods: tuple[str, ...] = METHODS
    eval_split: str = "eval"  # SynthPrompt-v0: problems the small model never saw (MBPP: "test")
    eval_tasks: int | None = 100  # the first N held-out tasks (None: the whole split)
    train_split: str = "train"
    train_tasks: int | None = None  # PPO trains on the first N train tasks (None: all)
    max_steps: int | None = None  # edits per episode; None: the env id's (SynthPrompt-v0: 4)
    n_envs: int = 8
    ppo_timesteps: int = 1536
    ppo_n_steps: int = 32
    ga_population: int = 5
    ga_generations: int = 4
    jobs: int = 3  # seeds run in this many processes at once (more processes than cores keeps both busy)
    out_dir: str = "results/synth_prompt"

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad setting."""
        if not self.seeds:
            raise ValueError("seeds must name at least one seed")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be distinct, got {list(self.seeds)}")
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown or not self.methods:
            raise ValueError(f"methods must be a non-empty subset of {METHODS}, got {list(self.methods)}")
        for name in ("n_envs", "ppo_timesteps", "ppo_n_steps", "ga_population", "ga_generations", "jobs"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("eval_tasks", "train_tasks", "max_steps"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1 or None, got {value}")

    def compare_config(self, seed: int) -> CompareConfig:
        """Return the settings of one seed's comparison."""
        return CompareConfig(
            env_id=self.env_id,
            data_path=self.data_path,
            backend=self.model,
            embedder=self.embedder,
            rewriter=self.rewriter,
            operators=tuple(self.operators),
            max_steps=self.max_steps,
            eval_split=self.eval_split,
            eval_tasks=self.eval_tasks,
            train_split=self.train_split,
            train_tasks=self.train_tasks,
            n_envs=self.n_envs,
            seed=seed,
            methods=tuple(self.methods),
            ppo_timesteps=self.ppo_timesteps,
            ppo_n_steps=self.ppo_n_steps,
            ga_population=self.ga_population,
            ga_generations=self.ga_generations,
            out_dir=str(Path(self.out_dir) / f"seed{seed}"),
            torch_threads=1,  # one thread per process: the seeds share the cores
        )


# ----------------------------------------------------------------------------------------------------
# One seed (runs in a worker process)
# ----------------------------------------------------------------------------------------------------


def run_seed(
    cfg: BenchmarkConfig,
    seed: int,
    events: Any = None,
    compare_kwargs: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Run every method for one seed; return one row (method, pass@1, soft pass, model calls...) each.

    Progress lines go to ``events`` (a queue: ``(seed, line)`` items, or a callable taking both).
    """
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # one "Loading weights" bar per model and process is noise here

    def log(line: str) -> None:
        if events is None:
            print(f"[seed {seed}] {line}", flush=True)
        elif callable(events):
            events(seed, line)
        else:
            events.put((seed, line))

    results = compare(cfg.compare_config(seed), log=log, **(compare_kwargs or {}))
    return [{"seed": seed, **r.row()} for r in results]


def prepare_model(cfg: BenchmarkConfig) -> None:
    """Build (or find in the cache) the env id's default small model once, before the workers start."""
    if cfg.model is not None:
        return
    from examples.compare_agents import default_backend

    backend = default_backend(cfg.env_id)
    recipe = getattr(backend, "recipe", None)
    if recipe is None:  # not codegym's small model: loaded by each worker
        return
    from codegym.models.small import small_model_path

    path = small_model_path(recipe, progress=True)
    print(f"[benchmark] code model: {path}", flush=True)


# ----------------------------------------------------------------------------------------------------
# Aggregation and reporting
# ----------------------------------------------------------------------------------------------------

METRICS = ("pass@1", "soft_pass", "model_calls")


def summarize(rows: Sequence[dict[str, Any]], methods: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Return mean, std (over seeds, ddof=1; 0 for one seed), min and max of each metric per method."""
    out: dict[str, dict[str, Any]] = {}
    for method in methods:
        mine = sorted((r for r in rows if r["method"] == method), key=lambda r: r["seed"])
        entry: dict[str, Any] = {"seeds": [r["seed"] for r in mine]}
        for metric in METRICS:
            values = np.array([r[metric] for r in mine], dtype=float)
            entry[metric] = {
                "mean": float(values.mean()),
                "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
                "min": float(values.min()),
                "max": float(values.max()),
                "per_seed": values.tolist(),
            }
        out[method] = entry
    return out


def ppo_margin(rows: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """PPO's pass@1 minus random operators' on each seed (``None`` unless both ran)."""
    by = {(r["method"], r["seed"]): r["pass@1"] for r in rows}
    seeds = sorted({r["seed"] for r in rows if ("ppo", r["seed"]) in by and ("random", r["seed"]) in by})
    if not seeds:
        return None
    margins = np.array([by[("ppo", s)] - by[("random", s)] for s in seeds])
    return {
        "seeds": seeds,
        "per_seed": margins.tolist(),
        "mean": float(margins.mean()),
        "std": float(margins.std(ddof=1)) if len(margins) > 1 else 0.0,
        "min": float(margins.min()),
        "wins": int((margins > 0).sum()),
    }


def markdown(summary: dict[str, dict[str, Any]], margin: dict[str, Any] | None, title: str) -> str:
    """Format the table (mean +- std over seeds, min - max) and PPO's margin over random operators."""
    lines = [
        f"**{title}**",
        "",
        "| method | pass@1 (%) | soft pass (%) | model calls / task | pass@1 range over seeds (%) |",
        "|---|---:|---:|---:|---:|",
    ]
    for method, s in summary.items():
        p, soft, calls = s["pass@1"], s["soft_pass"], s["model_calls"]
        lines.append(
            f"| {method} | {100 * p['mean']:.1f} ± {100 * p['std']:.1f} | {100 * soft['mean']:.1f} ± "
            f"{100 * soft['std']:.1f} | {calls['mean']:.2f} ± {calls['std']:.2f} | "
            f"{100 * p['min']:.1f} - {100 * p['max']:.1f} |"
        )
    if margin is not None:
        per_seed = ", ".join(f"{100 * m:+.1f}" for m in margin["per_seed"])
        lines += [
            "",
            f"PPO minus random operators, pass@1: {100 * margin['mean']:+.1f} ± {100 * margin['std']:.1f} "
            f"points (seeds {margin['seeds']}: {per_seed}); PPO ahead on {margin['wins']} of "
            f"{len(margin['seeds'])} seeds.",
        ]
    return "\n".join(lines)


def plot(summary: dict[str, dict[str, Any]], path: Path, title: str) -> None:
    """Bars: mean pass@1 and soft pass with one-std error bars and each seed as a dot; model calls."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(summary)
    x = np.arange(len(names))
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for offset, metric, label in ((-0.2, "pass@1", "pass@1"), (0.2, "soft_pass", "soft pass")):
        means = [100 * summary[n][metric]["mean"] for n in names]
        stds = [100 * summary[n][metric]["std"] for n in names]
        left.bar(x + offset, means, 0.4, yerr=stds, capsize=3, label=label)
        for i, n in enumerate(names):
            seeds = summary[n][metric]["per_seed"]
            left.plot([x[i] + offset] * len(seeds), [100 * v for v in seeds], "k.", markersize=4)
    left.set_xticks(x, names)
    left.set_ylabel("% of held-out tasks / tests")
    left.set_ylim(0, 100)
    left.legend(loc="lower right")
    right.bar(
        x,
        [summary[n]["model_calls"]["mean"] for n in names],
        0.6,
        yerr=[summary[n]["model_calls"]["std"] for n in names],
        capsize=3,
        color="tab:gray",
    )
    right.set_xticks(x, names)
    right.set_ylabel("model calls per task")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ----------------------------------------------------------------------------------------------------
# Driver
# ----------------------------------------------------------------------------------------------------


def run_benchmark(
    cfg: BenchmarkConfig,
    *,
    compare_kwargs: dict[str, Any] | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run every seed (``cfg.jobs`` at a time), then write and print the summary.

    Args:
        cfg: Settings.
        compare_kwargs: Extra arguments of :func:`examples.compare_agents.compare` (loaded ``backend``,
            ``embedder``, ``operators`` objects...); only with ``cfg.jobs == 1``, since objects are not sent
            to worker processes.
        log: Where progress and the table go.

    Returns:
        ``{"config", "rows", "summary", "ppo_minus_random", "seconds"}`` (also written to results.json).

    """
    cfg.validate()
    if compare_kwargs and cfg.jobs > 1:
        raise ValueError("compare_kwargs (loaded objects) need jobs=1; pass names in the config instead")
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    prepare_model(cfg)
    rows: list[dict[str, Any]] = []
    jobs = min(cfg.jobs, len(cfg.seeds))
    log(f"[benchmark] {cfg.env_id}: seeds {list(cfg.seeds)}, methods {list(cfg.methods)}, {jobs} process(es)")
    from tqdm.auto import tqdm

    bar = tqdm(total=len(cfg.seeds) * len(cfg.methods), desc="methods run", unit="run")

    def on_event(seed: int, line: str) -> None:  # compare() logs "[compare] <method>: {...}" when done
        if line.startswith("[compare] ") and ": {" in line:
            bar.update()
        elif line.startswith("[compare] ") and line.endswith("..."):
            bar.set_postfix_str(f"seed {seed}: {line[10:-4]}")
        elif line.startswith("[compare] ppo: "):  # training progress
            bar.set_postfix_str(f"seed {seed}: {line[10:]}")

    with bar:
        if jobs == 1:
            for seed in cfg.seeds:
                rows += run_seed(cfg, seed, on_event, compare_kwargs)
        else:
            import multiprocessing
            import queue as queue_module
            from concurrent.futures import FIRST_COMPLETED, wait

            # spawn: a fresh interpreter per worker (torch and the sandbox's zygotes do not like fork)
            context = multiprocessing.get_context("spawn")
            with context.Manager() as manager, ProcessPoolExecutor(jobs, mp_context=context) as pool:
                events = manager.Queue()
                pending = {pool.submit(run_seed, cfg, seed, events) for seed in cfg.seeds}
                while pending:
                    done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                    while True:
                        try:
                            on_event(*events.get_nowait())
                        except queue_module.Empty:
                            break
                    for future in done:
                        rows += future.result()
    methods = list(cfg.methods)
    summary = summarize(rows, methods)
    margin = ppo_margin(rows)
    tasks = rows[0]["tasks"]
    default = "codegym's small model" if cfg.env_id == "SynthPrompt-v0" else "the id's default model"
    title = f"{cfg.env_id} {cfg.eval_split} ({tasks} tasks), {cfg.model or default}, seeds {list(cfg.seeds)}"
    table = markdown(summary, margin, title)
    seconds = time.perf_counter() - t0
    result = {
        "config": asdict(cfg),
        "rows": sorted(rows, key=lambda r: (r["seed"], methods.index(r["method"]))),
        "summary": summary,
        "ppo_minus_random": margin,
        "seconds": seconds,
    }
    (out / "results.md").write_text(table + "\n")
    (out / "results.json").write_text(json.dumps(result, indent=2, default=str))
    plot(summary, out / "results.png", title)
    log(table)
    log(f"[benchmark] {seconds / 60:.1f} min; wrote {out / 'results.md'}, results.json and results.png")
    return result


def parse_args(argv: Sequence[str] | None = None) -> BenchmarkConfig:
    """Build a :class:`BenchmarkConfig` from ``--field-name value`` options."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    optional_ints = ("eval_tasks", "train_tasks", "max_steps")
    for f in fields(BenchmarkConfig):
        default = f.default
        flag = "--" + f.name.replace("_", "-")
        if isinstance(default, tuple):
            kind = int if f.name == "seeds" else str
            parser.add_argument(flag, nargs="+", type=kind, default=default)
        elif default is None or f.name in optional_ints:
            kind = int if f.name in optional_ints else str
            parser.add_argument(
                flag, type=lambda s, k=kind: None if s.lower() == "none" else k(s), default=default
            )
        else:
            parser.add_argument(flag, type=type(default), default=default)
    ns = parser.parse_args(argv)
    return BenchmarkConfig(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in vars(ns).items()})


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Command-line entry point."""
    from codegym.backends.errors import ModelLoadError

    cfg = parse_args(argv)
    try:
        cfg.validate()
        return run_benchmark(cfg)
    except (ValueError, FileNotFoundError, ModelLoadError) as exc:  # a bad option, a model not here
        raise SystemExit(f"synth_prompt_benchmark: {exc}") from None


if __name__ == "__main__":
    main()
