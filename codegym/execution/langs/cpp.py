r"""C++ programs: one translation unit of harness prologue, set-up, candidate, tests and a ``main``.

Compiled with ``g++ -std=c++20 -O1`` in the sandbox (a separate, cached step). Layout of the generated
source:

1. the prologue: standard headers, and the frame writer in a namespace whose name is derived from a
   hash of the candidate (so the candidate cannot name it); a static object reads the nonce from fd 4
   before any of the candidate's static initializers run;
2. the set-up (trusted: helpers, includes), then ``#define main <hidden name>`` and the candidate under
   ``#line 1 "solution.cpp"`` (compiler messages point at the candidate's own lines);
3. the epilogue: every identifier it and the tests use is ``#undef``-ed (a candidate's macros cannot
   rewrite the tests or the harness; ALL_CAPS names such as ``INT_MAX`` are kept), ``assert`` is
   redefined to throw instead of aborting, and each test becomes a function in a namespace of its own
   that declares an ``operator==`` (so ordinary lookup never finds operators the candidate defined at
   global scope);
4. ``main``: per-test ``try``/``catch`` around each test, verdict frames, then ``exit_group``.

The harness writes frames and reads the nonce with raw system calls and copies bytes with volatile
loops, so no verdict data passes through a function the candidate could define itself (its own
``write`` or ``memcpy`` would interpose libc's for the whole program).

Tests are C++ statements, e.g. ``assert(add(1, 2) == 3);``. A failed ``assert`` is ``failed``;
``std::bad_alloc`` is ``memory``; any other exception is ``error`` with its (demangled) type and
``what()``. Calls of the entry point (and of ``candidate``) are wrapped: what they return must be a
standard-library value (arithmetic types, ``std::string``, ``std::vector``, ``std::map``, ``std::pair``,
...), never a type of the candidate's own whose ``operator==`` could say "equal" to anything; anything
else is a compile error. Without tests, the candidate is a whole program: its ``main`` runs (if it has
one), and a non-zero status is ``error``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from codegym.execution.langs.common import identifiers, wrap_calls
from codegym.execution.results import Limits
from codegym.execution.toolchains import Toolchain

FLAGS = ["-std=c++20", "-O1", "-pipe", "-w", "-fdiagnostics-color=never", "-fno-diagnostics-show-caret"]
OOM_MARKERS = ("std::bad_alloc", "out of memory")

PROLOGUE = r"""// codegym harness (generated)
#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <cxxabi.h>
#include <deque>
#include <exception>
#include <iostream>
#include <list>
#include <map>
#include <new>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <sys/syscall.h>
#include <unistd.h>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace @NS@ {
// Raw system calls and volatile byte copies: the nonce and the frames never pass through functions a
// candidate could define itself (its own `write`, `read` or `memcpy` would interpose libc's).
static long sc_(long nr, long a, long b, long c) {
#if defined(__x86_64__)
  long ret;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
  return ret;
#elif defined(__aarch64__)
  register long x8 __asm__("x8") = nr;
  register long x0 __asm__("x0") = a;
  register long x1 __asm__("x1") = b;
  register long x2 __asm__("x2") = c;
  __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2) : "memory");
  return x0;
#else
  long r = syscall(nr, a, b, c);
  return r < 0 ? -errno : r;
