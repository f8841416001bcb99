"""The load state a table's history must keep through maintenance.

A load commits its cursor and source state in its snapshot's summary (headwater/ingest/
state.py), and the next load reads them from the newest snapshot marked as a load's. A
compaction carries them into its own snapshot, and expiry never removes the snapshots between
the current one and the one holding them, so the next load starts where the last one ended.
"""

from __future__ import annotations

from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot, ancestors_of

from headwater.lake.properties import LOADED, MAINTENANCE, carried

__all__ = ["MAINTENANCE", "carried_properties", "state_lineage"]


def state_lineage(table: Table) -> list[Snapshot]:
    """The snapshots from the current one back to the newest a load wrote (both included);
    empty when no load wrote any (a model's table)."""
    lineage = []
    for snapshot in ancestors_of(table.current_snapshot(), table.metadata):
        lineage.append(snapshot)
        if snapshot.summary is not None and LOADED in snapshot.summary.additional_properties:
            return lineage
    return []


def carried_properties(table: Table) -> dict[str, str]:
    """The Headwater properties of the newest load's snapshot, for a snapshot that rewrites
    files without changing rows (every ``headwater.*`` key but those naming the writer)."""
    lineage = state_lineage(table)
    if not lineage or lineage[-1].summary is None:
        return {}
    return carried(lineage[-1].summary.additional_properties)
