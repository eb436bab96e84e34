"""The in-child test harness: runs set-up, candidate and tests, and reports verdicts to the worker.

Runs in the forked child after its privileges have been dropped. Verdicts travel on a dedicated pipe as
frames that start with a random per-candidate nonce; the worker (``zygote.py``) enforces the deadlines
and treats any missing, out-of-order or unauthenticated frame as a crash, never as a pass.

Everything the harness needs is bound before the candidate runs (local variables and closures), so a
candidate that patches ``builtins``, ``AssertionError``, ``sys.exit``, ``print`` or ``os`` does not change
the harness. What the harness cannot stop is a candidate that inspects the interpreter (``gc``, frames) to
find the nonce or the harness's objects: the process boundary and the OS isolation are what protect the
host; see ``docs/execution.md``.
"""

from __future__ import annotations

import builtins
import numbers
import operator
import posix
import struct
import sys
import time
import types

# Frame layout shared with zygote.py: nonce, kind (1 byte), index (signed 32 bit), payload length.
HEADER = struct.Struct("<cih")
TIME = struct.Struct("<d")  # BEGIN: time.monotonic() at the start; END: duration of the phase
NONCE_BYTES = 16
MAX_PAYLOAD = 3000  # a frame, with the short one written with it, stays below PIPE_BUF (4096): atomic

K_BEGIN, K_END, K_DONE = b"B", b"E", b"D"
# Per-phase result codes (first byte of an END payload).
R_PASS, R_FAIL, R_ERROR, R_MEMORY, R_SYNTAX, R_INFRA = b"P", b"F", b"E", b"M", b"X", b"I"
PHASE_SETUP, PHASE_CODE = -2, -1

_SCALARS = frozenset({int, float, complex, bool, str, bytes, type(None)})
_CONTAINERS = frozenset({list, tuple, dict, set, frozenset})
_BUILTIN_BASES = (bool, int, float, complex, str, bytes, list, tuple, dict, set, frozenset)
_HEAPTYPE = 1 << 9
# Operators through which a Python-level class could make one object compare or compute "equal" to any
# expected value. A returned object whose class implements one of these in Python is not trusted.
_FORGEABLE = (
    "__eq__",
    "__ne__",
    "__lt__",
    "__le__",
    "__gt__",
    "__ge__",
    "__contains__",
    "__add__",
    "__radd__",
    "__sub__",
    "__rsub__",
    "__mul__",
    "__rmul__",
    "__truediv__",
    "__rtruediv__",
    "__floordiv__",
    "__rfloordiv__",
    "__mod__",
    "__rmod__",
    "__pow__",
    "__rpow__",
    "__abs__",
    "__neg__",
    "__pos__",
    "__round__",
    "__and__",
    "__rand__",
    "__or__",
    "__ror__",
    "__xor__",
    "__rxor__",
    # For subclasses of builtin types: hooks that change what builtin operations see.
    "__len__",
    "__bool__",
    "__iter__",
    "__getitem__",
    "__hash__",
    "__index__",
    "__int__",
    "__float__",
    "__complex__",
)
_FAIL = object()
STRICT, POISON, SOFT = 0, 1, 2
_FunctionType = types.FunctionType
_MethodType = types.MethodType
_isinstance = isinstance
_map = map
_type = type
_len = len
_getattr = getattr
_tuple = tuple
_list = list
_dict = dict
_set = set
_frozenset = frozenset
_int = int
_float = float
_complex = complex
_str = str
_bytes = bytes
_bool = bool
_Number = numbers.Number
_Integral = numbers.Integral
_Real = numbers.Real
_Complex = numbers.Complex
_all = all
_sorted = sorted
_is = operator.is_
_values = dict.values

try:  # the same checks in C (``_identity.c``), built with the package where a C compiler is available
    import _identity as _c_identity
except ImportError:
    _c_identity = None
try:  # run_candidate's loop in C (``_runner.c``), built the same way
    import _runner as _c_runner
except ImportError:
    _c_runner = None


