r"""Rust programs: one crate of candidate, set-up, and a harness module with the tests and the entry.

Compiled with ``rustc --edition 2021 -C opt-level=1`` in the sandbox (a separate, cached step). The
crate is ``#![no_main]``: the harness module exports the C ``main`` symbol, so the candidate keeps its
own ``fn main`` (models often add one) without a clash. The candidate's code starts on line 1 (the crate
attributes are prepended to that line), so compiler messages point at its own lines.

The harness module's name is derived from a hash of the candidate, so the candidate cannot name it. It
reads the nonce from fd 4 before anything else runs and writes verdict frames to fd 3. Each test is a
function in the harness module; panics are caught per test (``catch_unwind``) with a silent panic hook:
a panic whose message starts with ``assertion`` (``assert!``, ``assert_eq!``...) is ``failed``, any
other panic ``error``; an allocation failure aborts the process and becomes ``memory``.

What the tests see is pinned: the standard macros they use are called by their full path
(``::std::assert_eq!``: a candidate's ``macro_rules! assert_eq`` cannot replace them), the standard
types and traits (``Vec``, ``String``, ``HashMap``, ``Option``...) are imported explicitly (a candidate's
own ``struct String`` cannot shadow them), only the entry point and the crate-level functions, types and
constants the tests name are imported from the candidate (its own traits stay out of scope), and what
the entry point returns must be a standard-library value (numbers, ``String``, ``Vec``, ``Option``,
tuples, maps...), so a type of its own whose ``PartialEq`` says "equal" to anything does not compile.
Without tests, the candidate is a whole program: its ``main`` runs; a panic is ``error`` and
``std::process::exit`` reports its status.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from codegym.execution.langs.common import identifiers, skip_literal, wrap_calls
from codegym.execution.results import Limits
from codegym.execution.toolchains import Toolchain

FLAGS = [
    "--edition",
    "2021",
    "-C",
    "opt-level=1",
    "-C",
    "debuginfo=0",
    "-C",
    "strip=symbols",
    "-C",
    "codegen-units=1",
    "--color",
    "never",
    "-A",
    "warnings",
]
OOM_MARKERS = ("memory allocation of", "capacity overflow")

_STD_MACROS = (
    "assert|assert_eq|assert_ne|debug_assert|debug_assert_eq|debug_assert_ne|panic|unreachable|todo|"
    "unimplemented|vec|format|matches|print|println|eprint|eprintln|write|writeln"
)
_MACRO_CALL = re.compile(rf"(?<![\w:!])\b({_STD_MACROS})\s*!")
_INNER_ATTR = re.compile(r"^\s*#!\[.*\]\s*$")
_ITEM = re.compile(
    r"(?:pub(?:\s*\([^)]*\))?\s+)?(?:(?:const|async|unsafe|extern\s+\"C\")\s+)*"
    r"(fn|struct|enum|union|const|static|type|mod)\s+(?:mut\s+)?([A-Za-z_][A-Za-z0-9_]*)"
)


def top_level_items(code: str) -> set[str]:
    """Return the names of the functions, types, constants and modules ``code`` defines at crate level.

    Traits and macros are left out on purpose: tests import only these names from the candidate (a
    trait of its own in scope could add a method that shadows the one a test means to call).
    """
    names: set[str] = set()
    depth = 0
    i = 0
    while i < len(code):
        j = skip_literal(code, i, True)
        if j != i:
            i = j
            continue
        ch = code[i]
        if ch in "{([":
            depth += 1
        elif ch in "})]":
            depth -= 1
        elif depth == 0 and (i == 0 or not (code[i - 1].isalnum() or code[i - 1] == "_")):
            m = _ITEM.match(code, i)
            if m:
                names.add(m.group(2))
                i = m.end()
                continue
        i += 1
    return names


HARNESS = r"""
#[allow(warnings)]
mod @NS@ {
    use std::io::Write;

    #[repr(C)]
    struct Timespec {
        tv_sec: i64,
        tv_nsec: i64,
    }
    extern "C" {
        fn clock_gettime(clk: i32, ts: *mut Timespec) -> i32;
        fn on_exit(f: extern "C" fn(i32, *mut u8), arg: *mut u8) -> i32;
    }

    // Raw system calls and volatile byte copies: the nonce and the frames never pass through functions
    // a candidate could define itself (a `#[no_mangle] fn write` or `memcpy` would interpose libc's).
    #[cfg(target_arch = "x86_64")]
    mod nr {
        pub const READ: usize = 0;
        pub const WRITE: usize = 1;
        pub const CLOSE: usize = 3;
        pub const GETPID: usize = 39;
        pub const EXIT_GROUP: usize = 231;
    }
    #[cfg(target_arch = "aarch64")]
    mod nr {
        pub const READ: usize = 63;
        pub const WRITE: usize = 64;
        pub const CLOSE: usize = 57;
        pub const GETPID: usize = 172;
        pub const EXIT_GROUP: usize = 94;
    }
    #[cfg(target_arch = "x86_64")]
    unsafe fn sc(n: usize, a: usize, b: usize, c: usize) -> isize {
        let ret: isize;
        ::std::arch::asm!("syscall", inlateout("rax") n as isize => ret, in("rdi") a, in("rsi") b,
                          in("rdx") c, lateout("rcx") _, lateout("r11") _, options(nostack));
        ret
    }
    #[cfg(target_arch = "aarch64")]
    unsafe fn sc(n: usize, a: usize, b: usize, c: usize) -> isize {
        let ret: isize;
        ::std::arch::asm!("svc 0", in("x8") n, inlateout("x0") a as isize => ret, in("x1") b, in("x2") c,
                          options(nostack));
        ret
    }
    fn quit(code: i32) -> ! {
        loop {
            unsafe { sc(nr::EXIT_GROUP, code as usize, 0, 0) };
        }
    }
    fn copy(dst: &mut [u8], src: &[u8]) {
        for i in 0..src.len() {
            unsafe { ::std::ptr::write_volatile(&mut dst[i], ::std::ptr::read_volatile(&src[i])) };
        }
    }

    static mut NONCE: [u8; 16] = [0; 16];
    static mut PID: isize = 0;
    static mut BEGAN: f64 = 0.0;

    fn now() -> f64 {
        let mut ts = Timespec { tv_sec: 0, tv_nsec: 0 };
        unsafe { clock_gettime(1, &mut ts) }; // CLOCK_MONOTONIC
        ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
    }

    fn put(kind: u8, index: i32, payload: &[u8]) {
        unsafe {
            if sc(nr::GETPID, 0, 0, 0) != PID {
                quit(0); // a forked copy must not speak for the candidate
            }
            let len = payload.len().min(3000);
            let mut frame = [0u8; 16 + 7 + 3000];
            copy(&mut frame[..16], &*::std::ptr::addr_of!(NONCE));
            frame[16] = kind;
            copy(&mut frame[17..21], &index.to_le_bytes());
            copy(&mut frame[21..23], &(len as i16).to_le_bytes());
            copy(&mut frame[23..23 + len], &payload[..len]);
            let n = 23 + len;
            let mut off = 0;
            while off < n {
                let w = sc(nr::WRITE, 3, frame.as_ptr().add(off) as usize, n - off);
                if w == -4 {
                    continue; // EINTR
                }
                if w <= 0 {
                    quit(71);
                }
                off += w as usize;
            }
        }
    }

    fn begin(index: i32) {
        let t = now();
        unsafe { BEGAN = t };
        put(b'B', index, &t.to_le_bytes());
    }

    fn cap(s: &str, n: usize) -> &[u8] {
        let b = s.as_bytes();
        &b[..b.len().min(n)]
    }

    fn end(index: i32, code: u8, exc: &str, msg: &str) {
        // On the stack: the verdict never sits in memory a candidate's global allocator handed out.
        let d = now() - unsafe { BEGAN };
        let (exc, msg) = (cap(exc, 200), cap(msg, 400));
        let mut p = [0u8; 9 + 200 + 1 + 400];
        p[0] = code;
        copy(&mut p[1..9], &d.to_le_bytes());
        copy(&mut p[9..9 + exc.len()], exc);
        let m = 10 + exc.len();
        copy(&mut p[m..m + msg.len()], msg);
        put(b'E', index, &p[..m + msg.len()]);
    }

    fn done() -> ! {
        let _ = ::std::io::stdout().flush();
        let _ = ::std::io::stderr().flush();
        put(b'D', 0, &[]);
        quit(0)
    }

    extern "C" fn on_exit_hook(status: i32, _arg: *mut u8) {
        if status == 0 {
            end(-1, b'P', "", "");
        } else {
            end(-1, b'E', "ExitStatus", &format!("the program exited with status {}", status));
        }
        done();
    }

    @DIAGNOSTIC@
    pub trait Trusted {}
    macro_rules! trusted {
        ($($t:ty),*) => { $(impl Trusted for $t {})* };
    }
    trusted!(
        i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize, f32, f64, bool, char, (),
        ::std::string::String, str
    );
    impl<'a, T: Trusted + ?Sized> Trusted for &'a T {}
    impl<'a, T: Trusted + ?Sized> Trusted for &'a mut T {}
    impl<T: Trusted> Trusted for [T] {}
    impl<T: Trusted, const N: usize> Trusted for [T; N] {}
    impl<T: Trusted> Trusted for ::std::vec::Vec<T> {}
    impl<T: Trusted> Trusted for ::std::collections::VecDeque<T> {}
    impl<T: Trusted> Trusted for ::std::option::Option<T> {}
    impl<T: Trusted, E: Trusted> Trusted for ::std::result::Result<T, E> {}
    impl<T: Trusted + ?Sized> Trusted for ::std::boxed::Box<T> {}
    impl<K: Trusted, V: Trusted> Trusted for ::std::collections::HashMap<K, V> {}
    impl<K: Trusted, V: Trusted> Trusted for ::std::collections::BTreeMap<K, V> {}
    impl<T: Trusted> Trusted for ::std::collections::HashSet<T> {}
    impl<T: Trusted> Trusted for ::std::collections::BTreeSet<T> {}
    impl<A: Trusted, B: Trusted> Trusted for (A, B) {}
    impl<A: Trusted, B: Trusted, C: Trusted> Trusted for (A, B, C) {}
    impl<A: Trusted, B: Trusted, C: Trusted, D: Trusted> Trusted for (A, B, C, D) {}
    impl<A: Trusted, B: Trusted, C: Trusted, D: Trusted, E: Trusted> Trusted for (A, B, C, D, E) {}

    #[inline(always)]
    pub fn call<T: Trusted>(v: T) -> T {
        v
    }

    fn panic_text(p: &(dyn ::std::any::Any + Send)) -> ::std::string::String {
        if let Some(s) = p.downcast_ref::<&str>() {
            (*s).to_string()
        } else if let Some(s) = p.downcast_ref::<::std::string::String>() {
            s.clone()
        } else {
            "panic with a non-string payload".to_string()
        }
    }

    mod tests {
        #[allow(unused_imports)]
        use ::std::{
            boxed::Box,
            collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque},
            option::Option::{self, None, Some},
            result::Result::{self, Err, Ok},
            string::{String, ToString},
            vec::Vec,
            clone::Clone, cmp::{Eq, Ord, PartialEq, PartialOrd}, convert::{From, Into},
            iter::{IntoIterator, Iterator, DoubleEndedIterator, ExactSizeIterator, Extend, FromIterator},
        };
        @IMPORT@
@TESTS@
    }

    #[export_name = "main"]
    pub extern "C" fn entry(_argc: i32, _argv: *const *const u8) -> i32 {
        unsafe {
            let mut got = 0usize;
            let nonce = ::std::ptr::addr_of_mut!(NONCE) as *mut u8;
            while got < 16 {
                let r = sc(nr::READ, 4, nonce.add(got) as usize, 16 - got);
                if r == -4 {
                    continue; // EINTR
                }
                if r <= 0 {
                    quit(72);
                }
                got += r as usize;
            }
            sc(nr::CLOSE, 4, 0, 0);
            PID = sc(nr::GETPID, 0, 0, 0);
        }
        begin(-2);
        end(-2, b'P', "", "");
        begin(-1);
@RUN@
        done()
    }
}
"""

RUN_TESTS = r"""        end(-1, b'P', "", "");
        ::std::panic::set_hook(::std::boxed::Box::new(|_| {}));
        let tests: &[fn()] = &[@LIST@];
        for (i, t) in tests.iter().enumerate() {
            begin(i as i32);
            match ::std::panic::catch_unwind(*t) {
                Ok(()) => end(i as i32, b'P', "", ""),
                Err(p) => {
                    let text = panic_text(&*p);
                    let code = if text.starts_with("assertion") { b'F' } else { b'E' };
                    let exc = if code == b'F' { "AssertionError" } else { "panic" };
                    end(i as i32, code, exc, &text);
                }
            }
        }
