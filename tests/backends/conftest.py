"""Shared fixtures: tiny local models (built once, cached on disk) and loaded generators."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

# Tiny models do microsecond-sized matrix products: with several OpenMP threads on a shared machine the
# threads' spin-waiting makes them up to 70x slower (measured: 0.3 s vs 19 s for the same generate call).
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_t5_dir() -> Path:
    from codegym.backends.tiny import tiny_t5_path

    return tiny_t5_path()


@pytest.fixture(scope="session")
def tiny_llama_dir() -> Path:
    from codegym.backends.tiny import tiny_llama_path

    return tiny_llama_path()


@pytest.fixture(scope="session")
def tiny_llama_instruct_dir() -> Path:
    from codegym.backends.tiny import tiny_llama_path

    return tiny_llama_path(instruct=True)


@pytest.fixture(scope="session")
def t5_gen(tiny_t5_dir: Path):
    from codegym.backends import load_generator

    return load_generator(tiny_t5_dir, batch_size=4)


@pytest.fixture(scope="session")
def llama_gen(tiny_llama_dir: Path):
    from codegym.backends import load_generator

    return load_generator(tiny_llama_dir, batch_size=4)


@pytest.fixture(scope="session")
def llama_instruct_gen(tiny_llama_instruct_dir: Path):
    from codegym.backends import load_generator

    return load_generator(tiny_llama_instruct_dir, batch_size=4)


PROMPTS = [
    "def add(a, b):",
    "Write a python function to reverse a string.",
    "class Stack:\n    def push(self, item):",
    "import os\nprint(",
    "# return the n-th Fibonacci number\ndef fib(n):",
]


def start_process(args: list[str], ready_prefix: str, timeout: float = 120.0) -> tuple[subprocess.Popen, str]:
    """Start a server subprocess and return it with the rest of its first line starting with ready_prefix."""
    errors = tempfile.TemporaryFile(mode="w+")  # a file, not a pipe: nobody drains it while serving
    proc = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=errors,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"},
    )
    lines: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith(ready_prefix):
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and reader.is_alive() and proc.poll() is None:
        reader.join(0.05)
    ready = [ln for ln in lines if ln.startswith(ready_prefix)]
    if not ready:
        proc.kill()
        proc.wait(timeout=10)
        errors.seek(0)
        raise RuntimeError(f"{args} did not start: stdout={lines} stderr={errors.read()[-3000:]}")
    return proc, ready[0][len(ready_prefix) :].strip()


def stop_process(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=15)


@pytest.fixture(scope="session")
def flaky_server() -> Iterator[str]:
    """Base URL of a misbehaving server process (see flaky_server.py)."""
    script = Path(__file__).with_name("flaky_server.py")
    proc, port = start_process([sys.executable, str(script)], "PORT ", timeout=30)
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        stop_process(proc)
