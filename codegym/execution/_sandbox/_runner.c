/* The sandbox harness's test loop, in C (harness.py's run_candidate has the same loop in Python, used
   where this was not built and for jobs this loop does not take).

   Everything the harness holds in a child it would otherwise bind there: some forty local variables,
   four closures and their cells, the frames of its phases, a bytes object per verdict frame. Each
   reference it takes writes an object's reference count, and after the fork the first write to each
   page copies that page. This loop holds the harness's objects in C (set once by prepare() in the
   worker, before any fork, and read through borrowed references in the child), builds the verdict
   frames in a static buffer and writes them with write(2); the candidate, the tests and the helpers
   run as before. It runs the same phases, sends the same frames and reports the same problems as
   harness.run_candidate.

   The worker reads those frames with parse_frames(), the twin of harness.parse_frames: the same
   checks, states and errors, without a Python object per frame. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Shared with harness.py and zygote.py. */
#define NONCE_BYTES 16
#define HEADER_BYTES 7 /* struct "<cih": kind, index, payload length */
#define TIME_BYTES 8   /* struct "<d" */
#define MAX_PAYLOAD 3000
#define FRAME_MAX (NONCE_BYTES + HEADER_BYTES + MAX_PAYLOAD)
#define PHASE_SETUP (-2)
#define PHASE_CODE (-1)
#define EXIT_INTERNAL 70 /* what zygote.py's child exits with when the harness itself fails */

/* The harness's objects: strong references taken by prepare() in the worker, read borrowed in the
   children. */
static struct {
    int ready;
    PyObject *bsnap, *bvalues;                                 /* builtins: (name, value) pairs, values */
    PyObject *cmp_name, *ret_name, *soft_name;                 /* the test helpers' names in the tests */
    PyObject *strict_compare, *sanitize_return, *sanitize_soft; /* and the helpers */
    PyObject *guarded_code;                                    /* (function, code, defaults, kwdefaults) */
    PyObject *poisoned, *poisoned_values, *poisoned_bases;     /* the stand-in class */
    PyObject *helper_dict, *helper_values;                     /* the helpers' globals */
    PyObject *prefix_is, *functions_intact, *class_is;         /* the checks (C or Python) */
    PyObject *builtins_module, *builtins_dict, *sys_modules, *gettrace, *getprofile;
    PyObject *s_name, *s_builtins, *s_candidate, *s_flush, *s_dict;
} H;

/* The child's state (set by run() before anything runs). */
static unsigned char nonce[NONCE_BYTES];
static int verdict_fd;
static pid_t my_pid;
static double began;                    /* when the current phase began */
static unsigned char frames[3 * FRAME_MAX]; /* frames held back, then the one being sent */
static size_t held;

static double
monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts); /* time.monotonic()'s clock on Linux */
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void
put_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++) {
        p[i] = (unsigned char)(v >> (8 * i));
    }
}

static void
put_double(unsigned char *p, double d)
{
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    put_le(p, bits, TIME_BYTES);
}

/* The harness cannot go on (a write failed, an internal error): say so on stderr and exit; the worker
   reports a crash, never a pass. */
static void
die(const char *why)
{
    static const char head[] = "codegym harness: ";
    ssize_t ignored = write(2, head, sizeof head - 1);
    ignored = write(2, why, strlen(why));
    ignored = write(2, "\n", 1);
    (void)ignored;
    _exit(EXIT_INTERNAL);
}

/* Frame a verdict; write it with the frames held back before it, unless flush is 0. Frames are held
   back only while the harness itself runs next and sends another before any candidate or test code
   runs, so the worker always has every frame of what finished. At most three frames: below PIPE_BUF,
   so one atomic write. */
static void
send_frame(char kind, int index, char result, const char *text, Py_ssize_t text_len, int flush)
{
    if (getpid() != my_pid) {
        _exit(0); /* a forked copy of the harness must not speak for the candidate */
    }
    double now = monotonic();
    unsigned char *p = frames + held;
    unsigned char *payload = p + NONCE_BYTES + HEADER_BYTES;
    size_t plen = 0;
    if (kind == 'B') {
        began = now;
        put_double(payload, now);
        plen = TIME_BYTES;
    }
    else if (kind == 'E') {
        payload[0] = (unsigned char)result;
        put_double(payload + 1, now - began);
        plen = 1 + TIME_BYTES;
        size_t room = MAX_PAYLOAD - plen;
        size_t n = text_len < 0 ? 0 : (size_t)text_len;
        if (n > room) {
            n = room;
        }
        memcpy(payload + plen, text, n);
        plen += n;
    }
    memcpy(p, nonce, NONCE_BYTES);
    p[NONCE_BYTES] = (unsigned char)kind;
    put_le(p + NONCE_BYTES + 1, (uint32_t)(int32_t)index, 4);
    put_le(p + NONCE_BYTES + 5, (uint16_t)plen, 2);
    held += NONCE_BYTES + HEADER_BYTES + plen;
    if (!flush) {
        return;
    }
    size_t n = held;
    held = 0;
    for (;;) {
        ssize_t r = write(verdict_fd, frames, n);
        if (r == (ssize_t)n) {
            return;
        }
        if (r < 0 && errno == EINTR) {
            continue;
        }
        die("the verdict channel failed");
    }
}

