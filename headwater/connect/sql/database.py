"""A SQL database reached by SQLAlchemy URL: connecting with clear errors, and reflection.

This is the edge where every reader's raw driver errors (PyMySQL, psycopg, ConnectorX and its
Rust panics, DuckDB's scanners) become the error hierarchy: retryable ones (as
:func:`headwater.retry.retryable` classifies them) as :class:`SourceUnreachable` or, in the
middle of a read, :class:`ConnectionLost`; the rest as :class:`SourceError`. Messages say
what and where in plain words; a driver's text is reduced to its reason (:func:`reason`).
"""

from __future__ import annotations

import re
import threading
from functools import cached_property
from pathlib import Path

import sqlalchemy as sa

from headwater.connect.sql.engines import fork_safe
from headwater.errors import ConnectionLost, SourceError, SourceUnreachable, did_you_mean
from headwater.retry import retryable

# A refused login or a missing database: retrying will not fix it.
_LOGIN_MARKERS = (
    "access denied",
    "password authentication failed",
    "authentication failed",
    "unknown database",
    "no password supplied",
)
_MISSING_LOGIN = re.compile(r'\b(role|database) "[^"]*" does not exist')


def resolve_url(url: str, root: Path | None) -> sa.URL:
    """Parse ``url``; a relative SQLite path is made relative to ``root`` (the project)."""
    try:
        parsed = sa.make_url(url)
    except (sa.exc.ArgumentError, ValueError) as exc:
        # SQLAlchemy reads the port with int(): "invalid literal for int() ..."
        why = "its port is not a number" if "int()" in str(exc) else "it cannot be parsed"
        shown = re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)  # no password in messages
        raise SourceError(
            f"`{shown}` is not a SQLAlchemy URL: {why}",
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
        self,
        url: str | sa.URL,
        *,
        name: str = "source",
        root: Path | None = None,
        read_timeout: float = 60.0,
    ) -> None:
        self.url = url if isinstance(url, sa.URL) else resolve_url(url, root)
        self.name = name
        # a server that accepts the connection and never answers must not hang a load
        self.read_timeout = read_timeout
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
        if self.dialect in ("mysql", "mariadb") and self.url.get_driver_name() == "pymysql":
            args["read_timeout"] = args["write_timeout"] = self.read_timeout
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

    def connect_error(self, exc: BaseException) -> SourceError | SourceUnreachable:
        """``exc``, raised while connecting, as a refused login, an unreachable server, or
        (neither) a SourceError naming the connection."""
        why = reason(exc)
        where = f"{self.dialect} at {self.address}"
        if _login(why):
            return SourceError(
                f"connection `{self.name}`: {where} refused the login or the database: {why}",
                hint="check the user, password and database name in the connection URL",
            )
        if retryable(exc):
            silent = "timed out" in why
            return SourceUnreachable(
                f"connection `{self.name}`: cannot connect to {where} ({why})",
                dialect=self.dialect,
                address=self.address,
                hint=(
                    f"the server accepted the connection but did not answer within "
                    f"{self.read_timeout:g} s: is it the database server, and not overloaded? "
                    "(a slow server: raise the connection's `read_timeout`)"
                    if silent
                    else "is the server running and reachable? check host and port in the "
                    "connection URL (or the variable that sets it)"
                ),
            )
        return SourceError(
            f"connection `{self.name}`: cannot use {where}: {why}",
            hint="check the connection URL (or the variable that sets it)",
        )

    def read_error(
        self,
        what: str,
        exc: BaseException,
        rows: int | None,
        hint: str = "check the table or query in the source database; nothing was published",
    ) -> SourceError | SourceUnreachable:
        """An error of a read of ``what``: ``rows`` is how many arrived first (None: the
        reader had not connected yet). A lost connection is :class:`ConnectionLost`,
        retryable; a refused login says so."""
        why = reason(exc)
        where = f"{self.dialect} at {self.address}"
        if rows is None and (retryable(exc) or _login(why)):
            return self.connect_error(exc)
        if retryable(exc):
            after = f" after {rows:,} row{'' if rows == 1 else 's'}" if rows else ""
            return ConnectionLost(
                f"connection `{self.name}`: lost the connection to {where} while reading {what}"
                f"{after} ({why})",
                dialect=self.dialect,
                address=self.address,
                what=what,
                rows=rows or 0,
                hint="nothing was published; the task runs again from the last committed state "
                "while it has attempts left (the source's `attempts`)",
            )
        after = f" after {rows:,} row{'' if rows == 1 else 's'}" if rows else ""
        return SourceError(
            f"connection `{self.name}`: reading {what} from {where} failed{after}: {why}",
            hint=hint,
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


def _login(text: str) -> bool:
    """Whether a driver's reason is a refused login or a missing database or role."""
    lowered = text.lower()
    return any(marker in lowered for marker in _LOGIN_MARKERS) or bool(_MISSING_LOGIN.search(text))


_RUST_MESSAGE = re.compile(r'message: "([^"]+)"')
_RUST_IO = re.compile(r"IO error: `([^'`]+)'")
_MYSQL_SERVER = re.compile(r"ERROR \d+ \(\w+\): ([^}]+?)\s*}")
_SECRET = re.compile(r"(password=)('[^']*'|\S+)|(://[^:/@\s]+:)([^@\s]+)(@)", re.IGNORECASE)
_MARKERS = ("connection", "lost", "refused", "reset", "closed", "terminat", "timed out", "denied")


def reason(exc: BaseException) -> str:
    """The driver's reason for ``exc`` in one short line: the message inside a ConnectorX
    (Rust) error or panic, the line of a DuckDB error that says what happened, never a
    password."""
    driver = getattr(exc, "orig", None) or exc
    code = driver.args[:2] if len(driver.args) == 2 else ()
    if code and isinstance(code[0], int) and isinstance(code[1], str):  # PyMySQL: (2013, "…")
        text = f"{code[1]} ({code[0]})"
    else:
        text = str(driver).strip()
    for pattern, form in (
        (_RUST_MESSAGE, "{}"),
        (_RUST_IO, "I/O error: {}"),
        (_MYSQL_SERVER, "{}"),
    ):
        found = pattern.search(text)
        if found:
            text = form.format(found.group(1))
            break
    else:
        if text.startswith("cx writer failed: ") or "Error {" in text:
            text = "ConnectorX: " + text.removeprefix("cx writer failed: ")
    lines = [line.strip() for line in text.splitlines() if line.strip()] or [type(exc).__name__]
    # DuckDB puts the failed statement first and the server's reason after it
    said = next((line for line in lines if any(m in line.lower() for m in _MARKERS)), lines[0])
    said = _SECRET.sub(lambda m: f"{m[1]}***" if m[1] else f"{m[3]}***{m[5]}", said)
    return said if len(said) <= 300 else said[:297] + "..."
