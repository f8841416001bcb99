"""The load state a table carries in its snapshots: cursor and source state, committed with
the rows they cover (so a crash between writing rows and saving the cursor cannot happen)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from headwater.ingest import cursor as cursors
from headwater.lake import Lake
from headwater.lake.properties import CURSOR, LOADED, SOURCE_STATE

__all__ = ["CURSOR", "LOADED", "SOURCE_STATE", "LoadState", "committed_state", "state_properties"]


@dataclass(frozen=True)
class LoadState:
    cursor: Any = None
    source: Mapping[str, Any] = field(default_factory=dict)
    found: bool = False  # False: the table has never been loaded


def committed_state(lake: Lake, name: str) -> LoadState:
    """The state of the newest snapshot written by a load, walking back from the current one."""
    current = lake.current_metadata(name)
    if current is None:
        return LoadState()
    return _first_loaded(current.lineage())


def _first_loaded(summaries: Iterable[Mapping[str, str]]) -> LoadState:
    for props in summaries:
        if LOADED in props:
            source = json.loads(props[SOURCE_STATE]) if props.get(SOURCE_STATE) else {}
            return LoadState(cursors.decode(props.get(CURSOR)), source, True)
    return LoadState()


def state_properties(cursor: Any, source: Mapping[str, Any]) -> dict[str, str]:
    """Snapshot summary properties that carry the state of a load."""
    props = {LOADED: "true"}
    encoded = cursors.encode(cursor)
    if encoded is not None:
        props[CURSOR] = encoded
    if source:
        props[SOURCE_STATE] = json.dumps(source, separators=(",", ":"), default=str)
    return props