_C_CALLABLES = (
    types.WrapperDescriptorType,
    types.MethodDescriptorType,
    types.BuiltinFunctionType,
    types.MethodWrapperType,
    types.ClassMethodDescriptorType,
)


def _python_operators(t) -> bool:
    """Tell whether type ``t`` implements a forgeable operator with anything but C code."""
    mro = t.__mro__
    for name in _FORGEABLE:
        for klass in mro:
            attr = klass.__dict__.get(name, _FAIL)
            if attr is _FAIL:
                continue
            if attr is not None and not _isinstance(attr, _C_CALLABLES):
                return True  # a Python function, lambda, partial, custom descriptor...
            break
    return False


def _to_builtin(x, t):
    """Convert an instance of a subclass of a builtin type to the builtin type, using the C methods."""
    if _isinstance(x, _int):
        return _int.__int__(x)
    if _isinstance(x, _float):
        return _float.__float__(x)
    if _isinstance(x, _complex):
        return _complex(_complex.real.__get__(x), _complex.imag.__get__(x))
    if _isinstance(x, _str):
        return _str.__str__(x)
    if _isinstance(x, _bytes):
        return _bytes.__bytes__(x)
    if _isinstance(x, _tuple):
        return _tuple(_tuple.__iter__(x))
    if _isinstance(x, _list):
        return _list(_list.__iter__(x))
    if _isinstance(x, _dict):
        return _dict(_dict.items(x))
    if _isinstance(x, _frozenset):
        return _frozenset(_frozenset.__iter__(x))
    if _isinstance(x, _set):
        return _set(_set.__iter__(x))
    return _FAIL


def normalize(x, mode: int, depth: int = 0):
    """Return ``x`` made of builtin values, ``x`` itself when nothing needs converting.

    Subclasses of builtin types become the builtin types (their overridden methods are bypassed);
    containers are converted recursively; objects of C-implemented types (numpy, ``deque``, ``range``,
    iterators...) are kept, since their comparison is C code the candidate cannot change. Objects whose
    class implements comparison or arithmetic in Python are:

    * ``mode=STRICT`` (comparisons): converted to ``int``/``float``/``complex`` if they are
      :class:`numbers.Number` instances (a conversion has to produce the expected value to pass, which an
      always-equal object cannot know), else reported as ``_FAIL``;
    * ``mode=POISON`` (values the entry point returns): kept if they are numbers (``Fraction``), else
      replaced by a :class:`Poisoned` object whose every operator raises;
    * ``mode=SOFT`` (values other candidate functions return): kept.
    """
    t = _type(x)
    if t in _SCALARS:
        return x
    if depth > 200:
        raise RecursionError("value nested too deeply to compare")
    if t is _list or t is _tuple:
        if _set(_map(_type, x)) <= _SCALARS:
            return x  # the common case, checked in C
        out = None
        for i, e in enumerate(x):
            if _type(e) in _SCALARS:
                continue
            n = normalize(e, mode, depth + 1)
            if n is _FAIL:
                return _FAIL
            if n is not e:
                if out is None:
                    out = _list(x)
                out[i] = n
        if out is None:
            return x
        return out if t is _list else _tuple(out)
    if t is _dict:
        if _set(_map(_type, _dict.keys(x))) <= _SCALARS and _set(_map(_type, _dict.values(x))) <= _SCALARS:
            return x
        out = None
        for k, v in _dict.items(x):
            nk = k if _type(k) in _SCALARS else normalize(k, mode, depth + 1)
            nv = v if _type(v) in _SCALARS else normalize(v, mode, depth + 1)
            if nk is _FAIL or nv is _FAIL:
                return _FAIL
            if nk is not k or nv is not v:
                out = {}
                break
        if out is None:
            return x
        for k, v in _dict.items(x):
            nk = normalize(k, mode, depth + 1)
            nv = normalize(v, mode, depth + 1)
            if nk is _FAIL or nv is _FAIL:
                return _FAIL
            out[nk] = nv
        return out
    if t is _set or t is _frozenset:
        if _set(_map(_type, x)) <= _SCALARS:
            return x
        changed = False
        items = []
        for e in x:
            n = e if _type(e) in _SCALARS else normalize(e, mode, depth + 1)
            if n is _FAIL:
                return _FAIL
            changed = changed or n is not e
            items.append(n)
        return t(items) if changed else x
    if _isinstance(x, _BUILTIN_BASES):
        base = _to_builtin(x, t)
        inner = normalize(base, mode, depth + 1)
        if inner is base and not _python_operators(t):
            return x  # a subclass that changes no operator (a namedtuple...) holding plain values: keep it
        return inner
    if t.__flags__ & _HEAPTYPE == 0 or not _python_operators(t):
        return x  # C-implemented type (numpy, deque, range...) or no Python-level operators
    if _isinstance(x, _Number):
        if mode != STRICT:
            return x
        if _isinstance(x, _Integral):
            n = _int(x)
        elif _isinstance(x, _Real):
            n = _float(x)
        elif _isinstance(x, _Complex):
            n = _complex(x)
        else:
            return _FAIL
        return normalize(n, mode, depth + 1) if _type(n) not in _SCALARS else n
    if mode == STRICT:
        return _FAIL
    return Poisoned(t.__name__) if mode == POISON else x


