"""``codegym model build|info|eval``: the small code model codegym trains (:mod:`codegym.models.small`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``model`` command with its ``build``, ``info`` and ``eval`` sub-commands."""
    parser = subparsers.add_parser(
        "model",
        help="build, inspect and evaluate the small code model codegym trains itself",
        description=(
            "The small code model (CodeLlama-style, 0.8M parameters) trained on the procedural\n"
            "function-synthesis suite in a few minutes on a CPU, cached under ~/.cache/codegym/models\n"
            "(or $CODEGYM_CACHE_DIR/models). Examples:\n"
            "  codegym model build\n"
            "  codegym model info\n"
            "  codegym model eval --size 200"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(title="sub-commands", metavar="SUBCOMMAND")
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])

    build = sub.add_parser("build", help="train the model (or find it in the cache) and print where it is")
    _add_recipe_args(build)
    build.add_argument("--force", action="store_true", help="rebuild even if the model is cached")
    build.add_argument("--threads", type=int, default=None, help="torch CPU threads for training (default 1)")
    build.add_argument("--quiet", action="store_true", help="no progress bar")
    build.set_defaults(func=run_build)

    info = sub.add_parser("info", help="show the recipe, its cache directory and the training report")
    _add_recipe_args(info)
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(func=run_info)

    ev = sub.add_parser(
        "eval", help="pass rate by phrasing group on held-out synthesis tasks (builds the model if needed)"
    )
    _add_recipe_args(ev)
    ev.add_argument("--size", type=int, default=100, help="number of tasks, each worded in every group (100)")
    ev.add_argument("--split", choices=("train", "eval"), default="eval", help="task split (default eval)")
    ev.add_argument("--seed", type=int, default=0, help="seed of the tasks (default 0)")
    ev.add_argument("--groups", nargs="+", default=None, metavar="G", help="phrasing groups (default A-F)")
    ev.add_argument("--no-build", action="store_true", help="fail instead of training a missing model")
    ev.add_argument("--json", default=None, metavar="FILE", help="also write the results as JSON")
    ev.add_argument("--quiet", action="store_true", help="no progress bars")
    ev.set_defaults(func=run_eval)


def _add_recipe_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("recipe (default: the default small model)")
    group.add_argument("--architecture", choices=("t5", "llama"), default=None, help="model architecture")
    group.add_argument(
        "--train-groups", nargs="+", default=None, metavar="G", help="phrasing groups to train on"
    )
    group.add_argument("--max-steps", type=int, default=None, help="optimizer steps")
    group.add_argument("--max-seconds", type=float, default=None, help="wall-clock cap on training")
    group.add_argument("--num-tasks", type=int, default=None, help="training tasks")
    group.add_argument("--train-seed", type=int, default=None, help="seed of initialisation and batch order")
    group.add_argument("--cache-dir", default=None, metavar="DIR", help="parent folder of cached models")


def recipe_from_args(args: argparse.Namespace) -> Any:
    """Return the :class:`~codegym.models.small.SmallModelRecipe` the options describe (validated)."""
    from codegym.models.small import DEFAULT_RECIPE

    changes: dict[str, Any] = {}
    for option, name in (
        ("architecture", "architecture"),
        ("max_steps", "max_steps"),
        ("max_seconds", "max_seconds"),
        ("num_tasks", "num_tasks"),
        ("train_seed", "seed"),
    ):
        value = getattr(args, option, None)
        if value is not None:
            changes[name] = value
    if getattr(args, "train_groups", None):
        changes["train_groups"] = tuple(args.train_groups)
    recipe = DEFAULT_RECIPE.replace(**changes)
    recipe.validate()
    return recipe


def run_build(args: argparse.Namespace) -> int:
    """``codegym model build``."""
    import shutil

    from codegym.models.small import DEFAULT_THREADS, model_dir, read_build_info, small_model_path

    recipe = recipe_from_args(args)
    target = model_dir(recipe, args.cache_dir)
    if args.force and target.exists():
        shutil.rmtree(target)
    cached = (target / ".complete").is_file()
    path = small_model_path(
        recipe,
        progress=not args.quiet,
        cache_dir=args.cache_dir,
        threads=args.threads if args.threads is not None else DEFAULT_THREADS,
    )
    training = read_build_info(path)["training"]
    print(f"{'cached' if cached else 'built'}: {path}")
    print(_training_line(training))
    return 0


def _training_line(training: dict[str, Any]) -> str:
    return (
        f"training: {training['steps']} steps in {training['seconds']:.0f} s "
        f"({training['cpu_seconds']:.0f} s CPU, "
        f"{training['threads']} thread(s)), stopped by {training['stopped_by']}, final loss "
        f"{training['final_loss']:.4f}; {training['examples']} examples, "
        f"{training['parameters']:,} parameters"
    )


def run_info(args: argparse.Namespace) -> int:
    """``codegym model info``."""
    from codegym.models.small import model_dir, read_build_info

    recipe = recipe_from_args(args)
    path = model_dir(recipe, args.cache_dir)
    built = (path / ".complete").is_file()
    out: dict[str, Any] = {
        "path": str(path),
        "built": built,
        "fingerprint": recipe.fingerprint(),
        "recipe": recipe.to_dict(),
        "held_out_groups": list(recipe.held_out_groups),
    }
    if built:
        out["training"] = read_build_info(path)["training"]
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"model: {path.name}")
    print(f"path: {path} ({'built' if built else 'not built: run codegym model build'})")
    print(
        f"trained phrasing groups: {' '.join(recipe.train_groups)}; "
        f"held out: {' '.join(recipe.held_out_groups)}"
    )
    print("recipe: " + ", ".join(f"{k}={v}" for k, v in recipe.to_dict().items()))
    if built:
        print(_training_line(out["training"]))
    return 0


def run_eval(args: argparse.Namespace) -> int:
    """``codegym model eval``."""
    from codegym.models.evaluation import evaluate_by_group
    from codegym.models.small import load_small_model

    recipe = recipe_from_args(args)
    if args.size < 1:
        raise ValueError(f"--size must be >= 1, got {args.size}")
    generator = load_small_model(
        recipe, build=not args.no_build, progress=not args.quiet, cache_dir=args.cache_dir
    )
    report = evaluate_by_group(
        generator,
        split=args.split,
        size=args.size,
        seed=args.seed,
        groups=args.groups,
        train_groups=recipe.train_groups,
        max_new_tokens=recipe.max_new_tokens,
        progress=not args.quiet,
    )
    print(report.table())
    if args.json:
        data = {
            "model": report.model,
            "split": report.split,
            "rows": [r.__dict__ for r in report.rows],
            "trained_mean": report.mean(True),
            "held_out_mean": report.mean(False),
        }
        Path(args.json).write_text(json.dumps(data, indent=2) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)
    return 0
