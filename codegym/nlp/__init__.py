"""Offline natural-language tools for prompt mutation: WordNet, POS tagging, tokenization, word vectors.

Nothing here is imported by ``import codegym``; the submodules import NLTK and gensim when used.
"""
