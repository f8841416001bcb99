"""A processor's routes, compiled once: the index of the first route each output matches.

A ``when`` is a SQL expression over the output's fields, run by DuckDB (one ``CASE`` for the
whole micro-batch), or field values the output must have, which a Python processor checks
without leaving Python. The first route that holds wins; a route without ``when`` takes what
no route before it took; an output no route takes is dropped (and counted).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from headwater.project.processors import Route, Scalar
from headwater.streams.processor_batch import NO_ROUTE


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: Scalar) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _condition(when: str | Mapping[str, Scalar]) -> str:
    if isinstance(when, str):
        return f"({when})"
    return (
        "("
        + " AND ".join(
            f"{quote_identifier(k)} IS NULL"
            if v is None
            else f"{quote_identifier(k)} = {_literal(v)}"
            for k, v in when.items()
        )
        + ")"
    )


class Routes:
    """The routes of one processor (see the module docstring)."""

    def __init__(self, routes: Sequence[Route]) -> None:
        self.routes = tuple(routes)
        self.streams = tuple(r.to for r in self.routes)
        # no SQL is needed when every route is a field-values check (or none)
        self.in_python = all(not isinstance(r.when, str) for r in self.routes)

    def case(self) -> str:
        """A DuckDB expression giving each row's route index (-1: none)."""
        if all(r.when is None for r in self.routes):
            return "0"
        arms = " ".join(
            f"WHEN {_condition(r.when)} THEN {i}" if r.when is not None else f"WHEN TRUE THEN {i}"
            for i, r in enumerate(self.routes)
        )
        return f"CASE {arms} ELSE {NO_ROUTE} END"

    def match(self, output: Mapping[str, Any]) -> int:
        """The route of one output (only when :attr:`in_python`)."""
        for index, route in enumerate(self.routes):
            when = route.when
            if when is None:
                return index
            assert not isinstance(when, str)
            if all(_equal(output.get(k), v) for k, v in when.items()):
                return index
        return NO_ROUTE


def _equal(value: Any, expected: Scalar) -> bool:
    """As SQL compares: numbers by value (1 = 1.0), but true is not 1."""
    if isinstance(value, bool) or isinstance(expected, bool):
        return value is expected
    if isinstance(value, int | float) and isinstance(expected, int | float):
        return value == expected
    return type(value) is type(expected) and value == expected
