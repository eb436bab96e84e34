"""codegym: Gymnasium environments for LLM code generation and prompt optimization.

``import codegym`` registers every environment id with Gymnasium without importing torch; the heavy
modules load when an environment is made.
"""

from codegym.registration import register_envs

__version__ = "0.1.0"

register_envs()

__all__ = ["__version__"]
