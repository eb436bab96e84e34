"""The sandbox worker ("zygote"): forks one fresh, limited child per candidate and supervises it.

Started by :class:`codegym.execution.SandboxExecutor` as ``python -I -S -B zygote.py CONFIG_JSON`` with
a scrubbed environment; it talks to the host over its inherited stdin/stdout with length-prefixed frames
(``marshal`` from the host, JSON to the host).

Stage 1 (``isolate.py``) puts the process into its own namespaces (it becomes PID 1 of a new PID
namespace, with no network and a read-only view of the filesystem) and then ``exec``s a fresh
interpreter that imports this file as a module (``--stage2``): without ``ctypes``, it pre-imports the
modules candidates commonly use and calls ``gc.freeze()``, so that each fork copies as little as possible.

Per candidate a child is forked that starts a new session, drops to the sandbox uid, sets resource
limits and runs ``harness.py``. In a PID namespace Python candidates are forked by the *forker*, a copy
of the worker made once (see :meth:`Worker.run_forked`); otherwise, and for the other languages, by the
worker itself. The worker enforces every deadline from outside the child, collects the authenticated
verdict frames, has everything the candidate left running killed and reaped (``kill(-1)`` from PID 1,
or from the forker, reaches exactly the namespace but the two), and wipes the temporary directories.
"""

from __future__ import annotations

import fcntl
import json
import marshal
import os
import resource
import select
import signal
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
external = None  # other languages (compile step, exec'd harness programs): imported on first use
_forkloop = None  # the forker's loop in C (``_forkloop.c``), where it was built: imported by preload
_LEN = struct.Struct(">I")
# The forker's answer per candidate: its pid, its wait status, the CPU seconds it used (native byte
# order: ``_forkloop.c`` writes it too).
_ANSWER = struct.Struct("=iid")
# The first byte of a job for the forker: the candidate's child can take the job alone; the forker keeps
# the tests' code it brings first (in C where ``_forkloop.c`` is built); or the forker's Python loop has
# to act on it (import the modules the tests import, then keep the tests).
_CHILD_ONLY, _KEEP_TESTS, _FORKER_TOO = b"C", b"T", b"P"
# A job for the forker: that byte, the number of rlimits, each rlimit as (resource, soft, hard) in this
# struct (native order: ``_forkloop.c`` reads them in the child), then the rest of the job marshalled.
_RLIMIT = struct.Struct("=iqq")
# Candidates up to this size are compiled by the worker, which never forks for them (see precompile).
_PRECOMPILE_MAX = 1 << 18
_WARN_ERROR = ("error", None, Warning, None, 0)
# Modules the process that forks candidates keeps snapshots of (pre-imported plus imported by tests).
_MAX_SNAPSHOTS = 128
# Test sets the forker keeps unmarshalled (then it starts over): the same tests recur.
_FORKER_TESTS = 256
# Result codes of the harness's END frames.
_OUTCOMES = {"P": "passed", "F": "failed", "E": "error", "M": "memory", "X": "syntax_error", "I": "infra"}

# --------------------------------------------------------------------------------------------------
# Talking to the host.


def read_exact(fd: int, n: int) -> bytes:
    chunks = []
    while n:
        b = os.read(fd, min(n, 1 << 20))
        if not b:
            raise EOFError
        chunks.append(b)
        n -= len(b)
    return b"".join(chunks)


def read_frame(fd: int) -> bytes:
    (n,) = _LEN.unpack(read_exact(fd, 4))
    return read_exact(fd, n)


def recv(fd: int):
    return marshal.loads(read_frame(fd))


# One C encoder for every answer: ``json.dumps`` would build one per call (Python code, many objects,
# and every page the worker touches after a fork costs it a copy-on-write fault). ASCII output.
if json.encoder.c_make_encoder is not None:
    _encoder = json.encoder.c_make_encoder(
        None, None, json.encoder.encode_basestring_ascii, None, ":", ",", False, False, True
    )

    def _encode(obj) -> str:
        return "".join(_encoder(obj, 0))

else:  # pragma: no cover - CPython always has the C accelerator
    _encode = json.dumps


def write_frame(fd: int, data: bytes) -> None:
    """Write ``data`` with its length in front (what ``recv`` reads), however the pipe splits it."""
    data = _LEN.pack(len(data)) + data
    while data:
        n = os.write(fd, data)
        data = data[n:]


def send(fd: int, obj) -> None:
    write_frame(fd, _encode(obj).encode("ascii", "replace"))


# --------------------------------------------------------------------------------------------------
# The forker: the process that forks Python candidates.


class Forker:
    """The worker's end of the forker process (see :meth:`Worker.run_forked`)."""

    LOST = object()  # what answer() returns when the forker is gone

    def __init__(
        self, pid: int, req_w: int, ans_r: int, statm: int, vr: int, out_fd: int, err_fd: int
    ) -> None:
        self.pid = pid
        self.req_w = req_w  # requests to the forker
        self.ans_r = ans_r  # its answers (non-blocking)
        self.statm = statm  # its /proc/PID/statm: the child's address space starts at its size
        self.vr = vr  # the verdict pipe's read end (the forker holds the write end)
        self.out_fd = out_fd  # the candidates' stdout and stderr captures, emptied after each one
        self.err_fd = err_fd
        self.buf = b""
        self.fds_open: tuple[int, ...] = (req_w, ans_r, statm, vr, out_fd, err_fd)

    def send(self, limits: list, job, kind: bytes) -> None:
        """Send a job with the child's rlimits; ``kind``: its first byte (``_CHILD_ONLY``...)."""
        block = b"".join(_RLIMIT.pack(res, soft, hard) for res, (soft, hard) in limits)
        head = kind + bytes((len(limits),))
        write_frame(self.req_w, head + block + marshal.dumps(job))

    def answer(self, wait_s: float = 0.0):
        """Return (wait status, CPU seconds) of the finished candidate, None if it runs, or LOST."""
        deadline = time.monotonic() + wait_s
        while True:
            try:
                chunk = os.read(self.ans_r, _ANSWER.size - len(self.buf))
            except BlockingIOError:
                chunk = None
            except OSError:
                return Forker.LOST
            if chunk == b"":
                return Forker.LOST
            if chunk:
                self.buf += chunk
                if len(self.buf) == _ANSWER.size:
                    _pid, status, cpu = _ANSWER.unpack(self.buf)
                    self.buf = b""
                    return status, cpu
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            select.select([self.ans_r], [], [], left)

    def kill_candidate(self) -> None:
        """Kill the running candidate (the forker's child); the forker then kills everything else."""
        try:
            with open(f"/proc/{self.pid}/task/{self.pid}/children") as f:
                kids = [int(p) for p in f.read().split()]
        except OSError:
            kids = []
        for kid in kids:
            for kill in (os.killpg, os.kill):
                try:
                    kill(kid, signal.SIGKILL)
                except OSError:
                    pass
        try:
            os.kill(self.pid, signal.SIGCONT)  # a candidate with the forker's uid may have stopped it
        except OSError:
            pass

    def close(self) -> None:
        """Close the worker's descriptors (once: their numbers may be reused afterwards)."""
        fds, self.fds_open = self.fds_open, ()
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass


