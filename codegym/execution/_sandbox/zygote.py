"""The sandbox worker ("zygote"): isolates itself once, pre-imports, then forks one child per candidate.

Started by :class:`codegym.execution.SandboxExecutor` as ``python -I -B zygote.py CONFIG_JSON`` with
a scrubbed environment. It talks to the host over its inherited stdin/stdout with length-prefixed JSON
frames. Start-up:

1. Where the OS allows, ``unshare`` new PID, network, mount, IPC and UTS namespaces (with a user
   namespace when not root) and fork: the worker becomes PID 1 of its own PID namespace. The process the
   host started stays behind as a small "shim" that waits for it; killing the shim kills the worker
   (``PR_SET_PDEATHSIG``) and with it every process in the namespace.
2. In the private mount namespace: remount every inherited mount read-only, mount a fresh ``/proc`` and
   private, size-capped tmpfs on ``/tmp``, ``/var/tmp`` and ``/dev/shm``.
3. Pre-import the modules candidates commonly use, then ``gc.freeze()`` so forks stay cheap.

Per candidate it forks a child that drops privileges, sets resource limits and runs ``harness.py``; the
worker enforces every deadline from outside, collects the authenticated verdict frames, kills and reaps
everything the candidate left running, and wipes the temporary directories.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME, MS_STRICTATIME = 1024, 2048, 1 << 21, 1 << 24
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP = 1, 4, 24
PR_SET_SECUREBITS, PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 28, 36, 38

_LEN = struct.Struct(">I")
_libc = None


def libc():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def prctl(option: int, arg: int) -> bool:
    return libc().prctl(option, ctypes.c_ulong(arg), 0, 0, 0) == 0


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


def recv(fd: int):
    (n,) = _LEN.unpack(read_exact(fd, 4))
    return json.loads(read_exact(fd, n))


def send(fd: int, obj) -> None:
    data = json.dumps(obj).encode("utf-8", "replace")
    data = _LEN.pack(len(data)) + data
    while data:
        n = os.write(fd, data)
        data = data[n:]


# --------------------------------------------------------------------------------------------------
# Isolation set-up.


def write_file(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def try_unshare(use_user: bool) -> bool:
    flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
    uid, gid = os.getuid(), os.getgid()
    if use_user:
        flags |= CLONE_NEWUSER
    if libc().unshare(flags) != 0:
        return False
    if use_user:
        try:
            write_file("/proc/self/setgroups", "deny")
        except OSError:
            pass
        write_file("/proc/self/uid_map", f"0 {uid} 1")
        write_file("/proc/self/gid_map", f"0 {gid} 1")
    return True


def become_pid1(keep_fds: tuple[int, ...]) -> None:
    """Fork after unshare(CLONE_NEWPID): the child is PID 1; this process waits as a shim and exits."""
    pid = os.fork()
    if pid == 0:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        return
    # Shim: keep nothing the host could be waiting on, wait for the worker, exit with its status.
    for fd in keep_fds:
        os.close(fd)
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
        except ChildProcessError:
            os._exit(1)
    os._exit(os.waitstatus_to_exitcode(status) & 0xFF if os.WIFEXITED(status) else 1)


def _unescape(path: str) -> str:
    return path.encode().decode("unicode_escape").encode("latin-1").decode("utf-8", "replace")


def remount_readonly(skip: set[str]) -> int:
    """Remount every mount read-only (in our private mount namespace); return how many failed."""
    failures = 0
    with open("/proc/self/mountinfo") as f:
        lines = f.read().splitlines()
    for line in lines:
        parts = line.split(" ")
        if len(parts) < 6:
            continue
        mountpoint, opts = _unescape(parts[4]), parts[5].split(",")
        if mountpoint in skip or "ro" in opts:
            continue
        flags = MS_REMOUNT | MS_BIND | MS_RDONLY
        for name, bit in (
            ("nosuid", MS_NOSUID),
            ("nodev", MS_NODEV),
            ("noexec", MS_NOEXEC),
            ("noatime", MS_NOATIME),
            ("nodiratime", MS_NODIRATIME),
            ("relatime", MS_RELATIME),
        ):
            if name in opts:
                flags |= bit
        if libc().mount(None, mountpoint.encode(), None, ctypes.c_ulong(flags), None) != 0:
            failures += 1
    return failures


def needed_paths() -> list[str]:
    """Directories the candidate's interpreter must be able to read (stdlib, site-packages)."""
    paths = {sys.base_prefix, sys.prefix, sys.exec_prefix}
    paths.update(p for p in sys.path if p)
    out = []
    for p in paths:
        real = os.path.realpath(p)
        if os.path.isdir(real):
            out.append(real)
    return sorted(set(out))


