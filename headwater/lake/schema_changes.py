"""How a table's schema changed between two versions: its creation, added, widened, changed
and dropped columns; and, for a loaded table, the columns its source stopped sending (kept in
the table) or sends again."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import pyarrow as pa

from headwater.lake.arrow_types import storable_schema, widens

ChangeKind = Literal["created", "added", "widened", "changed", "dropped", "missing", "returned"]


@dataclass(frozen=True)
class SchemaChange:
    """One change a load made to its table's schema."""

    kind: ChangeKind
    column: str
    old_type: str | None = None
    new_type: str | None = None

    def describe(self) -> str:
        if self.kind == "added":
            return f"+ {self.column} {self.new_type}"
        if self.kind in ("widened", "changed"):
            return f"~ {self.column} {self.old_type} → {self.new_type}"
        if self.kind == "dropped":
            return f"- {self.column} {self.old_type}"
        if self.kind == "missing":
            return f"? {self.column} {self.old_type} (not in the source: kept, NULL in new rows)"
        if self.kind == "returned":
            return f"+ {self.column} {self.new_type} (in the source again)"
        return f"created with {self.new_type}"


def schema_changes(before: pa.Schema | None, after: pa.Schema) -> list[SchemaChange]:
    """What changed between two schemas of one table: its creation, added or widened columns."""
    after = storable_schema(after)
    if before is None:
        return [SchemaChange("created", "", None, f"{len(after)} columns")]
    before = storable_schema(before)
    out = []
    for f in after:
        if f.name not in before.names:
            out.append(SchemaChange("added", f.name, None, str(f.type)))
        elif not before.field(f.name).type.equals(f.type):
            old = before.field(f.name).type
            kind: ChangeKind = "widened" if widens(old, f.type) else "changed"
            out.append(SchemaChange(kind, f.name, str(old), str(f.type)))
    # only a table that takes its writer's schema as it is (a model) loses columns
    out += [
        SchemaChange("dropped", f.name, str(f.type)) for f in before if f.name not in after.names
    ]
    return out


def source_changes(
    table: pa.Schema, unsent: Sequence[str], last: Mapping[str, str]
) -> list[SchemaChange]:
    """The columns of ``table`` its source stopped sending (``unsent``) or sends again, given
    the kind of the last recorded change of each column (``last``): each is recorded once,
    when it happens, not on every load."""
    table = storable_schema(table)
    out = [
        SchemaChange("missing", c, str(table.field(c).type))
        for c in unsent
        if c in table.names and last.get(c) != "missing"
    ]
    out += [
        SchemaChange("returned", c, None, str(table.field(c).type))
        for c, kind in last.items()
        if kind == "missing" and c in table.names and c not in unsent
    ]
    return out