#endif
}
static void copy_(void* dst, const void* src, std::size_t n) {
  volatile unsigned char* d = (volatile unsigned char*)dst;
  const volatile unsigned char* s = (const volatile unsigned char*)src;
  for (std::size_t i = 0; i < n; i++) d[i] = s[i];
}
static std::size_t len_(const char* s, std::size_t cap) {
  const volatile char* p = s;
  std::size_t n = 0;
  while (n < cap && p[n]) n++;
  return n;
}
[[noreturn]] static void quit_(int code) {
  for (;;) sc_(SYS_exit_group, code, 0, 0);
}
static unsigned char nonce_[16];
static long pid_;
static double began_;
static double now_() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
static void put_(char kind, int index, const char* payload, int len) {
  if (sc_(SYS_getpid, 0, 0, 0) != pid_) quit_(0);  // a forked copy must not speak for the candidate
  unsigned char frame[16 + 7 + 3000];
  if (len > 3000) len = 3000;
  copy_(frame, nonce_, 16);
  frame[16] = (unsigned char)kind;
  std::int32_t i32 = index;
  std::int16_t l16 = (std::int16_t)len;
  copy_(frame + 17, &i32, 4);
  copy_(frame + 21, &l16, 2);
  if (len > 0) copy_(frame + 23, payload, (std::size_t)len);
  std::size_t n = 23 + (std::size_t)len, off = 0;
  while (off < n) {
    long w = sc_(SYS_write, 3, (long)(frame + off), (long)(n - off));
    if (w == -EINTR) continue;
    if (w <= 0) quit_(71);
    off += (std::size_t)w;
  }
}
static void begin_(int index) {
  began_ = now_();
  put_('B', index, (const char*)&began_, 8);
}
static void end_(int index, char code, const char* exc, const char* msg) {
  char payload[3000];
  double d = now_() - began_;
  payload[0] = code;
  copy_(payload + 1, &d, 8);
  std::size_t el = len_(exc, 200), ml = len_(msg, 400);
  int len = 9;
  copy_(payload + len, exc, el);
  len += (int)el;
  payload[len++] = 0;
  copy_(payload + len, msg, ml);
  len += (int)ml;
  put_('E', index, payload, len);
}
[[noreturn]] static void done_() {
  std::fflush(stdout);
  std::cout.flush();
  std::cerr.flush();
  put_('D', 0, "", 0);
  quit_(0);
}
static void on_exit_(int status, void*) {
  // A whole program: returning from main or calling exit() ends it; the status decides.
  if (status == 0) {
    end_(-1, 'P', "", "");
  } else {
    char buf[64];
    std::snprintf(buf, sizeof buf, "the program exited with status %d", status);
    end_(-1, 'E', "ExitStatus", buf);
  }
  done_();
}
static struct Start_ {
  Start_() {
    std::size_t got = 0;
    while (got < 16) {
      long r = sc_(SYS_read, 4, (long)(nonce_ + got), (long)(16 - got));
      if (r == -EINTR) continue;
      if (r <= 0) quit_(72);
      got += (std::size_t)r;
    }
    sc_(SYS_close, 4, 0, 0);
    pid_ = sc_(SYS_getpid, 0, 0, 0);
    begin_(-2);
  }
} start_;
}  // namespace @NS@
"""

AFTER_SETUP = r"""
namespace @NS@ {
static struct SetupDone_ {
  SetupDone_() {
    end_(-2, 'P', "", "");
    begin_(-1);
@PROGRAM@  }
} setup_done_;
}  // namespace @NS@
"""

EPILOGUE_HEAD = r"""
namespace @NS@ {
struct Failure_ {
  int line;
};
[[noreturn]] static void fail_(int line) { throw Failure_{line}; }
template <class T, class = void>
struct trusted_ : std::false_type {};
template <class T>
struct trusted_<T, typename std::enable_if<std::is_arithmetic<T>::value>::type> : std::true_type {};
template <class T>
struct trusted_<const T> : trusted_<T> {};
template <> struct trusted_<std::string> : std::true_type {};
template <> struct trusted_<std::string_view> : std::true_type {};
template <> struct trusted_<const char*> : std::true_type {};
template <> struct trusted_<char*> : std::true_type {};
template <> struct trusted_<std::nullptr_t> : std::true_type {};
template <class T> struct trusted_<std::vector<T>> : trusted_<T> {};
template <class T> struct trusted_<std::deque<T>> : trusted_<T> {};
template <class T> struct trusted_<std::list<T>> : trusted_<T> {};
template <class T, std::size_t N> struct trusted_<std::array<T, N>> : trusted_<T> {};
template <class T> struct trusted_<std::set<T>> : trusted_<T> {};
template <class T> struct trusted_<std::multiset<T>> : trusted_<T> {};
template <class T> struct trusted_<std::unordered_set<T>> : trusted_<T> {};
template <class T> struct trusted_<std::optional<T>> : trusted_<T> {};
template <class K, class V>
struct trusted_<std::map<K, V>> : std::integral_constant<bool, trusted_<K>::value && trusted_<V>::value> {};
template <class K, class V>
struct trusted_<std::multimap<K, V>>
    : std::integral_constant<bool, trusted_<K>::value && trusted_<V>::value> {};
template <class K, class V>
struct trusted_<std::unordered_map<K, V>>
    : std::integral_constant<bool, trusted_<K>::value && trusted_<V>::value> {};
template <class A, class B>
struct trusted_<std::pair<A, B>> : std::integral_constant<bool, trusted_<A>::value && trusted_<B>::value> {};
template <class... T>
struct trusted_<std::tuple<T...>> : std::integral_constant<bool, (trusted_<T>::value && ...)> {};
template <class F>
decltype(auto) call_(F&& fn) {
  using R = decltype(fn());
  if constexpr (std::is_void<R>::value) {
    fn();
  } else {
    static_assert(trusted_<typename std::remove_cv<typename std::remove_reference<R>::type>::type>::value,
                  "codegym: the entry point must return standard-library values (numbers, std::string, "
                  "std::vector, std::map, std::pair, ...), not a type of its own");
    return fn();
  }
}
static std::string demangle_(const char* name) {
  int status = 0;
  char* out = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  std::string s = (status == 0 && out) ? out : name;
  std::free(out);
  return s;
}
template <class Fn, std::size_t N>
static void run_test_(int index, Fn fn, const char* const (&lines)[N]) {
  begin_(index);
  char code = 'P';
  std::string exc, msg;
  try {
    fn();
  } catch (const Failure_& f) {
    code = 'F';
    exc = "AssertionError";
    msg = (f.line >= 1 && (std::size_t)f.line <= N) ? lines[f.line - 1] : "assert failed";
  } catch (const std::bad_alloc&) {
    code = 'M';
    exc = "std::bad_alloc";
    msg = "out of memory";
  } catch (const std::exception& e) {
    code = 'E';
    exc = demangle_(typeid(e).name());
    msg = e.what();
  } catch (...) {
    code = 'E';
    std::type_info* t = abi::__cxa_current_exception_type();
    exc = t ? demangle_(t->name()) : "unknown exception";
  }
  end_(index, code, exc.c_str(), msg.c_str());
}
}  // namespace @NS@