def unpack_job(frame: bytes) -> tuple[list, tuple]:
    """Return the rlimit pairs and the job of a frame :meth:`Forker.send` wrote (after its first byte)."""
    n = frame[1]
    end = 2 + n * _RLIMIT.size
    limits = [(res, (soft, hard)) for res, soft, hard in _RLIMIT.iter_unpack(frame[2:end])]
    return limits, marshal.loads(frame[end:])


# --------------------------------------------------------------------------------------------------
# The worker.


class Worker:
    def __init__(self, cfg: dict, info: dict, host_in: int, host_out: int) -> None:
        self.cfg = cfg
        self.host_in = host_in
        self.host_out = host_out
        self.devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(self.devnull, 0)
        os.dup2(self.devnull, 1)
        self.features: list[str] = list(info["features"])
        self.pid_ns = bool(info["pid_ns"])
        self.user_ns = bool(info["user_ns"])
        self.mount_ns = bool(info["mount_ns"])
        self.run_uid: int | None = info["run_uid"]
        self.restricted_imports = bool(info.get("restricted_imports"))
        self.helper_names = tuple(cfg["helper_names"])
        self.cpu_limit_hint = float("inf")
        # In a PID namespace Python candidates are forked by a separate process (see run_forked), which
        # needs the kernel's lists of a process's children (CONFIG_PROC_CHILDREN, set almost everywhere).
        self.use_forker = (
            bool(cfg.get("forker", True))
            and self.pid_ns
            and os.path.exists(f"/proc/self/task/{os.getpid()}/children")
        )
        self.forker: Forker | None = None
        self.child_fd_top = 0
        self.children_fd: int | None = None  # /proc/self/task/PID/children, opened with the first forker
        self.c_calls = None  # _forkloop, for its system calls after each candidate (set by preload)
        self.setup_workdir()
        self.preload()

    # -- start-up ---------------------------------------------------------------------------------------

    def setup_workdir(self) -> None:
        if self.mount_ns:
            base = "/tmp"
            self.scratch_dirs = [d for d in ("/tmp", "/var/tmp", "/dev/shm") if os.path.isdir(d)]
        else:
            base = self.make_base()
            self.scratch_dirs = []
        self.scratch_modes = [os.lstat(d).st_mode & 0o7777 for d in self.scratch_dirs]
        self.base = base
        self.workdir = os.path.join(base, "work")
        self.make_workdir()
        self.keep = {self.workdir}
        self.clean_state = None  # see wipe()
        self.test_cache: dict[bytes, object] = {}
        self.state_dirs = (self.workdir, *self.scratch_dirs)
        self.tracks_entries = self.mount_ns and all(map(self.size_tracks_entries, self.state_dirs))
        os.environ.update(
            HOME=self.workdir, TMPDIR=self.workdir, TMP=self.workdir, TEMP=self.workdir, PWD=self.workdir
        )

    @staticmethod
    def make_base() -> str:
        """Create the private directory for the working directory (no ``tempfile``: see _rmtree)."""
        tried = []
        for parent in (os.environ.get("TMPDIR"), "/tmp", "/var/tmp"):
            if not parent or parent in tried:
                continue
            tried.append(parent)
            base = os.path.join(parent, "codegym-sandbox-" + os.urandom(8).hex())
            try:
                os.mkdir(base, 0o700)
            except OSError:
                continue
            os.chmod(base, 0o711)
            return base
        raise OSError(f"no writable temporary directory among {', '.join(tried)}")

    @staticmethod
    def size_tracks_entries(d: str) -> bool:
        """Tell whether ``d``'s size grows and shrinks with its entries (tmpfs: 20 bytes per entry)."""
        probe = os.path.join(d, ".codegym-probe")
        try:
            before = os.lstat(d).st_size
            os.mkdir(probe, 0o700)
            try:
                during = os.lstat(d).st_size
            finally:
                os.rmdir(probe)
            return during > before == os.lstat(d).st_size
        except OSError:
            return False

    def capture_files(self) -> tuple[int, int]:
        """Return two fresh, anonymous files for the candidate's stdout and stderr.

        They have no name in any directory (a ``memfd``, else an ``O_TMPFILE`` file that cannot be
        linked), so no candidate can open, pre-create, replace or symlink them: a candidate reaches only
        its own two descriptors, and the next candidate gets new files.
        """
        fds = []
        try:
            for name in ("stdout", "stderr"):
                try:
                    fd = os.memfd_create("codegym-" + name, os.MFD_CLOEXEC)
                except (AttributeError, OSError):
                    flags = os.O_RDWR | os.O_TMPFILE | os.O_EXCL | os.O_CLOEXEC
                    fd = os.open(self.base, flags, 0o600)
                fds.append(fd)
        except BaseException:
            for fd in fds:
                os.close(fd)
            raise
        return fds[0], fds[1]

    def verdict_channel(self) -> tuple[int, int, int, int]:
        """Return (verdict pipe read end, its write end, stdout capture, stderr capture).

        The pipe holds 1 MiB (the worker reads it once the candidate is done) and its read end does
        not block.
        """
        vr, vw = os.pipe()
        os.set_blocking(vr, False)
        try:
            fcntl.fcntl(vw, fcntl.F_SETPIPE_SZ, 1 << 20)
        except OSError:
            pass
        try:
            out_fd, err_fd = self.capture_files()
        except BaseException:
            os.close(vr)
            os.close(vw)
            raise
        return vr, vw, out_fd, err_fd

    def make_workdir(self) -> None:
        os.mkdir(self.workdir, 0o700)
        if self.run_uid is not None:
            os.chown(self.workdir, self.run_uid, self.run_uid)

    def preload(self) -> None:
        import gc
        import marshal  # noqa: F401
        import resource
        import select
        import types  # noqa: F401

        if self.cfg.get("sys_path"):
            # Started with -S (no site, no .pth processing): the host says where packages live.
            for p in self.cfg["sys_path"]:
                if p not in sys.path:
                    sys.path.append(p)
        if HERE not in sys.path:
            sys.path.insert(0, HERE)
        global harness, _forkloop
        import harness

        try:
            import _forkloop
        except ImportError:
            _forkloop = None
        sys.path.remove(HERE)
        # Not importable by candidates: ``import harness; harness._eq = ...`` would change how the live
        # harness compares (the worker and the harness keep their own references to the module).
        sys.modules.pop("harness", None)
        sys.modules.pop("_identity", None)  # its compiled checks, where built
        sys.modules.pop("_forkloop", None)
        sys.modules.pop("_runner", None)  # the harness's loop in C, where built
        # Its system calls after each candidate too (see collect, dir_state), unless told otherwise.
        self.c_calls = _forkloop if self.cfg.get("compiled_forker", True) else None
        self.preloaded = {}
        names = list(self.cfg.get("preload", []))
        if self.restricted_imports:
            names += self.cfg.get("preload_restricted", [])
        for name in names:
            try:
                __import__(name)
            except Exception:  # noqa: BLE001 - a module missing on this system is not an error
                continue
            top = name.split(".")[0]
            mod = sys.modules.get(top)
            if mod is not None:
                self.preloaded[top] = mod
        self.snapshots = {}
        self.unimportable: set[str] = set()
        for name, mod in self.preloaded.items():
            # (module, its (name, value) pairs, its values): what the harness compares it with
            self.snapshots[name] = (mod, *harness.snapshot(mod))
        if "_sitebuiltins" not in sys.modules:  # started with -S: give candidates exit() and quit()
            import _sitebuiltins
            import builtins

            builtins.exit = _sitebuiltins.Quitter("exit", "Ctrl-D (i.e. EOF)")
            builtins.quit = _sitebuiltins.Quitter("quit", "Ctrl-D (i.e. EOF)")
        harness.prepare(
            self.helper_names,
            bool(self.cfg.get("compiled_checks", True)),
            bool(self.cfg.get("compiled_harness", True)),
        )
        self.warm_up()
        self.poller = select.poll()
        # A signal from a candidate (same uid in a user namespace) must not stop the worker.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if self.user_ns:
            # Candidates have the worker's uid here: make the worker non-dumpable so they cannot
            # ptrace it or read its memory (children inherit it; they drop every capability).
            import ctypes

            ctypes.CDLL(None).prctl(4, ctypes.c_ulong(0), 0, 0, 0)  # PR_SET_DUMPABLE
        # Inherited by every child: a write beyond RLIMIT_FSIZE fails with EFBIG instead of killing it.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        self.rlimit = resource.setrlimit
        import _warnings

        self.warn_filters = _warnings.filters
        self.warn_mutated = _warnings._filters_mutated
        self.page_size = os.sysconf("SC_PAGE_SIZE")
        gc.collect()
        gc.freeze()

    def warm_up(self) -> None:
        """Run the harness a few times here, on a trivial trusted program, before the first fork.

        CPython specializes ("quickens") bytecode in place as it runs. Code that only ever ran in
        children would start cold in every child and rewrite its bytecode there, each write a
        copy-on-write fault; warmed here, children inherit it specialized. ``posix.write`` and
        ``posix._exit`` are replaced while it runs: nothing is written, nothing exits.
        """
        import posix

        class Done(BaseException):
            pass

        def fake_exit(status):
            raise Done

        cmp_name, ret_name, soft_name, bi_prefix = self.helper_names
        code = "def f(x):\n    return [x + 1, 'a']\n\ndef g(x):\n    return x\n"
        tests = [
            compile(f"assert {cmp_name}(0, {ret_name}(f(1)), [2, 'a'])", "<warm-up>", "exec"),
            compile(f"assert not {cmp_name}(2, 3, {soft_name}(g([1, 2])))", "<warm-up>", "exec"),
            compile(f"assert {bi_prefix}len(f(1)) == 2", "<warm-up>", "exec"),
        ]
        real_write, real_exit = posix.write, posix._exit
        posix.write = lambda fd, data: len(data)
        posix._exit = fake_exit
        try:
            for _ in range(12):
                try:
                    harness.run_candidate(
                        nonce=b"\0" * harness.NONCE_BYTES,
                        fd=-1,
                        setup_code=None,
                        code=code,
                        tests=tests,
                        preloaded=self.snapshots,
                        test_reads=frozenset(("f", "g")),
                        builtins_used=("len",),
                    )
                except Done:
                    pass
        except Exception:  # noqa: BLE001 - only an optimization: never keep the worker from starting
            pass
        finally:
            posix.write, posix._exit = real_write, real_exit

    # -- main loop --------------------------------------------------------------------------------------

    def serve(self) -> None:
        send(
            self.host_out,
            {
                "op": "hello",
                "features": self.features,
                "pid_ns": self.pid_ns,
                "user_ns": self.user_ns,
                "uid": self.run_uid,
                "python": sys.version.split()[0],
                "checks": "c" if harness.checks_in_c() else "python",
                "harness": "c" if harness.runner_in_c() else "python",
                # None without a forker (the worker forks candidates itself).
                "forker_loop": ("c" if self.forker_loop_in_c() else "python") if self.use_forker else None,
                # Without a private /tmp the host removes this directory if it has to kill us.
                "scratch_base": None if self.mount_ns else self.base,
            },
        )
        while True:
            try:
                req = recv(self.host_in)
            except (EOFError, OSError, ValueError):
                return
            op = req.get("op")
            if op == "exit":
                return
            if op == "ping":
                send(self.host_out, {"op": "pong"})
                continue
            try:
                result = self.run(req)
            except Exception as exc:  # noqa: BLE001 - report engine failures, never die silently
                import traceback

                result = {
                    "status": "infra",
                    "message": f"worker error: {exc!r}",
                    "trace": traceback.format_exc(),
                }
                self.cleanup(None)
            send(self.host_out, result)

    @staticmethod
    def external():
        """Return the module that runs the other languages, importing it on first use.

        Not pre-imported: compiling it leaves about 1.5 MB of memory behind, which every fork of a
        Python candidate would copy the page tables of.
        """
        global external
        if external is None:
            sys.path.insert(0, HERE)
            try:
                import external as module
            finally:
                sys.path.remove(HERE)
                sys.modules.pop("external", None)
            external = module
        return external

    # -- one candidate ---------------------------------------------------------------------------------

    def deadlines(self, lim: dict, n: int) -> tuple[float, float]:
        """Return (per-phase timeout, total) for a candidate with ``n`` tests; note its CPU budget."""
        timeout = float(lim["timeout_s"])
        total = float(lim["total_timeout_s"] or timeout * (n + 2))
        self.cpu_limit_hint = float(lim["cpu_s"]) if lim.get("cpu_s") else total + 1.0
        return timeout, total

    def run(self, req: dict) -> dict:
        if req.get("language", "python") != "python":
            return self.external().run(self, req)
        if self.use_forker:
            return self.run_forked(req)
        lim = req["limits"]
        tests = self.load_tests(req["tests"])
        n = len(tests)
        timeout, total = self.deadlines(lim, n)
        imports = tuple(req.get("imports", ()))
        if imports:
            self.preload_test_modules(imports)
        nonce = os.urandom(16)
        vr, vw, out_fd, err_fd = self.verdict_channel()
        job = self.child_job(
            req["code"],
            self.rlimits(lim),
            req.get("setup"),
            tests,
            req.get("reads", ()),
            req.get("builtins", ()),
            imports,
        )
        poll = self.poller.poll
        start = time.monotonic()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            self.child(job, nonce, vw, out_fd, err_fd)
        # While the child lives every page this process writes is copied: sleep at once, until the
        # child exits or its first deadline.
        try:
            pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            pidfd = None
        if pidfd is not None:
            self.poller.register(pidfd, 1)  # POLLIN
            poll(min(timeout, total) * 1000.0)
        os.close(vw)
        killed = False
        try:
            sup = self.supervise(pid, start, timeout, total, n, nonce, vr, pidfd)
            self.kill_all(None)
            killed = True
            result = self.verdicts(sup, n, time.monotonic() - start)
            result["stdout"], result["stderr"] = _read_captures(out_fd, err_fd, int(lim["output_bytes"]))
            return result
        finally:
            for fd in (vr, out_fd, err_fd):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self.cleanup(pid, killed)

    # -- Python candidates through the forker ----------------------------------------------------------
    #
    # After every fork each page either process writes first faults (and is copied while the other
    # still shares it); refcount updates are writes. A worker that forks each candidate itself pays
    # that for everything it does per candidate: reading the request, supervising, collecting and
    # sending the verdicts, cleaning up. So in a PID namespace the worker starts a forker (a fork of
    # itself, with the same pre-imported modules), which only reads a job, forks the candidate, waits
    # for it, kills whatever it left running (``kill(-1)`` reaches every process of the namespace but
    # the worker, PID 1, and the forker) and answers with the exit status; the worker, which no longer
    # forks, does the rest without faults and compiles the candidate too (compiling in the child was
    # one of its largest costs). The verdict pipe and the output captures are created once, shared
    # with the forker and emptied after each candidate, when no process but the two is left.

    def forker_loop_in_c(self) -> bool:
        """Whether this worker's forker runs ``_forkloop.serve`` (when it has a forker at all)."""
        return self.use_forker and _forkloop is not None and bool(self.cfg.get("compiled_forker", True))

    def start_forker(self) -> Forker:
        """Fork the forker process; return the worker's end of it."""
        vr, vw, out_fd, err_fd = self.verdict_channel()
        req_r, req_w = os.pipe()
        ans_r, ans_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the forker
            try:
                for fd in (vr, req_w, ans_r, self.host_in, self.host_out):
                    os.close(fd)
                self.forker_main(req_r, ans_w, vw, out_fd, err_fd)
            except BaseException:  # noqa: BLE001
                pass
            os._exit(0)
        for fd in (req_r, ans_w, vw):
            os.close(fd)
        os.set_blocking(ans_r, False)
        statm = os.open(f"/proc/{pid}/statm", os.O_RDONLY)
        self.forker = Forker(pid, req_w, ans_r, statm, vr, out_fd, err_fd)
        self.forker_tests: dict = {}  # test code sent to this forker: marshalled bytes -> index there
        self.forker_count = 0  # the length of the forker's list
        self.forker_imports: set = set()  # the modules this forker was asked to import for tests
        if self.children_fd is None:
            self.children_fd = os.open(f"/proc/self/task/{os.getpid()}/children", os.O_RDONLY)
        self.pipe_size = fcntl.fcntl(vr, fcntl.F_GETPIPE_SZ)
        return self.forker

    def forker_main(  # pragma: no cover - runs in the forker
        self, req_r: int, ans_w: int, vw: int, out_w: int, err_w: int
    ) -> None:
        """Run the forker: job in, candidate forked and waited for, everything else killed, answer out.

        With ``_forkloop.c`` built, a job that needs no module imported first never runs Python in the
        forker: ``_forkloop.serve`` keeps the tests it brings, forks, waits and answers (its child
        builds the job and runs the harness in C), and returns only with a job the forker has to act
        on, which this loop acts on and then hands to ``_forkloop.fork_job`` (the same fork, set-up and
        finish). Without it this loop runs every job.
        """
        mine = os.open(f"/proc/self/task/{os.getpid()}/children", os.O_RDONLY)
        self.child_fd_top = max(req_r, ans_w, vw, out_w, err_w, mine)
        pack = _ANSWER.pack
        pread = os.pread
        known: list = []  # the tests' code, by the index the worker refers to them with
        append = known.append
        loads = marshal.loads
        fork, wait4, waitpid, kill, write = os.fork, os.wait4, os.waitpid, os.kill, os.write
        setfl, F_SETFL = fcntl.fcntl, fcntl.F_SETFL
        serve = _forkloop.serve if self.forker_loop_in_c() else None
        # What the C loop's children set up before they run Python, as child() does.
        uid = self.run_uid
        top = max(vw, out_w, err_w, self.host_in, self.host_out, self.devnull, self.child_fd_top)
        own = (self.devnull, out_w, err_w, top + 64, os.fsencode(self.workdir))
        own += (-1,) if uid is None else (uid,)
        import gc

        # Before each fork: what the forker allocated since joins the frozen objects and the count of
        # new ones starts at zero, so no child starts with a collection that walks the forker's
        # objects (each page it touched would be copied). The forker's per-candidate objects are
        # freed by reference counting as before; the cycles it could make (a test's module that
        # fails to import, at most once per name) are never collected.
        freeze = gc.freeze
        # What those children need to build their job and run the harness (see child_job, child_set_up),
        # and the freeze serve() calls after it keeps a job's tests.
        ctx = (known, self.snapshots, harness._REDIRECTIONS, harness.redirections)
        ctx += (harness._PREPARED["runner"], harness.run_job, freeze)
        while True:
            try:
                if serve is not None:
                    freeze()
                    frame = serve(req_r, ans_w, vw, mine, own, ctx)  # a job the forker acts on
                else:
                    frame = read_frame(req_r)
                limits, job = unpack_job(frame)
            except (EOFError, OSError, ValueError):
                return
            code, setup, (fresh, tests), reads, used, nonce, imports = job
            if fresh:  # the tests' code (the first candidate of this test set): keep it, in order
                if fresh == 2:
                    del known[:]  # the worker started its numbering over
                tests = [loads(t) if type(t) is bytes else t for t in tests]
                for t in tests:
                    append(t)
            else:
                tests = [known[i] for i in tests]
            job = self.child_job(code, limits, setup, tests, reads, used, imports)
            if imports:
                self.preload_test_modules(imports)
            freeze()
            if serve is not None:
                try:
                    pid = _forkloop.fork_job(ans_w, vw, mine, own, frame)
                except OSError:
                    return
                if pid == 0:  # the candidate's child, set up in C
                    self.child_set_up(job, nonce)
                continue
            pid = fork()
            if pid == 0:
                self.child(job, nonce, vw, out_w, err_w)
            _, status, ru = wait4(pid, 0)
            try:
                kill(-1, signal.SIGKILL)
            except OSError:
                pass
            while pread(mine, 64, 0):  # children left: the candidate's siblings (clone with CLONE_PARENT)
                try:
                    waitpid(-1, 0)
                except ChildProcessError:
                    break
            try:
                setfl(vw, F_SETFL, 0)  # the candidate shared this file description: no O_NONBLOCK left
            except OSError:
                pass
            write(ans_w, pack(pid, status, ru.ru_utime + ru.ru_stime))

    def child_set_up(self, job: tuple, nonce: bytes) -> None:  # pragma: no cover - runs in the child
        """Run the harness on ``job`` (see :meth:`child`) in a child ``_forkloop`` set up; never returns."""
        code, _limits, setup_code, tests, reads, redirected, imports = job
        try:
            harness.run_job(nonce, 3, setup_code, code, tests, self.snapshots, reads, redirected, imports)
        except BaseException:  # noqa: BLE001 - never return into the forker's loop
            _report_failure()
        os._exit(70)

    @staticmethod
    def child_job(code, limits: list, setup, tests: list, reads, used, imports) -> tuple:
        """Return the job tuple :meth:`child` runs.

        The set-up's code unmarshalled, the names the tests read as a frozenset, the builtins they use
        as the harness's redirections; the rest as given.
        """
        return (
            code,
            limits,
            marshal.loads(setup) if setup else None,
            tests,
            frozenset(reads),
            harness.redirections(tuple(used)),
            imports,
        )

    def precompile(self, source: str):
        """Compile the candidate here: return its code, or the source if it does not compile.

        The code goes to the forker in the job; the child then only runs it. A source that fails to
        compile, or compiles with a warning, goes to the child as it is, which compiles it again and
        reports exactly what it always did (the error as the verdict, warnings on the candidate's
        stderr).
        """
        if len(source) > _PRECOMPILE_MAX:
            return source
        filters = self.warn_filters
        filters.insert(0, _WARN_ERROR)
        self.warn_mutated()
        try:
            return compile(source, "<candidate>", "exec", dont_inherit=True)
        except Exception:  # noqa: BLE001 - SyntaxError, ValueError, MemoryError, RecursionError, warnings
            return source
        finally:
            try:
                filters.remove(_WARN_ERROR)
            except ValueError:
                pass
            self.warn_mutated()

    def run_forked(self, req: dict) -> dict:
        """Run one Python candidate through the forker."""
        lim = req["limits"]
        n = len(req["tests"])
        timeout, total = self.deadlines(lim, n)
        code = self.precompile(req["code"])
        nonce = os.urandom(16)
        fk = self.forker
        for attempt in (0, 1):
            if fk is None:
                fk = self.start_forker()
            try:
                tests = self.tests_for_forker(req["tests"])
                imports = req.get("imports", ())
                # The forker's Python loop acts on a job with modules it has not been asked to import
                # yet (then it has them: later jobs with them need only the fork); the forker keeps the
                # tests a job brings that it does not have yet.
                if not self.forker_imports.issuperset(imports):
                    kind = _FORKER_TOO
                    self.forker_imports.update(imports)
                else:
                    kind = _CHILD_ONLY if tests[0] == 0 else _KEEP_TESTS
                job = (
                    code,
                    req.get("setup"),
                    tests,
                    req.get("reads", ()),
                    req.get("builtins", ()),
                    nonce,
                    imports,
                )
                start = time.monotonic()
                fk.send(self.rlimits(lim, fk.statm), job, kind)
                break
            except OSError:
                # The forker died between candidates (a candidate killed it): replace it once.
                self.kill_all(None)
                self.reap(block=True)
                fk = None
                if attempt:
                    raise
        poller = self.poller
        poller.register(fk.ans_r, select.POLLIN)
        try:
            # As run() does: the forker has only just been sent the job, so sleep until its answer
            # or the first deadline before supervise() looks.
            poller.poll(min(timeout, total) * 1000.0)
            sup = self.supervise(None, start, timeout, total, n, nonce, fk.vr, None, forker=fk)
        finally:
            try:
                poller.unregister(fk.ans_r)
            except KeyError:
                pass
        if self.forker is fk:
            self.reap_orphans(fk)
        result = self.verdicts(sup, n, time.monotonic() - start)
        cap = int(lim["output_bytes"])
        if self.forker is fk and self.c_calls is not None:
            out, err = self.c_calls.collect(fk.vr, fk.out_fd, fk.err_fd, self.pipe_size, cap)
            result["stdout"] = out.decode("utf-8", "replace")
            result["stderr"] = err.decode("utf-8", "replace")
        else:
            result["stdout"], result["stderr"] = _read_captures(fk.out_fd, fk.err_fd, cap)
            if self.forker is fk:
                self.reset_shared(fk)
            else:
                fk.close()  # the forker was lost and everything killed: the next candidate gets new files
        self.wipe()
        return result

    def tests_for_forker(self, tests: list) -> tuple[int, list]:
        """Return the job's tests as (how, tests): their indices in the forker's list when it has them.

        ``how`` is 0 for indices; 1 for the tests' code, which the forker appends to its list (so it
        never unmarshals, hashes or copies the same tests twice); 2 for the code after the forker
        empties its list (the numbering starts over, which keeps the forker small).
        """
        known = self.forker_tests
        if tests:
            ids = [known.get(t) for t in tests]
            if None not in ids:
                return 0, ids
        how = 1
        if self.forker_count + len(tests) > _FORKER_TESTS:
            known.clear()
            self.forker_count = 0
            how = 2
        for t in tests:
            known[t] = self.forker_count  # the forker appends each one, duplicates too
            self.forker_count += 1
        return how, list(tests)

    def reap_orphans(self, fk: Forker) -> None:
        """Wait until the namespace holds only this process and the forker.

        The forker sent every other process SIGKILL; the candidate's descendants that outlived their
        parents were reparented to this process (PID 1): reap them, killing again whatever is listed.
        """
        keep = str(fk.pid).encode()
        for _ in range(100000):
            while True:
                try:
                    wpid, _ = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    wpid = 0
                if wpid == 0:
                    break
                if wpid == fk.pid:  # the forker is gone: nothing may be left running without it
                    self.kill_all(None)
                    self.reap(block=True)
                    return
            try:
                listed = os.pread(self.children_fd, 1 << 16, 0).split()
            except OSError:
                listed = []
            others = [int(p) for p in listed if p != keep]
            if not others:
                return
            for p in others:
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
                try:
                    os.waitpid(p, 0)
                except ChildProcessError:
                    pass

    def reset_shared(self, fk: Forker) -> None:
        """Empty the shared verdict pipe and captures for the next candidate (no other process is left)."""
        try:
            while os.read(fk.vr, 1 << 16):
                pass
        except OSError:  # BlockingIOError: empty
            pass
        for fd in (fk.out_fd, fk.err_fd):
            try:
                os.ftruncate(fd, 0)
                os.lseek(fd, 0, os.SEEK_SET)
                fcntl.fcntl(fd, fcntl.F_SETFL, 0)  # O_APPEND, O_NONBLOCK... a candidate may have set
            except OSError:
                pass
        try:
            if fcntl.fcntl(fk.vr, fcntl.F_GETPIPE_SZ) != self.pipe_size:  # a candidate shrank it
                fcntl.fcntl(fk.vr, fcntl.F_SETPIPE_SZ, self.pipe_size)
        except OSError:
            pass

    def drop_forker(self) -> None:
        """Forget the forker (``kill(-1)`` from this process has killed it, or is about to)."""
        fk, self.forker = self.forker, None
        if fk is not None:
            try:
                os.kill(fk.pid, signal.SIGKILL)
            except OSError:
                pass
            fk.close()

    def preload_test_modules(self, names) -> None:
        """Import, once, the modules the tests import, and snapshot them like the pre-imported ones.

        The harness then guards each (the module in ``sys.modules`` and its attributes) from before
        the candidate ran, so a candidate cannot plant or patch a module that a test imports. Done in
        the process that forks the candidates; a module that fails to import is left to the test.
        """
        snaps = self.snapshots
        for name in names:
            if name in snaps or name in self.unimportable or len(snaps) >= _MAX_SNAPSHOTS:
                continue
            try:
                __import__(name)
                mod = sys.modules[name]
            except BaseException:  # noqa: BLE001 - whatever a module raises, the test's import says it
                self.unimportable.add(name)
                continue
            snaps[name] = (mod, *harness.snapshot(mod))

    def load_tests(self, blobs: list) -> list:
        """Unmarshal the tests' code, reusing what earlier requests sent (the same tests recur)."""
        cache = self.test_cache
        out = []
        for t in blobs:
            if type(t) is not bytes:
                out.append(t)
                continue
            code = cache.get(t)
            if code is None:
                if len(cache) >= 256:
                    cache.clear()
                code = cache[t] = marshal.loads(t)
            out.append(code)
        return out

    def child(self, job: tuple, nonce: bytes, vw: int, out_w: int, err_w: int) -> None:  # pragma: no cover
        """Run in the forked child: drop to the candidate's limits and identity, then run the harness.

        ``job``: (code, rlimit pairs, set-up code, tests' code, names the tests read, redirected
        builtins, modules the tests import).
        """
        code, limits, setup_code, tests, reads, redirected, imports = job
        try:
            top_fd = max(vw, out_w, err_w, self.host_in, self.host_out, self.devnull, self.child_fd_top)
            os.setsid()
            os.dup2(self.devnull, 0)
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            os.dup2(vw, 3)
            os.closerange(4, top_fd + 64)
            setrlimit = self.rlimit
            for res, value in limits:
                try:
                    setrlimit(res, value)
                except (ValueError, OSError):
                    pass
            os.chdir(self.workdir)
            uid = self.run_uid
            if uid is not None:
                os.setgroups([])
                os.setresgid(uid, uid, uid)
                os.setresuid(uid, uid, uid)
            harness.run_job(nonce, 3, setup_code, code, tests, self.snapshots, reads, redirected, imports)
        except BaseException:  # noqa: BLE001
            _report_failure()
        os._exit(70)

    def rlimits(self, lim: dict, statm: int | None = None) -> list:
        """Return the (resource, (soft, hard)) pairs the child sets, computed before the fork.

        ``statm``: an open ``/proc/PID/statm`` of the process that forks the child (default: this one).
        """
        if statm is None:
            fd = os.open("/proc/self/statm", os.O_RDONLY)
            try:
                vm = int(os.read(fd, 200).split()[0]) * self.page_size  # the child starts with this much
            finally:
                os.close(fd)
        else:
            vm = int(os.pread(statm, 200, 0).split()[0]) * self.page_size
        mem = vm + int(lim["memory_mb"]) * 1024 * 1024
        cpu_soft = max(1, int(self.cpu_limit_hint + 0.999))
        fsize = int(lim["file_size_mb"]) * 1024 * 1024
        pairs = [
            (resource.RLIMIT_AS, (mem, mem)),
            (resource.RLIMIT_CPU, (cpu_soft, cpu_soft + 1)),
            (resource.RLIMIT_FSIZE, (fsize, fsize)),
            (resource.RLIMIT_CORE, (0, 0)),
            (resource.RLIMIT_NOFILE, (256, 256)),
            (resource.RLIMIT_MSGQUEUE, (0, 0)),
            (resource.RLIMIT_MEMLOCK, (0, 0)),
        ]
        if self.run_uid is not None or self.user_ns:
            # Counted per user: the sandbox uid owns nothing else, so this is the candidate's own count.
            # In a user namespace (kernel >= 5.14) the count is that of uid 0 of the namespace: the
            # worker and the candidate's processes. (Real root is exempt from RLIMIT_NPROC.)
            nproc = int(lim["max_processes"])
            if statm is not None and self.user_ns:
                nproc += 1  # the forker is one more process of that uid
            pairs.append((resource.RLIMIT_NPROC, (nproc, nproc)))
        return pairs

    def supervise(self, pid, start, timeout, total, n, nonce, vr, pidfd, forker=None) -> dict:
        """Wait for the child, enforcing the deadlines; return the collected verdicts.

        The worker sleeps on the child's pidfd until the child exits or the next deadline, and only then
        reads the verdict frames (the pipe is large enough to hold them): one wake-up per candidate
        instead of one per frame. BEGIN frames carry the child's ``time.monotonic()`` (the same clock)
        so per-test deadlines are exact even though frames are read late.
        """
        st = {
            "results": {},
            "expected": harness.PHASE_SETUP,
            "in_phase": None,
            "mark": start,  # when the current phase began, or the last phase ended
            "done": False,
            "error": "",
        }
        buf = bytearray()
        parse = harness.frame_parser()

        def drain() -> None:
            while True:
                try:
                    chunk = os.read(vr, 1 << 16)
                except OSError:  # BlockingIOError: empty
                    break
                buf.extend(chunk)
                if len(chunk) < 1 << 16:
                    break  # the pipe held less: read again when it has more
            if buf:
                del buf[: parse(buf, nonce, st)]

        poller = self.poller
        status = None
        cpu_used = 0.0
        lost = ""
        timed_out = None
        total_deadline = start + total
        while True:
            if forker is None:
                try:
                    wpid, wst, ru = os.wait4(pid, os.WNOHANG)
                except ChildProcessError:
                    wpid, wst, ru = pid, 0, None
                if wpid == pid:
                    status = wst
                    cpu_used = (ru.ru_utime + ru.ru_stime) if ru is not None else 0.0
                    drain()
                    break
            else:
                answer = forker.answer()
                if answer is not None:
                    if answer is Forker.LOST:
                        lost = "the process that started the candidate died (killed by the candidate?)"
                    else:
                        status, cpu_used = answer
                    drain()
                    break
            drain()
            if st["error"]:
                break
            now = time.monotonic()
            limit = min(st["mark"] + (2.0 if st["done"] else timeout), total_deadline)
            if now >= limit:
                if not st["done"]:
                    timed_out = st["in_phase"] if st["in_phase"] is not None else st["expected"]
                break
            wait_ms = (limit - now) * 1000.0 + 1.0
            if pidfd is None and forker is None:
                wait_ms = min(wait_ms, 2.0)
            poller.poll(wait_ms)
        if pidfd is not None:
            poller.unregister(pidfd)
            os.close(pidfd)
        if forker is not None:
            if status is None and not lost:
                # Deadline, protocol violation or a child that does not exit after its last frame.
                forker.kill_candidate()
                answer = forker.answer(wait_s=5.0)
                if answer is None or answer is Forker.LOST:
                    lost = "the process that started the candidate did not answer"
                else:
                    status, cpu_used = answer
                drain()
            if lost:
                # Without the forker nothing else may run: kill everything (it too) and reap it all.
                self.kill_all(None)
                self.reap(block=True)
                drain()
                status = None
        elif status is None:
            # Deadline, protocol violation or a child that does not exit after its last frame.
            self.kill_all(pid)
            try:
                _, status, ru = os.wait4(pid, 0)
                cpu_used = ru.ru_utime + ru.ru_stime
            except ChildProcessError:
                status = 0
            drain()
        return {
            "lost": lost,
            "results": st["results"],
            "done": st["done"],
            "error": st["error"],
            "timed_out": timed_out,
            "status": status,
            "cpu": cpu_used,
        }

    def verdicts(self, sup: dict, n: int, elapsed: float) -> dict:
        """Turn the collected frames and the exit status into the result sent to the host."""
        PHASE_CODE, PHASE_SETUP = harness.PHASE_CODE, harness.PHASE_SETUP
        results, done, protocol_error = sup["results"], sup["done"], sup["error"]
        timed_out, status, cpu_used = sup["timed_out"], sup["status"], sup["cpu"]

        codes = _OUTCOMES
        death = ""
        death_outcome = "crashed"
        if sup.get("lost"):
            death = sup["lost"]
        elif protocol_error:
            death = f"verdict channel tampered with: {protocol_error}"
        elif timed_out is not None:
            death_outcome = "timeout"
            death = "wall-clock limit exceeded"
        elif not done:
            if os.WIFSIGNALED(status):
                sig = os.WTERMSIG(status)
                try:
                    signame = signal.Signals(sig).name
                except ValueError:
                    signame = str(sig)
                if sig == signal.SIGXCPU or (
                    sig == signal.SIGKILL and cpu_used >= self.cpu_limit_hint - 0.05
                ):
                    death_outcome = "timeout"
                    death = f"CPU-time limit exceeded ({signame})"
                else:
                    death = f"killed by {signame}"
            else:
                code = os.waitstatus_to_exitcode(status) if status is not None else -1
                death = f"the process exited (status {code}) before reporting"
        tests = []
        status_out = "passed"
        message = ""
        pre = None
        for phase in (PHASE_SETUP, PHASE_CODE):
            r = results.get(phase)
            if r is None:
                pre = (death_outcome, 0.0, "", death or "the candidate did not finish")
                break
            if r[0] != "P":
                pre = (codes.get(r[0], "crashed"),) + r[1:]
                break
        if pre is not None:
            outcome, _dur, exc, msg = pre
            where = "set-up" if PHASE_SETUP not in results or results[PHASE_SETUP][0] != "P" else "candidate"
            status_out = outcome
            if outcome == "syntax_error":
                message = f"{exc}: {msg}" if exc else msg
            else:
                message = f"{where}: {exc + ': ' if exc else ''}{msg}"
            tests = [("not_run", 0.0, "", "") for _ in range(n)]
        else:
            stopped = False
            for i in range(n):
                r = results.get(i)
                if r is not None:
                    tests.append((codes.get(r[0], "crashed"), r[1], r[2], r[3]))
                elif not stopped and death:
                    # The test that was running (or about to) when the candidate died or timed out.
                    stopped = True
                    tests.append((death_outcome, 0.0, "", death))
                else:
                    tests.append(("not_run", 0.0, "", ""))
            for i, t in enumerate(tests):
                if t[0] != "passed":
                    status_out = t[0]
                    message = f"test {i}: " + ": ".join(x for x in (t[2], t[3]) if x)
                    break
            if status_out == "passed" and (protocol_error or (not done and n == 0)):
                status_out = death_outcome
                message = death
        return {
            "status": status_out,
            "tests": tests,
            "message": message,
            "duration": elapsed,
            "cpu_s": cpu_used,
        }

    # -- cleanup ---------------------------------------------------------------------------------------

    def kill_all(self, pid) -> None:
        """Kill the candidate and every process it started."""
        if pid is not None:
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if self.pid_ns:
            # PID 1 of our namespace: -1 reaches every other process in it and nothing outside.
            try:
                os.kill(-1, signal.SIGKILL)
            except OSError:
                pass
            if self.forker is not None:
                self.drop_forker()  # killed with the rest
        else:
            self.kill_descendants()

    def kill_descendants(self) -> None:
        """Without a PID namespace: kill every descendant (we are a child subreaper) and the sandbox uid."""
        if self.run_uid is not None:
            helper = os.fork()
            if helper == 0:  # pragma: no cover
                try:
                    os.setresuid(self.run_uid, self.run_uid, self.run_uid)
                    os.kill(-1, signal.SIGKILL)
                except BaseException:  # noqa: BLE001
                    pass
                os._exit(0)
            try:
                os.waitpid(helper, 0)
            except ChildProcessError:
                pass
        for _ in range(5):
            pids = self.children()
            if not pids:
                break
            for p in pids:
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
            self.reap(block=True)

    def children(self) -> list[int]:
        pids = []
        try:
            for tid in os.listdir("/proc/self/task"):
                with open(f"/proc/self/task/{tid}/children") as f:
                    pids += [int(p) for p in f.read().split()]
        except OSError:
            pass
        return pids

    def reap(self, block: bool) -> None:
        if block and self.forker is not None:
            self.drop_forker()  # else waiting for every child would wait for it forever
        while True:
            try:
                wpid, _ = os.waitpid(-1, 0 if block else os.WNOHANG)
            except ChildProcessError:
                return
            except InterruptedError:
                continue
            if wpid == 0:
                return

    def cleanup(self, pid, killed: bool = False) -> None:
        """After each candidate: no process left, temporary directories empty.

        ``killed``: everything was already sent SIGKILL (it only remains to reap it).
        """
        if not killed:
            self.kill_all(None)
        self.reap(block=self.pid_ns)
        self.wipe()

    def dir_state(self) -> tuple:
        """Return what the temporary directories look like: inode, size (entry count on tmpfs), mode..."""
        if self.c_calls is not None:
            return self.c_calls.dir_state(self.state_dirs)
        out = []
        for d in self.state_dirs:
            st = os.lstat(d)
            out.append((st.st_ino, st.st_size, st.st_nlink, st.st_mode, st.st_uid, st.st_gid))
        return tuple(out)

    def wipe(self) -> None:
        """Empty the temporary directories (and restore the working directory) after a candidate.

        On tmpfs a directory's size counts its entries (and renames, links and exchanges keep each
        directory's count), so when every directory still has the inode, size, link count, mode and
        owner it had right after the last full wipe, which left them empty, nothing can be in them:
        four ``lstat`` calls instead of listing and walking them after every candidate.
        """
        if self.clean_state is not None:
            try:
                if self.dir_state() == self.clean_state:
                    return
            except OSError:
                pass
        self.clean_state = None
        self.full_wipe()
        if self.tracks_entries:
            try:
                empty = not os.listdir(self.workdir) and all(
                    os.path.join(d, e) in self.keep for d in self.scratch_dirs for e in os.listdir(d)
                )
                if empty:
                    self.clean_state = self.dir_state()
            except OSError:
                pass

    def full_wipe(self) -> None:
        rmtree = _rmtree
        try:
            entries = os.listdir(self.workdir)
        except OSError:
            entries = None
        if entries:
            for e in entries:
                p = os.path.join(self.workdir, e)
                try:
                    if os.path.isdir(p) and not os.path.islink(p):
                        rmtree(p)
                    else:
                        os.unlink(p)
                except OSError:
                    pass
            if os.listdir(self.workdir):
                rmtree(self.workdir)
        for d, mode in zip(self.scratch_dirs, self.scratch_modes, strict=True):
            try:
                if os.lstat(d).st_mode & 0o7777 != mode:
                    os.chmod(d, mode)  # a candidate with this process's uid may have changed it
                names = os.listdir(d)
            except OSError:
                continue
            for e in names:
                p = os.path.join(d, e)
                if p in self.keep:
                    continue
                try:
                    if os.path.isdir(p) and not os.path.islink(p):
                        rmtree(p)
                    else:
                        os.unlink(p)
                except OSError:
                    pass
        if not self.mount_ns and self.run_uid is not None:
            self.remove_owned(("/tmp", "/var/tmp", "/dev/shm"))
        try:
            st = os.lstat(self.workdir)
            ok = (
                st.st_mode & 0o7777 == 0o700
                and (self.run_uid is None or st.st_uid == self.run_uid)
                and not os.path.islink(self.workdir)
            )
        except OSError:
            ok = False
        if not ok:
            rmtree(self.workdir)
            try:
                os.unlink(self.workdir)
            except OSError:
                pass
            self.make_workdir()

    def remove_owned(self, dirs) -> None:
        """Without a private /tmp: delete what the sandbox uid created in the shared temp dirs."""
        uid = self.run_uid
        for d in dirs:
            try:
                entries = list(os.scandir(d))
            except OSError:
                continue
            for e in entries:
                try:
                    if e.stat(follow_symlinks=False).st_uid != uid:
                        continue
                    if e.is_dir(follow_symlinks=False):
                        _rmtree(e.path)
                    else:
                        os.unlink(e.path)
                except OSError:
                    pass

    def shutdown(self) -> None:
        self.kill_all(None)
        if not self.mount_ns:
            _rmtree(self.base)