class Poisoned:
    """Stands in for a returned object whose class defines comparison/arithmetic in Python.

    Every operator raises ``TypeError``: such objects are how reward hacks forge ``==`` or
    ``abs(x - y) < eps``, and real solutions to the benchmark tasks return builtin values.
    """

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        object.__setattr__(self, "_name", name)

    def _refuse(self, *args, **kwargs):
        raise TypeError(
            f"codegym: the candidate returned a {object.__getattribute__(self, '_name')} object whose "
            "operators are defined in Python; tests only accept builtin values for it"
        )

    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __bool__ = __len__ = __iter__ = _refuse
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = _refuse
    __floordiv__ = __rfloordiv__ = __mod__ = __rmod__ = __pow__ = __rpow__ = __abs__ = __neg__ = _refuse
    __pos__ = __round__ = __float__ = __int__ = __index__ = __contains__ = __getitem__ = __hash__ = _refuse
    __and__ = __rand__ = __or__ = __ror__ = __xor__ = __rxor__ = __getattr__ = _refuse

    def __repr__(self) -> str:
        return f"<untrusted {object.__getattribute__(self, '_name')} object>"


def _eq(a, b):
    ta = _type(a)
    if ta is _type(b) and ta in _SCALARS:
        return a == b
    na = normalize(a, STRICT)
    nb = normalize(b, STRICT)
    if na is _FAIL and nb is _FAIL:
        return a == b  # both sides are objects with Python-level operators: ordinary semantics
    if na is _FAIL or nb is _FAIL:
        return False
    return na == nb


def strict_compare(op: int, a, b):
    """Compare like ``==``/``!=``/``in``/``not in`` (op 0-3) without trusting Python-level operators."""
    if op == 0:
        return _eq(a, b)
    if op == 1:
        r = _eq(a, b)
        return (not r) if _type(r) is _bool else (a != b)
    container, item = b, a
    nc = normalize(container, STRICT)
    ni = normalize(item, STRICT)
    if nc is _FAIL and ni is _FAIL:
        found = item in container
    elif nc is _FAIL or ni is _FAIL:
        found = False
    else:
        found = ni in nc
    return found if op == 2 else not found


def sanitize_return(value):
    """Sanitize a value the candidate's entry point returned (rewritten tests wrap each call)."""
    if _type(value) in _SCALARS:
        return value
    return normalize(value, POISON)


def sanitize_soft(value):
    """Turn builtin subclasses into builtin types in a value another candidate function returned."""
    if _type(value) in _SCALARS:
        return value
    return normalize(value, SOFT)


# --------------------------------------------------------------------------------------------------
# Integrity checks by identity. ``_identity.c`` has the same three; they read borrowed references, so
# they write nothing (here every comparison takes a reference, a write to the object's page, which a
# forked child must copy).


def prefix_is(d: dict, values: tuple) -> bool:
    """Whether ``d`` has at least ``len(values)`` entries, the first of them ``values``' objects in order."""
    return _len(d) >= _len(values) and _all(_map(_is, values, _values(d)))


