"""Offline WordNet for NLTK, built from Debian's ``wordnet-base`` and ``wordnet-sense-index`` files.

``nltk.download("wordnet")`` needs the network. Debian ships the same WordNet 3.0 database under
``/usr/share/wordnet``; NLTK reads it once the files are *copied* (NLTK's path checks reject symlinked
corpus roots in some versions) into ``<nltk_data>/corpora/wordnet/`` together with a ``lexnames`` file,
which Debian does not ship.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

DEBIAN_WORDNET_DIR = Path("/usr/share/wordnet")

# WordNet 3.0 lexicographer files, in the order of their numbers (lexnames(5WN)).
LEXNAMES = (
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute noun.body "
    "noun.cognition noun.communication noun.event noun.feeling noun.food noun.group noun.location "
    "noun.motive noun.object noun.person noun.phenomenon noun.plant noun.possession noun.process "
    "noun.quantity noun.relation noun.shape noun.state noun.substance noun.time verb.body verb.change "
    "verb.cognition verb.communication verb.competition verb.consumption verb.contact verb.creation "
    "verb.emotion verb.motion verb.perception verb.possession verb.social verb.stative verb.weather adj.ppl"
).split()
_SYNTACTIC_CATEGORY = {"adj": 3, "adv": 4, "noun": 1, "verb": 2}

_REQUIRED = [f"{kind}.{pos}" for kind in ("data", "index") for pos in ("noun", "verb", "adj", "adv")] + [
    f"{pos}.exc" for pos in ("noun", "verb", "adj", "adv")
]
_OPTIONAL = ["index.sense", "cntlist.rev", "cntlist", "frames.vrb", "sents.vrb", "sentidx.vrb"]


def default_nltk_data_dir() -> Path:
    """Where codegym installs NLTK data: ``$CODEGYM_NLTK_DATA``, else ``<sys.prefix>/nltk_data``.

    ``<sys.prefix>/nltk_data`` is on NLTK's default search path, so a virtualenv keeps its own copy.
    """
    import sys

    env = os.environ.get("CODEGYM_NLTK_DATA")
    return Path(env) if env else Path(sys.prefix) / "nltk_data"


def lexnames_text() -> str:
    """Content of WordNet's ``lexnames`` file: ``number name syntactic-category`` per line."""
    lines = []
    for number, name in enumerate(LEXNAMES):
        lines.append(f"{number:02d}\t{name}\t{_SYNTACTIC_CATEGORY[name.split('.')[0]]}")
    return "\n".join(lines) + "\n"


def install_wordnet(
    source: str | os.PathLike[str] = DEBIAN_WORDNET_DIR,
    nltk_data: str | os.PathLike[str] | None = None,
) -> Path:
    """Copy a WordNet 3.0 database into ``<nltk_data>/corpora/wordnet`` and return that folder.

    Idempotent: files already present with the same size are not copied again.

    Raises:
        FileNotFoundError: ``source`` lacks a required file; the message says how to install it.

    """
    src = Path(source)
    missing = [name for name in _REQUIRED if not (src / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"WordNet files {missing} not found in {src}. Install them with "
            "'apt-get install wordnet-base wordnet-sense-index' (Debian/Ubuntu), or pass source= a folder "
            "holding the WordNet 3.0 dict files."
        )
    dest = Path(nltk_data) if nltk_data is not None else default_nltk_data_dir()
    target = dest / "corpora" / "wordnet"
    target.mkdir(parents=True, exist_ok=True)
    for name in _REQUIRED + _OPTIONAL:
        file = src / name
        if not file.is_file():
            continue
        out = target / name
        if out.is_file() and not out.is_symlink() and out.stat().st_size == file.stat().st_size:
            continue
        if out.is_symlink():
            out.unlink()
        shutil.copyfile(file, out)  # copy, never symlink: NLTK rejects symlinked corpus files
    (target / "lexnames").write_text(lexnames_text())
    return target


def ensure_wordnet(nltk_data: str | os.PathLike[str] | None = None) -> Path:
    """Make WordNet loadable by ``nltk.corpus.wordnet``, installing it from Debian's files if needed.

    Adds the data folder to ``nltk.data.path`` when it is not already searched.

    Returns:
        The ``corpora/wordnet`` folder in use.

    """
    import nltk

    dest = Path(nltk_data) if nltk_data is not None else default_nltk_data_dir()
    if str(dest) not in nltk.data.path:
        nltk.data.path.insert(0, str(dest))
    try:
        return Path(nltk.data.find("corpora/wordnet"))
    except LookupError:
        return install_wordnet(nltk_data=dest)


def get_wordnet():  # -> nltk.corpus.reader.wordnet.WordNetCorpusReader
    """Return the NLTK WordNet reader, installed from Debian's files on first use (:func:`ensure_wordnet`).

    Raises:
        ImportError: nltk is not installed (``pip install codegym[nlp]``).
        FileNotFoundError: WordNet is neither in NLTK's data path nor in ``/usr/share/wordnet``.

    """
    global _WORDNET
    if _WORDNET is None:
        try:
            import nltk  # noqa: F401
        except ImportError as exc:
            raise ImportError("WordNet needs nltk: pip install 'codegym[nlp]'") from exc
        ensure_wordnet()
        from nltk.corpus import wordnet

        wordnet.ensure_loaded()
        _WORDNET = wordnet
    return _WORDNET


_WORDNET = None
