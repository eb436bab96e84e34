"""Throughput and memory of GRPO training steps: seconds per step, tokens per second, peak memory.

Runs a few GRPO steps (sampling, execution-reward scoring, log-probabilities, update) with codegym's
trainer on procedural function-synthesis tasks, then prints what they cost. By default the model is
a freshly built small Llama (no download); on a CUDA machine ``--finetune qlora`` loads it in 4 bits
through bitsandbytes and the peak GPU memory is reported.

    python benchmarks/bench_training.py                          # CPU, LoRA, tiny Llama
    python benchmarks/bench_training.py --finetune qlora --hidden-size 1024 --layers 8   # CUDA
    python benchmarks/bench_training.py --model codellama/CodeLlama-7b-hf --finetune qlora
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path


def main() -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=fmt)
    parser.add_argument("--model", default=None, help="model id or directory (default: build a small Llama)")
    parser.add_argument("--hidden-size", type=int, default=256, help="width of the built model")
    parser.add_argument("--layers", type=int, default=4, help="depth of the built model (default: 4)")
    parser.add_argument("--finetune", default="lora", choices=("lora", "qlora", "full"))
    parser.add_argument("--steps", type=int, default=5, help="GRPO steps to time (default: 5)")
    parser.add_argument("--batch-size", type=int, default=8, help="tasks per step (default: 8)")
    parser.add_argument("--num-generations", type=int, default=8, help="samples per task (default: 8)")
    parser.add_argument("--max-new-tokens", type=int, default=64, help="longest completion (default: 64)")
    parser.add_argument("--num-threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()

    import torch

    from codegym.tasks.procedural import load_synthesis_tasks
    from codegym.training.demo import build_tiny_causal_lm
    from codegym.training.grpo import GRPOConfig, train

    out = Path(tempfile.mkdtemp(prefix="bench-training-"))
    model = args.model or str(build_tiny_causal_lm(out / "model", args.hidden_size, args.layers))
    tasks = load_synthesis_tasks("train", size=args.batch_size * args.steps, seed=0, difficulty=(1,))
    cfg = GRPOConfig(
        model=model,
        finetune=args.finetune,
        env="MBPPCodeGen-v0",
        env_kwargs={"tasks": tasks, "reward": "binary"},
        batch_size=args.batch_size,
        num_generations=args.num_generations,
        max_new_tokens=args.max_new_tokens,
        max_length=args.max_new_tokens + 256,
        max_steps=args.steps,
        learning_rate=1e-4,
        output_dir=str(out),
        run_name="bench",
        report_to=("none",),
        final_eval=False,
        merge_adapters=False,
        progress=False,
        num_threads=args.num_threads,
    )
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    result = train(cfg)
    seconds = time.perf_counter() - start
    metrics = [json.loads(line) for line in (result.run_dir / "metrics.jsonl").read_text().splitlines()]
    rates = [m["perf/tokens_per_s"] for m in metrics if "perf/tokens_per_s" in m]
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
    print(f"device: {device}; model: {model}; finetune: {args.finetune}")
    shape = f"{args.batch_size} tasks x {args.num_generations} samples"
    print(f"{args.steps} GRPO steps of {shape}: {seconds:.1f} s")
    print(f"seconds per step (incl. loading): {seconds / args.steps:.2f}")
    print(f"tokens per second (generated + trained, mean over steps): {sum(rates) / max(1, len(rates)):.0f}")
    if torch.cuda.is_available():
        print(f"peak GPU memory: {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB")
    print(f"peak host memory (RSS): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")


if __name__ == "__main__":
    main()
