"""A SQL database reached by SQLAlchemy URL: connecting with clear errors, and reflection."""

from __future__ import annotations

import threading
from functools import cached_property
from pathlib import Path

import sqlalchemy as sa

from headwater.connect.sql.engines import fork_safe
from headwater.errors import SourceError, SourceUnreachable, did_you_mean

# Errors that retrying will not fix: wrong credentials, missing database.
_TERMINAL_MARKERS = (
    "access denied",
    "password authentication failed",
    "unknown database",
    "does not exist",
    "no password supplied",
)


def resolve_url(url: str, root: Path | None) -> sa.URL:
    """Parse ``url``; a relative SQLite path is made relative to ``root`` (the project)."""
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise SourceError(
            f"`{url}` is not a SQLAlchemy URL",
            hint="write it as dialect+driver://user:password@host:port/database, e.g. "
            "mysql+pymysql://root@127.0.0.1/classicmodels, or sqlite:///path/to/file.db for a file",
        ) from exc
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database).expanduser()
        if not path.is_absolute() and root is not None:
            path = (root / path).resolve()
        parsed = parsed.set(database=str(path))
    return parsed


class SqlDatabase:
    """One database; engines and reflection are created lazily and shared across threads."""

    def __init__(
        self, url: str | sa.URL, *, name: str = "source", root: Path | None = None
    ) -> None:
        self.url = url if isinstance(url, sa.URL) else resolve_url(url, root)
        self.name = name
        self._lock = threading.Lock()

    @property
    def dialect(self) -> str:
        return self.url.get_backend_name()

    @property
    def address(self) -> str:
        """Where the database is, for messages: host:port/db, or the SQLite file."""
        if self.dialect == "sqlite":
            return self.url.database or ":memory:"
        port = self.url.port or {"mysql": 3306, "mariadb": 3306, "postgresql": 5432}.get(
            self.dialect
        )
        return f"{self.url.host or 'localhost'}:{port}/{self.url.database or ''}"

    @cached_property
    def engine(self) -> sa.Engine:
        args: dict[str, object] = {}
        if self.dialect in ("mysql", "mariadb", "postgresql"):
            args["connect_timeout"] = 10
        return fork_safe(sa.create_engine(self.url, connect_args=args, pool_pre_ping=True))

    def check(self) -> None:
        """Connect once; raise SourceUnreachable or SourceError with what to check."""
        if self.dialect == "sqlite" and self.url.database not in (None, "", ":memory:"):  # noqa: SIM102
            if not Path(str(self.url.database)).exists():
                raise SourceError(
                    f"connection `{self.name}`: SQLite database {self.url.database} does not exist",
                    hint="create it (for the example: `headwater sample classicmodels`) "
                    "or point the connection's URL at an existing database",
                )
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        except sa.exc.DBAPIError as exc:
            raise self.connect_error(exc) from exc

    def connect_error(self, exc: sa.exc.DBAPIError) -> SourceError | SourceUnreachable:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        where = f"{self.dialect} at {self.address}"
        if any(marker in reason.lower() for marker in _TERMINAL_MARKERS):
            return SourceError(
                f"connection `{self.name}`: {where} refused the login or the database: {reason}",
                hint="check the user, password and database name in the connection URL",
            )
        return SourceUnreachable(
            f"connection `{self.name}`: cannot connect to {where} ({reason})",
            dialect=self.dialect,
            address=self.address,
            hint="is the server running and reachable? check host and port in the connection URL "
            "(or the variable that sets it)",
        )

    def read_error(
        self, what: str, exc: BaseException, rows: int
    ) -> SourceError | SourceUnreachable:
        """An error raised while rows were streaming: a lost connection is retryable."""
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        where = f"{self.dialect} at {self.address}"
        if _lost_connection(exc, reason):
            return SourceUnreachable(
                f"connection `{self.name}`: lost the connection to {where} while reading {what} "
                f"after {rows:,} rows ({reason})",
                dialect=self.dialect,
                address=self.address,
                hint="nothing was published; the load is retried, and a later run starts again "
                "from the last committed cursor",
            )
        return SourceError(
            f"connection `{self.name}`: reading {what} from {where} failed after {rows:,} rows: "
            f"{reason}",
            hint="check the table or query in the source database; nothing was published",
        )

    def table_names(self, schema: str | None = None) -> list[str]:
        return sa.inspect(self.engine).get_table_names(schema=schema)

    def reflect(self, table: str, schema: str | None = None) -> sa.Table:
        """The table's columns and types; a missing table is a SourceError naming close matches."""
        try:
            return sa.Table(table, sa.MetaData(), autoload_with=self.engine, schema=schema)
        except sa.exc.NoSuchTableError:
            names = self.table_names(schema)
            raise SourceError(
                f"connection `{self.name}`: table `{table}` does not exist in "
                f"{self.dialect} database {self.address}{did_you_mean(table, names)}",
                hint=f"tables there: {', '.join(sorted(names)[:20]) or 'none'}",
            ) from None
        except sa.exc.DBAPIError as exc:
            raise self.connect_error(exc) from exc

    def quote(self, name: str) -> str:
        """``name`` as an identifier in this database's dialect."""
        return str(self.engine.dialect.identifier_preparer.quote(name))

    def qualified(self, table: str, schema: str | None = None) -> str:
        return f"{self.quote(schema)}.{self.quote(table)}" if schema else self.quote(table)

    def dispose(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()


_LOST = (
    "lost connection",
    "server has gone away",
    "connection reset",
    "broken pipe",
    "server closed the connection",
    "terminating connection",
    "connection refused",
    "connection timed out",
    "eof detected",
    "unexpected eof",
    "could not receive data",
    "no connection to the server",
    "ssl syscall error",
)


def _lost_connection(exc: BaseException, reason: str) -> bool:
    text = reason.lower()
    return isinstance(exc, sa.exc.OperationalError) or any(m in text for m in _LOST)