def hidden_ancestors(paths: list[str]) -> dict[str, list[str]]:
    """Map each top-most directory that other users cannot traverse to the needed paths below it."""
    blocked: dict[str, list[str]] = {}
    for p in paths:
        cur = ""
        for comp in p.strip("/").split("/"):
            cur = f"{cur}/{comp}"
            try:
                mode = os.stat(cur).st_mode
            except OSError:
                break
            if not mode & 0o001:
                if cur != p:
                    blocked.setdefault(cur, []).append(p)
                break
    for anc, below in blocked.items():
        # Keep only the outermost needed paths.
        below.sort()
        keep: list[str] = []
        for p in below:
            if not any(p == k or p.startswith(k + "/") for k in keep):
                keep.append(p)
        blocked[anc] = keep
    return blocked


def expose(blocked: dict[str, list[str]], stage_root: str) -> int:
    """Cover each blocked directory with an empty tmpfs that shows only the needed paths.

    For example ``/root`` (mode 700) holding the Python installation ``/root/.pyenv/...``: the
    candidate's uid could not import the standard library. In our private mount namespace ``/root``
    becomes an empty, read-only tmpfs in which only ``/root/.pyenv/versions/X`` is bind-mounted back;
    the rest of ``/root`` stays invisible. Returns how many paths could not be exposed.
    """
    lc = libc()
    failures = 0
    for i, (anc, paths) in enumerate(sorted(blocked.items())):
        stages = []
        for j, p in enumerate(paths):
            stage = os.path.join(stage_root, f"{i}-{j}")
            os.makedirs(stage, exist_ok=True)
            if lc.mount(p.encode(), stage.encode(), None, ctypes.c_ulong(MS_BIND | MS_REC), None) == 0:
                stages.append((p, stage))
            else:
                failures += 1
        flags = ctypes.c_ulong(MS_NOSUID | MS_NODEV)
        if lc.mount(b"tmpfs", anc.encode(), b"tmpfs", flags, b"size=1m,mode=755") != 0:
            failures += len(paths)
            continue
        for p, stage in stages:
            os.makedirs(p, mode=0o755, exist_ok=True)
            if lc.mount(stage.encode(), p.encode(), None, ctypes.c_ulong(MS_BIND | MS_REC), None) != 0:
                failures += 1
            lc.umount2(stage.encode(), 2)  # MNT_DETACH
    import shutil

    shutil.rmtree(stage_root, ignore_errors=True)
    return failures


