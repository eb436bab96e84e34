"""Build the optional C part of the sandbox harness (everything else is in ``pyproject.toml``).

``_identity`` makes the harness's integrity checks write nothing to the objects they compare (see
``codegym/execution/_sandbox/_identity.c``). Without a C compiler the build skips it and the harness
uses the same checks in Python.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "codegym.execution._sandbox._identity",
            sources=["codegym/execution/_sandbox/_identity.c"],
            optional=True,
        )
    ]
)
