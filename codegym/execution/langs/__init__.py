"""Program builders of the languages beyond Python: a request becomes a harness program for the worker.

Each builder returns what the sandbox worker (``_sandbox/external.py``) needs: the argv of the program
to run, the bytes it reads on file descriptor 4 after the nonce, its memory policy, and for compiled
languages the compile step (source files, compiler argv). :func:`prepare` adds the limits of the compile
step and, when the :class:`~codegym.execution.toolchains.BuildCache` already holds the compiled program,
the artifact itself instead of the compile step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from codegym.execution.langs import cpp, javascript, rust
from codegym.execution.results import Limits
from codegym.execution.toolchains import BuildCache, build_key, find_toolchain

BUILDERS: dict[str, Callable] = {"javascript": javascript.build, "cpp": cpp.build, "rust": rust.build}


def prepare(
    language: str,
    code: str,
    tests: Sequence[str],
    setup: str,
    entry_point: str,
    limits: Limits,
    cache: BuildCache | None,
) -> tuple[dict, str | None, bool]:
    """Return ``(spec, build_key, compiling)`` for one request of ``language`` (its canonical name).

    ``spec["compile"]`` is set when the program must be compiled; ``spec["artifact"]`` when the build
    cache already has it. ``build_key`` is ``None`` for interpreted languages.

    Raises:
        ToolchainMissing: The language's toolchain is not installed.

    """
    toolchain = find_toolchain(language)
    spec, compile_spec, flags, source = BUILDERS[language](code, tests, setup, entry_point, limits, toolchain)
    if compile_spec is None:
        return spec, None, False
    key = build_key(language, toolchain, flags, source)
    artifact = cache.get(key) if cache is not None else None
    if artifact is not None:
        spec["artifact"] = artifact
        return spec, key, False
    compile_spec.update(
        timeout_s=float(limits.compile_timeout_s),
        # Compilers of untrusted input run in the sandbox too, with limits of their own size: template
        # bombs and huge constant tables are stopped, ordinary programs are not.
        data_mb=max(2048, 2 * int(limits.memory_mb)),
        fsize_mb=max(int(limits.file_size_mb), 256),
        nproc=max(int(limits.max_processes), 32),
    )
    spec["compile"] = compile_spec
    return spec, key, True


__all__ = ["BUILDERS", "prepare"]
