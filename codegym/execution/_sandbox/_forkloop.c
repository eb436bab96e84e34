/* The forker's loop, in C (zygote.py's Worker.forker_main has the same loop in Python, used where this
   was not built).

   The forker forks every Python candidate. After each fork all its writable pages are shared with the
   child and write-protected, so the first write to each page afterwards costs the forker a page fault.
   Its loop in Python writes about a hundred pages per candidate (reference counts, new objects, frames);
   this loop writes a few: it reads the job into one buffer, forks, waits for the candidate, kills and
   reaps whatever the candidate left, and writes the answer, without creating a Python object. The job
   is unmarshalled by the child, which first takes the steps zygote.py's Worker.child takes before it
   runs any Python: a new session, its descriptors, its rlimits, its working directory and its uid.
   A job that brings tests (a task's first candidate) is unmarshalled here, and its tests' code kept in
   the forker's list for the candidates after it. Jobs with modules the forker must import first go
   back to the Python loop.

   The worker's steps after each candidate that are only system calls (reading and emptying the
   captures and the verdict pipe, looking at the temporary directories) are here too: in Python each
   call builds objects (a stat result of twenty fields, an exception for an empty pipe) for a few
   integers. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <marshal.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* A job whose payload starts with this byte needs nothing of the forker but the fork. */
#define CHILD_ONLY 'C'
/* One that brings tests the forker keeps before it forks (zygote.py's _KEEP_TESTS). */
#define KEEP_TESTS 'T'

static char *job;       /* the last job read (grown as needed, never shrunk) */
static size_t job_cap;

/* After the first byte: the number of rlimits, then each as struct "=iqq" (zygote.py's _RLIMIT). */
#define RLIMIT_BYTES 20

/* What every child sets up before it runs Python (serve()'s last argument). */
struct own {
    int devnull, out_w, err_w, close_top;
    long uid; /* -1: keep the forker's */
    char workdir[PATH_MAX];
};

