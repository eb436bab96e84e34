"""Adapters to other libraries (TRL, ...); each module imports its library only when used."""
