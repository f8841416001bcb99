"""The SQL databases of a project's connections, opened once each and shared by its loads."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from headwater.errors import ProjectError

if TYPE_CHECKING:
    from headwater.connect.sql.database import SqlDatabase
    from headwater.project import Project


class Databases:
    """One :class:`SqlDatabase` per SQL connection of ``project``, made on first use."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self._open: dict[str, SqlDatabase] = {}
        self._lock = threading.Lock()

    def get(self, connection: str) -> SqlDatabase:
        from headwater.connect.sql.database import SqlDatabase
        from headwater.project.config import SqlConnection

        with self._lock:
            if connection not in self._open:
                spec = self.project.config.connections[connection]
                if not isinstance(spec, SqlConnection):
                    raise ProjectError(
                        f"connection `{connection}` is of type `{spec.type}`, not a SQL database"
                    )
                self._open[connection] = SqlDatabase(
                    spec.url,
                    name=connection,
                    root=self.project.root,
                    read_timeout=spec.read_timeout,
                )
            return self._open[connection]

    def dispose(self) -> None:
        """Close every pool (a database opens again when used)."""
        with self._lock:
            opened, self._open = list(self._open.values()), {}
        for db in opened:
            db.dispose()
