"""JavaScript, C++ and Rust in the execution engine: verdicts, compile step and cache, limits, clean-up.

Every language runs the same checks; a language whose toolchain is missing is skipped with the reason
(the binary and how to install it). Compilation is the slow part (about a second of CPU per C++
program), so the programs are few and each test run shares one build cache.
"""

from __future__ import annotations

import os
import time

import pytest
from _shared import toolchain_param

from codegym.execution import ExecutionRequest, Limits, Outcome, SandboxExecutor, toolchains
from codegym.execution.languages import available_languages, get_language, known_languages
from codegym.execution.toolchains import ToolchainMissing, find_toolchain

from .hostile import sandbox_processes

LANGS = ("javascript", "cpp", "rust")
COMPILED = ("cpp", "rust")


ALL = [toolchain_param(lang) for lang in LANGS]
COMPILED_PARAMS = [toolchain_param(lang) for lang in COMPILED]

# ---------------------------------------------------------------------------------------------------
# Programs: per language, the same behaviours.

#: A function ``add``; tests: pass, fail, error, and an always-true comparison the candidate defined
#: (C++: a global ``operator==`` on vectors; Rust: a ``macro_rules! assert_eq``; JS: replaced
#: ``assert.strictEqual``) that must not make a wrong answer pass.
ADD = {
    "javascript": (
        "function add(a, b) { return a + b; }\n"
        "function pair(x) { return [x, x]; }\n"
        "try { require('assert').deepStrictEqual = () => {}; } catch (e) {}\n",
        [
            "assert.strictEqual(add(1, 2), 3);",
            "assert.strictEqual(add(1, 1), 3);",
            "null.boom;",
            "assert.deepStrictEqual(pair(1), [7, 7]);",
        ],
        "TypeError",
    ),
    "cpp": (
        "#include <vector>\n#include <stdexcept>\n"
        'int add(int a, int b) { if (a < 0) throw std::runtime_error("negative"); return a + b; }\n'
        "std::vector<int> pair(int x) { return {x, x}; }\n"
        "bool operator==(const std::vector<int>&, const std::vector<int>&) { return true; }\n"
        "int main() { return add(1, 2); }  // a demo main does not clash with the harness\n",
        [
            "assert(add(1, 2) == 3);",
            "assert(add(1, 1) == 3);",
            "add(-1, 1);",
            "assert(pair(1) == std::vector<int>({7, 7}));",
        ],
        "std::runtime_error",
    ),
    "rust": (
        "macro_rules! assert_eq { ($a:expr, $b:expr) => {}; }\n"
        'fn add(a: i32, b: i32) -> i32 { if a < 0 { panic!("negative") } a + b }\n'
        "fn pair(x: i32) -> Vec<i32> { vec![x, x] }\n"
        'fn main() { println!("{}", add(1, 2)); }\n',
        [
            "assert_eq!(add(1, 2), 3);",
            "assert_eq!(add(1, 1), 3);",
            "add(-1, 1);",
            "assert_eq!(pair(1), vec![7, 7]);",
        ],
        "panic",
    ),
}

#: A syntax error on line 2 of the candidate.
BROKEN = {
    "javascript": "function f(x) {\n  let y = ;\n  return x;\n}\n",
    "cpp": "int f(int x) {\n  int y = ;\n  return x;\n}\n",
    "rust": "fn f(x: i32) -> i32 {\n    let y = ;\n    x\n}\n",
}

#: A whole program (no tests): its stdout is the result.
PROGRAM = {
    "javascript": "const xs = [3, 1, 2];\nxs.sort();\nconsole.log('hello');\nconsole.log(xs.join(' '));\n",
    "cpp": "#include <iostream>\n#include <vector>\n#include <algorithm>\n"
    "int main() {\n  std::vector<int> xs{3, 1, 2};\n  std::sort(xs.begin(), xs.end());\n"
    '  std::cout << "hello" << std::endl;\n'
    '  std::cout << xs[0] << " " << xs[1] << " " << xs[2] << "\\n";\n}\n',
    "rust": 'fn main() {\n    let mut xs = vec![3, 1, 2];\n    xs.sort();\n    println!("hello");\n'
    '    println!("{} {} {}", xs[0], xs[1], xs[2]);\n}\n',
}