def functions_intact(guarded: tuple) -> bool:
    """Whether each (function, code, defaults, kwdefaults) of ``guarded`` still holds."""
    for f, c, d, kd in guarded:
        if f.__code__ is not c or f.__defaults__ is not d or f.__kwdefaults__ is not kd:
            return False
    return True


def class_is(cls: type, values: tuple, bases: tuple) -> bool:
    """Whether ``cls`` has exactly ``values``' objects, in order, as its own attributes, and ``bases``."""
    d = cls.__dict__
    return _len(d) == _len(values) and cls.__bases__ is bases and _all(_map(_is, values, d.values()))


# --------------------------------------------------------------------------------------------------
# The harness proper.


def _short(text: str, limit: int = 400) -> str:
    text = text if _type(text) is _str else "<message unavailable>"
    return text if _len(text) <= limit else text[: limit - 3] + "..."


_PREPARED: dict = {}


def prepare(
    helper_names: tuple[str, str, str, str], compiled_checks: bool = True, compiled_runner: bool = True
) -> None:
    """Build, in the worker before it forks, everything the harness needs that does not change.

    Done once instead of in every child: whatever a child allocates or touches costs it copy-on-write
    page faults, the largest part of its start-up time. ``compiled_checks``: use the integrity checks
    of ``_identity.c`` where it was built (``checks_in_c()`` tells), else those of this module.
    ``compiled_runner``: :func:`run_job` runs the harness's loop of ``_runner.c`` where it was built
    (``runner_in_c()`` tells), else :func:`run_candidate`.
    """
    module = globals()
    # The test helpers sit in the candidate's namespace, and a function leads to its globals
    # (``__globals__``). So the helpers (and the stand-in class's methods) get a dictionary of their
    # own holding exactly what they use, builtins included, which the harness checks around every
    # test; and the harness itself runs with a private copy of this module's globals and of the
    # builtins, so that nothing its checks use can be rebound.
    names = ("strict_compare", "sanitize_return", "sanitize_soft", "normalize", "_eq")
    names += ("_python_operators", "_to_builtin", "_short")
    methods = _tuple((k, v) for k, v in Poisoned.__dict__.items() if _isinstance(v, types.FunctionType))
    originals = _set(v for _k, v in methods) | {module[n] for n in names}  # methods share functions
    codes = [f.__code__ for f in originals]
    bdict = builtins.__dict__
    own: dict = {"__builtins__": {}}  # everything they use is in here
    for n in _sorted(_global_names(codes)):
        if n in module:
            own[n] = module[n]
        elif n in bdict:
            own[n] = bdict[n]
    rebuilt = {f: _rebind(f, own) for f in originals}
    for n in names:
        module[n] = own[n] = rebuilt[module[n]]
    for k, v in methods:
        type.__setattr__(Poisoned, k, rebuilt[v])
    helpers = _tuple(rebuilt.values())
    bsnap = _tuple(bdict.items())
    _PREPARED.update(
        helper_names=_tuple(helper_names),
        bsnap=bsnap,
        bvalues=_tuple(v for _k, v in bsnap),
        bdict_snap=_dict(bsnap),
        guarded_code=_tuple((f, f.__code__, f.__defaults__, f.__kwdefaults__) for f in helpers),
        poisoned_values=_tuple(Poisoned.__dict__.values()),
        poisoned_bases=Poisoned.__bases__,
        helper_dict=own,
        helper_values=_tuple(own.values()),
    )
    private = _dict(module)
    private["__builtins__"] = _dict(bdict)
    if compiled_checks and _c_identity is not None:
        c = _c_identity
        _PREPARED["checks"] = (c.prefix_is, c.functions_intact, c.class_is)
    else:
        _PREPARED["checks"] = _tuple(_rebind(f, private) for f in (prefix_is, functions_intact, class_is))
    module["run_candidate"] = private["run_candidate"] = _rebind(module["run_candidate"], private)
    _PREPARED["runner"] = None
    _PREPARED["parser"] = parse_frames
    if compiled_runner and _c_runner is not None:
        p = _PREPARED
        cmp_name, ret_name, soft_name, _prefix = p["helper_names"]
        prefix_is_, functions_intact_, class_is_ = p["checks"]
        _c_runner.prepare(
            {
                "bsnap": p["bsnap"],
                "bvalues": p["bvalues"],
                "cmp_name": cmp_name,
                "ret_name": ret_name,
                "soft_name": soft_name,
                "strict_compare": module["strict_compare"],
                "sanitize_return": module["sanitize_return"],
                "sanitize_soft": module["sanitize_soft"],
                "guarded_code": p["guarded_code"],
                "poisoned": Poisoned,
                "poisoned_values": p["poisoned_values"],
                "poisoned_bases": p["poisoned_bases"],
                "helper_dict": p["helper_dict"],
                "helper_values": p["helper_values"],
                "prefix_is": prefix_is_,
                "functions_intact": functions_intact_,
                "class_is": class_is_,
                "builtins_module": builtins,
                "sys_modules": sys.modules,
                "gettrace": sys.gettrace,
                "getprofile": sys.getprofile,
            }
        )
        _PREPARED["runner"] = _c_runner.run
        _PREPARED["parser"] = _c_runner.parse_frames


