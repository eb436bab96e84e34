"""The bare fork loop of the execution benchmark: a fresh process per program, and nothing else.

Run by :func:`codegym.execution.bench.run_bare_fork` as ``python -I -S _bare_fork.py MODULES FD
[--limits]`` in a fresh interpreter (standard library only). It imports ``MODULES``
(comma-separated: what codegym's workers pre-import; with ``--limits`` also what the tests import),
reads a JSON list of ``[code, tests]`` pairs from one line of stdin, compiles every pair's tests,
prints ``ready`` and waits for a line on stdin. Then it takes the index of the next pair to run
from the pipe ``FD`` (4 bytes each, shared with the other loops of the run, so that work is
balanced as in codegym's pool: whichever loop is free takes the next pair), compiles its code,
forks, ``exec``s the code and then the tests in one namespace in the child, and waits for the
child's exit, until the pipe is empty and closed. The tests are compiled before the clock starts,
as in codegym's run with the tests compiled ahead; the code, like codegym's candidates, in the
loop. It prints a JSON object: ``ran`` (the indices it ran), ``passed`` (for each, whether its
child exited with status 0), its own CPU seconds per candidate (``parent_cpu_s``: taking the index,
compiling, forking, waiting), and the children's mean CPU seconds (``child_cpu_s``) and minor page
faults (``child_faults``), from ``getrusage``.

This is the floor of any engine that runs each candidate in a fresh process forked from a warm
interpreter: no isolation, no limits, no deadline, no protected verdicts. Only the benchmark's own
trusted programs (HumanEval's canonical solutions and ``return None`` stubs) are run by it.

With ``--limits`` each child first takes the per-candidate steps of codegym's child (``zygote.py``)
that the execution engine's requirements imply, with codegym's default limits: a new session (so
that a timeout can kill its process group), stdin from ``/dev/null`` and every other descriptor
closed, ``RLIMIT_AS`` (the address space it inherits + 1 GiB), ``RLIMIT_CPU``, ``RLIMIT_FSIZE``,
``RLIMIT_CORE``, ``RLIMIT_NOFILE``, ``RLIMIT_MSGQUEUE`` and ``RLIMIT_MEMLOCK``, a private working
directory made before the clock starts, and, when the loop runs as root, an unprivileged uid and
gid of its own with ``RLIMIT_NPROC``. Each pair then carries a third element, the modules its code
imports, which the child imports before it drops its privileges (the new uid may not be allowed to
read the interpreter's library; codegym shows it to candidates through its mount namespace). Still
no namespaces, deadline, captured output or protected verdicts: the floor of a fresh process per
candidate limited as codegym limits it.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import resource
import sys

# Codegym's defaults (``Limits``): 1 GiB over the inherited address space, a CPU budget of the total
# timeout (3 s x (1 test + 2)) + 1 s, 16 MiB files, 16 processes. A uid no codegym worker uses.
_MEMORY = 1024 * 1024 * 1024
_CPU_S = 10
_FILE_SIZE = 16 * 1024 * 1024
_PROCESSES = 16
_UID = 1_899_999


def _limits() -> tuple[list, str, int | None]:
    """Return the children's (resource, (soft, hard)) pairs, their working directory and uid."""
    with open("/proc/self/statm") as f:
        vm = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    pairs = [
        (resource.RLIMIT_AS, (vm + _MEMORY, vm + _MEMORY)),
        (resource.RLIMIT_CPU, (_CPU_S, _CPU_S + 1)),
        (resource.RLIMIT_FSIZE, (_FILE_SIZE, _FILE_SIZE)),
        (resource.RLIMIT_CORE, (0, 0)),
        (resource.RLIMIT_NOFILE, (256, 256)),
        (resource.RLIMIT_MSGQUEUE, (0, 0)),
        (resource.RLIMIT_MEMLOCK, (0, 0)),
    ]
    uid = _UID if os.geteuid() == 0 else None
    # Not tempfile.mkdtemp: importing tempfile (and random, shutil...) would make every fork costlier.
    workdir = os.path.join(os.environ.get("TMPDIR") or "/tmp", f"codegym-bare-{os.urandom(8).hex()}")
    os.mkdir(workdir, 0o700)
    if uid is not None:
        pairs.append((resource.RLIMIT_NPROC, (_PROCESSES, _PROCESSES)))
        os.chown(workdir, uid, uid)
    return pairs, workdir, uid


def main() -> None:
    """Run the loop described in the module docstring."""
    for name in sys.argv[1].split(","):
        if name:
            importlib.import_module(name)
    queue = int(sys.argv[2])
    limited = "--limits" in sys.argv[3:]
    pairs = json.loads(sys.stdin.readline())
    tests = [compile(t, "<tests>", "exec") for _code, t, *_imports in pairs]
    devnull = os.open(os.devnull, os.O_RDWR)
    limits, workdir, uid = _limits() if limited else ([], "", None)
    setrlimit = resource.setrlimit
    gc.collect()
    gc.freeze()  # as codegym's workers do: a collection in a child copies no frozen object
    print("ready", flush=True)
    sys.stdin.readline()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    mine = resource.getrusage(resource.RUSAGE_SELF)
    ran, passed = [], []
    while True:
        # Reads of at most PIPE_BUF bytes are atomic: each loop gets whole indices, each index once.
        token = os.read(queue, 4)
        if not token:
            break
        i = int.from_bytes(token, "little")
        (source, _t, *imports), test = pairs[i], tests[i]
        code = compile(source, "<candidate>", "exec")
        pid = os.fork()
        if pid == 0:
            # Whatever fails here fails the program: the child must never return into the loop.
            try:
                if limited:
                    os.setsid()
                    os.dup2(devnull, 0)
                os.dup2(devnull, 1)
                os.dup2(devnull, 2)
                if limited:
                    os.closerange(3, 1024)
                    for res, value in limits:
                        setrlimit(res, value)
                    os.chdir(workdir)
                    for name in imports[0] if imports else ():
                        importlib.import_module(name)
                    if uid is not None:
                        os.setgroups([])
                        os.setresgid(uid, uid, uid)
                        os.setresuid(uid, uid, uid)
                ns = {"__name__": "__candidate__"}
                exec(code, ns)  # noqa: S102 - trusted programs (see above)
                exec(test, ns)  # noqa: S102
            except BaseException:  # noqa: BLE001
                os._exit(1)
            os._exit(0)
        ran.append(i)
        passed.append(os.waitpid(pid, 0)[1] == 0)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    mine_after = resource.getrusage(resource.RUSAGE_SELF)
    if workdir:
        os.rmdir(workdir)  # the programs write nothing (a leftover file makes this fail loudly)
    n = max(1, len(ran))
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    faults = after.ru_minflt - before.ru_minflt
    own = (mine_after.ru_utime + mine_after.ru_stime) - (mine.ru_utime + mine.ru_stime)
    out = {
        "ran": ran,
        "passed": passed,
        "parent_cpu_s": own / n,
        "child_cpu_s": cpu / n,
        "child_faults": faults / n,
    }
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