"""

RUN_PROGRAM = r"""        unsafe { on_exit(on_exit_hook, ::std::ptr::null_mut()) };
        ::std::panic::set_hook(::std::boxed::Box::new(|_| {}));
        match ::std::panic::catch_unwind(|| super::main()) {
            Ok(_) => end(-1, b'P', "", ""),
            Err(p) => end(-1, b'E', "panic", &panic_text(&*p)),
        }
"""


def _namespace(code: str, tests: Sequence[str], setup: str) -> str:
    digest = hashlib.sha256("\0".join([code, setup, *tests]).encode("utf-8", "surrogatepass")).hexdigest()
    return f"codegym_{digest[:20]}"


def _hoist_attributes(code: str) -> tuple[str, list[str]]:
    """Move the candidate's leading ``#![...]`` lines to line 1 (blanked: lines keep their numbers)."""
    lines = code.split("\n")
    attrs = []
    for i, line in enumerate(lines):
        stripped = line.strip()
        if _INNER_ATTR.match(line):
            attrs.append(stripped)
            lines[i] = ""
        elif stripped and not stripped.startswith("//"):
            break
    return "\n".join(lines), attrs


DIAGNOSTIC = """#[diagnostic::on_unimplemented(
        message = "codegym: the entry point must return standard-library values (numbers, String, Vec, \\
                   Option, tuples, maps...), not `{Self}`"
    )]"""


