"""The lake's one read path (headwater.lake.metadata) checked against pyiceberg.

``conftest.py`` records every ``Lake`` a test makes and, when the test ends, reads each table
of each such lake both ways: the table list, the metadata file, the schema, every snapshot
with its summary, the live data files of every snapshot and the counts checks take from the
manifests. A divergence fails the test that produced the table shape.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from headwater.errors import LakeError
from headwater.lake.arrow_types import storable_schema
from headwater.lake.catalog import Lake

MADE: list[Lake] = []  # the lakes the running test made (recorded by conftest.py)


def verify_made() -> None:
    """Verify every lake the test made whose catalog is still there, once each, then close
    the connections the verification opened."""
    seen: set[str] = set()
    made = list(MADE)
    MADE.clear()
    for lake in made:
        lake.close()  # what the test left open; a lake opens again when used
        if lake.catalog_url in seen or not _reachable(lake.catalog_url):
            continue
        seen.add(lake.catalog_url)
        try:
            verify(lake)
        finally:
            lake.close()


def _reachable(url: str) -> bool:
    """A catalog still there to read (a test's folder or database may be gone)."""
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///")).exists()
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect():
            return True
    except sa.exc.SQLAlchemyError:
        return False
    finally:
        engine.dispose()


def verify(lake: Lake) -> int:
    """Compare every table of ``lake`` both ways; returns how many tables were compared."""
    from pyiceberg.exceptions import NoSuchNamespaceError

    catalog = lake.catalog
    expected = []
    for namespace in catalog.list_namespaces():
        try:
            expected += [".".join(ident) for ident in catalog.list_tables(namespace)]
        except NoSuchNamespaceError:
            continue
    names = lake.tables()
    assert names == sorted(expected), f"tables listed: {names} ≠ pyiceberg's {sorted(expected)}"
    for name in names:
        _verify_table(lake, name)
    return len(names)


def _verify_table(lake: Lake, name: str) -> None:
    try:
        table = lake.table(name)
    except Exception as pyiceberg_error:  # a table a test damaged on purpose
        try:
            lake.table_metadata(name).data_files  # noqa: B018 - reading is the check
        except LakeError:
            return
        raise AssertionError(f"{name}: pyiceberg cannot read it ({pyiceberg_error})") from None
    ours = lake.table_metadata(name)
    where = f"{name} ({ours.location})"
    assert ours.location == table.metadata_location, where
    theirs_schema = storable_schema(table.schema().as_arrow())
    assert lake.arrow_schema(name).equals(theirs_schema), (
        f"{where}: schema {lake.arrow_schema(name)} ≠ pyiceberg's {theirs_schema}"
    )
    assert ours.schema_count == len(table.schemas()), where
    info = lake.info(name)
    current = table.current_snapshot()
    assert info.snapshot_id == (current.snapshot_id if current else None), where
    snapshots = {s.snapshot_id: s for s in table.snapshots()}
    listed = lake.snapshots(name)
    assert [s.snapshot_id for s in listed] == list(snapshots), where
    for snap in listed:
        theirs = snapshots[snap.snapshot_id]
        assert snap.parent_id == theirs.parent_snapshot_id, where
        assert int(snap.committed_at.timestamp() * 1000) == theirs.timestamp_ms, where
        summary = theirs.summary
        assert snap.operation == (summary.operation.value if summary else ""), where
        assert snap.summary == (dict(summary.additional_properties) if summary else {}), where
        _verify_files(lake, ours, table, snap.snapshot_id, where)


def _verify_files(lake: Lake, ours: Any, table: Any, snapshot_id: int, where: str) -> None:
    from pyiceberg.manifest import DataFileContent

    snapshot = table.snapshot_by_id(snapshot_id)
    entries = [
        entry.data_file
        for manifest in snapshot.manifests(table.io)
        for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True)
    ]
    if any(f.content != DataFileContent.DATA for f in entries):
        try:
            ours.files_of(snapshot_id)
        except LakeError:
            return
        raise AssertionError(f"{where}: snapshot {snapshot_id} has delete files, read as none")
    theirs = {f.file_path: f for f in entries}
    mine = {f.path: f for f in ours.files_of(snapshot_id)}
    assert mine.keys() == theirs.keys(), f"{where}: files of snapshot {snapshot_id} differ"
    for path, entry in mine.items():
        other = theirs[path]
        assert (entry.record_count, entry.size) == (other.record_count, other.file_size_in_bytes)
    current = table.current_snapshot()
    if current is None or current.snapshot_id != snapshot_id:
        return
    counts = ours.column_counts()
    assert counts is not None and counts.rows == sum(f.record_count for f in theirs.values())
    ids = {f.name: f.field_id for f in table.schema().fields}
    for column, nulls in counts.nulls.items():
        expected = sum((f.null_value_counts or {}).get(ids[column], 0) for f in theirs.values())
        assert nulls == expected, f"{where}: NULLs of {column}: {nulls} ≠ {expected}"