/* The child cannot be set up: say why on its stderr (the capture) and exit as Worker.child does. */
static void
child_fails(const char *step)
{
    char msg[160];
    int n = snprintf(msg, sizeof msg, "codegym sandbox: %s failed (errno %d)\n", step, errno);
    if (n > 0) {
        ssize_t ignored = write(2, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
        (void)ignored;
    }
    _exit(70);
}

/* In the child, before any Python runs: Worker.child's steps, in its order. A limit the kernel refuses
   is skipped, as there (what it refuses is beyond the hard limit the child inherits anyway). */
static void
set_up_child(const struct own *o, int vw, const char *limits, int n)
{
    if (setsid() < 0) {
        child_fails("setsid");
    }
    if (dup2(o->devnull, 0) < 0 || dup2(o->out_w, 1) < 0 || dup2(o->err_w, 2) < 0 || dup2(vw, 3) < 0) {
        child_fails("dup2");
    }
#ifdef SYS_close_range
    if (syscall(SYS_close_range, 4, o->close_top - 1, 0) < 0) /* as os.closerange, where the kernel has it */
#endif
    {
        for (int fd = 4; fd < o->close_top; fd++) {
            close(fd);
        }
    }
    for (int i = 0; i < n; i++) {
        int32_t res;
        int64_t soft, hard;
        const char *p = limits + (size_t)i * RLIMIT_BYTES;
        memcpy(&res, p, 4);
        memcpy(&soft, p + 4, 8);
        memcpy(&hard, p + 12, 8);
        struct rlimit rl = {(rlim_t)soft, (rlim_t)hard}; /* -1 is RLIM_INFINITY, as in Python */
        setrlimit(res, &rl);
    }
    if (chdir(o->workdir) < 0) {
        child_fails("chdir");
    }
    if (o->uid >= 0) {
        uid_t id = (uid_t)o->uid;
        if (setgroups(0, NULL) < 0) {
            child_fails("setgroups");
        }
        if (setresgid(id, id, id) < 0) {
            child_fails("setresgid");
        }
        if (setresuid(id, id, id) < 0) {
            child_fails("setresuid");
        }
    }
}

/* Read exactly n bytes: 0, 1 at end of file, -1 on an error (errno set). */
static int
read_exact(int fd, char *p, size_t n)
{
    while (n) {
        ssize_t r = read(fd, p, n);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        if (r == 0) {
            return 1;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static int
write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t r = write(fd, p, n);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Read one frame (4-byte big-endian length, then the payload) into job; return its length, or -1 with
   a Python exception set (EOFError when the worker closed the pipe). */
static Py_ssize_t
read_job(int fd)
{
    unsigned char head[4];
    int r = read_exact(fd, (char *)head, 4);
    if (r == 0) {
        size_t n = ((size_t)head[0] << 24) | ((size_t)head[1] << 16) | ((size_t)head[2] << 8) | head[3];
        if (n > job_cap) {
            char *grown = realloc(job, n);
            if (grown == NULL) {
                PyErr_NoMemory();
                return -1;
            }
            job = grown;
            job_cap = n;
        }
        r = read_exact(fd, job, n);
        if (r == 0) {
            return (Py_ssize_t)n;
        }
    }
    if (r > 0) {
        PyErr_SetNone(PyExc_EOFError);
    }
    else {
        PyErr_SetFromErrno(PyExc_OSError);
    }
    return -1;
}

/* After the candidate: wait for it, kill every other process of the namespace (the forker runs in a
   PID namespace whose PID 1 is the worker: kill(-1) reaches all but the two), reap the candidate's
   siblings (clone with CLONE_PARENT makes them the forker's children) until the kernel lists none,
   clear the flags the candidate may have set on the verdict pipe's shared file description, and
   answer (pid, wait status, CPU seconds) as the struct "<iid". */
static int
finish(pid_t pid, int ans_w, int vw, int children_fd)
{
    int status = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR) {
            return -1;
        }
    }
    kill(-1, SIGKILL);
    char listed[64];
    for (;;) {
        ssize_t r = pread(children_fd, listed, sizeof listed, 0);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            break;
        }
        if (waitpid(-1, NULL, 0) < 0 && errno == ECHILD) {
            break;
        }
    }
    fcntl(vw, F_SETFL, 0);
    double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
                 ru.ru_stime.tv_usec / 1e6;
    int32_t head[2] = {(int32_t)pid, (int32_t)status};
    char answer[16];
    memcpy(answer, head, 8); /* little-endian on every platform CPython's fork start method targets */
    memcpy(answer + 8, &cpu, 8);
    return write_all(ans_w, answer, sizeof answer);
}

/* Fork for a job: in the child, set up (see set_up_child), return 0; in the forker, once the candidate
   is finished (see finish), return its pid; -1 with a Python exception set on an error. */
static pid_t
fork_and_finish(const struct own *o, int vw, const char *limits, int n, int ans_w, int children_fd)
{
    PyOS_BeforeFork();
    pid_t pid = fork();
    if (pid == 0) {
        PyOS_AfterFork_Child();
        set_up_child(o, vw, limits, n);
        return 0;
    }
    int saved = errno;
    PyOS_AfterFork_Parent();
    if (pid < 0) {
        errno = saved;
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    if (finish(pid, ans_w, vw, children_fd) < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    return pid;
}

/* In the child of a job serve() took alone, with serve()'s context (known tests, module snapshots, the
   harness's redirections cache and function, its C loop or None, its run_job, gc.freeze): build the
   job (unmarshalled; a job whose tests the forker kept is its own, already unmarshalled) as
   zygote.py's forker loop and Worker.child_job do and run the harness, without a Python frame of the
   forker's loop. Never returns. */
static void
run_child(PyObject *ctx, PyObject *job)
{
    PyObject *known = PyTuple_GET_ITEM(ctx, 0), *snapshots = PyTuple_GET_ITEM(ctx, 1);
    PyObject *cache = PyTuple_GET_ITEM(ctx, 2), *redirect = PyTuple_GET_ITEM(ctx, 3);
    PyObject *run_c = PyTuple_GET_ITEM(ctx, 4), *run_py = PyTuple_GET_ITEM(ctx, 5);
    /* (code, setup, (fresh, test indices; or the tests the forker kept), reads, builtins used, nonce,
       imports) */
    if (job == NULL || !PyTuple_CheckExact(job) || PyTuple_GET_SIZE(job) != 7) {
        goto fail;
    }
    PyObject *setup = PyTuple_GET_ITEM(job, 1), *which = PyTuple_GET_ITEM(job, 2);
    PyObject *setup_code = Py_None;
    if (PyBytes_Check(setup) && PyBytes_GET_SIZE(setup) > 0) {
        setup_code = PyMarshal_ReadObjectFromString(PyBytes_AS_STRING(setup), PyBytes_GET_SIZE(setup));
        if (setup_code == NULL) {
            goto fail;
        }
    }
    if (!PyTuple_CheckExact(which) || PyTuple_GET_SIZE(which) != 2) {
        goto fail;
    }
    int fresh = PyObject_IsTrue(PyTuple_GET_ITEM(which, 0));
    PyObject *indices = fresh < 0 ? NULL : PySequence_Fast(PyTuple_GET_ITEM(which, 1), "test indices");
    PyObject *tests = NULL;
    if (indices == NULL) {
        goto fail;
    }
    Py_ssize_t m = PySequence_Fast_GET_SIZE(indices), have = PyList_GET_SIZE(known);
    if (fresh) {
        /* The tests the forker just kept: the last m of its list. */
        tests = m <= have ? PyList_GetSlice(known, have - m, have) : NULL;
    }
    else if ((tests = PyList_New(m)) != NULL) {
        for (Py_ssize_t i = 0; i < m; i++) {
            Py_ssize_t k = PyLong_AsSsize_t(PySequence_Fast_GET_ITEM(indices, i));
            if (k < 0 || k >= have) {
                goto fail; /* the worker refers only to tests this forker kept */
            }
            PyObject *t = PyList_GET_ITEM(known, k);
            Py_INCREF(t);
            PyList_SET_ITEM(tests, i, t);
        }
    }
    if (tests == NULL) {
        goto fail;
    }
    PyObject *reads = PyFrozenSet_New(PyTuple_GET_ITEM(job, 3));
    PyObject *used = reads ? PySequence_Tuple(PyTuple_GET_ITEM(job, 4)) : NULL;
    if (used == NULL) {
        goto fail;
    }
    PyObject *redirected = PyDict_GetItemWithError(cache, used);
    if (redirected != NULL) {
        Py_INCREF(redirected);
    }
    else if (PyErr_Occurred() || (redirected = PyObject_CallOneArg(redirect, used)) == NULL) {
        goto fail;
    }
    PyObject *fd = PyLong_FromLong(3);
    if (fd == NULL) {
        goto fail;
    }
    PyObject *args[9] = {PyTuple_GET_ITEM(job, 5), fd,        setup_code, PyTuple_GET_ITEM(job, 0), tests,
                         snapshots,                reads,     redirected, PyTuple_GET_ITEM(job, 6)};
    if (run_c != Py_None) {
        PyObject *r = PyObject_Vectorcall(run_c, args, 9, NULL);
        if (r == NULL) {
            goto fail;
        }
        Py_DECREF(r); /* NotImplemented: a job for the Python loop (see _runner.run) */
    }
    PyObject_Vectorcall(run_py, args, 9, NULL);
fail:
    if (PyErr_Occurred()) {
        char why[160];
        snprintf(why, sizeof why, "building the job (%s)", ((PyTypeObject *)PyErr_Occurred())->tp_name);
        child_fails(why);
    }
    child_fails("building the job");
}

/* serve()'s and fork_job()'s last argument: (devnull, out_w, err_w, close_top, workdir, uid). */
static int
parse_own(PyObject *tuple, struct own *o)
{
    const char *workdir;
    Py_ssize_t workdir_len;
    if (!PyArg_ParseTuple(tuple, "iiiiy#l", &o->devnull, &o->out_w, &o->err_w, &o->close_top, &workdir,
                          &workdir_len, &o->uid)) {
        return -1;
    }
    if ((size_t)workdir_len >= sizeof o->workdir || strlen(workdir) != (size_t)workdir_len) {
        PyErr_SetString(PyExc_ValueError, "the working directory is too long or holds a NUL");
        return -1;
    }
    memcpy(o->workdir, workdir, (size_t)workdir_len + 1);
    return 0;
}

/* Where the marshalled part of a job frame of n bytes starts (after its first byte, the number of
   rlimits and the rlimits); -1 if the frame is too short for them. */
static Py_ssize_t
job_body(const char *frame, Py_ssize_t n)
{
    Py_ssize_t start = n >= 2 ? 2 + (Py_ssize_t)(unsigned char)frame[1] * RLIMIT_BYTES : -1;
    return start > n ? -1 : start;
}

/* A job that brings tests (KEEP_TESTS): unmarshal it and append its tests to the forker's list, each
   test's code unmarshalled (a test that did not compile stays its error text), after emptying the
   list when the worker started its numbering over (fresh == 2), as zygote.py's forker loop does.
   Return the job (a new reference), or NULL with an exception set. */
static PyObject *
keep_tests(PyObject *known, const char *data, Py_ssize_t n)
{
    PyObject *job = PyMarshal_ReadObjectFromString(data, n);
    if (job == NULL) {
        return NULL;
    }
    PyObject *which = PyTuple_CheckExact(job) && PyTuple_GET_SIZE(job) == 7 ? PyTuple_GET_ITEM(job, 2) : NULL;
    if (which == NULL || !PyTuple_CheckExact(which) || PyTuple_GET_SIZE(which) != 2
        || !PyList_CheckExact(PyTuple_GET_ITEM(which, 1))) {
        PyErr_SetString(PyExc_ValueError, "a job with tests to keep is not (code, setup, (fresh, tests), ...)");
        goto fail;
    }
    long fresh = PyLong_AsLong(PyTuple_GET_ITEM(which, 0));
    if ((fresh == -1 && PyErr_Occurred())
        || (fresh == 2 && PyList_SetSlice(known, 0, PyList_GET_SIZE(known), NULL) < 0)) {
        goto fail;
    }
    PyObject *tests = PyTuple_GET_ITEM(which, 1);
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(tests); i++) {
        PyObject *t = PyList_GET_ITEM(tests, i);
        PyObject *code = PyBytes_CheckExact(t)
                             ? PyMarshal_ReadObjectFromString(PyBytes_AS_STRING(t), PyBytes_GET_SIZE(t))
                             : Py_NewRef(t);
        if (code == NULL) {
            goto fail;
        }
        int r = PyList_Append(known, code);
        Py_DECREF(code);
        if (r < 0) {
            goto fail;
        }
    }
    return job;
fail:
    Py_DECREF(job);
    return NULL;
}

static PyObject *
serve(PyObject *self, PyObject *args)
{
    int req_r, ans_w, vw, children_fd;
    PyObject *own, *ctx;
    struct own o;
    if (!PyArg_ParseTuple(args, "iiiiO!O!:serve", &req_r, &ans_w, &vw, &children_fd, &PyTuple_Type, &own,
                          &PyTuple_Type, &ctx)
        || parse_own(own, &o) < 0) {
        return NULL;
    }
    if (PyTuple_GET_SIZE(ctx) != 7 || !PyList_CheckExact(PyTuple_GET_ITEM(ctx, 0))
        || !PyDict_CheckExact(PyTuple_GET_ITEM(ctx, 2))) {
        PyErr_SetString(PyExc_TypeError,
                        "serve(): the child's context is (known tests list, snapshots, redirections dict, "
                        "redirections function, C run or None, Python run, gc.freeze)");
        return NULL;
    }
    for (;;) {
        Py_ssize_t n = read_job(req_r);
        if (n < 0) {
            return NULL;
        }
        Py_ssize_t start = job_body(job, n);
        if (start < 0 || (job[0] != CHILD_ONLY && job[0] != KEEP_TESTS)) {
            return Py_BuildValue("y#", job, n);
        }
        PyObject *kept = NULL;
        if (job[0] == KEEP_TESTS) {
            kept = keep_tests(PyTuple_GET_ITEM(ctx, 0), job + start, n - start);
            /* What the tests allocated joins the frozen objects, as before the Python loop's forks. */
            PyObject *r = kept ? PyObject_CallNoArgs(PyTuple_GET_ITEM(ctx, 6)) : NULL;
            if (r == NULL) {
                Py_XDECREF(kept);
                return NULL;
            }
            Py_DECREF(r);
        }
        pid_t pid = fork_and_finish(&o, vw, job + 2, (unsigned char)job[1], ans_w, children_fd);
        if (pid == 0) {
            /* never returns */
            run_child(ctx, kept ? kept : PyMarshal_ReadObjectFromString(job + start, n - start));
        }
        Py_XDECREF(kept);
        if (pid < 0) {
            return NULL;
        }
    }
}

/* pread up to cap bytes from offset 0 (EINTR retried); b"" if the read fails, as zygote.py's
   _read_captures does. New reference. */
static PyObject *
read_capture(int fd, Py_ssize_t cap)
{
    PyObject *out = PyBytes_FromStringAndSize(NULL, cap);
    if (out == NULL) {
        return NULL;
    }
    ssize_t r;
    do {
        r = pread(fd, PyBytes_AS_STRING(out), (size_t)cap, 0);
    } while (r < 0 && errno == EINTR);
    if (_PyBytes_Resize(&out, r < 0 ? 0 : r) < 0) {
        return NULL;
    }
    return out;
}

static PyObject *
collect(PyObject *self, PyObject *args)
{
    int vr, out_fd, err_fd, pipe_size;
    Py_ssize_t cap;
    if (!PyArg_ParseTuple(args, "iiiin:collect", &vr, &out_fd, &err_fd, &pipe_size, &cap)) {
        return NULL;
    }
    if (cap < 0) {
        PyErr_SetString(PyExc_ValueError, "collect(): cap must be >= 0");
        return NULL;
    }
    PyObject *out = read_capture(out_fd, cap);
    PyObject *err = out ? read_capture(err_fd, cap) : NULL;
    if (err == NULL) {
        Py_XDECREF(out);
        return NULL;
    }
    /* Empty the verdict pipe (non-blocking: stops when empty) and the captures; clear the flags a
       candidate may have set on their shared file descriptions; restore a pipe the candidate shrank. */
    char sink[4096];
    for (;;) {
        ssize_t r = read(vr, sink, sizeof sink);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            break;
        }
    }
    int fds[2] = {out_fd, err_fd};
    for (int i = 0; i < 2; i++) {
        if (ftruncate(fds[i], 0) == 0 && lseek(fds[i], 0, SEEK_SET) == 0) {
            fcntl(fds[i], F_SETFL, 0);
        }
    }
    int size = fcntl(vr, F_GETPIPE_SZ);
    if (size >= 0 && size != pipe_size) {
        fcntl(vr, F_SETPIPE_SZ, pipe_size);
    }
    PyObject *pair = PyTuple_Pack(2, out, err);
    Py_DECREF(out);
    Py_DECREF(err);
    return pair;
}

static PyObject *
dir_state(PyObject *self, PyObject *paths)
{
    if (!PyTuple_CheckExact(paths)) {
        PyErr_SetString(PyExc_TypeError, "dir_state(paths) takes a tuple of paths");
        return NULL;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(paths);
    PyObject *out = PyTuple_New(n);
    if (out == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *path = PyTuple_GET_ITEM(paths, i);
        if (!PyUnicode_Check(path)) {
            Py_DECREF(out);
            PyErr_SetString(PyExc_TypeError, "dir_state(paths) takes a tuple of str");
            return NULL;
        }
        PyObject *encoded = PyUnicode_EncodeFSDefault(path);
        if (encoded == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        struct stat st;
        int r = lstat(PyBytes_AS_STRING(encoded), &st);
        Py_DECREF(encoded);
        if (r < 0) {
            Py_DECREF(out);
            return PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, path);
        }
        PyObject *item = Py_BuildValue("(KLKKKK)", (unsigned long long)st.st_ino, (long long)st.st_size,
                                       (unsigned long long)st.st_nlink, (unsigned long long)st.st_mode,
                                       (unsigned long long)st.st_uid, (unsigned long long)st.st_gid);
        if (item == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyTuple_SET_ITEM(out, i, item);
    }
    return out;
}

/* For a job the forker acted on in Python (it kept new tests, imported the tests' modules): the same
   fork, set-up and finish as serve()'s. */
static PyObject *
fork_job(PyObject *self, PyObject *args)
{
    int ans_w, vw, children_fd;
    PyObject *own;
    const char *frame;
    Py_ssize_t n;
    struct own o;
    if (!PyArg_ParseTuple(args, "iiiO!y#:fork_job", &ans_w, &vw, &children_fd, &PyTuple_Type, &own, &frame, &n)
        || parse_own(own, &o) < 0) {
        return NULL;
    }
    if (job_body(frame, n) < 0) {
        PyErr_SetString(PyExc_ValueError, "fork_job(): the job frame is shorter than its rlimits");
        return NULL;
    }
    pid_t pid = fork_and_finish(&o, vw, frame + 2, (unsigned char)frame[1], ans_w, children_fd);
    return pid < 0 ? NULL : PyLong_FromLong(pid);
}

static PyMethodDef methods[] = {
    {"serve", serve, METH_VARARGS,
     "serve(req_r, ans_w, vw, children_fd, (devnull, out_w, err_w, close_top, workdir, uid), (known, "
     "snapshots, redirections cache, redirections, C run or None, Python run, gc.freeze)) -> job: run the "
     "forker's jobs until one needs Python, and return it (a job that starts with neither b'C' nor b'T'; "
     "a b'T' job's tests are appended to known first). The forked child is set up (session, descriptors, "
     "the job's rlimits, working directory, uid unless -1), builds its job and runs the harness, and "
     "never returns. Raises EOFError when req_r is closed."},
    {"fork_job", fork_job, METH_VARARGS,
     "fork_job(ans_w, vw, children_fd, (devnull, out_w, err_w, close_top, workdir, uid), job) -> pid: "
     "fork for a job the forker acted on; in the child, set up as serve()'s children are, returns 0; in "
     "the forker, once the candidate was waited for, everything it left killed and reaped and the "
     "answer written, returns its pid."},
    {"collect", collect, METH_VARARGS,
     "collect(vr, out_fd, err_fd, pipe_size, cap) -> (stdout, stderr): after a candidate, in the worker: "
     "the first cap bytes of each capture; then the verdict pipe and the captures emptied for the next "
     "candidate, their file status flags cleared and the pipe's size restored."},
    {"dir_state", dir_state, METH_O,
     "dir_state(paths) -> tuple: (inode, size, links, mode, uid, gid) of each path, not following "
     "symbolic links, as zygote.py's Worker.dir_state."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_forkloop", "The sandbox forker's loop, without Python objects.", 0, methods,
};

PyMODINIT_FUNC
PyInit__forkloop(void)
{
    return PyModule_Create(&module);
}
