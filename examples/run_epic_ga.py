"""Run the EPiC genetic algorithm (``agents/epic_ga.py``) on MBPP tasks with a frozen code model.

For each task: the first population is the original description and its EPiC mutants; fitness is the
pass rate of the program the model writes for a prompt (scored a population at a time, one batched
``generate`` and one ``run_batch`` per generation); the search stops when a prompt passes every test or
after ``--generations`` generations. Prints each task's outcome and the model calls it cost.

Examples::

    python examples/run_epic_ga.py --backend Salesforce/codet5p-220m-py --tasks 20
    python examples/run_epic_ga.py --backend tiny-t5 --tasks 3 --max-new-tokens 16   # smoke test
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # agents/ holds scripts, not an installed package
    sys.path.insert(0, str(ROOT))

from agents.epic_ga import EPiCGA, EPiCGAConfig  # noqa: E402
from codegym.envs.prompt_optimization import PromptEvaluator, protected_words  # noqa: E402
from codegym.tasks import load_tasks  # noqa: E402
from codegym.tasks.prompts import default_style, get_style, split_prompt  # noqa: E402


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="mbpp", help="mbpp or humaneval")
    parser.add_argument("--split", default="test")
    parser.add_argument("--data-path", default=None, help="local MBPP jsonl (else $CODEGYM_MBPP_PATH)")
    parser.add_argument("--tasks", type=int, default=20, help="the first N tasks of the split")
    parser.add_argument("--backend", default="Salesforce/codet5p-220m-py")
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--population", type=int, default=5)
    parser.add_argument("--generations", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    kwargs = {"split": args.split} if args.dataset == "mbpp" else {}
    if args.data_path:
        kwargs["path"] = args.data_path
    tasks = load_tasks(args.dataset, **kwargs)[: args.tasks]
    evaluator = PromptEvaluator(args.backend, "hashing", max_new_tokens=args.max_new_tokens)
    rows = []
    for k, task in enumerate(tasks):
        style = get_style(default_style(task))
        description, render = split_prompt(task, style)

        def fitness(prompts: list[str], task=task, completion=style.completion) -> list[float]:  # noqa: ANN001
            return [e.pass_rate for e in evaluator.evaluate([(task, p, completion) for p in prompts])]

        ga = EPiCGA(EPiCGAConfig(population_size=args.population, max_generations=args.generations))
        result = ga.run(
            description,
            fitness,
            render=render,
            protected=protected_words(task),
            rng=np.random.default_rng(args.seed + k),
        )
        original = fitness([render(description)])[0]
        rows.append(
            {
                "task_id": task.task_id,
                "original": original,
                "best": result.best_fitness,
                "model_calls": result.model_calls,
                "generations": len(result.generations),
                "description": result.best_description,
            }
        )
        print(
            f"{task.task_id:<14} pass rate {original:.2f} -> {result.best_fitness:.2f} "
            f"({len(result.generations)} generations, {result.model_calls} model calls)"
        )
        if result.best_description != description:
            print(f"    {result.best_description}")
    solved = np.mean([r["best"] >= 1.0 for r in rows])
    print(
        f"solved {solved:.1%} of {len(rows)} tasks (original prompts: "
        f"{np.mean([r['original'] >= 1.0 for r in rows]):.1%}); "
        f"{np.mean([r['model_calls'] for r in rows]):.1f} model calls per task"
    )
    return rows


if __name__ == "__main__":
    main()