def checks_in_c() -> bool:
    """Whether the prepared harness checks with ``_identity.c`` (after :func:`prepare`)."""
    return _type(_PREPARED["checks"][0]) is not _FunctionType


def runner_in_c() -> bool:
    """Whether :func:`run_job` runs the loop of ``_runner.c`` (after :func:`prepare`)."""
    return _PREPARED.get("runner") is not None


def frame_parser():
    """Return the worker's verdict frame parser: :func:`parse_frames`, or its twin in ``_runner.c``."""
    return _PREPARED.get("parser", parse_frames)


def parse_frames(buf: bytearray, nonce: bytes, st: dict) -> int:
    """Read the complete verdict frames at the start of ``buf`` (the worker's side); return the bytes read.

    ``st`` holds what the frames said so far and is updated in place: ``results`` (phase index ->
    (result code, duration, exception name, message)), ``expected`` (the next phase to begin),
    ``in_phase`` (the phase begun and not ended, or None), ``mark`` (when it began, or the last one
    ended, on ``time.monotonic()``'s clock), ``done`` and ``error`` (what was wrong, then nothing more
    is read). Only a complete, in-order sequence of frames that carry the candidate's nonce counts; a
    phase's begin time and duration are clamped to what the worker's own clock allows.
    """
    hsize = NONCE_BYTES + HEADER.size
    tsize = TIME.size
    pos = 0
    while not st["error"] and _len(buf) - pos >= hsize:
        if buf[pos : pos + NONCE_BYTES] != nonce:
            st["error"] = "unauthenticated data on the verdict channel"
            break
        kind, index, plen = HEADER.unpack_from(buf, pos + NONCE_BYTES)
        if plen < 0 or plen > MAX_PAYLOAD:
            st["error"] = "malformed verdict frame"
            break
        if _len(buf) - pos < hsize + plen:
            break
        payload = _bytes(buf[pos + hsize : pos + hsize + plen])
        pos += hsize + plen
        now = time.monotonic()
        if st["done"]:
            st["error"] = "verdict frame after the end"
        elif kind == K_BEGIN:
            if st["in_phase"] is not None or index != st["expected"] or plen != tsize:
                st["error"] = "verdict frames out of order"
            else:
                (t,) = TIME.unpack(payload)
                st["in_phase"] = index
                st["mark"] = min(max(t, st["mark"]), now)
        elif kind == K_END:
            if st["in_phase"] != index or plen < 1 + tsize:
                st["error"] = "verdict frames out of order"
            else:
                code = payload[:1].decode("ascii", "replace")
                (dur,) = TIME.unpack_from(payload, 1)
                exc, _, msg = payload[1 + tsize :].decode("utf-8", "replace").partition("\0")
                dur = min(max(dur, 0.0), max(0.0, now - st["mark"]))
                st["results"][index] = (code, dur, exc, msg)
                st["in_phase"] = None
                st["expected"] = index + 1 if index != PHASE_SETUP else PHASE_CODE
                st["mark"] = min(st["mark"] + dur, now)
        elif kind == K_DONE:
            if st["in_phase"] is not None:
                st["error"] = "verdict frames out of order"
            else:
                st["done"] = True
                st["mark"] = now
        else:
            st["error"] = "unknown verdict frame"
    return pos