def mount_private_dirs(tmpfs_mb: int, drop_uid: bool) -> list[str]:
    """Private /proc and tmpfs temp dirs, read-only everything else; returns what was set up."""
    done = []
    lc = libc()
    lc.mount(None, b"/", None, ctypes.c_ulong(MS_REC | MS_PRIVATE), None)
    tmpdirs = []
    for path in ("/tmp", "/var/tmp", "/dev/shm"):
        if not os.path.isdir(path):
            continue
        opts = f"size={tmpfs_mb}m,mode=1777".encode()
        flags = ctypes.c_ulong(MS_NOSUID | MS_NODEV)
        if lc.mount(b"tmpfs", path.encode(), b"tmpfs", flags, opts) == 0:
            tmpdirs.append(path)
            done.append(f"private {path}")
    if drop_uid and "/tmp" in tmpdirs:
        blocked = hidden_ancestors(needed_paths())
        if blocked:
            failures = expose(blocked, "/tmp/.codegym-stage")
            done.append(
                "hidden: " + ", ".join(sorted(blocked)) + (f" ({failures} failures)" if failures else "")
            )
    failures = remount_readonly(skip=set(tmpdirs))
    done.insert(
        0, "read-only filesystem" if failures == 0 else f"read-only filesystem ({failures} mounts not)"
    )
    if lc.mount(b"proc", b"/proc", b"proc", ctypes.c_ulong(MS_NOSUID | MS_NODEV | MS_NOEXEC), None) == 0:
        done.append("private /proc")
    return done


class CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def drop_capabilities() -> bool:
    """Drop every capability (used when the child stays uid 0 inside a user namespace)."""
    for cap in range(64):
        prctl(PR_CAPBSET_DROP, cap)
    prctl(PR_SET_SECUREBITS, 0x3 | 0x4 | 0x8 | 0x10 | 0x20)  # NOROOT, NO_SETUID_FIXUP, KEEP_CAPS off; locked
    header = CapHeader(0x20080522, 0)
    data = (CapData * 2)()
    return libc().capset(ctypes.byref(header), data) == 0


# --------------------------------------------------------------------------------------------------
# The worker.


