"""The harness's loop in C (``_runner.c``) and in Python (``run_candidate``) give the same verdicts."""

from __future__ import annotations

import importlib.util
import math
import random
import struct

import pytest

from codegym.execution import ExecutionRequest, Limits, SandboxExecutor

BUILT = importlib.util.find_spec("codegym.execution._sandbox._runner") is not None

ADD = "def f(x):\n    return x + 1"

# (code, tests, set-up, entry point): every phase, result code and message the harness sends.
CASES = {
    "pass_fail_error": (
        ADD,
        [
            "assert f(1) == 2",
            "assert f(1) == 3, 'nope é \\udc80'",
            "raise ValueError('v' * 1000)",
            "f(2) == 3",
        ],
        "",
        "f",
    ),
    "long_exception_name": (
        ADD,
        ["raise type('E' * 300, (Exception,), {})('x')", "assert f(1) == 2"],
        "",
        "",
    ),
    "non_str_class_name": (
        "class M(type):\n    __name__ = property(lambda c: 3)\nclass E(Exception, metaclass=M):\n    pass",
        ["raise E('y')"],
        "",
        "",
    ),
    "overridden_str": (
        "class E(Exception):\n    def __str__(self):\n        return 'forged'\ndef f():\n    raise E('real')",
        ["f()"],
        "",
        "",
    ),
    "str_raises": (
        "class E(Exception):\n    pass\ndef f():\n    raise E(type('S', (), {'__str__': 1})())",
        ["f()"],
        "",
        "",
    ),
    "exits_in_test": (ADD, ["import sys\nsys.exit(0)", "assert f(1) == 2"], "", ""),
    "memory_error": (ADD, ["raise MemoryError('m')", "assert f(1) == 2"], "", ""),
    "candidate_raises": ("raise KeyError('k')", ["assert f(1) == 2"], "", ""),
    "candidate_exits": ("raise SystemExit(0)", ["assert f(1) == 2"], "", ""),
    "syntax_error": ("def f(:\n    pass", ["assert f()"], "", ""),
    "test_does_not_compile": (ADD, ["assert f(1) == 2", "assert (", "assert f(1) == 2"], "", ""),
    "no_tests": (ADD, [], "", ""),
    "setup_binds_names": (
        "import math\ndef f(x):\n    return OFFSET + x",
        ["assert f(1) == 11", "assert math.floor(OFFSET / 3) == 3"],
        "import math\nOFFSET = 10",
        "f",
    ),
    "setup_fails": (ADD, ["assert f(1) == 2"], "import this_module_does_not_exist", ""),
    "rebinds_setup_name": (
        "def f(x):\n    global OFFSET\n    OFFSET = 0\n    return x",
        ["assert f(1) == 1", "assert OFFSET == 0"],
        "OFFSET = 10",
        "",
    ),
    "builtin_replaced": (
        "import builtins\nbuiltins.len = lambda x: 3\ndef f():\n    return []",
        ["assert len(f()) == 3"],
        "",
        "",
    ),
    "builtins_reordered": (
        "import builtins\nx = builtins.__dict__.pop('abs')\nbuiltins.abs = x\ndef f():\n    return 1",
        ["assert f() == 1"],
        "",
        "",
    ),
    "builtins_swapped": ("__builtins__ = {}\ndef f():\n    return 1", ["assert f() == 1"], "", ""),
    "module_attribute_replaced": (
        "import math\nmath.sqrt = lambda x: 2\ndef f():\n    return 1",
        ["import math\nassert math.sqrt(9) == 2"],
        "",
        "",
    ),
    "module_replaced_in_sys_modules": (
        "import sys, types\nsys.modules['math'] = types.ModuleType('math')\ndef f():\n    return 1",
        ["import math\nassert f() == 1"],
        "",
        "",
    ),
    "helper_replaced_later": (
        "def f(x):\n    g = globals()\n    for k in list(g):\n"
        "        if k.startswith('_') and callable(g[k]):\n            g[k] = lambda *a: True\n    return 0",
        ["assert f(1) == 0", "assert f(1) == 5"],
        "",
        "f",
    ),
    "trace_installed": (
        "import sys\nsys.settrace(lambda *a: None)\ndef f():\n    return 1",
        ["assert f() == 1"],
        "",
        "",
    ),
    "forks_and_both_go_on": (
        "import os\ndef f():\n    os.fork()\n    return 1",
        ["assert f() == 1", "assert f() == 2"],
        "",
        "",
    ),
    "prints": (
        "print('out')\nimport sys\nprint('err', file=sys.stderr)\ndef f():\n    return 1",
        ["assert f() == 1"],
        "",
        "",
    ),
    "closes_stdout": ("import sys\nsys.stdout.close()\ndef f():\n    return 1", ["assert f() == 1"], "", ""),
}