#: Functions with hostile behaviours. ``flood`` prints 1 MB, ``spawn`` leaves sleeping children and a
#: fork bomb behind (stopped by the process limit), ``spin`` never returns, ``bomb`` allocates without end,
#: ``quit`` exits the process with status 0 in the middle of the tests.
HOSTILE = {
    "javascript": """
const cp = require('child_process');
function flood() { const line = 'x'.repeat(99); for (let i = 0; i < 10000; i++) console.log(line); return 1; }
function spawn() {
  for (let i = 0; i < 40; i++) {
    try { cp.spawn('sleep', ['300'], { detached: true, stdio: 'ignore' }); } catch (e) {}
  }
  return 1;
}
function spin() { for (;;) {} }
function bomb() { const a = []; for (;;) a.push(new Array(1 << 16).fill(1.5)); }
function quit() { process.exit(0); }
""",
    "cpp": """
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unistd.h>
#include <vector>
int flood() { for (int i = 0; i < 10000; i++) std::puts(std::string(99, 'x').c_str()); return 1; }
int spawn() {
  for (int i = 0; i < 1000; i++) {
    pid_t p = fork();
    if (p == 0) { setsid(); for (;;) pause(); }
    if (p < 0) break;  // the process limit stops the bomb
  }
  return 1;
}
int spin() { volatile unsigned long x = 0; for (;;) x++; }
int bomb() {
  std::vector<char*> keep;
  for (;;) { char* p = new char[1 << 24]; std::memset(p, 1, 1 << 24); keep.push_back(p); }
}
int quit() { std::exit(0); }
""",
    "rust": """
use std::process::Command;
fn flood() -> i32 { let line = "x".repeat(99); for _ in 0..10000 { println!("{}", line); } 1 }
fn spawn() -> i32 {
    for _ in 0..1000 {
        if Command::new("sleep").arg("300").spawn().is_err() { break; }
    }
    1
}
fn spin() -> i32 { loop {} }
fn bomb() -> i32 { let mut keep: Vec<Vec<u8>> = Vec::new(); loop { keep.push(vec![1u8; 1 << 24]); } }
fn quit() -> i32 { std::process::exit(0) }
""",
}

CHECK = {
    "javascript": "assert.strictEqual({call}, 1);",
    "cpp": "assert({call} == 1);",
    "rust": "assert_eq!({call}, 1);",
}

LIMITS = Limits(timeout_s=5.0, memory_mb=256)
HOSTILE_LIMITS = Limits(timeout_s=1.5, memory_mb=128, output_bytes=4096, max_processes=16)


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("builds"))


@pytest.fixture(scope="module")
def ex(build_dir: str):
    with SandboxExecutor(workers=2, limits=LIMITS, build_cache=build_dir) as executor:
        yield executor


@pytest.fixture(scope="module")
def basics(ex: SandboxExecutor) -> dict:
    """Run the basic programs of every installed language in one batch (compiles run in parallel)."""
    reqs, keys = [], []
    for lang in LANGS:
        if lang not in available_languages():
            continue
        code, tests, _ = ADD[lang]
        reqs += [
            ExecutionRequest(code, tests, language=lang, entry_point="add"),
            ExecutionRequest(BROKEN[lang], ["x"], language=lang, entry_point="f"),
            ExecutionRequest(PROGRAM[lang], [], language=lang),
        ]
        keys += [(lang, "add"), (lang, "broken"), (lang, "program")]
    return dict(zip(keys, ex.run_batch(reqs), strict=True))


@pytest.mark.parametrize("lang", ALL)
def test_per_test_verdicts(basics: dict, lang: str) -> None:
    r = basics[lang, "add"]
    assert [t.outcome for t in r.tests] == [Outcome.PASSED, Outcome.FAILED, Outcome.ERROR, Outcome.FAILED], r
    assert r.status is Outcome.FAILED and r.num_passed == 1
    assert r.tests[1].exception == "AssertionError"
    assert r.tests[2].exception == ADD[lang][2]
    assert all(t.duration_s >= 0 for t in r.tests)
    if lang in COMPILED:
        assert r.extra.get("build") in ("compiled", "cached")


@pytest.mark.parametrize("lang", ALL)
def test_compile_error_is_its_own_verdict(basics: dict, lang: str) -> None:
    r = basics[lang, "broken"]
    assert not r.compiled and r.tests[0].outcome is Outcome.NOT_RUN
    if lang == "javascript":
        assert r.status is Outcome.SYNTAX_ERROR and "SyntaxError" in r.message
    else:
        assert r.status is Outcome.COMPILE_ERROR
        where = {"cpp": "solution.cpp:2", "rust": "main.rs:2"}[lang]
        assert where in r.message and "error" in r.message, r.message
        assert len(r.message) < 9000