def _rebind(f, namespace: dict):
    """Return a copy of function ``f`` that reads its globals (and builtins) from ``namespace``."""
    g = types.FunctionType(f.__code__, namespace, f.__name__, f.__defaults__, f.__closure__)
    g.__kwdefaults__ = f.__kwdefaults__
    g.__doc__ = f.__doc__
    g.__qualname__ = f.__qualname__
    return g


def snapshot(module) -> tuple:
    """Return (``module``'s (name, value) pairs, its values): what the integrity checks compare it with."""
    pairs = _tuple(module.__dict__.items())
    return pairs, _tuple(v for _k, v in pairs)


def _global_names(codes) -> set:
    """Every name the code objects (and the functions nested in them) may read from their globals."""
    out = _set()
    todo = _list(codes)
    while todo:
        c = todo.pop()
        out.update(c.co_names)
        todo.extend(k for k in c.co_consts if _isinstance(k, types.CodeType))
    return out


_REDIRECTIONS: dict = {}


def redirections(builtins_used: tuple) -> tuple:
    """Return the (global name, original builtin) pairs the rewritten tests read (cached, in the worker)."""
    hit = _REDIRECTIONS.get(builtins_used)
    if hit is None:
        if _len(_REDIRECTIONS) >= 1024:
            _REDIRECTIONS.clear()
        snap = _PREPARED["bdict_snap"]
        prefix = _PREPARED["helper_names"][3]
        hit = _REDIRECTIONS[builtins_used] = _tuple(
            (prefix + name, snap[name]) for name in builtins_used if name in snap
        )
    return hit


def run_job(
    nonce: bytes,
    fd: int,
    setup_code,
    code,
    tests: list,
    preloaded: dict,
    test_reads: frozenset,
    redirected: tuple,
    test_imports: tuple,
) -> None:
    """Run set-up, candidate and tests as :func:`run_candidate` does; never returns.

    With ``_runner.c`` (see :func:`prepare`), its loop runs the job, the same phases and frames without
    the harness's Python objects; it hands back (before anything runs) a candidate still in source form
    and a test that did not compile, which :func:`run_candidate` reports.
    """
    runner = _PREPARED["runner"]
    if runner is not None:
        runner(nonce, fd, setup_code, code, tests, preloaded, test_reads, redirected, test_imports)
    run_candidate(
        nonce=nonce,
        fd=fd,
        setup_code=setup_code,
        code=code,
        tests=tests,
        preloaded=preloaded,
        test_reads=test_reads,
        redirected=redirected,
        test_imports=test_imports,
    )


