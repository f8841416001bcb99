"""Captured changes applied to a lake table: collapsed by key in commit order, merged, the
position committed with the rows, a block read again after a crash applied once."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from headwater.cdc.apply import apply_changes, apply_snapshot, committed_position
from headwater.cdc.capture import CHANGE_FIELDS, SnapshotTable, TableChanges
from headwater.cdc.positions import later, lsn_text, lsn_value, sort_key
from headwater.errors import CdcError, CdcSetupError, ContractViolation
from headwater.lake import Lake

COLUMNS = pa.schema([("id", pa.int64()), ("name", pa.string()), ("qty", pa.int32())])
AT = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake.local(tmp_path / ".headwater")


def changes(
    rows: list[tuple[str, str, dict[str, Any]]], schema: pa.Schema = COLUMNS
) -> TableChanges:
    """(op, position, values) in commit order → the columnar form a capture hands over."""
    columns: dict[str, list[Any]] = {name: [] for name in schema.names}
    extra: dict[str, list[Any]] = {f.name: [] for f in CHANGE_FIELDS}
    for seq, (op, position, values) in enumerate(rows):
        for name in schema.names:
            columns[name].append(values.get(name))
        unchanged = values.get("_unchanged", [])
        for name, value in zip(
            CHANGE_FIELDS.names, (op, seq, position, AT, unchanged), strict=True
        ):
            extra[name].append(value)
    table = pa.table({**columns, **extra}, schema=pa.schema([*schema, *CHANGE_FIELDS]))
    return TableChanges("public.items", ("id",), table)


def rows(lake: Lake) -> list[tuple[Any, ...]]:
    table = lake.table("raw.items").scan().to_arrow().sort_by("id")
    return [tuple(r.values()) for r in table.to_pylist()]


def snapshot(lake: Lake, position: str = "0/100") -> None:
    data = pa.table({"id": [1, 2, 3], "name": ["a", "b", "c"], "qty": [1, 2, 3]}, COLUMNS)
    table = SnapshotTable("public.items", ("id",), COLUMNS, iter(data.to_batches()))
    apply_snapshot(lake, "raw.items", table, position)


def test_positions_sort_as_the_source_orders_them() -> None:
    assert lsn_value("16/B374D848") == (0x16 << 32) | 0xB374D848
    assert lsn_text(lsn_value("16/B374D848")) == "16/B374D848"
    assert sort_key("0/FF") < sort_key("1/0")  # the high part counts first
    assert sort_key("mysql-bin.000009:900") < sort_key("mysql-bin.000010:4")  # rotation
    assert later("0/200", "0/1F0") == "0/200"
    assert later(None, "0/10") == "0/10"
    with pytest.raises(CdcError, match="is not a binary-log position"):
        sort_key("not a position")


def test_inserts_updates_deletes_and_key_changes_merge_in_commit_order(lake: Lake) -> None:
    snapshot(lake)
    assert committed_position(lake, "raw.items") == "0/100"
    block = changes(
        [
            ("c", "0/110", {"id": 4, "name": "d", "qty": 4}),
            ("u", "0/110", {"id": 1, "name": "a2", "qty": 10}),
            ("u", "0/120", {"id": 1, "name": "a3", "qty": 11}),  # the last change wins
            ("d", "0/120", {"id": 2}),  # a delete carries its key only
            ("c", "0/130", {"id": 5, "name": "e", "qty": 5}),
            ("d", "0/130", {"id": 5}),  # inserted and deleted within the block
            ("d", "0/140", {"id": 3}),  # the key of 3 changed to 6: a delete, then the row
            ("u", "0/140", {"id": 6, "name": "c", "qty": 3}),
        ]
    )
    result = apply_changes(lake, "raw.items", block, "0/150")
    assert result is not None and result.deleted == 2
    assert rows(lake) == [(1, "a3", 11), (4, "d", 4), (6, "c", 3)]
    assert committed_position(lake, "raw.items") == "0/150"


def test_a_block_read_again_after_a_crash_changes_nothing_already_applied(lake: Lake) -> None:
    snapshot(lake)
    first = changes(
        [
            ("u", "0/110", {"id": 1, "name": "a2", "qty": 10}),
            ("d", "0/120", {"id": 2}),
        ]
    )
    assert apply_changes(lake, "raw.items", first, "0/120") is not None
    snapshots = len(lake.snapshots("raw.items"))
    # read again from an older position after a crash: the same changes, plus newer ones
    again = changes(
        [
            ("u", "0/110", {"id": 1, "name": "a2", "qty": 10}),
            ("d", "0/120", {"id": 2}),
            ("c", "0/130", {"id": 2, "name": "b again", "qty": 20}),
        ]
    )
    assert apply_changes(lake, "raw.items", first, "0/120") is None  # all applied before
    assert len(lake.snapshots("raw.items")) == snapshots
    assert apply_changes(lake, "raw.items", again, "0/130") is not None
    assert rows(lake) == [(1, "a2", 10), (2, "b again", 20), (3, "c", 3)]
    assert committed_position(lake, "raw.items") == "0/130"


def test_a_column_added_in_the_source_is_added_under_evolve(lake: Lake) -> None:
    snapshot(lake)
    wider = pa.schema([*COLUMNS, ("colour", pa.string())])
    block = changes([("u", "0/110", {"id": 2, "name": "b", "qty": 2, "colour": "red"})], wider)
    apply_changes(lake, "raw.items", block, "0/110")
    assert lake.arrow_schema("raw.items").names == ["id", "name", "qty", "colour"]
    assert rows(lake) == [(1, "a", 1, None), (2, "b", 2, "red"), (3, "c", 3, None)]


def test_a_change_the_contract_refuses_publishes_nothing_and_keeps_the_position(
    lake: Lake,
) -> None:
    snapshot(lake)
    wider = pa.schema([*COLUMNS, ("colour", pa.string())])
    block = changes([("u", "0/110", {"id": 2, "name": "b", "qty": 2, "colour": "red"})], wider)
    with pytest.raises(ContractViolation, match="colour"):
        apply_changes(lake, "raw.items", block, "0/110", contract="freeze")
    assert committed_position(lake, "raw.items") == "0/100"
    assert rows(lake) == [(1, "a", 1), (2, "b", 2), (3, "c", 3)]


def test_an_update_without_its_toasted_value_stops_with_the_fix(lake: Lake) -> None:
    snapshot(lake)
    block = changes([("u", "0/110", {"id": 1, "qty": 5, "_unchanged": ["name"]})])
    with pytest.raises(CdcSetupError, match="REPLICA IDENTITY FULL"):
        apply_changes(lake, "raw.items", block, "0/110")
    assert committed_position(lake, "raw.items") == "0/100"