@pytest.mark.parametrize("lang", ALL)
def test_whole_program_output(basics: dict, lang: str) -> None:
    r = basics[lang, "program"]
    assert r.status is Outcome.PASSED and r.tests == (), r
    assert r.stdout == "hello\n1 2 3\n"


@pytest.mark.parametrize("lang", COMPILED_PARAMS)
def test_compile_cache_hit(basics: dict, build_dir: str, lang: str) -> None:
    code, tests, _ = ADD[lang]
    assert basics[lang, "add"].extra["build"] in ("compiled", "cached")
    with SandboxExecutor(workers=1, limits=LIMITS, cache_size=0, build_cache=build_dir) as fresh:
        r = fresh.run(code, tests, language=lang, entry_point="add")
        r2 = fresh.run(code, tests, language=lang, entry_point="add")
        stats = fresh.stats.as_dict()
    assert r.extra["build"] == "cached" and r2.extra["build"] == "cached"
    assert [t.outcome for t in r.tests] == [t.outcome for t in basics[lang, "add"].tests]
    assert stats["compilations"] == 0 and stats["build_cache_hits"] == 2
    assert not r.cached  # the result itself was not cached (cache_size=0): the program ran again


@pytest.mark.parametrize("lang", COMPILED_PARAMS)
def test_compiler_time_limit(build_dir: str, lang: str) -> None:
    with SandboxExecutor(workers=1, cache_size=0, build_cache=build_dir) as ex:
        r = ex.run("int f() { return 1; }", ["x"], language=lang, limits=Limits(compile_timeout_s=0.01))
    assert r.status is Outcome.COMPILE_ERROR and "time limit" in r.message, (r.status, r.message)


@pytest.fixture(scope="module")
def hostile(build_dir: str) -> dict:
    """Every installed language's hostile programs in one batch, then what was left behind."""
    ex = SandboxExecutor(workers=2, limits=HOSTILE_LIMITS, cache_size=0, build_cache=build_dir)
    plans = {
        # flood: output capped; spawn: children left running; spin: timeout (later tests not run).
        "resources": ["flood()", "spawn()", "spin()", "flood()"],
        "memory": ["bomb()", "flood()"],
        "quit": ["flood()", "quit()", "flood()"],
    }
    reqs, keys = [], []
    for lang in LANGS:
        if lang not in available_languages():
            continue
        for name, calls in plans.items():
            tests = [CHECK[lang].format(call=c) for c in calls]
            reqs.append(ExecutionRequest(HOSTILE[lang], tests, language=lang))
            keys.append((lang, name))
    start = time.monotonic()
    results = ex.run_batch(reqs)
    elapsed = time.monotonic() - start
    leftovers = sandbox_processes(ex.sandbox_uids) if ex.sandbox_uids else []
    after = ex.run("def f(x):\n    return x + 1", ["assert f(1) == 2"])
    ex.close()
    return {
        "results": dict(zip(keys, results, strict=True)),
        "elapsed": elapsed,
        "leftovers": leftovers,
        "after": after,
        "stats": ex.stats.as_dict(),
    }


@pytest.mark.parametrize("lang", ALL)
def test_timeout_output_cap_and_children(hostile: dict, lang: str) -> None:
    r = hostile["results"][lang, "resources"]
    outcomes = [t.outcome for t in r.tests]
    assert outcomes == [Outcome.PASSED, Outcome.PASSED, Outcome.TIMEOUT, Outcome.NOT_RUN], r
    assert r.status is Outcome.TIMEOUT
    assert len(r.stdout) == HOSTILE_LIMITS.output_bytes  # 1 MB printed, 4 KB kept
    assert r.duration_s < HOSTILE_LIMITS.timeout_s * 6 + 5


@pytest.mark.parametrize("lang", ALL)
def test_memory_bomb(hostile: dict, lang: str) -> None:
    r = hostile["results"][lang, "memory"]
    assert r.tests[0].outcome is Outcome.MEMORY, r
    assert r.status is Outcome.MEMORY
    # C++ reports bad_alloc per test and goes on; node and Rust abort, so the rest does not run.
    assert r.tests[1].outcome is (Outcome.PASSED if lang == "cpp" else Outcome.NOT_RUN)


@pytest.mark.parametrize("lang", ALL)
def test_exit_before_reporting_is_a_crash(hostile: dict, lang: str) -> None:
    r = hostile["results"][lang, "quit"]
    assert [t.outcome for t in r.tests] == [Outcome.PASSED, Outcome.CRASHED, Outcome.NOT_RUN], r
    assert "before reporting" in r.tests[1].message


