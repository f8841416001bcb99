"""DuckDB's "Table with name x does not exist! Did you mean …" told with the lake's tables.

DuckDB suggests the closest name it knows, which for a lake's table read without its
namespace is one of its own system tables (``sqlite_master``, ``pg_attrdef``). The lake's
tables are what the user meant.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

_MISSING = re.compile(
    r"Table with name (?P<name>[^\s!]+) does not exist!(?:\nDid you mean \"[^\"\n]*\"\?)?"
)


def suggest_lake_tables(text: str, tables: Iterable[str]) -> str:
    """``text`` (a DuckDB error) with its suggestion for a missing table replaced by the
    closest tables of the lake (``namespace.name``), or dropped when none is close."""
    match = _MISSING.search(text)
    if match is None:
        return text
    name = match["name"].strip('"').lower()
    known = list(tables)
    same = [t for t in known if t.lower().rsplit(".", 1)[-1] == name.rsplit(".", 1)[-1]]
    close = same or difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    said = f"Table with name {match['name']} does not exist!"
    if close:
        listed = ", ".join(f"`{t}`" for t in close)
        said += f" Did you mean {listed}? (the lake's tables are read as namespace.name)"
    return text[: match.start()] + said + text[match.end() :]
