"""Languages other than Python in the sandbox worker: a compile step, then an exec'd harness program.

The host (``codegym/execution/toolchains.py`` and ``codegym/execution/langs/``) turns a request into a
``spec``: the argv of the compiler (for compiled languages, unless the host already has the artifact in
its build cache), the argv of the program to run, the bytes given to it on file descriptor 4 (after a
per-candidate nonce), and the memory policy of the language. Both steps run in a forked child of the
worker exactly like a Python candidate does: a new session, the sandbox uid, resource limits, a private
working directory, deadlines enforced from outside by the worker, and everything killed and wiped
afterwards. The program reports per-test verdicts on fd 3 in the frame format of ``harness.py``, so the
worker's ``supervise``/``verdicts`` apply unchanged: a missing, out-of-order or unauthenticated frame is a
crash, never a pass.

File descriptors of the child: 0 ``/dev/null``, 1 and 2 the capture files, 3 the verdict pipe, 4 the job
(a ``memfd``: no file name a candidate could open), 5 a close-on-exec pipe that reports a failed
``execve`` to the worker.
"""

from __future__ import annotations

import base64
import fcntl
import os
import resource
import select
import signal
import time

MIB = 1024 * 1024
_MAX_ARTIFACT = 256 * MIB
_COMPILER_OUTPUT = 8192


def _limits(pairs: list, lim: dict, cpu_s: float, *, data_mb, as_mb, fsize_mb, nproc) -> None:
    """Fill ``pairs`` with the (resource, (soft, hard)) limits of a child."""
    cpu = max(1, int(cpu_s + 0.999))
    fsize = int(fsize_mb) * MIB
    pairs += [
        (resource.RLIMIT_CPU, (cpu, cpu + 1)),
        (resource.RLIMIT_FSIZE, (fsize, fsize)),
        (resource.RLIMIT_CORE, (0, 0)),
        (resource.RLIMIT_NOFILE, (256, 256)),
        (resource.RLIMIT_MSGQUEUE, (0, 0)),
        (resource.RLIMIT_MEMLOCK, (0, 0)),
    ]
    if data_mb:
        pairs.append((resource.RLIMIT_DATA, (int(data_mb) * MIB, int(data_mb) * MIB)))
    if as_mb:
        pairs.append((resource.RLIMIT_AS, (int(as_mb) * MIB, int(as_mb) * MIB)))
    if nproc:
        pairs.append((resource.RLIMIT_NPROC, (int(nproc), int(nproc))))


def _spawn(worker, argv: list, env: dict, fds: dict, rlimits: list) -> tuple[int, str]:
    """Fork a sandboxed child that ``execve``s ``argv``; return ``(pid, error)`` (error: exec failed)."""
    argv_b = [os.fsencode(a) for a in argv]
    env_b = {os.fsencode(k): os.fsencode(v) for k, v in env.items()}
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            os.setsid()
            # Move every source out of the way first, so that no dup2 clobbers another source.
            high = {target: fcntl.fcntl(src, fcntl.F_DUPFD, 64) for target, src in fds.items()}
            ew = fcntl.fcntl(err_w, fcntl.F_DUPFD_CLOEXEC, 64)
            for target, src in high.items():
                os.dup2(src, target)
            os.dup2(ew, 5, inheritable=False)
            os.closerange(6, 65536)
            for res, value in rlimits:
                try:
                    resource.setrlimit(res, value)
                except (ValueError, OSError):
                    pass
            os.chdir(worker.workdir)
            uid = worker.run_uid
            if uid is not None:
                os.setgroups([])
                os.setresgid(uid, uid, uid)
                os.setresuid(uid, uid, uid)
            signal.signal(signal.SIGINT, signal.SIG_DFL)  # the worker ignores it; the program need not
            os.execve(argv_b[0], argv_b, env_b)
        except BaseException as exc:  # noqa: BLE001
            try:
                os.write(5, f"{type(exc).__name__}: {exc}".encode("utf-8", "replace")[:2000])
            except BaseException:  # noqa: BLE001
                pass
        os._exit(127)
    os.close(err_w)
    chunks = []
    while True:
        try:
            b = os.read(err_r, 4096)
        except InterruptedError:
            continue
        if not b:
            break
        chunks.append(b)
    os.close(err_r)
    return pid, b"".join(chunks).decode("utf-8", "replace")


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _read_capped(fd: int, cap: int, tail: bool = False) -> str:
    try:
        if tail:
            size = os.fstat(fd).st_size
            return os.pread(fd, cap, max(0, size - cap)).decode("utf-8", "replace")
        return os.pread(fd, cap, 0).decode("utf-8", "replace") if cap else ""
    except OSError:
        return ""


def _close(*fds) -> None:
    for fd in fds:
        if fd is None:
            continue
        try:
            os.close(fd)
        except OSError:
            pass


