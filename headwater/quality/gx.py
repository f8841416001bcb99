"""Read a Great Expectations expectation suite (JSON, 0.18 and 1.x shapes) as our checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from headwater.errors import ProjectError
from headwater.quality.entries import COMMON, from_gx, parse
from headwater.quality.rules import GX_ALIASES


def read_suite(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The suite's expectations as check entries (our YAML shape), and the ones we skip.

    0.18 suites list ``{"expectation_type": …, "kwargs": {…}}``; 1.x suites list
    ``{"type": …, "kwargs": {…}}`` (or the class name, ``ExpectColumnValuesToNotBeNull``).
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ProjectError(
            f"cannot read {path} as a Great Expectations suite: {exc}",
            hint="give the suite's JSON file (great_expectations/expectations/<suite>.json)",
        ) from exc
    if not isinstance(data, dict) or not isinstance(data.get("expectations", []), list):
        raise ProjectError(
            f"{path} is not a Great Expectations suite: expected an object with "
            "an `expectations` list",
            hint="give the suite's JSON file (great_expectations/expectations/<suite>.json)",
        )
    entries, skipped = [], []
    for index, item in enumerate(data.get("expectations", [])):
        name = _snake(str(item.get("expectation_type") or item.get("type") or ""))
        kwargs = dict(item.get("kwargs") or {})
        if name not in GX_ALIASES:
            skipped.append(name or "(unnamed)")
            continue
        entry = {k: v for k, v in from_gx(name, kwargs).items() if v is not None}
        severity = (item.get("meta") or {}).get("severity") or item.get("severity")
        if severity in ("warning", "warn"):
            entry["severity"] = "warn"
        try:
            parse(entry)  # refuse now what could not run later
        except (ValidationError, ValueError) as exc:
            skipped.append(f"{name} (expectation {index}: {_first_problem(exc)})")
            continue
        kind = entry.pop("kind")
        common = {k: entry.pop(k) for k in COMMON if k in entry}
        entries.append({kind: entry, **common})
    return entries, skipped


def _snake(name: str) -> str:
    """``ExpectColumnValuesToNotBeNull`` → ``expect_column_values_to_not_be_null``."""
    if "_" in name or name.islower():
        return name
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def _first_problem(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        return str(first["msg"])
    return str(exc)
