"""Batched generation vs one call per environment, with a CodeT5+-220M-shaped model, in the same run.

The model is ``T5ForConditionalGeneration`` with CodeT5+-220M's configuration (12+12 layers, d_model 768,
vocabulary 32100, about 223M parameters) and random weights
(:func:`codegym.backends.tiny.random_codet5p_220m`): the compute per token is the real model's and nothing
is downloaded. ``--envs`` environments (default 8 x ``MBPPCodeGen-v0``; ``HumanEvalCodeGen-v0`` when no
MBPP file is found) are reset, and their prompts are completed two ways, in alternating order per round:

* batched: one ``generate`` call for all environments' prompts;
* per environment: one ``generate`` call per prompt.

Every completion has exactly ``--max-new-tokens`` tokens (``min_new_tokens`` is set too, so a random
model's early end-of-sequence cannot flatter either side). Greedy decoding; the script checks that both
ways produce the same text. Throughput is reported in wall-clock time and in this process's CPU time
(the steadier figure on a shared machine). Then every environment steps with its completion from the
batched call, and the vector step's time is split into generation (the batched call), execution (the
sandbox, as ``info["timings"].execution_s`` reports) and the rest (reset, post-processing, reward).

Usage: ``python benchmarks/bench_generation.py [--envs 8] [--max-new-tokens 128] [--rounds 1]
[--threads N] [--device cpu|cuda] [--env ID] [--mbpp-path FILE]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--envs", type=int, default=8, help="number of environments (default 8)")
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=1, help="timed rounds of each kind (default 1)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    parser.add_argument("--dtype", default="auto", help="auto (fp32 on CPU, bf16/fp16 on GPU), float32, ...")
    parser.add_argument(
        "--env",
        default=None,
        help="environment id (default MBPPCodeGen-v0 if MBPP data is found, else HumanEval)",
    )
    parser.add_argument("--mbpp-path", default=None, help="MBPP jsonl (default $CODEGYM_MBPP_PATH)")
    parser.add_argument("--max-prompt-tokens", type=int, default=384, help="prompts are cut to their end")
    args = parser.parse_args()

    import torch

    import codegym  # noqa: F401 - registers the environment ids
    from codegym.backends.hf import HFCodeGenerator, resolve_dtype
    from codegym.backends.tiny import random_codet5p_220m

    if args.threads:
        torch.set_num_threads(args.threads)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs visible, "
        f"torch {torch.__version__} with {torch.get_num_threads()} threads, device {device}"
    )

    t0 = time.perf_counter()
    model, tokenizer = random_codet5p_220m(seed=0)
    model.to(device=device, dtype=resolve_dtype(args.dtype, device))
    params = sum(p.numel() for p in model.parameters())
    gen = HFCodeGenerator(
        model,
        tokenizer,
        name="codet5p-220m-random",
        batch_size=args.envs,
        max_prompt_tokens=args.max_prompt_tokens,
        truncate_prompts=True,
        generation_kwargs={"min_new_tokens": args.max_new_tokens},
    )
    print(
        f"# model: T5ForConditionalGeneration, CodeT5+-220M config, {params / 1e6:.1f}M parameters, "
        f"{model.dtype}, built in {time.perf_counter() - t0:.1f} s"
    )

    mbpp_path = args.mbpp_path or default_mbpp_path()
    env_id = args.env or ("MBPPCodeGen-v0" if mbpp_path else "HumanEvalCodeGen-v0")
    if args.env is None and mbpp_path is None:
        print("# no MBPP file found (set CODEGYM_MBPP_PATH or --mbpp-path): using HumanEvalCodeGen-v0")
    envs = make_envs(env_id, args.envs, mbpp_path)
    prompts = [env.reset(seed=i)[0] for i, env in enumerate(envs)]
    lengths = [len(gen._encode(p, i, args.max_new_tokens, False)) for i, p in enumerate(prompts)]
    print(
        f"# {args.envs} x {env_id}; prompt tokens min/median/max "
        f"{min(lengths)}/{int(statistics.median(lengths))}/{max(lengths)}; "
        f"{args.max_new_tokens} new tokens per completion; greedy"
    )

    fixed = gen.generation_kwargs
    gen.generation_kwargs = {}
    gen.generate(prompts[:2], max_new_tokens=4)  # warm-up (allocations, kernel selection)
    gen.generation_kwargs = fixed

    kw = {"max_new_tokens": args.max_new_tokens, "temperature": 0.0}
    wall: dict[str, list[float]] = {"batched": [], "single": []}
    cpu: dict[str, list[float]] = {"batched": [], "single": []}
    same = True
    split: list[tuple[float, float, float]] = []
    for r in range(args.rounds):
        t0 = time.perf_counter()
        prompts = [env.reset(seed=100 * r + i)[0] for i, env in enumerate(envs)]
        reset_s = time.perf_counter() - t0
        outputs = {}
        for kind in ("batched", "single") if r % 2 == 0 else ("single", "batched"):
            w0, c0 = time.perf_counter(), time.process_time()
            if kind == "batched":
                outputs[kind] = gen.generate(prompts, **kw)
            else:
                outputs[kind] = [gen.generate([p], **kw)[0] for p in prompts]
            wall[kind].append(time.perf_counter() - w0)
            cpu[kind].append(time.process_time() - c0)
        same = same and outputs["batched"] == outputs["single"]
        # One vector step: every environment steps with its completion from the batched call.
        t0 = time.perf_counter()
        execution = 0.0
        for env, completion in zip(envs, outputs["batched"], strict=True):
            execution += env.step(completion[0])[4]["timings"].execution_s
        step_s = time.perf_counter() - t0
        split.append((wall["batched"][-1], execution, reset_s + step_s - execution))

    n_tok = args.envs * args.max_new_tokens
    print()
    print(f"{'':<34}{'wall s':>8}{'compl/s':>9}{'tok/s':>8}{'CPU s':>8}{'tok/CPU s':>10}")
    for kind, label in (
        ("batched", f"batched (1 call x {args.envs} prompts)"),
        ("single", f"per env ({args.envs} calls x 1 prompt)"),
    ):
        w, c = statistics.median(wall[kind]), statistics.median(cpu[kind])
        print(f"{label:<34}{w:8.2f}{args.envs / w:9.2f}{n_tok / w:8.1f}{c:8.2f}{n_tok / c:10.1f}")
    ratio_wall = statistics.median(wall["single"]) / statistics.median(wall["batched"])
    ratio_cpu = statistics.median(cpu["single"]) / statistics.median(cpu["batched"])
    print(
        f"ratio batched / per-env throughput: {ratio_wall:.2f}x wall clock, {ratio_cpu:.2f}x CPU time "
        "(target >= 4x)"
    )
    print(f"batched and per-env completions identical: {same}")
    gen_s, exe_s, rest_s = (statistics.median(x[k] for x in split) for k in range(3))
    total = gen_s + exe_s + rest_s
    print()
    print(f"per vector step of {args.envs} environments (batched generation; median of {args.rounds}):")
    for name, v in (("generation", gen_s), ("execution", exe_s), ("rest", rest_s)):
        print(f"  {name:<10} {v:8.3f} s  {100 * v / total:5.1f} %")
    for env in envs:
        env.close()


def make_envs(env_id: str, count: int, mbpp_path: str | None) -> list:
    import gymnasium as gym

    kwargs = {"path": mbpp_path} if env_id.startswith("MBPP") and mbpp_path else {}
    return [gym.make(env_id, **kwargs) for _ in range(count)]


def default_mbpp_path() -> str | None:
    """``$CODEGYM_MBPP_PATH``, else ``../shared/data/mbpp/mbpp.jsonl`` beside the repository, if present."""
    candidates = [os.environ.get("CODEGYM_MBPP_PATH"), str(ROOT.parent / "shared/data/mbpp/mbpp.jsonl")]
    return next((c for c in candidates if c and Path(c).is_file()), None)


if __name__ == "__main__":
    main()
