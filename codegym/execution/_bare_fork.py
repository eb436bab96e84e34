"""The bare fork loop of the execution benchmark: a fresh process per program, and nothing else.

Run by :func:`codegym.execution.bench.run_bare_fork` as ``python -I -S _bare_fork.py MODULES`` in a
fresh interpreter (standard library only). It imports ``MODULES`` (comma-separated: what codegym's
workers pre-import), reads a JSON list of programs from one line of stdin, prints ``ready``, waits for
a line on stdin, then for each program compiles it, forks, ``exec``s it in the child and waits for the
child's exit. It prints a JSON object: ``passed`` (for each program, whether its child exited with
status 0), and the children's mean CPU seconds (``child_cpu_s``) and minor page faults
(``child_faults``), from ``getrusage(RUSAGE_CHILDREN)``.

This is the floor of any engine that runs each candidate in a fresh process forked from a warm
interpreter: no isolation, no limits, no deadline, no protected verdicts. Only the benchmark's own
trusted programs (HumanEval's canonical solutions and ``return None`` stubs) are run by it.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import resource
import sys


def main() -> None:
    """Run the loop described in the module docstring."""
    for name in sys.argv[1].split(","):
        if name:
            importlib.import_module(name)
    programs = json.loads(sys.stdin.readline())
    devnull = os.open(os.devnull, os.O_WRONLY)
    gc.collect()
    gc.freeze()  # as codegym's workers do: a collection in a child copies no frozen object
    print("ready", flush=True)
    sys.stdin.readline()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    passed = []
    for source in programs:
        code = compile(source, "<candidate>", "exec")
        pid = os.fork()
        if pid == 0:
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            try:
                exec(code, {"__name__": "__candidate__"})  # noqa: S102 - trusted programs (see above)
            except BaseException:  # noqa: BLE001
                os._exit(1)
            os._exit(0)
        passed.append(os.waitpid(pid, 0)[1] == 0)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    n = max(1, len(programs))
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    faults = after.ru_minflt - before.ru_minflt
    print(json.dumps({"passed": passed, "child_cpu_s": cpu / n, "child_faults": faults / n}), flush=True)


if __name__ == "__main__":
    main()