def test_hostile_programs_leave_nothing_behind(hostile: dict) -> None:
    if not hostile["results"]:
        pytest.skip("no language beyond Python is installed")
    assert hostile["leftovers"] == []
    assert hostile["after"].passed
    assert hostile["stats"]["infra_errors"] == 0
    assert hostile["stats"]["worker_restarts"] == 0


# ---------------------------------------------------------------------------------------------------
# Forged comparisons and tampering, per language.


#: A candidate's own ``write`` interposes libc's for the whole program: it rewrites every "F" result of
#: a verdict frame into "P" before writing it. The harness writes frames with raw system calls.
INTERPOSE = {
    "cpp": "#include <sys/syscall.h>\n#include <unistd.h>\n"
    'extern "C" ssize_t write(int fd, const void* buf, size_t n) {\n'
    "  unsigned char* b = (unsigned char*)buf;\n"
    "  if (fd == 3 && n > 23 && b[16] == 'E' && b[23] == 'F') b[23] = 'P';\n"
    "  return syscall(SYS_write, fd, buf, n);\n}\n"
    "int f(int x) { return x; }\n",
    "rust": '#[no_mangle]\npub unsafe extern "C" fn write(fd: i32, buf: *mut u8, n: usize) -> isize {\n'
    '    extern "C" { fn syscall(nr: i64, ...) -> i64; }\n'
    "    if fd == 3 && n > 23 && *buf.add(16) == b'E' && *buf.add(23) == b'F' { *buf.add(23) = b'P'; }\n"
    "    syscall(1, fd as i64, buf, n) as isize\n}\n"
    "fn f(x: i32) -> i32 { x }\n",
}


@pytest.mark.parametrize("lang", COMPILED_PARAMS)
def test_forged_equality_and_interposed_write(ex: SandboxExecutor, lang: str) -> None:
    own_type = {
        "cpp": "struct Any { bool operator==(int) const { return true; } };\nAny f(int) { return {}; }\n",
        "rust": "#[derive(Debug)] struct Any;\n"
        "impl PartialEq<i32> for Any { fn eq(&self, _: &i32) -> bool { true } }\n"
        "fn f(_x: i32) -> Any { Any }\n",
    }[lang]
    test = {"cpp": "assert(f(1) == 2);", "rust": "assert_eq!(f(1), 2);"}[lang]
    forged, interposed = ex.run_batch(
        [
            ExecutionRequest(own_type, [test], language=lang, entry_point="f"),
            ExecutionRequest(INTERPOSE[lang], [test], language=lang, entry_point="f"),
        ]
    )
    assert forged.status is Outcome.COMPILE_ERROR
    assert "codegym: the entry point must return standard-library values" in forged.message or (
        lang == "rust" and "Trusted" in forged.message  # rustc < 1.78: no custom message
    )
    assert interposed.status is Outcome.FAILED, interposed


@pytest.mark.parametrize("lang", [p for p in ALL if p.id == "javascript"])
def test_javascript_tampering(ex: SandboxExecutor, lang: str) -> None:
    cases = [
        # Patching a built-in the tests use is tampering.
        (
            "Array.prototype.includes = () => true;\nfunction f() { return []; }",
            "assert(f().includes(3));",
            Outcome.ERROR,
        ),
        # A top-level `const JSON` would shadow the global in later scripts; tests keep the real one.
        (
            "const JSON = { stringify: () => '[1]' };\nfunction f() { return []; }",
            "assert.strictEqual(JSON.stringify(f()), '[1]');",
            Outcome.FAILED,
        ),
        # Replacing `assert` (global or module) changes nothing for the tests.
        (
            "assert = { strictEqual() {} };\nrequire('assert').strictEqual = () => {};\n"
            "function f() { return 0; }",
            "assert.strictEqual(f(), 1);",
            Outcome.FAILED,
        ),
        # The harness reports with functions it captured before the candidate ran: patching
        # Buffer.prototype.write (to turn an "F" into a "P"), the array iterator or Promise.prototype.then
        # (to settle an awaited failing test as a success) changes nothing.
        (
            "const w = Buffer.prototype.write;\n"
            "Buffer.prototype.write = function (s, ...a) {\n"
            "  return w.call(this, s === 'F' ? 'P' : s, ...a);\n};\n"
            "function f() { return 0; }",
            "assert.strictEqual(f(), 1);",
            Outcome.FAILED,
        ),
        (
            "Array.prototype.includes = () => true;\n"
            "Array.prototype[Symbol.iterator] = function* () { yield 'globalThis'; };\n"
            "function f() { return []; }",
            "assert(f().includes(3));",
            Outcome.ERROR,
        ),
        (
            "const then = Promise.prototype.then;\n"
            "Promise.prototype.then = function (ok) {\n"
            "  Promise.prototype.then = then;\n  return then.call(this, ok, ok);\n};\n"
            "async function f() { return 0; }",
            "assert.strictEqual(await f(), 1);",
            Outcome.ERROR,  # the harness never calls the patched `then`: it stays replaced (Tampering)
        ),
        # Writing to the verdict channel without the nonce is a crash.
        (
            "function f() { require('fs').writeSync(3, Buffer.alloc(64, 1)); return 1; }",
            "assert.strictEqual(f(), 1);",
            Outcome.CRASHED,
        ),
    ]
    results = ex.run_batch([ExecutionRequest(c, [t], language=lang) for c, t, _ in cases])
    for (code, _, want), r in zip(cases, results, strict=True):
        assert r.status is want, (code, r)