static void
send_simple(char kind, int index, int flush)
{
    send_frame(kind, index, 0, NULL, 0, flush);
}

/* harness._short: the text if it is a str (cut to limit characters), else a stand-in. New reference. */
static PyObject *
shorten(PyObject *text, Py_ssize_t limit)
{
    if (text == NULL || !PyUnicode_CheckExact(text)) {
        return PyUnicode_FromString("<message unavailable>");
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    if (n <= limit) {
        Py_INCREF(text);
        return text;
    }
    PyObject *head = PyUnicode_Substring(text, 0, limit - 3);
    if (head == NULL) {
        return NULL;
    }
    PyObject *out = PyUnicode_FromFormat("%U...", head);
    Py_DECREF(head);
    return out;
}

/* Send an END frame with result code result and text (exception name, message); the texts are cut and
   encoded as harness.run_candidate's send() does. */
static void
send_end(int index, char result, PyObject *exc, PyObject *msg, int flush)
{
    PyObject *e = shorten(exc, 200);
    PyObject *m = e ? shorten(msg, 400) : NULL;
    PyObject *joined = m ? PyUnicode_FromFormat("%U%c%U", e, 0, m) : NULL;
    PyObject *data = joined ? PyUnicode_AsEncodedString(joined, "utf-8", "replace") : NULL;
    Py_XDECREF(e);
    Py_XDECREF(m);
    Py_XDECREF(joined);
    if (data == NULL) {
        die("could not encode a verdict");
    }
    send_frame('E', index, result, PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data), flush);
    Py_DECREF(data);
}

static void
send_pass(int index, int flush)
{
    send_frame('E', index, 'P', "\0", 1, flush); /* no exception name, no message */
}

/* The exception being raised, normalized, taken out of the thread state. New reference. */
static PyObject *
take_exception(void)
{
#if PY_VERSION_HEX >= 0x030C0000
    return PyErr_GetRaisedException();
#else
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (value != NULL && tb != NULL) {
        PyException_SetTraceback(value, tb);
    }
    Py_XDECREF(type);
    Py_XDECREF(tb);
    return value;
#endif
}

/* harness.run_candidate's classify(): the result code, the exception's class name (a str, else
   "<exception>") and BaseException.__str__ of it (never the candidate's own __str__ override). */
static char
classify(PyObject *e, PyObject **name, PyObject **text)
{
    PyObject *te = e ? (PyObject *)Py_TYPE(e) : PyExc_SystemError;
    char kind = te == PyExc_AssertionError ? 'F' : te == PyExc_MemoryError ? 'M' : 'E';
    *name = PyObject_GetAttr(te, H.s_name);
    if (*name == NULL || !PyUnicode_CheckExact(*name)) {
        PyErr_Clear();
        Py_XDECREF(*name);
        *name = PyUnicode_FromString("<exception>");
    }
    *text = e ? ((PyTypeObject *)PyExc_BaseException)->tp_str(e) : NULL;
    if (*text == NULL) {
        PyErr_Clear();
        *text = PyUnicode_FromString("");
    }
    return kind;
}

static void finish(PyObject *stdout_, PyObject *stderr_);

/* The phase that raised ends with its verdict; the candidate and every test after it are not run when
   fatal (set-up and the candidate), as in harness.run_candidate. */
static void
end_with_exception(int index, const char *prefix, char fixed, int flush)
{
    PyObject *e = take_exception();
    PyObject *name, *text;
    char kind = classify(e, &name, &text);
    if (prefix != NULL && text != NULL) {
        PyObject *t = PyUnicode_FromFormat("%s%U", prefix, text);
        Py_DECREF(text);
        text = t;
    }
    Py_XDECREF(e); /* may run the candidate's __del__: as the end of an except block does */
    send_end(index, fixed ? fixed : kind, name, text, flush);
    Py_XDECREF(name);
    Py_XDECREF(text);
}

/* Call check(a, b[, c]) (the C checks or their Python twins): 1 true, 0 false, -1 error. */
static int
check(PyObject *fn, PyObject *a, PyObject *b, PyObject *c)
{
    PyObject *args[3] = {a, b, c};
    PyObject *r = PyObject_Vectorcall(fn, args, c ? 3 : (b ? 2 : 1), NULL);
    if (r == NULL) {
        return -1;
    }
    int t = r == Py_True ? 1 : r == Py_False ? 0 : PyObject_IsTrue(r);
    Py_DECREF(r);
    return t;
}

/* d.get(key) is obj: 1 yes, 0 no, -1 error. A missing key is never obj. */
static int
maps_to(PyObject *d, PyObject *key, PyObject *obj)
{
    PyObject *v = PyDict_GetItemWithError(d, key);
    if (v == NULL && PyErr_Occurred()) {
        return -1;
    }
    return v == obj;
}

#define PROBLEM(...)                                                                                       \
    do {                                                                                                   \
        *problem = PyUnicode_FromFormat(__VA_ARGS__);                                                      \
        return *problem ? 1 : -1;                                                                          \
    } while (0)
