/* The forker's loop, in C (zygote.py's Worker.forker_main has the same loop in Python, used where this
   was not built).

   The forker forks every Python candidate. After each fork all its writable pages are shared with the
   child and write-protected, so the first write to each page afterwards costs the forker a page fault.
   Its loop in Python writes about a hundred pages per candidate (reference counts, new objects, frames);
   this loop writes a few: it reads the job into one buffer, forks, waits for the candidate, kills and
   reaps whatever the candidate left, and writes the answer, without creating a Python object. The job
   is unmarshalled by the child. Jobs the forker has to act on itself (tests it must keep, modules it
   must import) go back to the Python loop. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* A job whose payload starts with this byte needs nothing of the forker but the fork. */
#define CHILD_ONLY 'C'

static char *job;       /* the last job read (grown as needed, never shrunk) */
static size_t job_cap;

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

static PyObject *
serve(PyObject *self, PyObject *args)
{
    int req_r, ans_w, vw, children_fd;
    if (!PyArg_ParseTuple(args, "iiii:serve", &req_r, &ans_w, &vw, &children_fd)) {
        return NULL;
    }
    for (;;) {
        Py_ssize_t n = read_job(req_r);
        if (n < 0) {
            return NULL;
        }
        if (n == 0 || job[0] != CHILD_ONLY) {
            return Py_BuildValue("(iy#)", -1, job, n);
        }
        PyOS_BeforeFork();
        pid_t pid = fork();
        if (pid == 0) {
            PyOS_AfterFork_Child();
            return Py_BuildValue("(iy#)", 0, job + 1, n - 1);
        }
        int saved = errno;
        PyOS_AfterFork_Parent();
        if (pid < 0) {
            errno = saved;
            return PyErr_SetFromErrno(PyExc_OSError);
        }
        if (finish(pid, ans_w, vw, children_fd) < 0) {
            return PyErr_SetFromErrno(PyExc_OSError);
        }
    }
}

static PyMethodDef methods[] = {
    {"serve", serve, METH_VARARGS,
     "serve(req_r, ans_w, vw, children_fd) -> (pid, payload): run the forker's jobs until one needs "
     "Python. In the forked child returns (0, the job without its first byte); in the forker (-1, the "
     "job) for a job that does not start with b'C'. Raises EOFError when req_r is closed."},
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