def _report_failure() -> None:  # pragma: no cover - runs in the candidate's child
    """Write the traceback of the harness's own failure to the child's stderr (the capture), if it can."""
    try:
        import traceback

        os.write(2, traceback.format_exc().encode()[-2000:])
    except BaseException:  # noqa: BLE001
        pass


def _read_captures(out_fd: int, err_fd: int, cap: int) -> tuple[str, str]:
    """Return the first ``cap`` bytes of the candidate's stdout and stderr captures, decoded."""
    outs = []
    for fd in (out_fd, err_fd):
        try:
            outs.append(os.pread(fd, cap, 0).decode("utf-8", "replace") if cap else "")
        except OSError:
            outs.append("")
    return outs[0], outs[1]


def _rmtree(path: str) -> None:
    """Remove ``path`` (a file or a directory tree), whatever permissions a candidate left on it.

    A candidate with this process's uid (uid 0 of a user namespace, without capabilities) may have
    taken the owner's permissions away from a directory, which would stop ``shutil.rmtree``: they are
    given back on the way down. Iterative (trees may be deep), and without ``shutil``, which brings
    ``bz2``, ``lzma`` and ``zlib`` (extension modules and memory whose page tables forks copy).
    """
    todo = [path]
    dirs = []
    while todo:
        p = todo.pop()
        try:
            st = os.lstat(p)
        except OSError:
            continue
        if st.st_mode & 0o170000 != 0o040000:  # not a directory (symlinks included): unlink it
            try:
                os.unlink(p)
            except OSError:
                pass
            continue
        if st.st_mode & 0o700 != 0o700:
            try:
                os.chmod(p, 0o700)
            except OSError:
                pass
        dirs.append(p)
        try:
            with os.scandir(p) as entries:
                todo.extend(e.path for e in entries)
        except OSError:
            pass
    for d in reversed(dirs):  # children before their parents
        try:
            os.rmdir(d)
        except OSError:
            pass