#define TRY(expr)                                                                                          \
    do {                                                                                                   \
        int r_ = (expr);                                                                                   \
        if (r_ < 0) {                                                                                      \
            return -1;                                                                                     \
        }                                                                                                  \
        if (!r_) {                                                                                         \
            goto fail;                                                                                     \
        }                                                                                                  \
    } while (0)

/* A module's (name, value) pairs whose values must still be its attributes' values, in order; else
   which one changed. 1 with *problem set, 0 intact, -1 error. */
static int
module_intact(PyObject *obj, PyObject *pairs, PyObject *values, PyObject *label, PyObject **problem)
{
    PyObject *md;
    if (PyModule_CheckExact(obj)) {
        md = PyModule_GetDict(obj);
        Py_XINCREF(md);
    }
    else {
        md = PyObject_GetAttr(obj, H.s_dict);
    }
    if (md == NULL) {
        return -1;
    }
    if (!PyDict_Check(md)) {
        Py_DECREF(md);
        PROBLEM("the attributes of %S were replaced", label);
    }
    int r = check(H.prefix_is, md, values, NULL);
    if (r != 0) {
        Py_DECREF(md);
        return r < 0 ? -1 : 0;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(pairs); i++) {
        PyObject *pair = PyTuple_GET_ITEM(pairs, i);
        r = maps_to(md, PyTuple_GET_ITEM(pair, 0), PyTuple_GET_ITEM(pair, 1));
        if (r <= 0) {
            Py_DECREF(md);
            if (r < 0) {
                return -1;
            }
            PROBLEM("%S.%S was replaced", label, PyTuple_GET_ITEM(pair, 0));
        }
    }
    Py_DECREF(md);
    PROBLEM("the attributes of %S were reordered", label);
}

/* harness.run_candidate's intact(): whether the test environment is as the harness left it. 0 intact,
   1 with *problem (a new str) saying what changed, -1 error. */
static int
intact(PyObject *ns, PyObject *redirected, PyObject *guards, PyObject **problem)
{
    int r = maps_to(ns, H.s_builtins, H.builtins_module);
    if (r <= 0) {
        if (r < 0) {
            return -1;
        }
        PROBLEM("__builtins__ was replaced");
    }
    r = check(H.prefix_is, H.builtins_dict, H.bvalues, NULL);
    if (r <= 0) {
        if (r < 0) {
            return -1;
        }
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(H.bsnap); i++) {
            PyObject *pair = PyTuple_GET_ITEM(H.bsnap, i);
            r = maps_to(H.builtins_dict, PyTuple_GET_ITEM(pair, 0), PyTuple_GET_ITEM(pair, 1));
            if (r < 0) {
                return -1;
            }
            if (!r) {
                PROBLEM("builtins.%S was replaced", PyTuple_GET_ITEM(pair, 0));
            }
        }
        PROBLEM("the builtins were reordered");
    }
    TRY(maps_to(ns, H.cmp_name, H.strict_compare));
    TRY(maps_to(ns, H.ret_name, H.sanitize_return));
    TRY(maps_to(ns, H.soft_name, H.sanitize_soft));
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(redirected); i++) {
        PyObject *pair = PyTuple_GET_ITEM(redirected, i);
        TRY(maps_to(ns, PyTuple_GET_ITEM(pair, 0), PyTuple_GET_ITEM(pair, 1)));
    }
    if (PyDict_GET_SIZE(H.helper_dict) != PyTuple_GET_SIZE(H.helper_values)) {
        PROBLEM("the harness was modified");
    }
    r = check(H.prefix_is, H.helper_dict, H.helper_values, NULL);
    if (r <= 0) {
        if (r < 0) {
            return -1;
        }
        PROBLEM("the harness was modified");
    }
    r = check(H.functions_intact, H.guarded_code, NULL, NULL);
    if (r <= 0) {
        if (r < 0) {
            return -1;
        }
        PROBLEM("the test helpers were modified");
    }
    r = check(H.class_is, H.poisoned, H.poisoned_values, H.poisoned_bases);
    if (r <= 0) {
        if (r < 0) {
            return -1;
        }
        PROBLEM("the test helpers were modified");
    }
    PyObject *t = PyObject_CallNoArgs(H.gettrace);
    PyObject *p = t ? PyObject_CallNoArgs(H.getprofile) : NULL;
    Py_XDECREF(t);
    Py_XDECREF(p);
    if (p == NULL) {
        return -1;
    }
    if (t != Py_None || p != Py_None) {
        PROBLEM("a trace or profile function was installed");
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(guards); i++) {
        /* (name or None, obj, pairs or None, values or None, key or None) */
        PyObject *g = PyTuple_GET_ITEM(guards, i);
        PyObject *name = PyTuple_GET_ITEM(g, 0), *obj = PyTuple_GET_ITEM(g, 1);
        PyObject *pairs = PyTuple_GET_ITEM(g, 2), *key = PyTuple_GET_ITEM(g, 4);
        if (name != Py_None) {
            PyObject *v = PyDict_GetItemWithError(ns, name);
            if (v == NULL && PyErr_Occurred()) {
                return -1;
            }
            if (v != NULL && v != obj) {
                PROBLEM("%R was rebound", name);
            }
        }
        if (pairs == Py_None) {
            continue;
        }
        if (key != Py_None) {
            r = maps_to(H.sys_modules, key, obj);
            if (r < 0) {
                return -1;
            }
            if (!r) {
                PROBLEM("module %R was replaced", key);
            }
        }
        PyObject *label = name != Py_None && PyObject_IsTrue(name) ? name : key;
        r = module_intact(obj, pairs, PyTuple_GET_ITEM(g, 3), label, problem);
        if (r != 0) {
            return r;
        }
    }
    return 0;
