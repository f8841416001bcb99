"""How a table's schema changed between two versions: its creation, added, widened, changed
and dropped columns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pyarrow as pa

from headwater.lake.arrow_types import storable_schema, widens

ChangeKind = Literal["created", "added", "widened", "changed", "dropped"]


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
