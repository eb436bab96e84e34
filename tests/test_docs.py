"""The documentation builds without warnings, and every Python example in it runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
PAGES = sorted(DOCS.rglob("*.md"))


def python_blocks(page: Path) -> list[str]:
    """Return the runnable ```python blocks of a page (those not marked '# not run: ...')."""
    blocks = FENCE.findall(page.read_text())
    return [b for b in blocks if not b.lstrip().startswith("# not run:")]


def test_docs_build_strict(tmp_path: Path) -> None:
    mkdocs = Path(sys.executable).with_name("mkdocs")
    proc = subprocess.run(
        [str(mkdocs), "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "site" / "index.html").is_file()


def test_every_page_is_in_nav() -> None:
    nav = (ROOT / "mkdocs.yml").read_text()
    missing = [str(p.relative_to(DOCS)) for p in PAGES if str(p.relative_to(DOCS)) not in nav]
    assert not missing, f"pages not listed in mkdocs.yml nav: {missing}"


@pytest.mark.parametrize(
    "page", [p for p in [ROOT / "README.md", *PAGES] if python_blocks(p)], ids=lambda p: p.name
)
def test_examples_run(page: Path, tmp_path: Path) -> None:
    # All blocks of a page run in order in one fresh interpreter, like a reader pasting them.
    script = tmp_path / "example.py"
    script.write_text("\n\n".join(python_blocks(page)))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "MPLBACKEND": "Agg"}
    proc = subprocess.run(
        [sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, timeout=300, env=env
    )
    assert proc.returncode == 0, f"{page.name} examples failed:\n{proc.stdout}\n{proc.stderr}"
