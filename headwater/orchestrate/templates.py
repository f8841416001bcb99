"""Templated task parameters (``{{ ds }}``, ``{{ data_interval_start }}``, ``{{ params.x }}``).

Jinja, as in Airflow, so users' templates carry over. A template that is one expression
(``"{{ values.extract }}"``) yields that expression's value with its type; any other template
yields text (``"{{ ds_nodash }}"`` stays the string ``"20240301"``). Compiled once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any

from headwater.errors import DagError

_SINGLE = re.compile(r"^\{\{(?P<expr>(?:(?!\}\}|\{\{).)*)\}\}$", re.DOTALL)


@lru_cache(maxsize=1)
def _environment() -> Any:
    from jinja2 import Environment, StrictUndefined

    return Environment(undefined=StrictUndefined, keep_trailing_newline=True)


class _Expression:
    """``{{ expr }}`` alone: evaluated to a value, not to text."""

    def __init__(self, expression: Any) -> None:
        self.expression = expression

    def render(self, **names: Any) -> Any:
        value = self.expression(**names)
        if hasattr(value, "_undefined_message"):  # StrictUndefined is not raised by expressions
            from jinja2 import UndefinedError

            raise UndefinedError(value._undefined_message)
        return value


@lru_cache(maxsize=4096)
def _compile(text: str) -> Any:
    from jinja2 import TemplateSyntaxError

    env = _environment()
    single = _SINGLE.match(text.strip())
    try:
        if single:
            return _Expression(
                env.compile_expression(single.group("expr"), undefined_to_none=False)
            )
        return env.from_string(text)
    except TemplateSyntaxError as exc:
        raise DagError(f"template {text!r}: {exc.message} (line {exc.lineno})") from None


def is_template(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def render(value: Any, names: Mapping[str, Any]) -> Any:
    """``value`` with every template string in it rendered (dicts and lists recursively)."""
    if isinstance(value, str):
        if not is_template(value):
            return value
        from jinja2 import UndefinedError

        try:
            return _compile(value).render(**names)
        except UndefinedError as exc:
            raise DagError(
                f"template {value!r}: {exc.message}",
                hint="available: " + ", ".join(sorted(names)),
            ) from None
    if isinstance(value, Mapping):
        return {k: render(v, names) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(render(v, names) for v in value)
    return value


def check(value: Any) -> None:
    """Compile every template in ``value`` now, so a syntax error stops the project loading."""
    if isinstance(value, str) and is_template(value):
        _compile(value)
    elif isinstance(value, Mapping):
        for v in value.values():
            check(v)
    elif isinstance(value, list | tuple):
        for v in value:
            check(v)


def date_names(logical: datetime | None, start: datetime | None, end: datetime | None) -> dict:
    """Airflow's date variables for a logical date and its data interval."""
    if logical is None:
        return {
            "ds": None,
            "ds_nodash": None,
            "ts": None,
            "logical_date": None,
            "data_interval_start": start,
            "data_interval_end": end,
        }
    return {
        "ds": logical.strftime("%Y-%m-%d"),
        "ds_nodash": logical.strftime("%Y%m%d"),
        "ts": logical.isoformat(),
        "logical_date": logical,
        "data_interval_start": start or logical,
        "data_interval_end": end or logical,
    }
