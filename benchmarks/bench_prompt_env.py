"""Prompt-optimization steps per second: N environments batched vs stepped one by one, same run.

Two ways of stepping ``--envs`` (default 8) ``MBPPPrompt-v0`` environments with the same seeds and actions
(so both do the same work and reach the same observations, up to the float noise of embedding texts
in a batch rather than alone; the script prints the largest difference):

* batched: :class:`~codegym.envs.prompt_vec_env.PromptOptimizationVecEnv`, one ``generate``, one
  ``run_batch`` and one ``embed`` call per vector step for all environments;
* one by one: N separate environments stepped in a loop (what SB3's ``DummyVecEnv`` does), one model
  call per environment.

Each is measured with two code models:

* a CodeT5+-220M-shaped ``T5ForConditionalGeneration`` (random weights,
  :func:`codegym.backends.tiny.random_codet5p_220m`; every completion has exactly ``--max-new-tokens``
  tokens), the cost of a real small model;
* an instant backend that returns a small program at once (a new one for each prompt, so that it is
  really executed): what is left is the environment's own overhead (mutation operators, prompt
  rendering, sandboxed execution, the embedder).

Actions are drawn uniformly from the edit operators (default ``epic``, ``wordnet_synonym``,
``vector_neighbour``: no ``submit``, so episodes run all their steps). Before the timed runs, an untimed
pass over the same actions (instant backend) loads the word vectors and the tagger and fills the
operators' candidate caches: the steady state of a long training run. Each timed run resets, takes one
untimed step, then ``--steps`` timed steps; caches are cleared between runs (the executor's verdicts,
the embedder's vectors) and each run has its own evaluator. Reported: environment steps per second, the
batched/one-by-one ratio (target >= 4x) in wall-clock time and in this process's CPU time (steadier on a
shared machine; it leaves out the sandbox's worker processes), the time split of a batched vector
step, and the environment's own overhead as a share of a batched step with the 220M model (target
< 10 %).

Usage: ``python benchmarks/bench_prompt_env.py [--envs 8] [--steps 4] [--max-new-tokens 64]
[--embedder minilm|hashing] [--threads N] [--device cpu|cuda] [--mbpp-path FILE]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PROGRAM = "def f(x):\n    return x\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--envs", type=int, default=8)
    parser.add_argument("--steps", type=int, default=4, help="timed vector steps per run (default 4)")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--embedder", default="minilm", help="minilm (default) or hashing")
    parser.add_argument("--operators", nargs="+", default=["epic", "wordnet_synonym", "vector_neighbour"])
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    parser.add_argument("--mbpp-path", default=None, help="MBPP jsonl (default $CODEGYM_MBPP_PATH)")
    parser.add_argument("--skip-220m", action="store_true", help="only the instant backend")
    args = parser.parse_args()

    import torch

    from codegym.backends.base import CodeGenerator
    from codegym.execution import SandboxExecutor
    from codegym.mutation import make_operator

    if args.threads:
        torch.set_num_threads(args.threads)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs visible, "
        f"torch {torch.__version__} with {torch.get_num_threads()} threads, device {device}"
    )
    mbpp_path = args.mbpp_path or default_mbpp_path()
    if mbpp_path is None:
        raise SystemExit("no MBPP file found: set CODEGYM_MBPP_PATH or pass --mbpp-path")

    class Instant(CodeGenerator):
        name = "instant"

        def generate(self, prompts: Sequence[str], **kwargs: Any) -> list[list[str]]:
            # A comment that depends on the prompt makes each program new to the sandbox's cache, so
            # every step really executes its programs.
            return [[f"{PROGRAM}# prompt {zlib.crc32(p.encode())}\n"] for p in prompts]

    operators = [make_operator(name) for name in args.operators]
    executor = SandboxExecutor()
    embedder = make_embedder(args.embedder)
    common = {
        "dataset": "mbpp",
        "split": "test",
        "path": mbpp_path,
        "embedder": embedder,
        "executor": executor,
        "operators": operators,
        "max_new_tokens": args.max_new_tokens,
        "max_steps": args.steps + 10,  # no episode ends inside the timed window: both ways do the same work
    }
    rng = np.random.default_rng(0)
    actions = rng.integers(len(operators), size=(args.steps + 1, args.envs))

    def clear() -> None:
        executor.clear_cache()
        if hasattr(embedder, "clear_cache"):
            embedder.clear_cache()

    backends: list[tuple[str, Any]] = [("instant", Instant())]
    if not args.skip_220m:
        t0 = time.perf_counter()
        backends.append(("codet5p-220m", build_220m(args, device)))
        print(f"# CodeT5+-220M-shaped model built in {time.perf_counter() - t0:.1f} s")
    print(
        f"# {args.envs} x MBPPPrompt-v0 (test split), operators {args.operators}, embedder {args.embedder}, "
        f"{args.max_new_tokens} new tokens per program, {args.steps} timed vector steps per run"
    )

    # Untimed pass with the same seeds and actions: the operators' candidate caches reach the state both
    # timed runs then share (the texts they produce do not depend on the code model).
    t0 = time.perf_counter()
    run("batched", {**common, "backend": Instant()}, args.envs, actions)
    print(f"# warm-up pass (word vectors, tagger, operator caches): {time.perf_counter() - t0:.1f} s")

    results: dict[tuple[str, str], dict[str, Any]] = {}
    for name, backend in backends:
        for mode in ("batched", "one-by-one"):
            clear()
            results[(name, mode)] = run(mode, {**common, "backend": backend}, args.envs, actions)
        pairs = zip(results[(name, "batched")]["obs"], results[(name, "one-by-one")]["obs"], strict=True)
        results[(name, "batched")]["diff"] = max(float(np.max(np.abs(a - b))) for a, b in pairs)

    print()
    print(
        f"{'backend':<14}{'mode':<12}{'env steps/s':>12}{'s / vector step':>17}{'CPU s / step':>14}"
        f"{'generate calls':>16}"
    )
    for (name, mode), r in results.items():
        print(
            f"{name:<14}{mode:<12}{r['steps_per_s']:12.2f}{r['step_s']:17.3f}{r['cpu_s']:14.3f}"
            f"{r['stats']['generate_calls']:16d}"
        )
    for name, _ in backends:
        b, u = results[(name, "batched")], results[(name, "one-by-one")]
        print(
            f"{name}: batched / one-by-one = {b['steps_per_s'] / u['steps_per_s']:.2f}x wall clock, "
            f"{u['cpu_s'] / b['cpu_s']:.2f}x this process's CPU time (target >= 4x); "
            f"largest observation difference {b['diff']:.1e}"
        )
    if not args.skip_220m:
        big, instant = results[("codet5p-220m", "batched")], results[("instant", "batched")]
        stats = big["stats"]
        total = big["step_s"] * args.steps
        print()
        print(f"batched vector step with the 220M model, split ({args.steps} steps):")
        rest = total - stats["generate_s"] - stats["execute_s"] - stats["embed_s"]
        for label, v in (
            ("generation", stats["generate_s"]),
            ("execution", stats["execute_s"]),
            ("embedding", stats["embed_s"]),
            ("rest (operators, rendering, bookkeeping)", rest),
        ):
            print(f"  {label:<42}{v / args.steps:8.3f} s  {100 * v / total:5.1f} %")
        share = instant["step_s"] / big["step_s"]
        print(
            "environment's own overhead (instant backend, batched): "
            f"{instant['step_s']:.3f} s per vector step "
            f"= {100 * share:.1f} % of a 220M step (target < 10 %)"
        )
    executor.close()


def run(mode: str, kwargs: dict[str, Any], n: int, actions: np.ndarray) -> dict[str, Any]:
    """Reset, one untimed warm-up step, then the timed steps; returns timings and observations."""
    from codegym.envs.prompt_optimization import PromptOptimizationEnv
    from codegym.envs.prompt_vec_env import make_prompt_vec_env

    observations = []
    if mode == "batched":
        venv = make_prompt_vec_env(None, n_envs=n, seed=0, **kwargs)
        observations.append(venv.reset())
        observations.append(venv.step(actions[0])[0])
        evaluator = venv.evaluators[0]
        before = evaluator.stats.as_dict()
        t0, c0 = time.perf_counter(), time.process_time()
        for step_actions in actions[1:]:
            observations.append(venv.step(step_actions)[0])
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
        after = evaluator.stats.as_dict()
    else:
        envs = [PromptOptimizationEnv(**kwargs) for _ in range(n)]
        observations.append(np.stack([env.reset(seed=i)[0] for i, env in enumerate(envs)]))

        def vector_step(step_actions: np.ndarray) -> np.ndarray:
            obs = []
            for env, a in zip(envs, step_actions, strict=True):
                o, _, term, trunc, _ = env.step(a)
                obs.append(env.reset()[0] if term or trunc else o)
            return np.stack(obs)

        observations.append(vector_step(actions[0]))
        stats = [env.evaluator.stats for env in envs]
        before = summed(stats)
        t0, c0 = time.perf_counter(), time.process_time()
        for step_actions in actions[1:]:
            observations.append(vector_step(step_actions))
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
        after = summed(stats)
    steps = len(actions) - 1
    delta = {k: after[k] - before[k] for k in after}
    delta["generate_calls"] = int(delta["generate_calls"])
    return {
        "steps_per_s": n * steps / elapsed,
        "step_s": elapsed / steps,
        "cpu_s": cpu / steps,
        "stats": delta,
        "obs": observations,
    }


def summed(stats: list[Any]) -> dict[str, float]:
    """Sum the counters of several evaluators."""
    out: dict[str, float] = {}
    for s in stats:
        for k, v in s.as_dict().items():
            out[k] = out.get(k, 0) + v
    return out


def build_220m(args: argparse.Namespace, device: str) -> Any:
    """Build the CodeT5+-220M-shaped generator (random weights) writing exactly ``max_new_tokens``."""
    from codegym.backends.hf import HFCodeGenerator, resolve_dtype
    from codegym.backends.tiny import random_codet5p_220m

    model, tokenizer = random_codet5p_220m(seed=0)
    model.to(device=device, dtype=resolve_dtype("auto", device))
    return HFCodeGenerator(
        model,
        tokenizer,
        name="codet5p-220m-random",
        batch_size=args.envs,
        max_prompt_tokens=384,
        truncate_prompts=True,
        generation_kwargs={"min_new_tokens": args.max_new_tokens},
    )


def make_embedder(kind: str) -> Any:
    """Build the embedder object shared by every environment of a run."""
    from codegym.observation import make_embedder as make

    return make(kind)


def default_mbpp_path() -> str | None:
    """``$CODEGYM_MBPP_PATH``, else ``../shared/data/mbpp/mbpp.jsonl`` beside the repository, if present."""
    candidates = [os.environ.get("CODEGYM_MBPP_PATH"), str(ROOT.parent / "shared/data/mbpp/mbpp.jsonl")]
    return next((c for c in candidates if c and Path(c).is_file()), None)


if __name__ == "__main__":
    main()
