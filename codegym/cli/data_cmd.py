"""``codegym data generate|list|export``: the procedural suites as files (jsonl, CSV, Hugging Face)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

SUITES = ("synthesis", "output-prediction")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``data`` command with its ``generate``, ``list`` and ``export`` sub-commands."""
    parser = subparsers.add_parser(
        "data",
        help="generate procedural datasets (function synthesis, output prediction) and export them",
        description=(
            "Generate the procedural suites reproducibly, with no download. Examples:\n"
            "  codegym data list\n"
            "  codegym data generate --suite output-prediction --languages python javascript cpp rust \\\n"
            "      --num-samples 100 --out op.jsonl\n"
            "  codegym data generate --suite synthesis --num-samples 500 --split eval --out eval.jsonl\n"
            "  codegym data export op.jsonl --csv op.csv"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(title="sub-commands", metavar="SUBCOMMAND")
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])

    gen = sub.add_parser(
        "generate",
        help="generate a suite to a jsonl/CSV file or a Hugging Face dataset folder",
        description="Generate a procedural suite. The same options always give the same file.",
    )
    gen.add_argument("--suite", required=True, choices=SUITES, help="which suite")
    gen.add_argument(
        "--out", required=True, metavar="PATH", help="output file (.jsonl or .csv) or folder (--format hf)"
    )
    gen.add_argument(
        "--format",
        choices=("jsonl", "csv", "hf"),
        default=None,
        help="output format (default: from the extension of --out; hf = datasets.Dataset.save_to_disk)",
    )
    gen.add_argument(
        "--num-samples",
        type=int,
        default=100,
        metavar="N",
        help="number of tasks (synthesis) or programs per language (output-prediction); default 100",
    )
    gen.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    gen.add_argument(
        "--split", choices=("train", "eval"), default="train", help="seed range / split (default train)"
    )
    gen.add_argument("--families", nargs="+", default=None, metavar="NAME", help="only these families")
    gen.add_argument(
        "--difficulty", nargs="+", type=int, default=[1, 2, 3], metavar="LEVEL", help="levels 1-3"
    )
    gen.add_argument(
        "--languages",
        nargs="+",
        default=["python"],
        metavar="LANG",
        help="output-prediction: languages to render (python, javascript, cpp, rust); default python",
    )
    gen.add_argument(
        "--no-verify",
        action="store_true",
        help=(
            "output-prediction: do not run the programs through the sandbox to check their outputs "
            "(needed for a language whose toolchain, node, g++ or rustc, is not installed)"
        ),
    )
    gen.add_argument(
        "--phrasing-groups",
        nargs="+",
        default=None,
        metavar="G",
        help="synthesis: phrasing groups to draw descriptions from (A-F; default all)",
    )
    gen.add_argument("--quiet", action="store_true", help="no progress bar")
    gen.set_defaults(func=run_generate)

    lst = sub.add_parser("list", help="list the suites and their families")
    lst.add_argument("--suite", choices=SUITES, default=None, help="only this suite")
    lst.set_defaults(func=run_list)

    exp = sub.add_parser(
        "export", help="convert a generated jsonl file to CSV or a Hugging Face dataset folder"
    )
    exp.add_argument("input", metavar="FILE.jsonl", help="a file written by 'codegym data generate'")
    exp.add_argument("--csv", default=None, metavar="FILE", help="write a CSV file")
    exp.add_argument("--hf", default=None, metavar="DIR", help="write a datasets.Dataset with save_to_disk")
    exp.set_defaults(func=run_export)


def _output_format(out: str, fmt: str | None) -> str:
    if fmt is not None:
        return fmt
    suffix = Path(out).suffix.lower()
    if suffix in (".jsonl", ".json"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    raise ValueError(
        f"cannot tell the format of --out {out!r} from its extension; use .jsonl, .csv or --format"
    )


def generate(args: argparse.Namespace) -> list[Any]:
    """Build the config from the options and generate the items (shared with tests)."""
    progress = not args.quiet
    if args.suite == "synthesis":
        from codegym.tasks.procedural import SynthesisConfig, generate_synthesis_tasks

        if args.languages not in (["python"], ("python",)):
            raise ValueError("the synthesis suite is Python only; leave out --languages")
        options: dict[str, Any] = {}
        if args.phrasing_groups is not None:
            options["phrasing_groups"] = tuple(args.phrasing_groups)
        config = SynthesisConfig(
            seed=args.seed,
            size=args.num_samples,
            split=args.split,
            families=tuple(args.families) if args.families else None,
            difficulty=tuple(args.difficulty),
            **options,
        )
        return generate_synthesis_tasks(config, progress=progress)
    from codegym.tasks.procedural import OutputPredictionConfig, generate_output_prediction

    if args.phrasing_groups is not None:
        raise ValueError("--phrasing-groups applies to the synthesis suite only")
    config_op = OutputPredictionConfig(
        seed=args.seed,
        size=args.num_samples,
        split=args.split,
        languages=tuple(args.languages),
        families=tuple(args.families) if args.families else None,
        difficulty=tuple(args.difficulty),
        verify=not args.no_verify,
    )
    return generate_output_prediction(config_op, progress=progress)


def _write(items: list[Any], out: str, fmt: str) -> None:
    from codegym.tasks.procedural import export_csv, save_jsonl, to_hf_dataset

    if fmt == "jsonl":
        save_jsonl(items, out)
    elif fmt == "csv":
        export_csv(items, out)
    else:
        to_hf_dataset(items).save_to_disk(out)


def run_generate(args: argparse.Namespace) -> int:
    """Generate a suite and write it."""
    fmt = _output_format(args.out, args.format)
    items = generate(args)
    _write(items, args.out, fmt)
    verified = sum(bool(getattr(item, "verified", False)) for item in items)
    note = f", {verified} verified by running" if args.suite == "output-prediction" else ""
    print(f"wrote {len(items)} {args.suite} items to {args.out} ({fmt}{note})")
    return 0


def run_list(args: argparse.Namespace) -> int:
    """Print the suites with their families."""
    if args.suite in (None, "synthesis"):
        from codegym.tasks.procedural.synthesis import PHRASING_GROUPS, describe_families

        rows = describe_families()
        print(f"synthesis: {len(rows)} families, phrasing groups {' '.join(PHRASING_GROUPS)}")
        for row in rows:
            print(f"  {row['name']:<18} {row['category']:<11} level {row['difficulty']}  {row['example']}")
    if args.suite in (None, "output-prediction"):
        from codegym.tasks.procedural.output_prediction import (
            LANGUAGES,
            OUTPUT_FAMILIES,
            verifiable_languages,
        )

        print(
            f"output-prediction: {len(OUTPUT_FAMILIES)} families, languages {' '.join(LANGUAGES)} "
            f"(toolchains installed here: {' '.join(verifiable_languages())})"
        )
        for fam in OUTPUT_FAMILIES:
            print(f"  {fam.name:<13} {fam.description}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    """Convert a jsonl file."""
    from codegym.tasks.procedural import load_jsonl

    if args.csv is None and args.hf is None:
        raise ValueError("say where to export: --csv FILE and/or --hf DIR")
    items = load_jsonl(args.input)
    if args.csv is not None:
        _write(items, args.csv, "csv")
        print(f"wrote {len(items)} items to {args.csv} (csv)")
    if args.hf is not None:
        _write(items, args.hf, "hf")
        print(f"wrote {len(items)} items to {args.hf} (Hugging Face dataset)")
    return 0