def _release(version: str) -> tuple[int, ...]:
    m = re.search(r"^release: (\d+)\.(\d+)", version, re.M) or re.search(r"rustc (\d+)\.(\d+)", version)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def generate(
    code: str, tests: Sequence[str], setup: str, entry_point: str, rustc_version: tuple[int, ...] = (1, 78)
) -> str:
    """Return the complete Rust source of one request (see the module docstring).

    ``rustc_version`` decides whether the friendlier message of an untrusted return type
    (``#[diagnostic::on_unimplemented]``, Rust 1.78) can be used.
    """
    ns = _namespace(code, tests, setup)
    body, attrs = _hoist_attributes(code)
    head = " ".join(["#![no_main]", "#![allow(warnings)]", *attrs]) + " "
    names = [n for n in (entry_point, "candidate") if n]
    bodies = []
    for t in tests:
        t = _MACRO_CALL.sub(lambda m: f"::std::{m.group(1)}!", t)
        bodies.append(wrap_calls(t, names, lambda call: f"crate::{ns}::call({call})", rust=True))
    used = set().union(*(identifiers(t, rust=True) for t in tests)) if tests else set()
    imported = sorted((top_level_items(body) & used) | ({entry_point} if entry_point else set()))
    importing = f"#[allow(unused_imports)] use crate::{{{', '.join(imported)}}};" if imported else ""
    tests_src = "".join(f"        pub fn test_{i}() {{\n{b}\n        }}\n" for i, b in enumerate(bodies))
    if tests:
        run = RUN_TESTS.replace("@LIST@", ", ".join(f"tests::test_{i}" for i in range(len(tests))))
    else:
        run = RUN_PROGRAM
    harness = (
        HARNESS.replace("@IMPORT@", importing)
        .replace("@DIAGNOSTIC@", DIAGNOSTIC if tuple(rustc_version) >= (1, 78) else "")
        .replace("@TESTS@", tests_src)
        .replace("@RUN@", run)
        .replace("@NS@", ns)
    )
    parts = [head, body, "\n"]
    if setup.strip():
        parts += ["\n// set-up\n", setup, "\n"]
    parts.append(harness)
    return "".join(parts)


def build(
    code: str, tests: Sequence[str], setup: str, entry_point: str, limits: Limits, toolchain: Toolchain
) -> tuple[dict, dict, list[str], str]:
    """Return ``(spec, compile, flags, source)`` for a Rust request."""
    source = generate(code, tests, setup, entry_point, _release(toolchain.version))
    argv = [toolchain.binary, *FLAGS, "-o", "prog", "main.rs"]
    compile_spec = {"files": {"main.rs": source}, "argv": argv, "output": "prog"}
    spec = {
        "n_tests": len(tests),
        "argv": ["./prog"],
        "artifact_name": "prog",
        "input": b"",
        "data_extra_mb": 64,
        "as_extra_mb": 2048,
        "env": {"RUST_BACKTRACE": "0"},
        "oom_markers": list(OOM_MARKERS),
        "startup_s": 2.0,  # loading the program (and libstdc++) before the harness's first frame
    }
    return spec, compile_spec, FLAGS, source
