"""Prompt mutation operators (EPiC and friends) that edit the natural-language part of a prompt.

Importing this package does not import nltk or gensim; they load when an operator first tags a text
or looks up a vector.
"""

from codegym.mutation.base import Edit, MutationOperator, MutationResult
from codegym.mutation.llm import DEFAULT_INSTRUCTION, LLMRewrite, RestoreOriginal, clean_rewrite
from codegym.mutation.registry import available_operators, make_operator, register_operator
from codegym.mutation.words import EPiCMutation, VectorNeighbourSwap, WordNetSynonymSwap

__all__ = [
    "DEFAULT_INSTRUCTION",
    "EPiCMutation",
    "Edit",
    "LLMRewrite",
    "MutationOperator",
    "MutationResult",
    "RestoreOriginal",
    "VectorNeighbourSwap",
    "WordNetSynonymSwap",
    "available_operators",
    "clean_rewrite",
    "make_operator",
    "register_operator",
]
