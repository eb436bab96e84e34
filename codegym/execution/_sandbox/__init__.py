"""Code that runs inside the sandbox worker ("zygote") processes.

The modules in this folder are imported by the worker by file location (``zygote.py`` puts this folder on
``sys.path``), never through the ``codegym`` package, so they may use only the standard library and must
not import each other through ``codegym``. They are importable from the host as well (for unit tests).
"""