def main() -> None:
    cfg = json.loads(sys.argv[1])
    if "--stage2" not in sys.argv:
        if cfg.get("cpu") is not None:
            # One CPU for this worker and every process it forks (the host chose it; see pin_workers).
            try:
                os.sched_setaffinity(0, {int(cfg["cpu"])})
            except (AttributeError, OSError, ValueError):
                pass  # an optimization only: the CPU may have gone offline
        # Stage 1: isolate, then exec a fresh interpreter (without ctypes) for the worker itself.
        sys.path.extend(p for p in cfg.get("sys_path", ()) if p not in sys.path)
        sys.path.insert(0, HERE)
        try:
            import isolate

            info = isolate.isolate(cfg, host_fds=(0, 1))
        except BaseException as exc:  # noqa: BLE001 - tell the host why, then exit
            try:
                send(1, {"op": "error", "message": f"{type(exc).__name__}: {exc}"})
            except OSError:
                pass
            os._exit(3)
        # Stage 2 imports this file as a module, from the bytecode cache the host keeps up to date,
        # instead of running it as a script: compiling it (and harness.py) from source would leave
        # megabytes of freed parser memory in the worker, whose page tables every fork copies.
        boot = f"import sys; sys.path.insert(0, {HERE!r}); import zygote; zygote.main()"
        os.execv(
            sys.executable,
            [sys.executable, "-I", "-S", "-B", "-c", boot, json.dumps(cfg), json.dumps(info), "--stage2"],
        )
    info = json.loads(sys.argv[2])
    sys.modules.pop("zygote", None)  # see Worker.preload: nothing of the sandbox is importable
    # The host sets it so that the dynamic linker resolves every symbol of the interpreter once, here,
    # instead of in every child (lazy binding writes the GOT: one more copy-on-write fault per page).
    # Programs that candidates start do not need it.
    os.environ.pop("LD_BIND_NOW", None)
    host_in, host_out = os.dup(0), os.dup(1)
    try:
        worker = Worker(cfg, info, host_in, host_out)
    except BaseException as exc:  # noqa: BLE001
        try:
            send(host_out, {"op": "error", "message": f"{type(exc).__name__}: {exc}"})
        except OSError:
            pass
        os._exit(3)
    try:
        worker.serve()
    finally:
        worker.shutdown()
    os._exit(0)


if __name__ == "__main__":
    main()
