"""Read a Great Expectations expectation suite (JSON, 0.18 and 1.x shapes) as our checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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
    entries, skipped = [], []
    for item in data.get("expectations", []):
        name = _snake(str(item.get("expectation_type") or item.get("type") or ""))
        kwargs = dict(item.get("kwargs") or {})
        if name not in GX_ALIASES:
            skipped.append(name or "(unnamed)")
            continue
        entry = {k: v for k, v in from_gx(name, kwargs).items() if v is not None}
        severity = (item.get("meta") or {}).get("severity") or item.get("severity")
        if severity in ("warning", "warn"):
            entry["severity"] = "warn"
        parse(entry)  # refuse now what could not run later
        kind = entry.pop("kind")
        common = {k: entry.pop(k) for k in COMMON if k in entry}
        entries.append({kind: entry, **common})
    return entries, skipped


def _snake(name: str) -> str:
    """``ExpectColumnValuesToNotBeNull`` → ``expect_column_values_to_not_be_null``."""
    if "_" in name or name.islower():
        return name
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")