# ---------------------------------------------------------------------------------------------------
# Registry, missing toolchains, aliases.


def test_registry_and_aliases() -> None:
    assert set(LANGS) | {"python"} <= set(known_languages())
    assert "python" in available_languages()
    assert get_language("js").name == "javascript" and get_language("C++").name == "cpp"
    assert get_language("rs").name == "rust" and get_language("cpp").compiled
    with pytest.raises(ValueError, match="unknown language 'cobol'"):
        get_language("cobol")


def test_missing_toolchain_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(toolchains, "_found", {})
    monkeypatch.setenv("CODEGYM_NODE", "/nonexistent/node")
    with pytest.raises(ToolchainMissing) as info:
        get_language("javascript").require()
    msg = str(info.value)
    assert "javascript" in msg and "node" in msg and "apt-get install nodejs" in msg
    assert isinstance(info.value, ValueError) and info.value.binary == "node"
    assert "javascript" not in available_languages()
    with pytest.raises(ToolchainMissing):
        ExecutionRequest("1", ["assert(true)"], language="javascript").validate()
    monkeypatch.setattr(toolchains, "_found", {})
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("CODEGYM_NODE")
    monkeypatch.setattr(os.path, "expanduser", lambda p: p.replace("~", "/nonexistent"))
    with pytest.raises(ToolchainMissing, match="was not found on PATH"):
        find_toolchain("rust")


@pytest.mark.parametrize("lang", [p for p in ALL if p.id != "javascript"])
def test_user_namespace_mode(build_dir: str, lang: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """What a non-root user gets (a user namespace): toolchains under the home directory stay reachable."""
    monkeypatch.setenv("CODEGYM_SANDBOX_FORCE_USERNS", "1")
    code = {"cpp": "long twice(long x) { return 2 * x; }", "rust": "fn twice(x: i64) -> i64 { 2 * x }"}[lang]
    test = {"cpp": "assert(twice(21) == 42);", "rust": "assert_eq!(twice(21), 42);"}[lang]
    with SandboxExecutor(workers=1, limits=LIMITS, cache_size=0, build_cache=build_dir) as ex:
        if "user+pid" not in ex.isolation:
            pytest.skip(f"no user namespaces here ({ex.isolation})")
        r = ex.run(code, [test], language=lang, entry_point="twice")
    assert r.passed, r


# ---------------------------------------------------------------------------------------------------
# The output-prediction suite's JavaScript programs run through the engine.


@pytest.mark.parametrize("lang", [p for p in ALL if p.id == "javascript"])
def test_output_prediction_javascript_programs(ex: SandboxExecutor, lang: str) -> None:
    """Every family and level of the output-prediction suite prints, in node, what the generator expects."""
    import random

    from codegym.tasks.procedural import OutputPredictionConfig, generate_output_prediction, run_programs
    from codegym.tasks.procedural.output_prediction import verifiable_languages
    from codegym.tasks.procedural.programs import OUTPUT_FAMILIES, expected_stdout

    assert "javascript" in verifiable_languages(ex)
    programs = [
        family.draw(random.Random(seed), level)
        for family in OUTPUT_FAMILIES
        for level in family.difficulties
        for seed in range(2)
        if "javascript" in family.languages
    ]
    results = run_programs([p.source(lang) for p in programs], lang, executor=ex)
    for program, result in zip(programs, results, strict=True):
        assert result.stdout == expected_stdout(program.outputs, lang), (program.source(lang), result)
    items = generate_output_prediction(
        OutputPredictionConfig(seed=3, size=6, languages=("python", "javascript")), executor=ex
    )
    assert [it.language for it in items[:2]] == ["python", "javascript"] and all(it.verified for it in items)
