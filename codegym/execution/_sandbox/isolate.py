"""Stage 1 of a sandbox worker: isolate the process once, before the lean worker (stage 2) starts.

Uses ``ctypes`` for ``unshare``, ``mount`` and ``prctl``; the worker ``exec``s a fresh interpreter for
stage 2 afterwards, so none of this (nor ``ctypes``) stays in the process that forks candidates.

* Namespaces: new PID, network, mount, IPC and UTS namespaces (with a user namespace when not root, or
  when root lacks ``CAP_SYS_ADMIN``). After ``unshare`` the process forks: the child is PID 1 of the new PID
  namespace and goes on to become the worker; the parent stays as a small shim that waits for it and
  exits with its status. The worker has ``PR_SET_PDEATHSIG = SIGKILL``, so killing the shim kills the
  worker, and the death of a PID namespace's init kills every process in it.
* Mounts (private mount namespace): fresh tmpfs on ``/tmp``, ``/var/tmp`` and ``/dev/shm``; directories
  that other users cannot traverse but that hold the interpreter (``/root/.pyenv``...) are replaced by
  an empty tmpfs showing only the interpreter; every other mount is remounted read-only; a fresh
  ``/proc`` shows only the namespace's processes.
* ``PR_SET_NO_NEW_PRIVS`` (inherited by every candidate: setuid binaries cannot raise privileges).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

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


_libc = None


def libc():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def prctl(option: int, arg: int) -> bool:
    return libc().prctl(option, ctypes.c_ulong(arg), 0, 0, 0) == 0


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


#: Toolchain directories (a Rust sysroot under ``/root/.rustup``...) that candidates must reach as well;
#: filled from ``cfg["toolchain_paths"]`` by :func:`isolate`.
TOOLCHAIN_PATHS: list[str] = []


def needed_paths() -> list[str]:
    """Directories candidates must be able to read: the interpreter (stdlib, site-packages), toolchains."""
    paths = {sys.base_prefix, sys.prefix, sys.exec_prefix, os.path.dirname(sys.executable)}
    paths.update(TOOLCHAIN_PATHS)
    paths.update(p for p in sys.path if p)
    # The worker re-executes its own script after the mounts are in place.
    paths.add(os.path.dirname(os.path.abspath(__file__)))
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


def hide_path(path: str) -> bool:
    """Make ``path`` look empty: an empty tmpfs over a directory, ``/dev/null`` over a file."""
    lc = libc()
    try:
        is_dir = os.path.isdir(path)
        if not is_dir and not os.path.isfile(path):
            return False
    except OSError:
        return False
    if is_dir:
        flags = ctypes.c_ulong(MS_NOSUID | MS_NODEV | MS_NOEXEC)
        return lc.mount(b"tmpfs", path.encode(), b"tmpfs", flags, b"size=4k,mode=555") == 0
    return lc.mount(b"/dev/null", path.encode(), None, ctypes.c_ulong(MS_BIND), None) == 0


def mount_private_dirs(
    tmpfs_mb: int, drop_uid: bool, hide: list[str] | None = None, home_dir: str = ""
) -> list[str]:
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
    if "/tmp" in tmpdirs:
        if drop_uid:
            # Directories the sandbox uid cannot traverse but that hold the interpreter.
            blocked = hidden_ancestors(needed_paths())
        else:
            # Candidates keep our uid: hide our home directory (keys, tokens, ~/.netrc...), showing
            # only the parts of it the interpreter needs.
            blocked = {}
            home = os.path.realpath(home_dir) if home_dir else ""
            if home and home != "/" and os.path.isdir(home):
                blocked[home] = [p for p in needed_paths() if p.startswith(home + "/")]
                keep: list[str] = []
                for p in sorted(blocked[home]):
                    if not any(p.startswith(k + "/") for k in keep):
                        keep.append(p)
                blocked[home] = keep
        if blocked:
            failures = expose(blocked, "/tmp/.codegym-stage")
            done.append(
                "hidden: " + ", ".join(sorted(blocked)) + (f" ({failures} failures)" if failures else "")
            )
    hidden = []
    for path in hide or ():
        if hide_path(path):
            hidden.append(path)
    if hidden:
        done.append("answer keys hidden: " + ", ".join(hidden))
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


def isolate(cfg: dict, host_fds: tuple[int, ...]) -> dict:
    """Apply the isolation ``cfg["isolation"]`` asks for; return what is active (for stage 2).

    Returns a dict with ``features`` (list of words for humans), ``pid_ns``, ``mount_ns``, ``user_ns``
    and ``run_uid`` (the uid candidates run as, or ``None`` to keep the current one).

    Raises:
        RuntimeError: If ``isolation="namespace"`` and namespaces are unavailable.

    """
    mode = cfg.get("isolation", "auto")
    is_root = os.geteuid() == 0
    info = {"features": [], "pid_ns": False, "mount_ns": False, "user_ns": False, "run_uid": None}
    features = info["features"]
    want_uid = cfg.get("uid") if is_root else None
    if mode in ("auto", "namespace"):
        ok = False
        if is_root and not cfg.get("force_user_ns"):
            ok = try_unshare(use_user=False)
        if not ok:
            try:
                ok = try_unshare(use_user=True)
                info["user_ns"] = ok
            except OSError:
                ok = False
        if ok:
            become_pid1(keep_fds=host_fds)
            info["pid_ns"] = info["mount_ns"] = True
            if info["user_ns"]:
                features.append("user+pid+net+mount+ipc namespaces")
                want_uid = None
            else:
                features.append("pid+net+mount+ipc namespaces")
            features.append("no network")
            # Only with a private mount namespace can toolchains under unreadable directories be shown.
            TOOLCHAIN_PATHS[:] = [str(p) for p in cfg.get("toolchain_paths") or ()]
            try:
                features += mount_private_dirs(
                    int(cfg.get("tmpfs_mb", 256)),
                    want_uid is not None,
                    list(cfg.get("hide_paths") or []),
                    home_dir=str(cfg.get("home") or ""),
                )
            except OSError as exc:
                features.append(f"mount set-up failed: {exc}")
        elif mode == "namespace":
            raise RuntimeError(
                "Linux namespaces are not available here (unshare failed even with a user namespace); "
                "use SandboxExecutor(isolation='process') or 'auto'"
            )
    if not info["pid_ns"]:
        features.append("process isolation (no namespaces, network reachable)")
        prctl(PR_SET_CHILD_SUBREAPER, 1)
    if want_uid is not None:
        info["run_uid"] = int(want_uid)
        blocked = hidden_ancestors(needed_paths()) if not info["mount_ns"] else {}
        if blocked:
            info["restricted_imports"] = True
            # Without a mount namespace the interpreter under e.g. /root cannot be shown to another uid:
            # candidates can import only the modules the worker pre-imported. Running them as root
            # instead would let os.kill(-1, 9) take down every process on the machine.
            features.append(
                f"unprivileged uid {want_uid} (the interpreter under {', '.join(sorted(blocked))} is "
                "unreadable to it: only pre-imported modules can be imported)"
            )
        else:
            features.append(f"unprivileged uid {want_uid}")
    elif info["user_ns"]:
        drop_capabilities()
        features.append("no capabilities")
    else:
        features.append(f"same uid as host ({os.getuid()})")
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    features.append("no-new-privileges")
    features.append("rlimits (address space, CPU, file size, processes, open files)")
    return info
