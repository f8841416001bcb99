"""Schema contracts: how new data that does not match the table's schema is handled.

New columns are added and safe widenings (int32 → int64, float32 → float64, decimal
precision up) applied; anything else follows the contract:

- ``evolve``: new columns are added; a value of another type is cast to the column's type,
  and a value that does not convert fails the load;
- ``freeze``: any new column or type change fails the load with a diff of the schemas;
- ``discard_row``: a row with a value in a new column, or a value that does not convert,
  goes to the quarantine table instead;
- ``discard_value``: that value is set to NULL and kept in the quarantine table.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc

from headwater.errors import ContractViolation
from headwater.ingest.extraction import Reject
from headwater.ingest.origin import Locate, Origins
from headwater.lake.arrow_types import conform, storable_schema, widens
from headwater.lake.schema_changes import SchemaChange, schema_changes
from headwater.project.base import Contract

__all__ = ["ContractPlan", "SchemaChange", "plan", "schema_changes"]

# per column: how a batch's array becomes the table's, with the rows or values it rejects
_Action = Literal["keep", "cast", "new_reject_rows", "new_reject_values", "convert"]


@dataclass
class ContractPlan:
    """How every batch of one load is made to fit the table, decided once from the schemas."""

    table: str
    contract: Contract
    write_schema: pa.Schema
    changes: list[SchemaChange] = field(default_factory=list)
    _actions: dict[str, _Action] = field(default_factory=dict)
    # columns of the table the rows read lack (dropped or renamed in the source): kept in the
    # table, NULL in every row this load writes
    missing: tuple[str, ...] = ()

    @property
    def exact(self) -> bool:
        """True when every batch fits as it is (at most cast to a wider type) and has every
        column of the table."""
        return not self.missing and all(a in ("keep", "cast") for a in self._actions.values())

    def apply(
        self, batch: pa.RecordBatch, origins: Origins | None = None, locate: Locate | None = None
    ) -> tuple[pa.RecordBatch, list[Reject], Origins | None]:
        """``batch`` in the write schema, what the contract keeps out of it, and the places
        of the rows kept.

        ``origins`` are the places of ``batch``'s rows, given to the rejects; ``locate`` names
        the place of a value the contract fails the load for."""
        rejects: list[Reject] = []
        drop = pa.array([False] * batch.num_rows) if batch.num_rows else pa.array([], pa.bool_())
        arrays: dict[str, pa.Array] = {}
        for name, action in self._actions.items():
            column = batch.column(name)
            if action == "keep":
                arrays[name] = column
                continue
            if action in ("new_reject_rows", "new_reject_values"):
                present = pc.is_valid(column)
                if action == "new_reject_rows":
                    drop = pc.or_(drop, present)
                else:
                    rejects.extend(
                        self._rejects(batch, present, name, "is not a column of the table", origins)
                    )
                continue
            target = self.write_schema.field(name).type
            converted, bad = _convert(column, target)
            if bad is not None:
                if self.contract == "evolve":
                    index = bad.index(True).as_py()
                    place = origins.place(index, locate) if origins is not None else None
                    where = f"at {place}" if place else f"row {index + 1} of a batch"
                    raise ContractViolation(
                        f"table `{self.table}`: column `{name}` is {target} in the table and "
                        f"{column.type} in the source, and the value {column[index].as_py()!r} "
                        f"({where}) does not convert to {target}",
                        table=self.table,
                        diff=[f"~ {name} {target} → {column.type}"],
                        hint=f"cast `{name}` to {target} in the source's `query`, use contract "
                        "discard_row or discard_value to quarantine such values, or fix the "
                        "source",
                    )
                if self.contract == "discard_row":
                    drop = pc.or_(drop, bad)
                else:
                    rejects.extend(
                        self._rejects(batch, bad, name, f"does not convert to {target}", origins)
                    )
            arrays[name] = converted
        if pc.any(drop).as_py():
            rejects.extend(self._row_rejects(batch, drop, origins))
            keep = pc.invert(drop)
            arrays = {k: pc.filter(v, keep) for k, v in arrays.items()}
            rows = len(next(iter(arrays.values()))) if arrays else 0
            if origins is not None:
                origins = origins.filter(keep)
        else:
            rows = batch.num_rows
        columns = [
            arrays[f.name] if f.name in arrays else pa.nulls(rows, f.type)
            for f in self.write_schema
        ]
        out = pa.RecordBatch.from_arrays(columns, names=self.write_schema.names)
        return conform(out, self.write_schema), rejects, origins

    def _rejects(
        self,
        batch: pa.RecordBatch,
        mask: pa.Array,
        column: str,
        why: str,
        origins: Origins | None,
    ) -> list[Reject]:
        values = pc.filter(batch.column(column), mask).to_pylist()
        rejects: list[Reject] = [
            Reject(
                reason=f"value of `{column}` {why} (contract {self.contract})",
                record=json.dumps(value, default=str),
                column=column,
            )
            for value in values
        ]
        return rejects if origins is None else origins.mark(rejects, mask)

    def _row_rejects(
        self, batch: pa.RecordBatch, mask: pa.Array, origins: Origins | None
    ) -> list[Reject]:
        reason = self._reasons(batch)
        rows = pc.filter(batch, mask).to_pylist()
        rejects: list[Reject] = [
            Reject(
                reason=f"{reason(row)} (contract {self.contract})",
                record=json.dumps(row, default=str),
            )
            for row in rows
        ]
        return rejects if origins is None else origins.mark(rejects, mask)

    def _reasons(self, batch: pa.RecordBatch) -> Callable[[dict[str, object]], str]:
        new = [n for n, a in self._actions.items() if a == "new_reject_rows"]
        converted = [n for n, a in self._actions.items() if a == "convert"]

        def reason(row: dict[str, object]) -> str:
            for name in new:
                if row.get(name) is not None:
                    return f"column `{name}` is not a column of the table"
            for name in converted:
                target = self.write_schema.field(name).type
                if (
                    _convert(pa.array([row.get(name)], batch.schema.field(name).type), target)[1]
                    is not None
                ):
                    return f"value of `{name}` does not convert to {target}"
            return "row does not fit the table"

        return reason


def plan(
    table: str, current: pa.Schema | None, incoming: pa.Schema, contract: Contract
) -> ContractPlan:
    """Decide, from the table's schema and the incoming one, how batches are made to fit.

    Raises :class:`ContractViolation` with the schema diff when the contract is ``freeze`` and
    the incoming schema has new columns or incompatible types.
    """
    incoming = storable_schema(incoming)
    if current is not None:
        current = storable_schema(current)  # the catalog reports large_string for string
    if current is None:
        actions: dict[str, _Action] = {f.name: "keep" for f in incoming}
        created = SchemaChange("created", "", None, f"{len(incoming)} columns")
        return ContractPlan(table, contract, incoming, [created], actions)
    fields = {f.name: f for f in current}
    changes: list[SchemaChange] = []
    violations: list[str] = []
    actions = {}
    for f in incoming:
        have = fields.get(f.name)
        if have is None:
            if contract == "evolve":
                fields[f.name] = pa.field(f.name, f.type, nullable=True)
                changes.append(SchemaChange("added", f.name, None, str(f.type)))
                actions[f.name] = "keep"
            elif contract == "freeze":
                violations.append(f"+ {f.name} {f.type}")
            else:
                actions[f.name] = (
                    "new_reject_rows" if contract == "discard_row" else "new_reject_values"
                )
        elif have.type.equals(f.type):
            actions[f.name] = "keep"
        elif widens(f.type, have.type):
            actions[f.name] = "cast"
        elif widens(have.type, f.type):
            fields[f.name] = pa.field(f.name, f.type, nullable=True)
            changes.append(SchemaChange("widened", f.name, str(have.type), str(f.type)))
            actions[f.name] = "keep"
        elif contract == "freeze":
            violations.append(f"~ {f.name} {have.type} → {f.type}")
        else:
            actions[f.name] = "convert"
    if violations:
        raise ContractViolation(
            f"table `{table}` has a frozen schema and the new data differs:\n  "
            + "\n  ".join(violations),
            table=table,
            diff=violations,
            hint="change the contract to evolve (or discard_row / discard_value), "
            "or change the source back",
        )
    write = pa.schema(list(fields.values()))
    missing = tuple(n for n in current.names if n not in incoming.names)
    return ContractPlan(table, contract, write, changes, actions, missing)


def _convert(column: pa.Array, target: pa.DataType) -> tuple[pa.Array, pa.Array | None]:
    """``column`` cast to ``target``; values that do not convert become NULL and are flagged."""
    try:
        return pc.cast(column, target), None
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        pass
    # the rare path: find the offending values one by one
    values, bad = [], []
    for scalar in column:
        try:
            values.append(scalar.cast(target).as_py() if scalar.is_valid else None)
            bad.append(False)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            values.append(None)
            bad.append(True)
    return pa.array(values, target), pa.array(bad)
