"""The small code model: architecture choice, training time, and pass rate by phrasing group.

Part ``arch``: trains the default recipe as a CodeT5-style ``T5ForConditionalGeneration`` and as a
``LlamaForCausalLM`` of about the same size, each for the same CPU-time budget (process CPU seconds, so
that a machine shared with other jobs does not favour whichever ran while it was quieter), and compares
their pass@1 on held-out (eval-split) synthesis tasks, in the trained and in the held-out phrasing groups.

Part ``groups``: builds (or loads from the cache) the default model exactly as ``codegym model build``
does, reports its training time, and prints its pass rate by phrasing group on held-out tasks, through
the sandboxed executor: the table ``codegym model eval`` prints.

Part ``env``: ``SynthPrompt-v0`` with its defaults: environment steps per second (8 batched
environments), and the headroom an agent has on held-out tasks (original wording, random operators,
always rewriting, best phrasing).

Usage::

    python benchmarks/bench_small_model.py                       # both parts
    python benchmarks/bench_small_model.py --part arch --cpu-budget 150 --eval-size 60
    python benchmarks/bench_small_model.py --part groups --eval-size 200
    python benchmarks/bench_small_model.py --part env --eval-size 200
"""

from __future__ import annotations

import argparse
import json
import time


class _CPUTimed:
    """Wraps a generator and adds up the CPU time of its ``generate`` calls (in this process)."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.name = inner.name
        self.cpu_seconds = 0.0
        self.prompts = 0

    def generate(self, prompts: list[str], **kwargs: object) -> list[list[str]]:
        start = time.process_time()
        out = self.inner.generate(prompts, **kwargs)
        self.cpu_seconds += time.process_time() - start
        self.prompts += len(prompts)
        return out


def compare_architectures(cpu_budget: float, eval_size: int, threads: int) -> list[dict]:
    """Train both architectures for ``cpu_budget`` CPU seconds each and evaluate them on held-out tasks."""
    from codegym.backends.hf import HFCodeGenerator
    from codegym.models.evaluation import evaluate_by_group
    from codegym.models.small import DEFAULT_RECIPE, build_tokenizer, train_model, training_examples

    rows = []
    for arch in ("t5", "llama"):
        recipe = DEFAULT_RECIPE.replace(architecture=arch, max_seconds=10 * cpu_budget + 600)
        pairs = training_examples(recipe)
        tok = build_tokenizer([t for p in pairs for t in p], recipe.vocab_size, arch)
        # Calibrate: CPU seconds per step of this architecture, so that its learning-rate schedule spans
        # the budget (a schedule cut off half-way would handicap the slower architecture).
        # The first steps pay one-off costs, so the cost is the difference between 30 and 10 steps.
        costs = []
        for n in (10, 30):
            probe = recipe.replace(max_steps=n, warmup_steps=1)
            costs.append(train_model(probe, tok, pairs, progress=False, threads=threads)[1].cpu_seconds)
        per_step = (costs[1] - costs[0]) / 20
        steps = max(20, int(cpu_budget / per_step))
        recipe = recipe.replace(max_steps=steps, warmup_steps=min(recipe.warmup_steps, steps // 10))
        print(f"{arch}: {per_step:.3f} CPU s per step -> {steps} steps")
        model, report = train_model(
            recipe, tok, pairs, progress=True, threads=threads, max_cpu_seconds=1.1 * cpu_budget
        )
        gen = _CPUTimed(HFCodeGenerator(model, tok, name=f"small-{arch}", batch_size=32))
        ev = evaluate_by_group(gen, size=eval_size, train_groups=recipe.train_groups, progress=True)
        row = {
            "architecture": arch,
            "parameters": report.parameters,
            "steps": report.steps,
            "cpu_s": round(report.cpu_seconds, 1),
            "wall_s": round(report.seconds, 1),
            "final_loss": round(report.final_loss, 4),
            "pass@1 trained groups": round(ev.mean(True), 3),
            "pass@1 held-out groups": round(ev.mean(False), 3),
            "generation CPU ms/prompt": round(1000 * gen.cpu_seconds / gen.prompts, 1),
        }
        print(json.dumps(row))
        print(ev.table())
        rows.append(row)
    print(
        f"\narchitecture comparison: equal CPU budget of {cpu_budget:.0f} s, {threads} thread(s), "
        f"{eval_size} eval-split tasks x 6 phrasing groups"
    )
    keys = list(rows[0])
    print(" | ".join(keys))
    for r in rows:
        print(" | ".join(str(r[k]) for k in keys))
    return rows


def default_model_by_group(eval_size: int, threads: int) -> None:
    """Build or load the default model; print its training report and pass rate by phrasing group."""
    from codegym.models.evaluation import evaluate_by_group
    from codegym.models.small import DEFAULT_RECIPE, load_small_model, read_build_info, small_model_path

    start = time.perf_counter()
    path = small_model_path(DEFAULT_RECIPE, threads=threads)
    print(f"model: {path} (ready in {time.perf_counter() - start:.1f} s this run)")
    training = read_build_info(path)["training"]
    print(
        f"training: {training['steps']} steps, {training['seconds']:.0f} s wall, "
        f"{training['cpu_seconds']:.0f} s CPU, {training['threads']} thread(s), "
        f"stopped by {training['stopped_by']}, final loss "
        f"{training['final_loss']:.4f}, {training['examples']} examples, {training['parameters']} parameters"
    )
    gen = load_small_model(DEFAULT_RECIPE, build=False)
    report = evaluate_by_group(gen, size=eval_size, train_groups=DEFAULT_RECIPE.train_groups, progress=True)
    print(report.table())
    print(f"(evaluation took {report.seconds:.0f} s)")


def benchmark_env(eval_size: int, vector_steps: int, max_steps: int | None = None) -> None:
    """SynthPrompt-v0 with its defaults (small model, MiniLM, all six operators): speed and headroom.

    Speed: environment steps per second of 8 batched environments taking random edit actions.
    Headroom, on ``eval_size`` held-out tasks, with the registered ``max_steps``: the original wording;
    random edit operators (never ``submit``, like the comparison's random baseline); always taking
    ``llm_rewrite`` (the catalogue rewriter); and the best of the six phrasings (an upper bound for
    rewording). An agent that learns to reword should land between random and the upper bound.
    """
    import numpy as np

    import codegym  # noqa: F401  (registers the ids)
    from codegym.envs.prompt_vec_env import make_prompt_vec_env
    from codegym.models.evaluation import evaluate_by_group
    from codegym.models.small import DEFAULT_RECIPE, load_small_model

    gen = load_small_model(DEFAULT_RECIPE)
    venv = make_prompt_vec_env("SynthPrompt-v0", n_envs=8, seed=0, backend=gen, split="train")
    names = venv.envs[0].operator_names
    edits = [i for i, n in enumerate(names) if n != "submit"]
    rewrite = names.index("llm_rewrite")
    rng = np.random.default_rng(0)
    venv.reset()
    for _ in range(3):  # warm-up: MiniLM, WordNet and the word vectors load on first use
        venv.step(rng.choice(edits, size=8))
    start = time.perf_counter()
    for _ in range(vector_steps):
        venv.step(rng.choice(edits, size=8))
    elapsed = time.perf_counter() - start
    print(
        f"speed: {8 * vector_steps / elapsed:.1f} environment steps/s (8 batched environments, random edit "
        f"actions, {vector_steps} vector steps in {elapsed:.1f} s; train split)"
    )
    venv.close()

    over = {} if max_steps is None else {"max_steps": max_steps}
    evaluation = make_prompt_vec_env("SynthPrompt-v0", n_envs=8, seed=0, backend=gen, split="eval", **over)
    tasks = evaluation.envs[0].tasks[:eval_size]
    ids = [t.task_id for t in tasks]
    rows = []
    for label, policy in (
        ("direct (original held-out wording)", lambda obs: np.full(len(obs), names.index("submit"))),
        ("random edit operators", lambda obs: rng.choice(edits, size=len(obs))),
        ("always llm_rewrite (catalogue)", lambda obs: np.full(len(obs), rewrite)),
    ):
        t0 = time.perf_counter()
        results = evaluation.run_episodes(policy, ids, seed=0)
        solved = [bool(r["solved"]) for r in results]
        rows.append(
            (
                label,
                np.mean(solved),
                np.mean([r["hidden_pass_rate"] for r in results]),
                np.mean([r["model_calls"] for r in results]),
                time.perf_counter() - t0,
            )
        )
    evaluation.close()
    best = evaluate_by_group(gen, tasks)
    any_group = [any(best.outcomes[g][i] for g in best.outcomes) for i in range(len(tasks))]
    rows.append(
        ("best of the six phrasings (upper bound)", np.mean(any_group), float("nan"), 6.0, best.seconds)
    )
    steps = evaluation.envs[0].max_steps
    print(f"headroom on {len(tasks)} held-out (eval-split) tasks, {steps} steps per episode:")
    print(f"{'method':<42}{'pass@1':>8}{'soft pass':>11}{'model calls':>13}{'seconds':>9}")
    for label, p, soft, calls, sec in rows:
        print(f"{label:<42}{p:>8.3f}{soft:>11.3f}{calls:>13.2f}{sec:>9.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--part", choices=("arch", "groups", "env", "all"), default="all")
    parser.add_argument("--vector-steps", type=int, default=30, help="env part: timed vector steps")
    parser.add_argument(
        "--env-max-steps", type=int, default=None, help="env part: episode length (default: the registered 4)"
    )
    parser.add_argument(
        "--cpu-budget", type=float, default=150.0, help="CPU seconds of training per architecture"
    )
    parser.add_argument("--eval-size", type=int, default=100, help="held-out tasks (each in all six groups)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    if args.part in ("arch", "all"):
        compare_architectures(args.cpu_budget, args.eval_size, args.threads)
    if args.part in ("groups", "all"):
        default_model_by_group(args.eval_size, args.threads)
    if args.part in ("env", "all"):
        benchmark_env(args.eval_size, args.vector_steps, args.env_max_steps)


if __name__ == "__main__":
    main()