fail:
    PROBLEM("the test helpers were replaced");
}

/* A module's (pairs, values), as harness.snapshot. New references; 0, or -1 on an error. */
static int
snapshot(PyObject *module, PyObject **pairs, PyObject **values)
{
    PyObject *md = PyObject_GetAttr(module, H.s_dict);
    PyObject *items = md && PyDict_Check(md) ? PyDict_Items(md) : NULL;
    Py_XDECREF(md);
    *pairs = items ? PyList_AsTuple(items) : NULL;
    Py_XDECREF(items);
    if (*pairs == NULL) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_TypeError, "a module without a __dict__ dictionary");
        }
        return -1;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(*pairs);
    *values = PyTuple_New(n);
    if (*values == NULL) {
        Py_CLEAR(*pairs);
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *v = PyTuple_GET_ITEM(PyTuple_GET_ITEM(*pairs, i), 1);
        Py_INCREF(v);
        PyTuple_SET_ITEM(*values, i, v);
    }
    return 0;
}

static int
add_guard(PyObject *list, PyObject *name, PyObject *obj, PyObject *pairs, PyObject *values, PyObject *key)
{
    PyObject *g = PyTuple_Pack(5, name, obj, pairs, values, key);
    if (g == NULL) {
        return -1;
    }
    int r = PyList_Append(list, g);
    Py_DECREF(g);
    return r;
}

/* The guards of harness.run_candidate, built after the set-up ran: names the tests read that the set-up
   bound or that are pre-imported modules, and the modules the tests import, each kept with what it was.
   A new tuple of (name or None, obj, pairs or None, values or None, key or None), or NULL. */
static PyObject *
make_guards(PyObject *ns, PyObject *preloaded, PyObject *test_reads, PyObject *test_imports)
{
    PyObject *list = PyList_New(0);
    PyObject *it = list ? PyObject_GetIter(test_reads) : NULL;
    PyObject *name;
    if (it == NULL) {
        goto error;
    }
    while ((name = PyIter_Next(it)) != NULL) {
        PyObject *obj = PyDict_GetItemWithError(ns, name);
        if (obj == NULL && !PyErr_Occurred()) {
            PyObject *pre = PyDict_GetItemWithError(preloaded, name);
            obj = pre ? PyTuple_GET_ITEM(pre, 0) : NULL;
        }
        if (obj == NULL) {
            Py_DECREF(name);
            if (PyErr_Occurred()) {
                goto error;
            }
            continue;
        }
        Py_INCREF(obj);
        PyObject *pairs = NULL, *values = NULL, *key = NULL;
        int ok = 0;
        if (Py_IS_TYPE(obj, &PyModule_Type)) {
            PyObject *modname = PyObject_GetAttr(obj, H.s_name);
            PyObject *pre = modname ? PyDict_GetItemWithError(preloaded, modname) : NULL;
            if (pre != NULL && PyTuple_GET_ITEM(pre, 0) == obj) {
                pairs = PyTuple_GET_ITEM(pre, 1);
                values = PyTuple_GET_ITEM(pre, 2);
                Py_INCREF(pairs);
                Py_INCREF(values);
            }
            else if (modname != NULL && !PyErr_Occurred() && snapshot(obj, &pairs, &values) < 0) {
                pairs = values = NULL;
            }
            if (pairs != NULL) {
                int r = maps_to(H.sys_modules, modname, obj);
                if (r > 0) {
                    key = modname;
                    Py_INCREF(key);
                }
                ok = r >= 0;
            }
            Py_XDECREF(modname);
        }
        else {
            ok = 1;
        }
        if (ok) {
            ok = add_guard(list, name, obj, pairs ? pairs : Py_None, values ? values : Py_None,
                           key ? key : Py_None) == 0;
        }
        Py_DECREF(name);
        Py_DECREF(obj);
        Py_XDECREF(pairs);
        Py_XDECREF(values);
        Py_XDECREF(key);
        if (!ok) {
            goto error;
        }
    }
    if (PyErr_Occurred()) {
        goto error;
    }
    Py_CLEAR(it);
    it = PyObject_GetIter(test_imports);
    if (it == NULL) {
        goto error;
    }
    while ((name = PyIter_Next(it)) != NULL) {
        PyObject *pre = PyDict_GetItemWithError(preloaded, name);
        int r = pre == NULL ? (PyErr_Occurred() ? -1 : 0)
                            : add_guard(list, Py_None, PyTuple_GET_ITEM(pre, 0), PyTuple_GET_ITEM(pre, 1),
                                        PyTuple_GET_ITEM(pre, 2), name);
        Py_DECREF(name);
        if (r < 0) {
            goto error;
        }
    }
    if (PyErr_Occurred()) {
        goto error;
    }
    Py_DECREF(it);
    PyObject *out = PyList_AsTuple(list);
    Py_DECREF(list);
    return out;
error:
    Py_XDECREF(it);
    Py_XDECREF(list);
    return NULL;
}