def run_candidate(
    *,
    nonce: bytes,
    fd: int,
    setup_code,
    code,
    tests: list,
    preloaded: dict,
    test_reads: frozenset,
    builtins_used: tuple = (),
    redirected: tuple | None = None,
    test_imports: tuple = (),
) -> None:
    """Run set-up, candidate and tests in one namespace; report on ``fd``; never returns.

    ``preloaded`` maps module names to snapshots (module, its (name, value) pairs, its values) taken
    before the candidate existed; ``test_imports`` names the modules the tests import, each guarded
    by its snapshot when there is one.
    """
    write = posix.write
    getpid = posix.getpid
    _exit = posix._exit
    pack = HEADER.pack
    mypid = getpid()
    AssertionError_ = AssertionError
    MemoryError_ = MemoryError
    SyntaxError_ = SyntaxError
    BaseException_ = BaseException
    exec_ = exec
    compile_ = compile
    gettrace = sys.gettrace
    getprofile = sys.getprofile
    stdout, stderr = sys.stdout, sys.stderr
    sys_modules = sys.modules
    builtins_module = builtins
    bdict = builtins.__dict__
    prepared = _PREPARED
    bsnap = prepared["bsnap"]
    bvalues = prepared["bvalues"]
    cmp_name, ret_name, soft_name, _prefix = prepared["helper_names"]
    if redirected is None:
        redirected = redirections(_tuple(builtins_used))
    guarded_code = prepared["guarded_code"]
    poisoned_values = prepared["poisoned_values"]
    poisoned_bases = prepared["poisoned_bases"]
    helper_dict = prepared["helper_dict"]
    helper_values = prepared["helper_values"]
    n_helper = _len(helper_values)
    prefix_is_, functions_intact_, class_is_ = prepared["checks"]

    clock = time.monotonic
    pack_time = TIME.pack
    began = [0.0, b""]  # when the current phase began; frames not written yet

    def send(
        kind: bytes, index: int, result: bytes = b"", exc: str = "", msg: str = "", flush: bool = True
    ) -> None:
        """Frame a verdict; write it, with the frames held back before it, unless ``flush`` is false.

        A frame is held back only when the harness itself runs next and sends another before any
        candidate or test code runs, so the worker always has every frame of what finished.
        """
        if getpid() != mypid:  # a forked copy of the harness must not speak for the candidate
            _exit(0)
        now = clock()
        if kind == K_BEGIN:
            began[0] = now
            payload = pack_time(now)
        elif kind == K_END:
            text = (_short(exc, 200) + "\0" + _short(msg)).encode("utf-8", "replace")
            payload = (result + pack_time(now - began[0]) + text)[:MAX_PAYLOAD]
        else:
            payload = b""
        data = began[1] + nonce + pack(kind, index, _len(payload)) + payload
        if flush:
            began[1] = b""
            write(fd, data)  # at most three frames: below PIPE_BUF, one atomic write
        else:
            began[1] = data

    def finish() -> None:
        for stream in (stdout, stderr):
            try:
                stream.flush()
            except BaseException_:  # noqa: BLE001
                pass
        send(K_DONE, 0)
        _exit(0)

    def classify(e) -> tuple[bytes, str, str]:
        te = _type(e)
        if te is AssertionError_:
            kind = R_FAIL
        elif te is MemoryError_:
            kind = R_MEMORY
        else:
            kind = R_ERROR
        try:
            name = te.__name__
            if _type(name) is not _str:
                name = "<exception>"
        except BaseException_:
            name = "<exception>"
        try:
            text = BaseException_.__str__(e)
        except BaseException_:
            text = ""
        return kind, name, text

    def intact(ns) -> str:
        """Return '' if the test environment is as the harness left it, else what changed."""
        if ns.get("__builtins__") is not builtins_module:  # the tests' imports and classes use it
            return "__builtins__ was replaced"
        # Identity of every builtin in dict order (a changed, deleted or reinserted builtin fails it):
        # with ``_identity.c`` no object is touched, else only the values, not the names.
        if not prefix_is_(bdict, bvalues):
            for k, v in bsnap:
                if bdict.get(k, _FAIL) is not v:
                    return f"builtins.{k} was replaced"
            return "the builtins were reordered"
        if (
            ns.get(cmp_name) is not strict_compare
            or ns.get(ret_name) is not sanitize_return
            or ns.get(soft_name) is not sanitize_soft
        ):
            return "the test helpers were replaced"
        for name, obj in redirected:
            if ns.get(name) is not obj:
                return "the test helpers were replaced"
        if _len(helper_dict) != n_helper or not prefix_is_(helper_dict, helper_values):
            return "the harness was modified"
        if not functions_intact_(guarded_code):
            return "the test helpers were modified"
        if not class_is_(Poisoned, poisoned_values, poisoned_bases):
            return "the test helpers were modified"
        if gettrace() is not None or getprofile() is not None:
            return "a trace or profile function was installed"
        for name, obj, items, key in guards:
            if name is not None and ns.get(name, obj) is not obj:
                return f"{name!r} was rebound"
            if items is not None:
                if key is not None and sys_modules.get(key) is not obj:
                    return f"module {key!r} was replaced"
                md = obj.__dict__
                values = items[1]
                if not prefix_is_(md, values):
                    for k, v in items[0]:
                        if md.get(k, _FAIL) is not v:
                            return f"{name or key}.{k} was replaced"
                    return f"the attributes of {name or key} were reordered"
        return ""

    ns = {"__name__": "__candidate__", "__builtins__": builtins}

    # Phase 1: the trusted set-up.
    send(K_BEGIN, PHASE_SETUP, flush=setup_code is not None)
    try:
        if setup_code is not None:
            exec_(setup_code, ns)
    except BaseException_ as e:  # noqa: BLE001
        _kind, name, text = classify(e)
        send(K_END, PHASE_SETUP, R_INFRA, name, "set-up code failed: " + text)
        finish()
    send(K_END, PHASE_SETUP, R_PASS, flush=False)
    # Names the tests read that the set-up bound, and the modules they use, must still be the same
    # objects (with the same attributes) when the tests run.
    guards = []
    for name in test_reads:
        if name in ns:
            obj = ns[name]
        elif name in preloaded:
            obj = preloaded[name][0]
        else:
            continue
        items = key = None
        if _type(obj) is types.ModuleType:
            pre = preloaded.get(obj.__name__)
            if pre is not None and pre[0] is obj:
                items = pre[1:]
            else:
                items = snapshot(obj)
            if sys_modules.get(obj.__name__) is obj:
                key = obj.__name__  # it must stay there: a test's import would find whatever is
        guards.append((name, obj, items, key))
    # Modules the tests import: the one in sys.modules is what a test's import gets, so it must be
    # the module imported before the candidate ran, with the same attributes.
    for key in test_imports:
        pre = preloaded.get(key)
        if pre is not None:
            guards.append((None, pre[0], pre[1:], key))
    guards = _tuple(guards)  # immutable from here: nothing can drop a guard or swap a test
    tests = _tuple(tests)

    # Phase 2: the candidate.
    send(K_BEGIN, PHASE_CODE)
    try:
        # A code object when the worker compiled the candidate already (see zygote.precompile).
        compiled = compile_(code, "<candidate>", "exec", dont_inherit=True) if _type(code) is _str else code
    except SyntaxError_ as e:
        where = f"line {e.lineno}: " if e.lineno else ""
        send(K_END, PHASE_CODE, R_SYNTAX, _type(e).__name__, f"{where}{e.msg}")
        finish()
    except BaseException_ as e:  # noqa: BLE001  (ValueError for NUL bytes, MemoryError, RecursionError)
        kind, name, text = classify(e)
        send(K_END, PHASE_CODE, R_SYNTAX if kind == R_ERROR else kind, name, text)
        finish()
    try:
        exec_(compiled, ns)
    except BaseException_ as e:  # noqa: BLE001
        kind, name, text = classify(e)
        send(K_END, PHASE_CODE, kind, name, text)
        finish()
    del compiled
    send(K_END, PHASE_CODE, R_PASS, flush=not tests)

    # Phase 3: the tests, in the candidate's namespace, with the helpers installed.
    ns[cmp_name] = strict_compare
    ns[soft_name] = sanitize_soft
    ns[ret_name] = sanitize_return
    for name, obj in redirected:
        ns[name] = obj
    last = _len(tests) - 1
    for i, test in enumerate(tests):
        send(K_BEGIN, i)
        if test is None or _type(test) is _str:
            send(K_END, i, R_INFRA, "SyntaxError", "test does not compile: " + (test or ""))
            continue
        problem = intact(ns)
        if problem:
            send(K_END, i, R_ERROR, "Tampering", "candidate modified the test environment: " + problem)
            break
        try:
            exec_(test, ns)
        except BaseException_ as e:  # noqa: BLE001
            kind, name, text = classify(e)
        else:
            kind, name, text = R_PASS, "", ""
        problem = intact(ns)
        if problem:
            send(K_END, i, R_ERROR, "Tampering", "candidate modified the test environment: " + problem)
            break
        send(K_END, i, kind, name, text, flush=i == last)  # else written with the next BEGIN
    finish()
