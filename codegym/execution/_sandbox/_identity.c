/* The sandbox harness's integrity checks, in C (see harness.py, which has the same checks in Python).

   The harness checks around every test that the candidate left the builtins, the test helpers and the
   modules the tests use as they were, by comparing objects by identity. In Python each comparison
   takes a new reference to the object, which writes its reference count: in a forked child the first
   such write to each page copies that page. These functions read borrowed references only, so
   checking writes nothing. They run no Python code while they iterate, so nothing can change a
   dictionary under them. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* Whether dict d holds at least len(values) entries whose first len(values) values, in order, are
   the objects of the tuple values. */
static int
dict_prefix_is(PyObject *d, PyObject *values)
{
    Py_ssize_t n = PyTuple_GET_SIZE(values);
    if (PyDict_GET_SIZE(d) < n) {
        return 0;
    }
    Py_ssize_t pos = 0, i = 0;
    PyObject *key, *value;
    while (i < n && PyDict_Next(d, &pos, &key, &value)) {
        if (value != PyTuple_GET_ITEM(values, i)) {
            return 0;
        }
        i++;
    }
    return i == n;
}

static PyObject *
prefix_is(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyDict_CheckExact(args[0]) || !PyTuple_CheckExact(args[1])) {
        PyErr_SetString(PyExc_TypeError, "prefix_is(d, values) takes a dict and a tuple");
        return NULL;
    }
    return PyBool_FromLong(dict_prefix_is(args[0], args[1]));
}

static PyObject *
functions_intact(PyObject *self, PyObject *guarded)
{
    if (!PyTuple_CheckExact(guarded)) {
        PyErr_SetString(PyExc_TypeError, "functions_intact(guarded) takes a tuple");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(guarded); i++) {
        PyObject *t = PyTuple_GET_ITEM(guarded, i);
        if (!PyTuple_CheckExact(t) || PyTuple_GET_SIZE(t) != 4 || !PyFunction_Check(PyTuple_GET_ITEM(t, 0))) {
            PyErr_SetString(PyExc_TypeError,
                            "functions_intact(guarded) takes (function, code, defaults, kwdefaults) tuples");
            return NULL;
        }
        PyObject *f = PyTuple_GET_ITEM(t, 0);
        PyObject *defaults = PyFunction_GET_DEFAULTS(f);
        PyObject *kwdefaults = PyFunction_GET_KW_DEFAULTS(f);
        if (PyFunction_GET_CODE(f) != PyTuple_GET_ITEM(t, 1)
            || (defaults ? defaults : Py_None) != PyTuple_GET_ITEM(t, 2)
            || (kwdefaults ? kwdefaults : Py_None) != PyTuple_GET_ITEM(t, 3)) {
            Py_RETURN_FALSE;
        }
    }
    Py_RETURN_TRUE;
}

static PyObject *
class_is(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyType_Check(args[0]) || !PyTuple_CheckExact(args[1])) {
        PyErr_SetString(PyExc_TypeError, "class_is(cls, values, bases) takes a class, a tuple and its bases");
        return NULL;
    }
    PyTypeObject *cls = (PyTypeObject *)args[0];
    PyObject *d = cls->tp_dict;
    if (d == NULL || !PyDict_CheckExact(d) || PyDict_GET_SIZE(d) != PyTuple_GET_SIZE(args[1])
        || cls->tp_bases != args[2]) {
        Py_RETURN_FALSE;
    }
    return PyBool_FromLong(dict_prefix_is(d, args[1]));
}

static PyMethodDef methods[] = {
    {"prefix_is", (PyCFunction)(void (*)(void))prefix_is, METH_FASTCALL,
     "prefix_is(d, values) -> bool: dict d has at least len(values) entries, the first of them values' "
     "objects in order."},
    {"functions_intact", (PyCFunction)functions_intact, METH_O,
     "functions_intact(guarded) -> bool: each (f, code, defaults, kwdefaults) of the tuple guarded still "
     "holds (None for no defaults)."},
    {"class_is", (PyCFunction)(void (*)(void))class_is, METH_FASTCALL,
     "class_is(cls, values, bases) -> bool: class cls has exactly values' objects, in order, as its own "
     "attributes, and bases as its bases."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_identity", "The sandbox harness's integrity checks, without references.", 0,
    methods,
};

PyMODINIT_FUNC
PyInit__identity(void)
{
    return PyModule_Create(&module);
}