static void
flush_stream(PyObject *stream)
{
    if (stream != NULL && stream != Py_None) {
        PyObject *r = PyObject_CallMethodNoArgs(stream, H.s_flush);
        Py_XDECREF(r);
        PyErr_Clear(); /* whatever the candidate did to it */
    }
}

static void
finish(PyObject *stdout_, PyObject *stderr_)
{
    flush_stream(stdout_);
    flush_stream(stderr_);
    send_simple('D', 0, 1);
    _exit(0);
}

/* An error in the harness itself (not in the candidate's code): nothing it reports could be trusted. */
static void
internal_error(void)
{
    PyObject *e = take_exception();
    const char *what = e ? Py_TYPE(e)->tp_name : "unknown error";
    char buf[200];
    snprintf(buf, sizeof buf, "internal error (%s)", what);
    die(buf);
}

/* End test index with the error "Tampering" and what intact() found changed. */
static void
send_tampering(int index, PyObject *problem)
{
    PyObject *name = PyUnicode_FromString("Tampering");
    PyObject *msg = PyUnicode_FromFormat("candidate modified the test environment: %U", problem);
    send_end(index, 'E', name, msg, 1);
    Py_XDECREF(name);
    Py_XDECREF(msg);
}

static PyObject *
run(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (!H.ready) {
        PyErr_SetString(PyExc_RuntimeError, "_runner.run() before _runner.prepare()");
        return NULL;
    }
    if (nargs != 9) {
        PyErr_SetString(PyExc_TypeError,
                        "run(nonce, fd, setup_code, code, tests, preloaded, test_reads, redirected, "
                        "test_imports) takes 9 arguments");
        return NULL;
    }
    PyObject *nonce_obj = args[0], *setup_code = args[2], *code = args[3], *tests = args[4];
    PyObject *preloaded = args[5], *test_reads = args[6], *redirected = args[7], *test_imports = args[8];
    if (!PyBytes_CheckExact(nonce_obj) || PyBytes_GET_SIZE(nonce_obj) != NONCE_BYTES) {
        PyErr_Format(PyExc_TypeError, "run(): nonce must be %d bytes", NONCE_BYTES);
        return NULL;
    }
    long fd = PyLong_Check(args[1]) ? PyLong_AsLong(args[1]) : -1;
    if (fd < 0 || fd > INT32_MAX) {
        PyErr_Clear();
        PyErr_SetString(PyExc_TypeError, "run(): fd must be a file descriptor");
        return NULL;
    }
    if (setup_code != Py_None && !PyCode_Check(setup_code)) {
        PyErr_SetString(PyExc_TypeError, "run(): setup_code must be a code object or None");
        return NULL;
    }
    if (!PyDict_CheckExact(preloaded) || !PyTuple_CheckExact(redirected)) {
        PyErr_SetString(PyExc_TypeError, "run(): preloaded must be a dict and redirected a tuple");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(redirected); i++) {
        PyObject *pair = PyTuple_GET_ITEM(redirected, i);
        if (!PyTuple_CheckExact(pair) || PyTuple_GET_SIZE(pair) != 2) {
            PyErr_SetString(PyExc_TypeError, "run(): redirected must hold (name, builtin) pairs");
            return NULL;
        }
    }
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    while (PyDict_Next(preloaded, &pos, &k, &v)) {
        if (!PyTuple_CheckExact(v) || PyTuple_GET_SIZE(v) != 3 || !PyTuple_CheckExact(PyTuple_GET_ITEM(v, 1))
            || !PyTuple_CheckExact(PyTuple_GET_ITEM(v, 2))) {
            PyErr_SetString(PyExc_TypeError, "run(): preloaded must map names to (module, pairs, values)");
            return NULL;
        }
    }
    /* A candidate still in source form, or a test that did not compile, is for the Python loop (which
       compiles the one and reports the other). Decided before anything runs. */
    PyObject *test_tuple = PySequence_Tuple(tests);
    if (test_tuple == NULL) {
        return NULL;
    }
    int mine = PyCode_Check(code);
    for (Py_ssize_t i = 0; mine && i < PyTuple_GET_SIZE(test_tuple); i++) {
        mine = PyCode_Check(PyTuple_GET_ITEM(test_tuple, i));
    }
    if (!mine) {
        Py_DECREF(test_tuple);
        Py_RETURN_NOTIMPLEMENTED;
    }
    /* From here on this never returns. The references it keeps are its own: whatever the candidate does
       to the caller's frame cannot free them. */
    memcpy(nonce, PyBytes_AS_STRING(nonce_obj), NONCE_BYTES);
    verdict_fd = (int)fd;
    my_pid = getpid();
    held = 0;
    Py_INCREF(setup_code);
    Py_INCREF(code);
    Py_INCREF(preloaded);
    Py_INCREF(redirected);
    PyObject *stdout_ = PySys_GetObject("stdout"), *stderr_ = PySys_GetObject("stderr");
    Py_XINCREF(stdout_);
    Py_XINCREF(stderr_);
    PyObject *ns = PyDict_New();
    if (ns == NULL || PyDict_SetItem(ns, H.s_name, H.s_candidate) < 0
        || PyDict_SetItem(ns, H.s_builtins, H.builtins_module) < 0) {
        internal_error();
    }

    /* Phase 1: the trusted set-up. */
    send_simple('B', PHASE_SETUP, setup_code != Py_None);
    if (setup_code != Py_None) {
        PyObject *r = PyEval_EvalCode(setup_code, ns, ns);
        if (r == NULL) {
            end_with_exception(PHASE_SETUP, "set-up code failed: ", 'I', 1);
            finish(stdout_, stderr_);
        }
        Py_DECREF(r);
    }
    send_pass(PHASE_SETUP, 0);
    PyObject *guards = make_guards(ns, preloaded, test_reads, test_imports);
    if (guards == NULL) {
        internal_error();
    }

    /* Phase 2: the candidate. */
    send_simple('B', PHASE_CODE, 1);
    PyObject *r = PyEval_EvalCode(code, ns, ns);
    if (r == NULL) {
        end_with_exception(PHASE_CODE, NULL, 0, 1);
        finish(stdout_, stderr_);
    }
    Py_DECREF(r);
    Py_ssize_t n = PyTuple_GET_SIZE(test_tuple);
    send_pass(PHASE_CODE, n == 0);

    /* Phase 3: the tests, in the candidate's namespace, with the helpers installed. */
    if (PyDict_SetItem(ns, H.cmp_name, H.strict_compare) < 0
        || PyDict_SetItem(ns, H.soft_name, H.sanitize_soft) < 0
        || PyDict_SetItem(ns, H.ret_name, H.sanitize_return) < 0) {
        internal_error();
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(redirected); i++) {
        PyObject *pair = PyTuple_GET_ITEM(redirected, i);
        if (PyDict_SetItem(ns, PyTuple_GET_ITEM(pair, 0), PyTuple_GET_ITEM(pair, 1)) < 0) {
            internal_error();
        }
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        int index = (int)i;
        send_simple('B', index, 1);
        PyObject *problem = NULL;
        int bad = intact(ns, redirected, guards, &problem);
        if (bad < 0) {
            internal_error();
        }
        if (bad) {
            send_tampering(index, problem);
            break;
        }
        r = PyEval_EvalCode(PyTuple_GET_ITEM(test_tuple, i), ns, ns);
        PyObject *e = NULL, *name = NULL, *text = NULL;
        char kind = 'P';
        if (r == NULL) {
            e = take_exception();
            kind = classify(e, &name, &text);
            Py_XDECREF(e);
        }
        else {
            Py_DECREF(r);
        }
        bad = intact(ns, redirected, guards, &problem);
        if (bad < 0) {
            internal_error();
        }
        if (bad) {
            send_tampering(index, problem);
            break;
        }
        if (kind == 'P') {
            send_pass(index, i == n - 1);
        }
        else {
            send_end(index, kind, name, text, i == n - 1);
            Py_XDECREF(name);
            Py_XDECREF(text);
        }
    }
    finish(stdout_, stderr_);
    return NULL; /* not reached */
}

