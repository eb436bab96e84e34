"""Toolchains of the languages beyond Python (node, g++, rustc) and the cache of compiled programs.

:func:`find_toolchain` locates a language's binary (an environment variable, then ``PATH``, then the usual
install locations), asks it for its version (part of every build-cache key) and lists the directories
candidates must be able to read inside the sandbox. A missing toolchain raises :class:`ToolchainMissing`,
which names the language, the binary and how to install it.

:class:`BuildCache` stores compiled programs on the host, keyed by a hash of the language, the
compiler's identity, the flags and the complete generated source (candidate, set-up and tests). The
sandbox never sees the cache directory: the host sends a cached artifact to the worker with the request,
and the worker returns a freshly compiled one with the result.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import subprocess
import threading
from dataclasses import dataclass

#: How each language's toolchain is found and installed: (binary, override variable, extra places to
#: look, install instructions).
TOOLCHAINS: dict[str, tuple[str, str, tuple[str, ...], str]] = {
    "javascript": (
        "node",
        "CODEGYM_NODE",
        (),
        "install Node.js (Debian/Ubuntu: `apt-get install nodejs`) or set CODEGYM_NODE=/path/to/node",
    ),
    "cpp": (
        "g++",
        "CODEGYM_CXX",
        (),
        "install g++ (Debian/Ubuntu: `apt-get install g++`) or set CODEGYM_CXX=/path/to/g++",
    ),
    "rust": (
        "rustc",
        "CODEGYM_RUSTC",
        ("~/.cargo/bin/rustc",),
        "install Rust (Debian/Ubuntu: `apt-get install rustc`, or https://rustup.rs) or set "
        "CODEGYM_RUSTC=/path/to/rustc",
    ),
}

_VERSION_TIMEOUT_S = 60.0


class ToolchainMissing(ValueError):
    """A language's toolchain is not installed (or does not run); the message says how to install it.

    Attributes:
        language: The language name.
        binary: The program that was looked for.

    """

    def __init__(self, language: str, binary: str, detail: str) -> None:
        self.language = language
        self.binary = binary
        super().__init__(f"{language} needs {binary!r}, which {detail}")


@dataclass(frozen=True)
class Toolchain:
    """A located toolchain.

    Attributes:
        language: The language it serves.
        binary: Absolute path of the program the engine runs (for Rust the real ``rustc`` of the
            toolchain, not the rustup proxy).
        version: Its version text (part of the build-cache key).
        paths: Directories the sandbox must be able to read for it to work.

    """

    language: str
    binary: str
    version: str
    paths: tuple[str, ...]


def _locate(language: str) -> str:
    name, env_var, extra, hint = TOOLCHAINS[language]
    override = os.environ.get(env_var)
    if override:
        path = shutil.which(override) or (override if os.path.isfile(override) else None)
        if path is None or not os.access(path, os.X_OK):
            raise ToolchainMissing(language, name, f"is not at {env_var}={override!r}: {hint}")
        return os.path.abspath(path)
    path = shutil.which(name)
    if path is None:
        for cand in extra:
            cand = os.path.expanduser(cand)
            if os.path.isfile(cand) and os.access(cand, os.X_OK):
                path = cand
                break
    if path is None:
        raise ToolchainMissing(language, name, f"was not found on PATH: {hint}")
    return os.path.abspath(path)


def _run(argv: list[str]) -> str:
    proc = subprocess.run(
        argv, capture_output=True, text=True, timeout=_VERSION_TIMEOUT_S, stdin=subprocess.DEVNULL
    )
    if proc.returncode != 0:
        raise OSError(f"`{' '.join(argv)}` exited with status {proc.returncode}: {proc.stderr.strip()[:300]}")
    return proc.stdout.strip()


_lock = threading.Lock()
_found: dict[str, Toolchain] = {}


def find_toolchain(language: str) -> Toolchain:
    """Locate and identify the toolchain of ``language`` (cached per process once found).

    Raises:
        ToolchainMissing: The binary is missing or does not run; the message says how to install it.
        KeyError: ``language`` has no toolchain entry (Python runs in the worker's own interpreter).

    """
    with _lock:
        hit = _found.get(language)
    if hit is not None:
        return hit
    name, _, _, hint = TOOLCHAINS[language]
    path = _locate(language)
    try:
        if language == "rust":
            # Run the toolchain's own rustc: the rustup proxy needs $HOME/.rustup and $RUSTUP_HOME.
            sysroot = _run([path, "--print", "sysroot"])
            real = os.path.join(sysroot, "bin", "rustc")
            binary = real if os.path.isfile(real) else os.path.realpath(path)
            version = _run([binary, "-vV"])
            paths = (os.path.realpath(sysroot),)
        elif language == "cpp":
            binary = os.path.realpath(path)
            version = " ".join([_run([binary, "-dumpfullversion"]), _run([binary, "-dumpmachine"]), binary])
            paths = (os.path.dirname(os.path.dirname(binary)),)
        else:
            binary = os.path.realpath(path)
            version = _run([binary, "--version"])
            paths = (os.path.dirname(os.path.dirname(binary)),)
    except (OSError, subprocess.SubprocessError) as exc:
        raise ToolchainMissing(
            language, name, f"was found at {path} but does not run ({exc}): {hint}"
        ) from None
    tc = Toolchain(language, binary, version, paths)
    with _lock:
        _found[language] = tc
    return tc


def toolchain_status() -> dict[str, str]:
    """``{language: "ok (version)" or why it is unavailable}`` for every language with a toolchain."""
    out = {}
    for language in TOOLCHAINS:
        try:
            tc = find_toolchain(language)
            out[language] = f"ok: {tc.binary} ({tc.version.splitlines()[0]})"
        except ToolchainMissing as exc:
            out[language] = str(exc)
    return out


def sandbox_paths() -> list[str]:
    """Directories of every installed toolchain (the sandbox workers make them readable)."""
    paths: list[str] = []
    for language in TOOLCHAINS:
        try:
            tc = find_toolchain(language)
        except ToolchainMissing:
            continue
        paths += [p for p in tc.paths if p not in paths]
    return paths


# ----------------------------------------------------------------------------------------------------
# The build cache


def default_build_cache_dir() -> str:
    """``$CODEGYM_BUILD_CACHE``, else ``build`` in codegym's cache (:func:`codegym.cache.cache_root`)."""
    if os.environ.get("CODEGYM_BUILD_CACHE"):
        return os.path.abspath(os.path.expanduser(os.environ["CODEGYM_BUILD_CACHE"]))
    from codegym.cache import cache_root

    return str(cache_root() / "build")


def build_key(language: str, toolchain: Toolchain, flags: list[str], source: str) -> str:
    """Return the build-cache key: a hash of language, compiler identity, flags and source."""
    blob = json.dumps([language, toolchain.binary, toolchain.version, flags, source], ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()


class BuildCache:
    """Compiled programs on disk, keyed by :func:`build_key`; least recently used ones are pruned.

    Args:
        root: Directory (created with mode 0700); ``None`` uses :func:`default_build_cache_dir`.
        max_bytes: Prune the least recently used artifacts when the cache grows beyond this.

    """

    def __init__(self, root: str | os.PathLike | None = None, max_bytes: int = 2 << 30) -> None:
        self.root = os.path.abspath(os.fspath(root)) if root is not None else default_build_cache_dir()
        self.max_bytes = max_bytes
        self._puts = 0
        self._lock = threading.Lock()

    def _path(self, key: str) -> str:
        if len(key) != 64 or not all(c in "0123456789abcdef" for c in key):
            raise ValueError(f"build-cache keys are sha256 hex digests, got {key!r}")
        return os.path.join(self.root, key[:2], key)

    def get(self, key: str) -> bytes | None:
        """Return the artifact stored under ``key``, or ``None``."""
        path = self._path(key)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            return None
        try:
            os.utime(path)  # recently used: pruned last
        except OSError:
            pass
        return data

    def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` (atomically; an unwritable cache only costs recompilations)."""
        path = self._path(key)
        try:
            os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
            tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except OSError:
            return
        with self._lock:
            self._puts += 1
            prune = self._puts % 64 == 1
        if prune:
            self.prune()

    def prune(self) -> None:
        """Delete the least recently used artifacts until the cache is below ``max_bytes``."""
        entries = []
        total = 0
        try:
            for sub in os.scandir(self.root):
                if not sub.is_dir(follow_symlinks=False):
                    continue
                for e in os.scandir(sub.path):
                    try:
                        st = e.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    entries.append((st.st_mtime, st.st_size, e.path))
                    total += st.st_size
        except OSError:
            return
        if total <= self.max_bytes:
            return
        for _, size, path in sorted(entries):
            try:
                os.unlink(path)
            except OSError:
                continue
            total -= size
            if total <= self.max_bytes * 0.8:
                break


@functools.lru_cache(maxsize=1)
def _stdlib_harness_dir() -> str:
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "_sandbox")


def harness_path(name: str) -> str:
    """Absolute path of a harness file shipped in ``codegym/execution/_sandbox``."""
    return os.path.join(_stdlib_harness_dir(), name)
