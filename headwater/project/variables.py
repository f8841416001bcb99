"""Resolve the project's variables: ``--var`` beats ``HEADWATER_VAR_<NAME>`` beats the default."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from headwater.errors import VariableError, did_you_mean

if TYPE_CHECKING:
    from headwater.project import Project

ENV_PREFIX = "HEADWATER_VAR_"


def parse_assignments(items: list[str] | None) -> dict[str, str]:
    """Turn ``["a=1", "b=x=y"]`` into ``{"a": "1", "b": "x=y"}``."""
    out: dict[str, str] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise VariableError(
                f"--var `{item}` is not of the form NAME=VALUE",
                hint="write it as --var source_url=sqlite:///my.db",
            )
        out[name.strip()] = value
    return out


def resolve(
    declared: Mapping[str, Any],
    overrides: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Values of every declared variable; a variable with no value at all maps to None.

    ``declared`` maps names to their default. Unknown overrides are errors, so a typo in
    ``--var`` never silently does nothing.
    """
    env = os.environ if environ is None else environ
    for name in overrides:
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            raise VariableError(
                f"unknown variable `{name}`{did_you_mean(name, declared)}",
                hint=f"the project declares: {known}",
            )
    values: dict[str, Any] = {}
    for name, default in declared.items():
        if name in overrides:
            values[name] = overrides[name]
        elif ENV_PREFIX + name.upper() in env:
            values[name] = env[ENV_PREFIX + name.upper()]
        else:
            values[name] = default
    return values


def public_variables(project: Project) -> dict[str, Any]:
    """Variable values safe to record: sensitive ones and URL passwords are masked."""
    import sqlalchemy as sa

    out: dict[str, Any] = {}
    for name, value in project.variables.items():
        spec = project.config.variables.get(name)
        if spec is not None and spec.sensitive:
            out[name] = "***"
        elif isinstance(value, str) and "://" in value:
            try:
                out[name] = sa.make_url(value).render_as_string(hide_password=True)
            except sa.exc.ArgumentError:
                out[name] = value
        else:
            out[name] = value
    return out