#undef assert
#define assert(...) ((__VA_ARGS__) ? (void)0 : ::@NS@::fail_(__LINE__))

namespace @NS@_tests {
struct Blocker_ {};
bool operator==(Blocker_, Blocker_);
bool operator!=(Blocker_, Blocker_);
bool operator<(Blocker_, Blocker_);
bool operator>(Blocker_, Blocker_);
bool operator<=(Blocker_, Blocker_);
bool operator>=(Blocker_, Blocker_);
"""

TEST_FN = """static const char* const test_{i}_lines_[] = {{{lines}}};
static void test_{i}_() {{
#line 1 "test {i}"
{body}
}}
"""

MAIN_TESTS = r"""}  // namespace @NS@_tests
#line 1 "codegym-main"
int main() {
  ::@NS@::end_(-1, 'P', "", "");
@CALLS@  ::@NS@::done_();
}
"""

_KEEP = re.compile(r"^(__\w*|[A-Z][A-Z0-9_]*|defined)$")


def _namespace(code: str, tests: Sequence[str], setup: str) -> str:
    digest = hashlib.sha256("\0".join([code, setup, *tests]).encode("utf-8", "surrogatepass")).hexdigest()
    return f"codegym_{digest[:20]}"


def _c_strings(lines: list[str]) -> str:
    """C++ string literals (comma separated) holding ``lines``, trimmed and capped at 300 characters."""
    out = []
    for line in lines:
        text = line.strip()[:300]
        out.append('"' + "".join(_c_char(ch) for ch in text) + '"')
    return ", ".join(out) or '""'


def _c_char(ch: str) -> str:
    if ch in '"\\?':
        return "\\" + ch
    if 32 <= ord(ch) < 127:
        return ch
    return "".join(f'\\x{b:02x}""' for b in ch.encode("utf-8"))


def generate(code: str, tests: Sequence[str], setup: str, entry_point: str) -> str:
    """Return the complete C++ source of one request (see the module docstring)."""
    ns = _namespace(code, tests, setup)
    parts = [
        PROLOGUE.replace("@NS@", ns),
        '#line 1 "setup"\n' + setup + "\n" if setup.strip() else "",
    ]
    if not tests:
        # A whole program: its own main runs; on_exit reports how it ended.
        after = AFTER_SETUP.replace("@PROGRAM@", "    on_exit(on_exit_, nullptr);\n")
        parts += [after.replace("@NS@", ns), '#line 1 "solution.cpp"\n', code, "\n"]
        return "".join(parts)
    names = [n for n in (entry_point, "candidate") if n]
    bodies = [
        wrap_calls(t, names, lambda call: f"::{ns}::call_([&]() -> decltype(auto) {{ return {call}; }})")
        for t in tests
    ]
    calls = "".join(
        f"  ::{ns}::run_test_({i}, {ns}_tests::test_{i}_, {ns}_tests::test_{i}_lines_);\n"
        for i in range(len(tests))
    )
    epilogue = (
        EPILOGUE_HEAD.replace("@NS@", ns)
        + "".join(
            TEST_FN.format(i=i, body=b, lines=_c_strings(t.split("\n")))
            for i, (t, b) in enumerate(zip(tests, bodies, strict=True))
        )
        + MAIN_TESTS.replace("@NS@", ns).replace("@CALLS@", calls)
    )
    undef = sorted(n for n in identifiers(epilogue) if not _KEEP.match(n))
    parts += [
        AFTER_SETUP.replace("@PROGRAM@", "").replace("@NS@", ns),
        # The candidate's own main (models often add a demo) must not clash with the harness's.
        f"#define main {ns}_main\n",
        '#line 1 "solution.cpp"\n',
        code,
        "\n",
        '#line 1 "codegym-harness"\n',
        "#undef main\n",
        "".join(f"#undef {n}\n" for n in undef),
        epilogue,
    ]
    return "".join(parts)


def build(
    code: str, tests: Sequence[str], setup: str, entry_point: str, limits: Limits, toolchain: Toolchain
) -> tuple[dict, dict, list[str], str]:
    """Return ``(spec, compile, flags, source)`` for a C++ request."""
    source = generate(code, tests, setup, entry_point)
    argv = [toolchain.binary, *FLAGS, "-o", "prog", "main.cpp"]
    compile_spec = {"files": {"main.cpp": source}, "argv": argv, "output": "prog"}
    spec = {
        "n_tests": len(tests),
        "argv": ["./prog"],
        "artifact_name": "prog",
        "input": b"",
        "data_extra_mb": 64,
        "as_extra_mb": 2048,
        "env": {},
        "oom_markers": list(OOM_MARKERS),
        "startup_s": 2.0,  # loading the program (and libstdc++) before the harness's first frame
    }
    return spec, compile_spec, FLAGS, source