class Worker:
    def __init__(self, cfg: dict, host_in: int, host_out: int) -> None:
        self.cfg = cfg
        self.host_in = host_in
        self.host_out = host_out
        self.devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(self.devnull, 0)
        os.dup2(self.devnull, 1)
        self.features: list[str] = []
        self.pid_ns = False
        self.user_ns = False
        self.mount_ns = False
        self.run_uid: int | None = None
        self.setup_isolation()
        self.setup_workdir()
        self.preload()
        self.test_cache: dict = {}
        self.setup_cache: dict = {}

    # -- start-up ---------------------------------------------------------------------------------------

    def setup_isolation(self) -> None:
        mode = self.cfg.get("isolation", "auto")
        is_root = os.geteuid() == 0
        if mode in ("auto", "namespace"):
            ok = False
            if is_root:
                ok = try_unshare(use_user=False)
            if not ok:
                try:
                    ok = try_unshare(use_user=True)
                    self.user_ns = ok
                except OSError:
                    ok = False
            if ok:
                become_pid1(keep_fds=(self.host_in, self.host_out))
                self.pid_ns = self.mount_ns = True
                kind = "user+pid+net+mount+ipc namespaces" if self.user_ns else "pid+net+mount+ipc namespaces"
                self.features.append(kind)
                self.features.append("no network")
                drop_uid = is_root and not self.user_ns and self.cfg.get("uid") is not None
                try:
                    self.features += mount_private_dirs(int(self.cfg.get("tmpfs_mb", 256)), drop_uid)
                except OSError as exc:
                    self.features.append(f"mount set-up failed: {exc}")
            elif mode == "namespace":
                raise RuntimeError(
                    "Linux namespaces are not available (unshare failed); use isolation='process'"
                )
        if not self.pid_ns:
            self.features.append("process isolation (no namespaces)")
            prctl(PR_SET_CHILD_SUBREAPER, 1)
        if is_root and not self.user_ns and self.cfg.get("uid") is not None:
            blocked = hidden_ancestors(needed_paths()) if not self.mount_ns else {}
            if blocked:
                # Without a mount namespace we cannot expose the interpreter to another uid.
                self.features.append(
                    f"same uid as host (the interpreter under {', '.join(blocked)} is not readable by other users)"
                )
            else:
                self.run_uid = int(self.cfg["uid"])
                self.features.append(f"unprivileged uid {self.run_uid}")
        elif self.user_ns:
            self.features.append("capabilities dropped")
        else:
            self.features.append(f"same uid as host ({os.getuid()})")
        prctl(PR_SET_DUMPABLE, 0)
        self.features.append("rlimits (address space, cpu, file size, processes)")

    def setup_workdir(self) -> None:
        if self.mount_ns:
            base = "/tmp"
            self.scratch_dirs = [d for d in ("/tmp", "/var/tmp", "/dev/shm") if os.path.isdir(d)]
        else:
            import tempfile

            base = tempfile.mkdtemp(prefix="codegym-sandbox-")
            os.chmod(base, 0o711)
            self.scratch_dirs = []
        self.base = base
        self.workdir = os.path.join(base, "work")
        self.make_workdir()
        env = {k: v for k, v in os.environ.items()}
        env.update(
            HOME=self.workdir, TMPDIR=self.workdir, TMP=self.workdir, TEMP=self.workdir, PWD=self.workdir
        )
        os.environ.clear()
        os.environ.update(env)

    def make_workdir(self) -> None:
        os.mkdir(self.workdir, 0o700)
        if self.run_uid is not None:
            os.chown(self.workdir, self.run_uid, self.run_uid)

    def preload(self) -> None:
        sys.path.insert(0, HERE)
        global harness, rewrite
        import harness  # noqa: F401
        import rewrite  # noqa: F401

        sys.path.remove(HERE)
        self.preloaded = {}
        for name in self.cfg.get("preload", []):
            try:
                __import__(name)
            except Exception:  # noqa: BLE001 - a module missing on this system is not an error
                continue
            top = name.split(".")[0]
            mod = sys.modules.get(top)
            if mod is not None:
                self.preloaded[top] = mod
        # Per-worker random names for the helpers rewritten tests call.
        tag = os.urandom(6).hex()
        self.helper_names = (f"__codegym_cmp_{tag}", f"__codegym_ret_{tag}", f"__codegym_builtins_{tag}")
        self.snapshots = {name: (mod, tuple(mod.__dict__.items())) for name, mod in self.preloaded.items()}
        import gc

        gc.collect()
        gc.freeze()

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
            },
        )
        while True:
            try:
                req = recv(self.host_in)
            except (EOFError, OSError):
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
            result["id"] = req.get("id")
            send(self.host_out, result)

    # -- compiling trusted code (cached) ---------------------------------------------------------------

    def compile_setup(self, source: str):
        hit = self.setup_cache.get(source)
        if hit is None:
            import ast

            tree = ast.parse(source)
            hit = (compile(tree, "<setup>", "exec", dont_inherit=True), frozenset(rewrite.bound_names(tree)))
            if len(self.setup_cache) > 512:
                self.setup_cache.clear()
            self.setup_cache[source] = hit
        return hit

    def compile_test(self, source: str, entry_point: str, setup_bound: frozenset, index: int):
        key = (source, entry_point, setup_bound)
        hit = self.test_cache.get(key)
        if hit is None:
            cmp_name, ret_name, bi_name = self.helper_names
            try:
                tree, reads = rewrite.rewrite_test(
                    source,
                    cmp_name=cmp_name,
                    ret_name=ret_name,
                    builtins_name=bi_name,
                    entry_point=entry_point,
                    extra_bound=setup_bound,
                )
                hit = (compile(tree, f"<test {index}>", "exec", dont_inherit=True), frozenset(reads))
            except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
                hit = (f"{type(exc).__name__}: {exc}"[:300], frozenset())
            if len(self.test_cache) > 8192:
                self.test_cache.clear()
            self.test_cache[key] = hit
        return hit

    # -- one candidate ---------------------------------------------------------------------------------

    def run(self, req: dict) -> dict:
        lim = req["limits"]
        timeout = float(lim["timeout_s"])
        n = len(req["tests"])
        total = float(lim["total_timeout_s"] or timeout * (n + 2))
        setup_src = req.get("setup") or ""
        try:
            setup_code, setup_bound = (
                self.compile_setup(setup_src) if setup_src.strip() else (None, frozenset())
            )
        except (SyntaxError, ValueError) as exc:
            return {"status": "infra", "message": f"set-up code does not compile: {exc}"}
        entry = req.get("entry_point") or ""
        tests = []
        reads: set = set()
        for i, src in enumerate(req["tests"]):
            code, r = self.compile_test(src, entry, setup_bound, i)
            tests.append(code)
            reads |= r
        self.cap_hint = int(lim["output_bytes"])
        self.cpu_limit_hint = float(lim["cpu_s"]) if lim.get("cpu_s") else total + 1.0
        nonce = os.urandom(16)
        vr, vw = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        start = time.monotonic()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            self.child(req, lim, setup_code, tests, frozenset(reads), nonce, vw, out_w, err_w)
        os.close(vw)
        os.close(out_w)
        os.close(err_w)
        try:
            return self.supervise(
                pid, start, timeout, total, n, nonce, vr, out_r, err_r, int(lim["output_bytes"])
            )
        finally:
            for fd in (vr, out_r, err_r):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self.cleanup(pid)

    def child(self, req, lim, setup_code, tests, reads, nonce, vw, out_w, err_w) -> None:  # pragma: no cover
        try:
            os.setsid()
            os.dup2(self.devnull, 0)
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            os.dup2(vw, 3)
            os.closerange(4, 1 << 20)
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            signal.signal(signal.SIGPIPE, signal.SIG_DFL)
            self.set_limits(lim, len(tests))
            os.chdir(self.workdir)
            if self.run_uid is not None:
                os.setgroups([])
                os.setresgid(self.run_uid, self.run_uid, self.run_uid)
                os.setresuid(self.run_uid, self.run_uid, self.run_uid)
            elif self.user_ns:
                drop_capabilities()
            prctl(PR_SET_NO_NEW_PRIVS, 1)
            if self.run_uid is not None:
                prctl(PR_SET_DUMPABLE, 1)
            # Make the harness harder to find from the candidate (it is still reachable through gc).
            import types

            sys.modules["__main__"] = types.ModuleType("__main__")
            for name in ("harness", "rewrite"):
                sys.modules.pop(name, None)
            harness.run_candidate(
                nonce=nonce,
                fd=3,
                setup_code=setup_code,
                code=req["code"],
                tests=tests,
                helper_names=self.helper_names,
                preloaded=dict(self.snapshots),
                test_reads=reads,
            )
        except BaseException:  # noqa: BLE001
            try:
                import traceback

                os.write(2, traceback.format_exc().encode()[-2000:])
            except BaseException:  # noqa: BLE001
                pass
        os._exit(70)

    def set_limits(self, lim: dict, n_tests: int) -> None:  # pragma: no cover - runs in the child
        import resource

        vm = 0
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    vm = int(line.split()[1]) * 1024
                    break
        mem = vm + int(lim["memory_mb"]) * 1024 * 1024
        cpu_soft = max(1, int(self.cpu_limit_hint + 0.999))
        fsize = int(lim["file_size_mb"]) * 1024 * 1024
        for res, value in (
            (resource.RLIMIT_AS, (mem, mem)),
            (resource.RLIMIT_CPU, (cpu_soft, cpu_soft + 1)),
            (resource.RLIMIT_FSIZE, (fsize, fsize)),
            (resource.RLIMIT_CORE, (0, 0)),
            (resource.RLIMIT_NOFILE, (256, 256)),
            (resource.RLIMIT_MSGQUEUE, (0, 0)),
            (resource.RLIMIT_MEMLOCK, (0, 0)),
        ):
            try:
                resource.setrlimit(res, value)
            except (ValueError, OSError):
                pass
        if self.run_uid is not None:
            # Counted per user: the sandbox uid owns nothing else, so this is the candidate's own count.
            nproc = int(lim["max_processes"])
            resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))

    def supervise(self, pid, start, timeout, total, n, nonce, vr, out_r, err_r, cap) -> dict:
        import select

        from harness import HEADER, K_BEGIN, K_DONE, K_END, MAX_PAYLOAD, NONCE_BYTES, PHASE_CODE, PHASE_SETUP

        results: dict[int, tuple] = {}
        expected = PHASE_SETUP
        in_phase = None
        phase_start = start
        deadline = start + timeout
        total_deadline = start + total
        done = False
        protocol_error = ""
        timed_out = None  # phase index that ran out of time
        buf = b""
        out = [bytearray(), bytearray()]
        hsize = NONCE_BYTES + HEADER.size

        try:
            pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            pidfd = None
        poller = select.poll()
        for fd in (vr, out_r, err_r):
            poller.register(fd, select.POLLIN)
        if pidfd is not None:
            poller.register(pidfd, select.POLLIN)
        open_fds = {vr, out_r, err_r}
        status = None
        rusage = None
        while True:
            now = time.monotonic()
            limit = min(deadline, total_deadline)
            if done:
                limit = min(limit, now + 2.0)
            if now >= limit:
                if not done:
                    timed_out = in_phase if in_phase is not None else expected
                break
            wait_ms = (limit - now) * 1000.0
            if pidfd is None:
                wait_ms = min(wait_ms, 5.0)
            events = poller.poll(max(0.0, wait_ms) + 0.5)
            now = time.monotonic()
            child_exited = False
            for fd, _ev in events:
                if fd == pidfd:
                    child_exited = True
                    continue
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    poller.unregister(fd)
                    open_fds.discard(fd)
                    continue
                if fd == vr:
                    buf += chunk
                    while len(buf) >= hsize and not protocol_error:
                        if buf[:NONCE_BYTES] != nonce:
                            protocol_error = "unauthenticated data on the verdict channel"
                            break
                        kind, index, plen = HEADER.unpack_from(buf, NONCE_BYTES)
                        if plen < 0 or plen > MAX_PAYLOAD:
                            protocol_error = "malformed verdict frame"
                            break
                        if len(buf) < hsize + plen:
                            break
                        payload = buf[hsize : hsize + plen]
                        buf = buf[hsize + plen :]
                        if done:
                            protocol_error = "verdict frame after the end"
                        elif kind == K_BEGIN:
                            if in_phase is not None or index != expected:
                                protocol_error = "verdict frames out of order"
                            else:
                                in_phase = index
                                phase_start = now
                                deadline = now + timeout
                        elif kind == K_END:
                            if in_phase != index:
                                protocol_error = "verdict frames out of order"
                            else:
                                code = payload[:1].decode("ascii", "replace")
                                exc, _, msg = payload[1:].decode("utf-8", "replace").partition("\0")
                                results[index] = (code, now - phase_start, exc, msg)
                                in_phase = None
                                expected = index + 1 if index != PHASE_SETUP else PHASE_CODE
                                deadline = now + timeout
                        elif kind == K_DONE:
                            if in_phase is not None:
                                protocol_error = "verdict frames out of order"
                            else:
                                done = True
                        else:
                            protocol_error = "unknown verdict frame"
                    if protocol_error:
                        break
                else:
                    o = out[0] if fd == out_r else out[1]
                    if len(o) < cap:
                        o += chunk[: cap - len(o)]
            if protocol_error:
                break
            if child_exited or pidfd is None:
                try:
                    wpid, st, ru = os.wait4(pid, os.WNOHANG if not child_exited else 0)
                except ChildProcessError:
                    wpid, st, ru = pid, 0, None
                if wpid == pid:
                    status, rusage = st, ru
                    break
        # Stop the candidate (if still running) and everything it started.
        if status is None:
            self.kill_all(pid)
            try:
                _, status, rusage = os.wait4(pid, 0)
            except ChildProcessError:
                status = 0
        # Collect what is left in the pipes without blocking (writers are dead or killed).
        self.kill_all(None)
        for fd, o in ((out_r, out[0]), (err_r, out[1])):
            if fd not in open_fds:
                continue
            os.set_blocking(fd, False)
            try:
                while len(o) < cap:
                    chunk = os.read(fd, 65536)
                    if not chunk:
                        break
                    o += chunk[: cap - len(o)]
            except OSError:
                pass
        if pidfd is not None:
            os.close(pidfd)
        elapsed = time.monotonic() - start
        cpu_used = (rusage.ru_utime + rusage.ru_stime) if rusage is not None else 0.0
        return self.verdicts(results, n, done, protocol_error, timed_out, status, cpu_used, elapsed, out)

    def verdicts(self, results, n, done, protocol_error, timed_out, status, cpu_used, elapsed, out) -> dict:
        """Turn the collected frames and the exit status into the result sent to the host."""
        from harness import PHASE_CODE, PHASE_SETUP

        codes = {"P": "passed", "F": "failed", "E": "error", "M": "memory", "X": "syntax_error", "I": "infra"}
        death = ""
        death_outcome = "crashed"
        if protocol_error:
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
                    message = f"test {i}: " + (f"{t[2]}: {t[3]}" if t[2] else t[3])
                    break
            if status_out == "passed" and (protocol_error or (not done and n == 0)):
                status_out = death_outcome
                message = death
        cap = self.cap_hint
        return {
            "status": status_out,
            "tests": tests,
            "message": message,
            "stdout": bytes(out[0][:cap]).decode("utf-8", "replace"),
            "stderr": bytes(out[1][:cap]).decode("utf-8", "replace"),
            "duration": elapsed,
            "cpu_s": cpu_used,
        }

    cpu_limit_hint = float("inf")
    cap_hint = 1 << 30

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
        while True:
            try:
                wpid, _ = os.waitpid(-1, 0 if block else os.WNOHANG)
            except ChildProcessError:
                return
            except InterruptedError:
                continue
            if wpid == 0:
                return

    def cleanup(self, pid) -> None:
        """After each candidate: no process left, temporary directories empty."""
        self.kill_all(None)
        self.reap(block=self.pid_ns)
        self.wipe()

    def wipe(self) -> None:
        import shutil

        try:
            entries = os.listdir(self.workdir)
        except OSError:
            entries = None
        if entries:
            for e in entries:
                p = os.path.join(self.workdir, e)
                try:
                    if os.path.isdir(p) and not os.path.islink(p):
                        shutil.rmtree(p, ignore_errors=True)
                    else:
                        os.unlink(p)
                except OSError:
                    pass
            if os.listdir(self.workdir):
                shutil.rmtree(self.workdir, ignore_errors=True)
        for d in self.scratch_dirs:
            try:
                names = os.listdir(d)
            except OSError:
                continue
            for e in names:
                p = os.path.join(d, e)
                if p == self.workdir:
                    continue
                try:
                    if os.path.isdir(p) and not os.path.islink(p):
                        shutil.rmtree(p, ignore_errors=True)
                    else:
                        os.unlink(p)
                except OSError:
                    pass
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
            shutil.rmtree(self.workdir, ignore_errors=True)
            try:
                os.unlink(self.workdir)
            except OSError:
                pass
            self.make_workdir()

    def shutdown(self) -> None:
        self.kill_all(None)
        if not self.mount_ns:
            import shutil

            shutil.rmtree(self.base, ignore_errors=True)


def main() -> None:
    cfg = json.loads(sys.argv[1])
    host_in, host_out = os.dup(0), os.dup(1)
    try:
        worker = Worker(cfg, host_in, host_out)
    except BaseException as exc:  # noqa: BLE001 - tell the host why, then exit
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
