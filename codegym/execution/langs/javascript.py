"""JavaScript programs: node runs ``_sandbox/harness.js``, which receives set-up, candidate and tests.

Nothing is compiled: the job (set-up, candidate, tests) reaches the harness on file descriptor 4 as JSON
after the nonce. Tests are JavaScript statements with node's ``assert`` in scope (a frozen copy held by
the harness), for example ``assert.deepStrictEqual(f(1), [1])`` or ``assert(isPrime(7))``; a test may
``await``. A failed assertion is ``failed``, any other exception ``error`` with its class name and
message.

Memory: node reserves far more virtual address space than it uses, so ``RLIMIT_AS`` cannot limit it.
The JavaScript heap is capped with ``--max-old-space-size=memory_mb`` and the process's private
writable memory with ``RLIMIT_DATA = memory_mb + 256 MiB`` (node itself needs about 50 MiB); running
out of either kills node with a "heap out of memory" message, which becomes ``memory``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from codegym.execution.results import Limits
from codegym.execution.toolchains import Toolchain, harness_path

NODE_FLAGS = ("--max-old-space-size={memory_mb}", "--v8-pool-size=1", "--no-warnings")
#: Allowance for node's start-up before the harness's first frame (no candidate code runs before it).
STARTUP_S = 10.0
OOM_MARKERS = (
    "JavaScript heap out of memory",
    "Fatal process out of memory",
    "Fatal JavaScript invalid size error",
    "Fatal process OOM",
)


def build(
    code: str, tests: Sequence[str], setup: str, entry_point: str, limits: Limits, toolchain: Toolchain
) -> tuple[dict, dict | None, list[str], str]:
    """Return ``(spec, compile, flags, source)`` for a JavaScript request (``compile`` is ``None``)."""
    job = json.dumps({"setup": setup, "code": code, "tests": list(tests)}, ensure_ascii=False)
    spec = {
        "n_tests": len(tests),
        "argv": [toolchain.binary, *NODE_FLAGS, harness_path("harness.js")],
        "input": job.encode("utf-8", "surrogatepass"),
        "data_extra_mb": 256,
        "as_extra_mb": None,
        "env": {"UV_THREADPOOL_SIZE": "1"},
        "startup_s": STARTUP_S,
        "oom_markers": list(OOM_MARKERS),
    }
    return spec, None, [], ""
