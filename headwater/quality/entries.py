"""Loose check entries from YAML (``- not_null: id``, GX names) made into typed checks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import TypeAdapter

from headwater.errors import did_you_mean
from headwater.quality.rules import GX_ALIASES, KINDS, Check

COMMON = ("name", "severity", "mostly", "where")
CHECK: TypeAdapter[Check] = TypeAdapter(Check)

# The argument each kind takes when it is given a plain value (`not_null: id`).
_BARE = {
    "not_null": "column",
    "unique": "columns",
    "regex": "column",
    "freshness": "column",
    "sql": "sql",
    "schema": "columns",
    "row_count": "min",
    "volume_anomaly": "z",
}


def normalise(entry: Any) -> Any:
    """``{kind: args, severity: …}`` → ``{kind: KIND, **args, severity: …}``; GX names and
    argument spellings (``min_value``, ``value_set``, ``column_list``…) become ours."""
    if not isinstance(entry, Mapping) or "kind" in entry:
        return entry
    kinds = [k for k in entry if k not in COMMON]
    if len(kinds) != 1:
        known = list(KINDS) + list(GX_ALIASES)
        found = ", ".join(map(str, kinds)) or "none"
        hint = did_you_mean(str(kinds[0]), known) if kinds else ""
        raise ValueError(
            f"a check needs exactly one kind key (not_null, unique, between, …), found {found}{hint}"
        )
    key = str(kinds[0])
    args = entry[key]
    common = {k: entry[k] for k in COMMON if k in entry}
    if key in GX_ALIASES:
        return {**from_gx(key, args if isinstance(args, Mapping) else {}), **common}
    if key not in KINDS:
        raise ValueError(
            f"unknown check `{key}`{did_you_mean(key, list(KINDS) + list(GX_ALIASES))}; "
            f"checks: {', '.join(KINDS)} (or their Great Expectations names)"
        )
    if not isinstance(args, Mapping):
        if key not in _BARE:
            raise ValueError(f"check `{key}` takes a mapping of arguments, e.g. {{column: …}}")
        args = {_BARE[key]: args}
    return {"kind": key, **args, **common}


def from_gx(name: str, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """A Great Expectations expectation (name and kwargs) as our check arguments."""
    kind = GX_ALIASES[name]
    out: dict[str, Any] = {"kind": kind}
    k = dict(kwargs)
    for ours, theirs in (("column", "column"), ("mostly", "mostly"), ("where", "row_condition")):
        if theirs in k and k[theirs] is not None:
            out[ours] = k[theirs]
    if "min_value" in k:
        out["min"] = k["min_value"]
    if "max_value" in k:
        out["max"] = k["max_value"]
    for flag in ("strict_min", "strict_max"):
        if k.get(flag):
            out[flag] = True
    if kind in ("accepted_values", "not_in_set"):
        out["values"] = k.get("value_set", [])
    elif kind == "regex":
        out["pattern"] = k.get("regex", "")
    elif kind == "unique":
        out["columns"] = k.get("column_list") or [out.pop("column", None)]
    elif kind == "row_count" and "other_table_name" in k:
        out["equal_to"] = k["other_table_name"]
    elif kind == "schema":
        out.pop("column", None)
        if name == "expect_column_values_to_be_of_type":
            out["types"] = {k["column"]: k.get("type_")}
        else:
            out["columns"] = k.get("column_set") or k.get("column_list") or []
            out["ordered"] = name.endswith("ordered_list")
            out["exact"] = bool(k.get("exact_match", name.endswith("ordered_list")))
    elif kind == "aggregate":
        function = name.removeprefix("expect_column_").removesuffix("_to_be_between")
        if function == "median":
            out.update(function="quantile", quantile=0.5)
        else:
            out["function"] = {"stdev": "stddev"}.get(function, function)
    return out


def parse(entry: Any) -> Check:
    return CHECK.validate_python(normalise(entry))
