"""A throwaway project over a SQLite source that tests change between runs."""

from __future__ import annotations

import sqlite3
import textwrap
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from headwater import Workspace


class SqliteProject:
    """A project folder with ``src.db`` as connection ``src`` and one source ``s``."""

    def __init__(self, root: Path, tables_yaml: str, extra: str = "") -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.db = root / "src.db"
        (root / "headwater.yaml").write_text(
            "name: t\n"
            "connections:\n  src: {url: sqlite:///src.db}\n"
            "sources:\n  s:\n    connection: src\n    tables:\n"
            + textwrap.indent(textwrap.dedent(tables_yaml), "      ")
            + "pipelines:\n  p:\n    tasks:\n      - ingest: s\n"
            + textwrap.dedent(extra),
            encoding="utf-8",
        )

    def sql(self, statement: str, rows: Iterable[Sequence[Any]] | None = None) -> None:
        with sqlite3.connect(self.db) as con:
            if rows is None:
                con.executescript(statement)
            else:
                con.executemany(statement, list(rows))

    def workspace(self) -> Workspace:
        return Workspace.open(self.root)

    def run(self, full_refresh: bool = False) -> Any:
        ws = self.workspace()
        try:
            return ws.run("p", full_refresh=full_refresh)
        finally:
            ws.close()

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        ws = self.workspace()
        try:
            table = ws.query(sql)
            return [tuple(r.values()) for r in table.to_pylist()]
        finally:
            ws.close()

    def snapshots(self, table: str) -> int:
        ws = self.workspace()
        try:
            return len(ws.lake.snapshots(table))
        finally:
            ws.close()