_STABLE_TESTS = ("outcome", "exception", "message")


def _run(compiled: str) -> tuple[str, dict]:
    """Run every case twice in one executor: the first time the forker keeps each case's new tests
    (in its C loop where built; in its Python loop for tests that import a module, or without the C
    loop), the second time it only forks (in C where built, the child building its job in C too);
    both passes must give the same verdicts."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CODEGYM_SANDBOX_COMPILED_HARNESS", compiled)
        with SandboxExecutor(workers=1, cache_size=0, limits=Limits(timeout_s=5.0)) as ex:
            reqs = [
                ExecutionRequest(code, tests, setup, entry_point=ep)
                for code, tests, setup, ep in CASES.values()
            ]
            first = ex.run_batch(reqs)
            second = ex.run_batch(reqs)
            loop = ex._workers[0].hello["harness"]
    for name, a, b in zip(CASES, first, second, strict=True):
        assert _verdicts(a) == _verdicts(b), name
    return loop, dict(zip(CASES, first, strict=True))


def _verdicts(r) -> tuple:
    return (
        r.status,
        r.message,
        r.stdout,
        r.stderr,
        [tuple(getattr(t, k) for k in _STABLE_TESTS) for t in r.tests],
    )


@pytest.fixture(scope="module")
def both() -> tuple[dict, dict]:
    c_loop, c = _run("1")
    py_loop, py = _run("0")
    assert c_loop == ("c" if BUILT else "python")
    assert py_loop == "python"
    return c, py


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_harness_loops_in_c_and_python_give_the_same_verdicts(both: tuple[dict, dict], name: str) -> None:
    assert _verdicts(both[0][name]) == _verdicts(both[1][name])


def test_what_the_harness_loop_reports(both: tuple[dict, dict]) -> None:
    """The verdicts themselves, for the cases whose outcome the loops must agree on for a reason."""
    c = both[0]
    first = c["pass_fail_error"].tests
    assert [t.outcome.value for t in first] == ["passed", "failed", "error", "passed"]
    assert first[1].message == "nope é \udc80".encode("utf-8", "replace").decode("utf-8", "replace")
    assert first[2].exception == "ValueError" and first[2].message == "v" * 397 + "..."
    assert c["long_exception_name"].tests[0].exception == "E" * 197 + "..."
    assert c["non_str_class_name"].tests[0].exception == "<exception>"
    assert c["overridden_str"].tests[0].message == "real"
    assert c["str_raises"].tests[0].message == ""
    assert [t.outcome.value for t in c["memory_error"].tests] == ["memory", "passed"]
    assert c["syntax_error"].status.value == "syntax_error"
    assert [t.outcome.value for t in c["test_does_not_compile"].tests] == ["passed", "infra", "passed"]
    assert c["no_tests"].status.value == "passed"
    assert c["setup_binds_names"].passed
    assert c["setup_fails"].status.value == "infra" and "set-up code failed" in c["setup_fails"].message
    for name, what in (
        ("rebinds_setup_name", "'OFFSET' was rebound"),
        ("builtin_replaced", "builtins.len was replaced"),
        ("builtins_reordered", "the builtins were reordered"),
        ("builtins_swapped", "__builtins__ was replaced"),
        ("module_attribute_replaced", "math.sqrt was replaced"),
        ("module_replaced_in_sys_modules", "module 'math' was replaced"),
        ("trace_installed", "a trace or profile function was installed"),
    ):
        assert what in c[name].message, (name, c[name].message)
        assert any(t.exception == "Tampering" for t in c[name].tests), name
    assert not c["helper_replaced_later"].passed
    assert [t.outcome.value for t in c["forks_and_both_go_on"].tests] == ["passed", "failed"]
    assert c["prints"].stdout == "out\n" and c["prints"].stderr == "err\n"
    assert c["closes_stdout"].passed


@pytest.mark.skipif(not BUILT, reason="_runner.c not built")
def test_the_compiled_loop_refuses_bad_arguments_before_running_anything() -> None:
    import builtins

    from codegym.execution._sandbox import _runner

    code = compile("x = 1", "<t>", "exec")
    good = [b"n" * 16, 3, None, code, [code], {}, frozenset(), (), ()]
    with pytest.raises(RuntimeError, match="before _runner.prepare"):
        _runner.run(*good)
    with pytest.raises(TypeError, match="takes a dict"):
        _runner.prepare([])
    with pytest.raises(KeyError, match="bsnap"):
        _runner.prepare({})
    state = dict.fromkeys(("bsnap", "bvalues", "guarded_code", "poisoned_values", "helper_values"), ())
    state.update(dict.fromkeys(("strict_compare", "sanitize_return", "sanitize_soft"), len))
    state.update(dict.fromkeys(("prefix_is", "functions_intact", "class_is", "gettrace", "getprofile"), len))
    state.update(cmp_name="a", ret_name="b", soft_name="c", poisoned=object, poisoned_bases=())
    state.update(helper_dict={}, builtins_module=builtins, sys_modules={})
    with pytest.raises(TypeError, match="bvalues must be a tuple"):
        _runner.prepare({**state, "bvalues": []})
    with pytest.raises(TypeError, match="builtins_module must be a module"):
        _runner.prepare({**state, "builtins_module": {}})
    _runner.prepare(state)  # only references kept: nothing runs until run()
    for i, bad, what in (
        (0, b"short", "nonce must be 16 bytes"),
        (1, -1, "fd must be a file descriptor"),
        (1, "3", "fd must be a file descriptor"),
        (2, "x = 1", "setup_code must be a code object or None"),
        (5, [], "preloaded must be a dict"),
        (7, (("a",),), "redirected must hold"),
        (5, {"m": (1,)}, "preloaded must map names"),
    ):
        args = list(good)
        args[i] = bad
        with pytest.raises(TypeError, match=what):
            _runner.run(*args)
    # A candidate in source form or a test that did not compile goes back to run_candidate.
    for i, other in ((3, "x = 1"), (4, [code, "assert ("]), (4, [None])):
        args = list(good)
        args[i] = other
        assert _runner.run(*args) is NotImplemented


# The worker's side of the frames: harness.parse_frames and its twin in _runner.c.

NONCE = bytes(range(16))


def _frame(
    kind: bytes, index: int, payload: bytes = b"", nonce: bytes = NONCE, plen: int | None = None
) -> bytes:
    from codegym.execution._sandbox import harness

    size = len(payload) if plen is None else plen
    return nonce + harness.HEADER.pack(kind, index, size) + payload


def _t(x: float) -> bytes:
    return struct.pack("<d", x)


def _end(index: int, code: bytes = b"P", dur: float = 0.5, text: bytes = b"\0") -> bytes:
    return _frame(b"E", index, code + _t(dur) + text)


_GOOD = (
    _frame(b"B", -2, _t(1.0))
    + _end(-2)
    + _frame(b"B", -1, _t(2.0))
    + _end(-1)
    + _frame(b"B", 0, _t(3.0))
    + _end(0, b"F", 0.25, "AssertionError\0nope é".encode())
    + _frame(b"B", 1, _t(4.0))
    + _end(1, b"E", -3.0, b"ValueError\0\xc3\0\xa9 \xff bad utf-8")
    + _frame(b"D", 0)
)

STREAMS = {
    "good": _GOOD,
    "good_then_more": _GOOD + _frame(b"B", 2, _t(5.0)),
    "wrong_nonce": _frame(b"B", -2, _t(1.0), nonce=b"x" * 16),
    "negative_length": _frame(b"B", -2, b"", plen=-1),
    "too_long": _frame(b"B", -2, b"", plen=3001),
    "partial_header": _GOOD[:10],
    "partial_payload": _GOOD[:30],
    "begin_out_of_order": _frame(b"B", 0, _t(1.0)),
    "begin_twice": _frame(b"B", -2, _t(1.0)) + _frame(b"B", -1, _t(1.0)),
    "begin_wrong_size": _frame(b"B", -2, _t(1.0) + b"x"),
    "end_without_begin": _end(-2),
    "end_other_phase": _frame(b"B", -2, _t(1.0)) + _end(-1),
    "end_too_short": _frame(b"B", -2, _t(1.0)) + _frame(b"E", -2, b"P" + b"\0" * 7),
    "end_no_text": _frame(b"B", -2, _t(1.0)) + _frame(b"E", -2, b"P" + _t(0.1)),
    "end_non_ascii_code": _frame(b"B", -2, _t(1.0)) + _end(-2, b"\xff"),
    "end_no_nul": _frame(b"B", -2, _t(1.0)) + _end(-2, b"E", 0.1, b"just a name"),
    "done_in_phase": _frame(b"B", -2, _t(1.0)) + _frame(b"D", 0),
    "after_done": _frame(b"D", 0) + _frame(b"B", -2, _t(1.0)),
    "unknown_kind": _frame(b"Z", 0),
    "nan_and_inf_times": _frame(b"B", -2, _t(float("nan"))) + _end(-2, b"P", float("inf")),
    "huge_index": _frame(b"B", -2, _t(1.0))
    + _end(-2)
    + _frame(b"B", -1, _t(1.0))
    + _end(-1)
    + _frame(b"B", 0, _t(1.0))
    + _end(0)
    + _frame(b"B", 1, _t(1.0))
    + _frame(b"E", 2**31 - 1, b"P" + _t(0.0)),
}


# Streams that are a valid beginning of a candidate's frames (nothing wrong in them yet).
_VALID_PREFIXES = (
    "partial_header",
    "partial_payload",
    "end_no_text",
    "end_no_nul",
    "end_non_ascii_code",
    "nan_and_inf_times",
)


def _parsers() -> list:
    from codegym.execution._sandbox import harness

    out = [pytest.param(harness.parse_frames, id="python")]
    if BUILT:
        from codegym.execution._sandbox import _runner

        out.append(pytest.param(_runner.parse_frames, id="c"))
    return out


def _fresh_state() -> dict:
    return {"results": {}, "expected": -2, "in_phase": None, "mark": 0.5, "done": False, "error": ""}


def _same(a, b) -> bool:
    """Equal, NaN included (the parsers keep a NaN begin time as it is). A time clamped to the parser's
    clock (a phase's end, the DONE frame) is read at a different moment by each parser: floats beyond
    1000 (the test's own times are small; the clock counts from boot) agree within a second, and
    durations clamped to the time since a clock reading within 10 ms."""
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) and math.isnan(b):
            return True
        return a == b or abs(a - b) <= (1.0 if max(abs(a), abs(b)) > 1000 else 0.01)
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


def _agree(a: tuple[dict, int], b: tuple[dict, int]) -> bool:
    """The same state and the same number of bytes read."""
    return a[1] == b[1] and _same(a[0], b[0])


def _parse_in_chunks(parse, stream: bytes, sizes: list[int]) -> tuple[dict, int]:
    """Feed ``stream`` in chunks of ``sizes`` (as pipe reads split it), as the worker's drain() does."""
    st, buf, left, read = _fresh_state(), bytearray(), 0, 0
    for n in sizes:
        buf.extend(stream[left : left + n])
        left += n
        used = parse(buf, NONCE, st)
        read += used
        del buf[:used]
    return st, read


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_the_frame_parsers_agree(name: str) -> None:
    from codegym.execution._sandbox import harness

    stream = STREAMS[name]
    whole = [len(stream)]
    bytewise = [1] * len(stream)
    for sizes in (whole, bytewise):
        outs = [_parse_in_chunks(p.values[0], stream, sizes) for p in _parsers()]
        for out in outs[1:]:
            assert _agree(out, outs[0]), (name, out, outs[0])
    st, _ = _parse_in_chunks(harness.parse_frames, stream, whole)
    if name == "good":
        assert not st["error"] and st["done"]
        assert st["results"][0] == ("F", 0.25, "AssertionError", "nope é")
        assert st["results"][1] == ("E", 0.0, "ValueError", "\ufffd\0\ufffd \ufffd bad utf-8")
    elif name in _VALID_PREFIXES:
        assert not st["error"]
    else:
        assert st["error"], name


def test_the_frame_parsers_agree_on_random_streams() -> None:
    """Seeded mutations of a good stream (flipped, dropped, repeated bytes), read in random chunks."""
    rng = random.Random(1234)
    parsers = [p.values[0] for p in _parsers()]
    for _ in range(400):
        data = bytearray(_GOOD)
        for _ in range(rng.randint(0, 3)):
            i = rng.randrange(len(data))
            op = rng.random()
            if op < 0.5:
                data[i] = rng.randrange(256)
            elif op < 0.75:
                del data[i]
            else:
                data[i:i] = data[i : i + rng.randint(1, 40)]
        sizes, left = [], len(data)
        while left > 0:
            sizes.append(min(left, rng.randint(1, 120)))
            left -= sizes[-1]
        outs = [_parse_in_chunks(p, bytes(data), sizes) for p in parsers]
        for out in outs[1:]:
            assert _agree(out, outs[0]), (bytes(data), out, outs[0])


@pytest.mark.skipif(not BUILT, reason="_runner.c not built")
def test_the_compiled_frame_parser_refuses_bad_arguments() -> None:
    from codegym.execution._sandbox import _runner

    with pytest.raises(TypeError, match="a bytearray, bytes and a dict"):
        _runner.parse_frames(b"", NONCE, _fresh_state())
    with pytest.raises(TypeError, match="st must hold"):
        _runner.parse_frames(bytearray(), NONCE, {})
