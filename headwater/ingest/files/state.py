"""Which files a load has read: path → size and version, kept with the table's snapshot.

A file is read again when its size or version (mtime, ETag) changes. Up to ``PACK_ABOVE``
files the state is plain JSON (easy to inspect); above it the listing is zlib-compressed and
base64-encoded, since it rides in an Iceberg snapshot summary property.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Iterable, Mapping
from typing import Any

from headwater.connect.storage import FileEntry
from headwater.errors import SourceError

VERSION = 1
PACK_ABOVE = 1000

Seen = dict[str, tuple[int, str]]


def decode(state: Mapping[str, Any]) -> Seen:
    """The files a previous load read; ``{}`` when there was none."""
    if not state:
        return {}
    if state.get("version") != VERSION:
        raise SourceError(
            f"the file source state has version {state.get('version')!r}; "
            f"this Headwater reads version {VERSION}",
            hint="upgrade Headwater, or run a full refresh of the table to read every file again",
        )
    files = state.get("files")
    if isinstance(files, str):
        files = json.loads(zlib.decompress(base64.b64decode(files)))
    return {path: (int(size), str(version)) for path, (size, version) in (files or {}).items()}


def encode(entries: Iterable[FileEntry]) -> dict[str, Any]:
    """The state after a load that saw ``entries`` (every file the glob matched)."""
    files = {entry.path: [entry.size, entry.version] for entry in entries}
    if len(files) <= PACK_ABOVE:
        return {"version": VERSION, "files": files}
    raw = json.dumps(files, separators=(",", ":")).encode()
    return {"version": VERSION, "files": base64.b64encode(zlib.compress(raw, 9)).decode("ascii")}


def changed(entries: Iterable[FileEntry], seen: Seen) -> list[FileEntry]:
    """The files that are new, or whose size or version differ from the last load's."""
    return [e for e in entries if seen.get(e.path) != (e.size, e.version)]
