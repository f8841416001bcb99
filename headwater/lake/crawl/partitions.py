"""Partition columns from the folders between a table's root and its files.

A Hive-style folder ``year=2024`` gives the column ``year``; a plain folder (``2024/``) gives
``partition_0``, ``partition_1``… by level, as Glue names them. Values are typed BIGINT or
DATE when every value reads as one, VARCHAR otherwise.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

HIVE_DEFAULT = "__HIVE_DEFAULT_PARTITION__"
_INTEGER = re.compile(r"^[+-]?\d{1,18}$")


@dataclass(frozen=True)
class PartitionColumn:
    name: str
    type: str  # a DuckDB type
    hive: bool  # from key=value folders (DuckDB reads those itself)
    level: int = 0  # the folder level under the table's folder, from 0


def levels(relative: str) -> list[tuple[str | None, str]]:
    """``year=2024/x/f.csv`` → ``[("year", "2024"), (None, "x")]`` (the file name excluded)."""
    out: list[tuple[str | None, str]] = []
    for segment in relative.split("/")[:-1]:
        key, sep, value = segment.partition("=")
        out.append((key, value) if sep and key else (None, segment))
    return out


def signature(relative: str) -> tuple[str | None, ...]:
    """The partition keys of a file's folders (None for a plain folder), level by level."""
    return tuple(key for key, _ in levels(relative))


def common_signature(paths: Iterable[str]) -> tuple[str | None, ...]:
    """The layout most files share; ties go to the deeper one, then to Hive keys."""
    counts = Counter(signature(p) for p in paths)
    return max(counts, key=lambda s: (counts[s], len(s), [k or "" for k in s]))


def columns(keys: tuple[str | None, ...], paths: Iterable[str]) -> tuple[PartitionColumn, ...]:
    """The partition columns of files laid out as ``keys``, typed from their values."""
    values: list[list[str]] = [[] for _ in keys]
    for path in paths:
        for index, (_, value) in enumerate(levels(path)):
            values[index].append(value)
    out = []
    for index, key in enumerate(keys):
        name = key if key is not None else f"partition_{index}"
        out.append(PartitionColumn(name, value_type(values[index]), key is not None, index))
    return tuple(out)


def value_type(values: Iterable[str]) -> str:
    """BIGINT, DATE or VARCHAR: the narrowest type every (non-default) value reads as."""
    seen = [v for v in values if v and v != HIVE_DEFAULT]
    if seen and all(_INTEGER.match(v) for v in seen):
        return "BIGINT"
    if seen and all(_is_date(v) for v in seen):
        return "DATE"
    return "VARCHAR"


def _is_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == 10
