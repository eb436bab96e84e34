"""Build the optional C part of the sandbox harness (everything else is in ``pyproject.toml``).

``_identity`` makes the harness's integrity checks write nothing to the objects they compare (see
``codegym/execution/_sandbox/_identity.c``); ``_forkloop`` runs the sandbox forker's loop without
Python objects (``_forkloop.c``); ``_runner`` runs the harness's loop in the candidate's child without
its Python locals and frames (``_runner.c``). Without a C compiler the build skips them and the sandbox
uses the same checks and the same loops in Python.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "codegym.execution._sandbox._identity",
            sources=["codegym/execution/_sandbox/_identity.c"],
            optional=True,
        ),
        Extension(
            "codegym.execution._sandbox._forkloop",
            sources=["codegym/execution/_sandbox/_forkloop.c"],
            optional=True,
        ),
        Extension(
            "codegym.execution._sandbox._runner",
            sources=["codegym/execution/_sandbox/_runner.c"],
            optional=True,
        ),
    ]
)
