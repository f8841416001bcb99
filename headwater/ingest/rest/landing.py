"""Keep each raw response body as a file, ``<table>_<UTC timestamp>_<n>.json``, as received.

The files are the audit trail of a read (what the API said, byte for byte) and let a load be
replayed or debugged without calling the API again.
"""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime
from pathlib import Path


class Landing:
    """Numbered raw bodies of one read of one table, in one folder."""

    def __init__(self, folder: Path, table: str) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        now = datetime.now(UTC)
        # milliseconds: two reads of a table in the same second still get their own files
        self._stem = f"{table}_{now:%Y%m%dT%H%M%S}{now.microsecond // 1000:03d}Z"
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()
        self.files: list[Path] = []

    def keep(self, body: bytes) -> Path:
        with self._lock:
            path = self.folder / f"{self._stem}_{next(self._numbers):05d}.json"
            self.files.append(path)
        with path.open("xb") as out:  # never overwrite what an earlier read kept
            out.write(body)
        return path