def _write_file(worker, name: str, data: bytes, mode: int) -> str:
    """Write a file of the job into the working directory (the worker owns it: the candidate can run it)."""
    path = os.path.join(worker.workdir, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
    os.chmod(path, mode)
    return path


def _exec_failed(what: str, path: str, error: str) -> str:
    msg = f"could not start {what + ' ' if what else ''}{path}: {error}"
    if "PermissionError" in error or "FileNotFoundError" in error:
        msg += (
            " (the sandbox user cannot run it: without a private mount namespace, a toolchain in a "
            "directory other users cannot read, such as /root, is out of its reach; use namespace "
            "isolation or install the toolchain system-wide)"
        )
    return msg


def _failure(status: str, message: str, n: int, elapsed: float, stdout: str = "", stderr: str = "") -> dict:
    return {
        "status": status,
        "tests": [("not_run", 0.0, "", "") for _ in range(n)],
        "message": message,
        "duration": elapsed,
        "stdout": stdout,
        "stderr": stderr,
    }


# --------------------------------------------------------------------------------------------------
# Compile step.


def compile_program(worker, spec: dict, lim: dict, n: int, start: float):
    """Run the compiler in the sandbox; return the artifact's bytes, or a result dict (compile error)."""
    comp = spec["compile"]
    for name, text in comp["files"].items():
        _write_file(worker, name, text.encode("utf-8", "surrogatepass"), 0o644)
    timeout = float(comp["timeout_s"])
    pairs: list = []
    _limits(
        pairs,
        lim,
        timeout + 1.0,
        data_mb=comp["data_mb"],
        as_mb=None,
        fsize_mb=comp["fsize_mb"],
        nproc=comp["nproc"] if (worker.run_uid is not None or worker.user_ns) else None,
    )
    out_fd, err_fd = worker.capture_files()
    env = dict(os.environ)
    env.update(comp.get("env") or {})
    pid = None
    try:
        pid, exec_error = _spawn(worker, comp["argv"], env, {0: worker.devnull, 1: out_fd, 2: err_fd}, pairs)
        if exec_error:
            worker.kill_all(pid)
            _reap(pid)
            return _failure(
                "infra",
                _exec_failed("the compiler", comp["argv"][0], exec_error),
                n,
                time.monotonic() - start,
            )
        status, timed_out = _wait(worker, pid, time.monotonic() + timeout)
        worker.kill_all(None)
        elapsed = time.monotonic() - start
        text = (_read_capped(err_fd, _COMPILER_OUTPUT) + _read_capped(out_fd, _COMPILER_OUTPUT)).strip()
        if len(text) >= _COMPILER_OUTPUT:
            text = text[:_COMPILER_OUTPUT] + "\n... (compiler output truncated)"
        if timed_out:
            return _failure(
                "compile_error", f"the compiler exceeded its time limit ({timeout:g} s)", n, elapsed
            )
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            why = (
                "its CPU-time limit" if sig in (signal.SIGXCPU, signal.SIGKILL) else signal.Signals(sig).name
            )
            return _failure("compile_error", f"the compiler was stopped ({why}). {text}".strip(), n, elapsed)
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            return _failure("compile_error", text or f"the compiler exited with status {code}", n, elapsed)
        path = os.path.join(worker.workdir, comp["output"])
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError as exc:
            return _failure("infra", f"the compiler produced no {comp['output']}: {exc}", n, elapsed)
        try:
            size = os.fstat(fd).st_size
            if size > _MAX_ARTIFACT:
                return _failure(
                    "compile_error", f"the compiled program is too large ({size} bytes)", n, elapsed
                )
            chunks = []
            while True:
                b = os.read(fd, 1 << 20)
                if not b:
                    break
                chunks.append(b)
            return b"".join(chunks)
        finally:
            os.close(fd)
    finally:
        _close(out_fd, err_fd)
        worker.cleanup(pid)


def _wait(worker, pid: int, deadline: float) -> tuple[int, bool]:
    """Wait for ``pid`` until ``deadline``; kill its process group on timeout. Returns (status, timed_out)."""
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = None
    poller = select.poll()
    if pidfd is not None:
        poller.register(pidfd, select.POLLIN)
    try:
        while True:
            try:
                wpid, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                return 0, False
            if wpid == pid:
                return status, False
            left = deadline - time.monotonic()
            if left <= 0:
                worker.kill_all(pid)
                try:
                    _, status = os.waitpid(pid, 0)
                except ChildProcessError:
                    status = 0
                return status, True
            poller.poll(min(left * 1000.0 + 1.0, 50.0 if pidfd is None else left * 1000.0 + 1.0))
    finally:
        _close(pidfd)


# --------------------------------------------------------------------------------------------------
# Run step.


def run(worker, req: dict) -> dict:
    """Run one request of a non-Python language (``req["exec"]`` built by the host); see the module doc."""
    lim = req["limits"]
    spec = req["exec"]
    n = int(spec["n_tests"])
    timeout = float(lim["timeout_s"])
    total = float(lim["total_timeout_s"] or timeout * (n + 2))
    start = time.monotonic()
    artifact = spec.get("artifact")
    built = None
    if spec.get("compile") is not None and artifact is None:
        outcome = compile_program(worker, spec, lim, n, start)
        if isinstance(outcome, dict):
            return outcome
        artifact = built = outcome
    compile_s = time.monotonic() - start
    result = run_program(worker, spec, lim, n, timeout, total, artifact)
    if built is not None:
        result["artifact"] = base64.b64encode(built).decode("ascii")
        result["compile_s"] = compile_s
    return result


def run_program(worker, spec: dict, lim: dict, n: int, timeout: float, total: float, artifact) -> dict:
    """Run the harness program of ``spec`` and collect its verdict frames."""
    for name, text in (spec.get("files") or {}).items():
        _write_file(worker, name, text.encode("utf-8", "surrogatepass"), 0o644)
    if artifact is not None:
        _write_file(worker, spec["artifact_name"], artifact, 0o755)
    nonce = os.urandom(16)
    job_fd = os.memfd_create("codegym-job", os.MFD_CLOEXEC)
    data = memoryview(nonce + (spec.get("input") or b""))
    while data:
        data = data[os.write(job_fd, data) :]
    os.lseek(job_fd, 0, os.SEEK_SET)
    vr, vw, out_fd, err_fd = worker.verdict_channel()
    # The runtime's start-up (node: about 0.1 s of CPU, seconds on a loaded machine) precedes the
    # harness's first frame, and no candidate code runs before that frame: it gets its own allowance
    # instead of eating the first phase's deadline.
    startup = float(spec.get("startup_s", 0.0))
    cpu = float(lim["cpu_s"]) if lim.get("cpu_s") else total + startup + 1.0
    worker.cpu_limit_hint = cpu
    mem = int(lim["memory_mb"])
    pairs: list = []
    _limits(
        pairs,
        lim,
        cpu,
        data_mb=mem + int(spec["data_extra_mb"]) if spec.get("data_extra_mb") is not None else None,
        as_mb=mem + int(spec["as_extra_mb"]) if spec.get("as_extra_mb") is not None else None,
        fsize_mb=lim["file_size_mb"],
        nproc=lim["max_processes"] if (worker.run_uid is not None or worker.user_ns) else None,
    )
    argv = [a.replace("{memory_mb}", str(mem)) for a in spec["argv"]]
    env = dict(os.environ)
    env.update(spec.get("env") or {})
    pid = None
    pidfd = None
    start = time.monotonic()
    try:
        pid, exec_error = _spawn(
            worker, argv, env, {0: worker.devnull, 1: out_fd, 2: err_fd, 3: vw, 4: job_fd}, pairs
        )
        _close(job_fd)
        job_fd = None
        if exec_error:
            _close(vw)
            vw = None
            worker.kill_all(pid)
            _reap(pid)
            return _failure("infra", _exec_failed("", argv[0], exec_error), n, time.monotonic() - start)
        try:
            pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            pidfd = None
        if pidfd is not None:
            worker.poller.register(pidfd, select.POLLIN)
        _close(vw)
        vw = None
        sup = worker.supervise(pid, start + startup, timeout, total, n, nonce, vr, pidfd)
        pidfd = None  # supervise() unregistered and closed it
        worker.kill_all(None)
        cap = int(lim["output_bytes"])
        stdout, stderr = _read_capped(out_fd, cap), _read_capped(err_fd, cap)
        result = worker.verdicts(sup, n, time.monotonic() - start)
        markers = spec.get("oom_markers") or ()
        if markers and (result["status"] == "crashed" or any(t[0] == "crashed" for t in result["tests"])):
            tail = _read_capped(err_fd, 65536, tail=True)
            if any(m in tail for m in markers):
                _as_memory(result)
        result["stdout"], result["stderr"] = stdout, stderr
        return result
    finally:
        _close(vr, vw, out_fd, err_fd, job_fd, pidfd)
        worker.cleanup(pid)


def _as_memory(result: dict) -> None:
    """Turn ``crashed`` into ``memory``: the program died of memory exhaustion (its runtime said so)."""
    note = "out of memory (the memory limit was reached)"
    result["tests"] = [("memory", t[1], "", note) if t[0] == "crashed" else t for t in result["tests"]]
    if result["status"] == "crashed":
        result["status"] = "memory"
        msg = result.get("message", "")
        result["message"] = msg.split(":")[0] + ": " + note if msg.startswith("test ") else note
