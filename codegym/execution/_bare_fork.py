"""The bare fork loop of the execution benchmark: a fresh process per program, and nothing else.

Run by :func:`codegym.execution.bench.run_bare_fork` as ``python -I -S _bare_fork.py MODULES`` in a
fresh interpreter (standard library only). It imports ``MODULES`` (comma-separated: what codegym's
workers pre-import), reads a JSON list of ``[code, tests]`` pairs from one line of stdin, compiles
every pair's tests, prints ``ready`` and waits for a line on stdin. Then for each pair it compiles
the code, forks, ``exec``s the code and then the tests in one namespace in the child, and waits for
the child's exit. The tests are compiled before the clock starts, as in codegym's run with the
tests compiled ahead; the code, like codegym's candidates, in the loop. It prints a JSON object:
``passed`` (for each pair, whether its child exited with status 0), and the children's mean CPU
seconds (``child_cpu_s``) and minor page faults (``child_faults``), from
``getrusage(RUSAGE_CHILDREN)``.

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
    pairs = json.loads(sys.stdin.readline())
    tests = [compile(t, "<tests>", "exec") for _code, t in pairs]
    devnull = os.open(os.devnull, os.O_WRONLY)
    gc.collect()
    gc.freeze()  # as codegym's workers do: a collection in a child copies no frozen object
    print("ready", flush=True)
    sys.stdin.readline()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    passed = []
    for (source, _t), test in zip(pairs, tests, strict=True):
        code = compile(source, "<candidate>", "exec")
        pid = os.fork()
        if pid == 0:
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            ns = {"__name__": "__candidate__"}
            try:
                exec(code, ns)  # noqa: S102 - trusted programs (see above)
                exec(test, ns)  # noqa: S102
            except BaseException:  # noqa: BLE001
                os._exit(1)
            os._exit(0)
        passed.append(os.waitpid(pid, 0)[1] == 0)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    n = max(1, len(pairs))
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    faults = after.ru_minflt - before.ru_minflt
    print(json.dumps({"passed": passed, "child_cpu_s": cpu / n, "child_faults": faults / n}), flush=True)


if __name__ == "__main__":
    main()