/* Take a strong reference to state[key] into *slot. */
static int
take(PyObject *state, const char *key, PyObject **slot)
{
    PyObject *v = PyDict_GetItemString(state, key);
    if (v == NULL) {
        PyErr_Format(PyExc_KeyError, "_runner.prepare(): the state has no '%s'", key);
        return -1;
    }
    Py_INCREF(v);
    Py_XSETREF(*slot, v);
    return 0;
}

static PyObject *
prepare(PyObject *self, PyObject *state)
{
    if (!PyDict_Check(state)) {
        PyErr_SetString(PyExc_TypeError, "_runner.prepare(state) takes a dict");
        return NULL;
    }
    static const char *tuples[] = {"bsnap", "bvalues", "guarded_code", "poisoned_values", "helper_values", NULL};
    for (int i = 0; tuples[i]; i++) {
        PyObject *v = PyDict_GetItemString(state, tuples[i]);
        if (v != NULL && !PyTuple_CheckExact(v)) {
            PyErr_Format(PyExc_TypeError, "_runner.prepare(): %s must be a tuple", tuples[i]);
            return NULL;
        }
    }
    if (take(state, "bsnap", &H.bsnap) || take(state, "bvalues", &H.bvalues)
        || take(state, "cmp_name", &H.cmp_name) || take(state, "ret_name", &H.ret_name)
        || take(state, "soft_name", &H.soft_name) || take(state, "strict_compare", &H.strict_compare)
        || take(state, "sanitize_return", &H.sanitize_return)
        || take(state, "sanitize_soft", &H.sanitize_soft) || take(state, "guarded_code", &H.guarded_code)
        || take(state, "poisoned", &H.poisoned) || take(state, "poisoned_values", &H.poisoned_values)
        || take(state, "poisoned_bases", &H.poisoned_bases) || take(state, "helper_dict", &H.helper_dict)
        || take(state, "helper_values", &H.helper_values) || take(state, "prefix_is", &H.prefix_is)
        || take(state, "functions_intact", &H.functions_intact) || take(state, "class_is", &H.class_is)
        || take(state, "builtins_module", &H.builtins_module)
        || take(state, "sys_modules", &H.sys_modules) || take(state, "gettrace", &H.gettrace)
        || take(state, "getprofile", &H.getprofile)) {
        return NULL;
    }
    if (!PyModule_Check(H.builtins_module) || !PyDict_CheckExact(H.helper_dict)
        || !PyDict_Check(H.sys_modules)) {
        PyErr_SetString(PyExc_TypeError,
                        "_runner.prepare(): builtins_module must be a module, helper_dict and sys_modules "
                        "dicts");
        return NULL;
    }
    Py_XSETREF(H.builtins_dict, Py_NewRef(PyModule_GetDict(H.builtins_module)));
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(H.bsnap); i++) {
        PyObject *pair = PyTuple_GET_ITEM(H.bsnap, i);
        if (!PyTuple_CheckExact(pair) || PyTuple_GET_SIZE(pair) != 2) {
            PyErr_SetString(PyExc_TypeError, "_runner.prepare(): bsnap must hold (name, value) pairs");
            return NULL;
        }
    }
    struct {
        PyObject **slot;
        const char *text;
    } strings[] = {{&H.s_name, "__name__"},
                   {&H.s_builtins, "__builtins__"},
                   {&H.s_candidate, "__candidate__"},
                   {&H.s_flush, "flush"},
                   {&H.s_dict, "__dict__"}};
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
        if (*strings[i].slot == NULL && (*strings[i].slot = PyUnicode_InternFromString(strings[i].text)) == NULL) {
            return NULL;
        }
    }
    H.ready = 1;
    Py_RETURN_NONE;
}

