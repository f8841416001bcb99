"""How a table's schema changed between two versions: its creation, added and widened columns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pyarrow as pa

from headwater.lake.arrow_types import storable_schema

ChangeKind = Literal["created", "added", "widened"]


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
        if self.kind == "widened":
            return f"~ {self.column} {self.old_type} → {self.new_type}"
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
            out.append(SchemaChange("widened", f.name, str(before.field(f.name).type), str(f.type)))
    return out
