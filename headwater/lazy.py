"""Packages that import their names on first use.

A short command pays only for what it touches: importing pyiceberg, SQLAlchemy or pyarrow
costs 0.1–0.8 s each, and a package's ``__init__`` is imported whenever any of its
modules is.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping


def exports(package: str, where: Mapping[str, str]) -> Callable[[str], object]:
    """A module ``__getattr__`` for ``package`` that imports each name from its module in
    ``where`` (name → module path) when it is first asked for."""

    def __getattr__(name: str) -> object:
        if name in where:
            return getattr(importlib.import_module(where[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