/* Python's max(a, b) and min(a, b) on floats, NaN included: the first unless the second is larger
   (smaller). */
static double
py_max(double a, double b)
{
    return b > a ? b : a;
}

static double
py_min(double a, double b)
{
    return b < a ? b : a;
}

static double
get_double_le(const unsigned char *p)
{
    uint64_t bits = 0;
    for (int i = 0; i < TIME_BYTES; i++) {
        bits |= (uint64_t)p[i] << (8 * i);
    }
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

/* Store v (a new reference; NULL fails) as st[key]. */
static int
put(PyObject *st, const char *key, PyObject *v)
{
    if (v == NULL) {
        return -1;
    }
    int r = PyDict_SetItemString(st, key, v);
    Py_DECREF(v);
    return r;
}

/* One END frame's (code, duration, exception name, message), decoded as harness.parse_frames does:
   the code as ASCII, the texts as UTF-8 with replacement, split at the first NUL byte (a NUL never
   ends up inside a decoded character, so splitting before or after decoding is the same). */
static PyObject *
end_result(const unsigned char *payload, Py_ssize_t plen, double dur)
{
    PyObject *code = PyUnicode_DecodeASCII((const char *)payload, 1, "replace");
    const unsigned char *text = payload + 1 + TIME_BYTES;
    Py_ssize_t n = plen - 1 - TIME_BYTES;
    const unsigned char *nul = memchr(text, 0, (size_t)n);
    Py_ssize_t exc_len = nul ? nul - text : n;
    PyObject *exc = PyUnicode_DecodeUTF8((const char *)text, exc_len, "replace");
    PyObject *msg = nul ? PyUnicode_DecodeUTF8((const char *)nul + 1, n - exc_len - 1, "replace")
                        : PyUnicode_FromStringAndSize(NULL, 0);
    PyObject *out = code && exc && msg ? Py_BuildValue("(OdOO)", code, dur, exc, msg) : NULL;
    Py_XDECREF(code);
    Py_XDECREF(exc);
    Py_XDECREF(msg);
    return out;
}

static PyObject *
parse_frames(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyByteArray_Check(args[0]) || !PyBytes_Check(args[1]) || !PyDict_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "parse_frames(buf, nonce, st) takes a bytearray, bytes and a dict");
        return NULL;
    }
    PyObject *st = args[2];
    PyObject *results = PyDict_GetItemString(st, "results");
    PyObject *expected_o = PyDict_GetItemString(st, "expected");
    PyObject *in_phase_o = PyDict_GetItemString(st, "in_phase");
    PyObject *mark_o = PyDict_GetItemString(st, "mark");
    PyObject *done_o = PyDict_GetItemString(st, "done");
    PyObject *error_o = PyDict_GetItemString(st, "error");
    if (results == NULL || !PyDict_Check(results) || expected_o == NULL || !PyLong_Check(expected_o)
        || in_phase_o == NULL || (in_phase_o != Py_None && !PyLong_Check(in_phase_o)) || mark_o == NULL
        || done_o == NULL || error_o == NULL || !PyUnicode_Check(error_o)) {
        PyErr_SetString(PyExc_TypeError,
                        "parse_frames(): st must hold results, expected, in_phase, mark, done and error");
        return NULL;
    }
    long long expected = PyLong_AsLongLong(expected_o);
    int has_phase = in_phase_o != Py_None;
    long long in_phase = has_phase ? PyLong_AsLongLong(in_phase_o) : 0;
    double mark = PyFloat_AsDouble(mark_o);
    int done = PyObject_IsTrue(done_o);
    if (PyErr_Occurred() || done < 0) {
        return NULL;
    }
    int failed = PyUnicode_GET_LENGTH(error_o) > 0;
    const char *error = NULL;
    const unsigned char *buf = (const unsigned char *)PyByteArray_AS_STRING(args[0]);
    Py_ssize_t len = PyByteArray_GET_SIZE(args[0]);
    const char *nonce_p = PyBytes_AS_STRING(args[1]);
    Py_ssize_t nonce_len = PyBytes_GET_SIZE(args[1]);
    const Py_ssize_t hsize = NONCE_BYTES + HEADER_BYTES;
    Py_ssize_t pos = 0;
    int changed = 0;
    while (!failed && !error && len - pos >= hsize) {
        const unsigned char *f = buf + pos;
        if (nonce_len != NONCE_BYTES || memcmp(f, nonce_p, NONCE_BYTES) != 0) {
            error = "unauthenticated data on the verdict channel";
            break;
        }
        char kind = (char)f[NONCE_BYTES];
        const unsigned char *h = f + NONCE_BYTES + 1;
        int32_t index = (int32_t)((uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24);
        int16_t plen = (int16_t)((uint16_t)h[4] | (uint16_t)h[5] << 8);
        if (plen < 0 || plen > MAX_PAYLOAD) {
            error = "malformed verdict frame";
            break;
        }
        if (len - pos < hsize + plen) {
            break;
        }
        const unsigned char *payload = f + hsize;
        pos += hsize + plen;
        double now = monotonic();
        changed = 1;
        if (done) {
            error = "verdict frame after the end";
        }
        else if (kind == 'B') {
            if (has_phase || index != expected || plen != TIME_BYTES) {
                error = "verdict frames out of order";
            }
            else {
                has_phase = 1;
                in_phase = index;
                mark = py_min(py_max(get_double_le(payload), mark), now);
            }
        }
        else if (kind == 'E') {
            if (!has_phase || in_phase != index || plen < 1 + TIME_BYTES) {
                error = "verdict frames out of order";
            }
            else {
                double dur = get_double_le(payload + 1);
                dur = py_min(py_max(dur, 0.0), py_max(0.0, now - mark));
                PyObject *key = PyLong_FromLong(index);
                PyObject *value = key ? end_result(payload, plen, dur) : NULL;
                int r = value ? PyDict_SetItem(results, key, value) : -1;
                Py_XDECREF(key);
                Py_XDECREF(value);
                if (r < 0) {
                    return NULL;
                }
                has_phase = 0;
                expected = index != PHASE_SETUP ? (long long)index + 1 : PHASE_CODE;
                mark = py_min(mark + dur, now);
            }
        }
        else if (kind == 'D') {
            if (has_phase) {
                error = "verdict frames out of order";
            }
            else {
                done = 1;
                mark = now;
            }
        }
        else {
            error = "unknown verdict frame";
        }
    }
    if (error != NULL && put(st, "error", PyUnicode_FromString(error)) < 0) {
        return NULL;
    }
    if (changed) {
        if (put(st, "expected", PyLong_FromLongLong(expected)) < 0
            || put(st, "in_phase", has_phase ? PyLong_FromLongLong(in_phase) : Py_NewRef(Py_None)) < 0
            || put(st, "mark", PyFloat_FromDouble(mark)) < 0 || put(st, "done", PyBool_FromLong(done)) < 0) {
            return NULL;
        }
    }
    return PyLong_FromSsize_t(pos);
}

static PyMethodDef methods[] = {
    {"prepare", (PyCFunction)prepare, METH_O,
     "prepare(state) -> None: keep the harness's objects (a dict of them; see harness.prepare) for run()."},
    {"run", (PyCFunction)(void (*)(void))run, METH_FASTCALL,
     "run(nonce, fd, setup_code, code, tests, preloaded, test_reads, redirected, test_imports): run the "
     "set-up, the candidate and the tests as harness.run_candidate does and exit; NotImplemented (before "
     "anything runs) for a candidate in source form or a test that is not a code object."},
    {"parse_frames", (PyCFunction)(void (*)(void))parse_frames, METH_FASTCALL,
     "parse_frames(buf, nonce, st) -> int: harness.parse_frames in C (the worker's side of the verdict "
     "frames): read the complete frames at the start of buf, update st, return the bytes read."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_runner", "The sandbox harness's test loop, without Python frames or locals.", 0,
    methods,
};

PyMODINIT_FUNC
PyInit__runner(void)
{
    return PyModule_Create(&module);
}
