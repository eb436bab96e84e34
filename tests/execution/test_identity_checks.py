"""The harness's integrity checks by identity: the C ones (``_identity.c``) and the Python ones agree."""

from __future__ import annotations

import importlib.util

import pytest

from codegym.execution import SandboxExecutor
from codegym.execution._sandbox import harness

BUILT = importlib.util.find_spec("codegym.execution._sandbox._identity") is not None


def _implementations() -> list:
    impls = [pytest.param(harness, id="python")]
    if BUILT:
        from codegym.execution._sandbox import _identity

        impls.append(pytest.param(_identity, id="c"))
    else:
        impls.append(pytest.param(None, id="c", marks=pytest.mark.skip(reason="_identity.c not built")))
    return impls


@pytest.mark.parametrize("impl", _implementations())
def test_prefix_is(impl) -> None:
    a, b, c = object(), object(), object()
    d = {"a": a, "b": b}
    assert impl.prefix_is(d, (a, b)) and impl.prefix_is(d, (a,)) and impl.prefix_is(d, ())
    assert impl.prefix_is({}, ())
    assert not impl.prefix_is(d, (a, b, c))  # fewer entries than the snapshot
    d["c"] = c  # added after the snapshot: allowed (a candidate may define new builtins)
    assert impl.prefix_is(d, (a, b))
    d["b"] = c  # replaced
    assert not impl.prefix_is(d, (a, b))
    d["b"] = b
    assert impl.prefix_is(d, (a, b))
    del d["a"]
    d["a"] = a  # the same object, reinserted at the end: the order shows it
    assert not impl.prefix_is(d, (a, b))
    e = {"x": float("1.5")}
    assert not impl.prefix_is(e, (float("1.5"),))  # an equal object is not the same object


@pytest.mark.parametrize("impl", _implementations())
def test_functions_intact(impl) -> None:
    def f(x, y=1, *, z=2):
        return x

    def g():
        return None

    guarded = ((f, f.__code__, f.__defaults__, f.__kwdefaults__), (g, g.__code__, None, None))
    assert impl.functions_intact(guarded) and impl.functions_intact(())
    code = f.__code__
    f.__code__ = (lambda x, y=1, *, z=2: 0).__code__
    assert not impl.functions_intact(guarded)
    f.__code__ = code
    f.__defaults__ = tuple([1])  # equal, not the same tuple
    assert not impl.functions_intact(guarded)
    f.__defaults__ = guarded[0][2]
    assert impl.functions_intact(guarded)
    g.__kwdefaults__ = {"k": 0}
    assert not impl.functions_intact(guarded)
    g.__kwdefaults__ = None
    g.__defaults__ = (3,)
    assert not impl.functions_intact(guarded)


@pytest.mark.parametrize("impl", _implementations())
def test_class_is(impl) -> None:
    class Base:
        pass

    class Other:
        pass

    class P(Base):
        def m(self):
            return 1

    values, bases, m = tuple(P.__dict__.values()), P.__bases__, P.__dict__["m"]
    assert impl.class_is(P, values, bases)
    P.extra = 1  # a class may gain nothing
    assert not impl.class_is(P, values, bases)
    del P.extra
    assert impl.class_is(P, values, bases)
    P.m = lambda self: 2
    assert not impl.class_is(P, values, bases)
    P.m = m
    assert impl.class_is(P, values, bases)
    P.__bases__ = (Other,)
    assert not impl.class_is(P, tuple(P.__dict__.values()), bases)


@pytest.mark.skipif(not BUILT, reason="_identity.c not built")
def test_the_compiled_checks_refuse_the_wrong_types() -> None:
    from codegym.execution._sandbox import _identity

    with pytest.raises(TypeError, match="a dict and a tuple"):
        _identity.prefix_is(type("M", (dict,), {})(), ())
    with pytest.raises(TypeError, match="a dict and a tuple"):
        _identity.prefix_is({}, [])
    with pytest.raises(TypeError, match="takes a tuple"):
        _identity.functions_intact([])
    with pytest.raises(TypeError, match="kwdefaults"):
        _identity.functions_intact(((len, None, None, None),))
    with pytest.raises(TypeError, match="a class"):
        _identity.class_is(object(), (), ())


@pytest.mark.parametrize("compiled", ["1", "0"])
def test_the_worker_checks_in_c_where_it_was_built(monkeypatch, compiled: str) -> None:
    monkeypatch.setenv("CODEGYM_SANDBOX_COMPILED_CHECKS", compiled)
    with SandboxExecutor(workers=1, cache_size=0) as ex:
        r = ex.run(
            "import builtins\nbuiltins.len = lambda x: 3\ndef f():\n    return []", ["assert len(f()) == 3"]
        )
        checks = ex._workers[0].hello["checks"]
    assert checks == ("c" if BUILT and compiled == "1" else "python")
    assert r.tests[0].exception == "Tampering" and "builtins.len was replaced" in r.message
