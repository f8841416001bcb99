"""The MySQL/MariaDB binary log as a :class:`~headwater.cdc.capture.Capture`.

The server keeps no state for a reader of its binary log: it frees log files by age
(``binlog_expire_logs_seconds``, ``expire_logs_days``), whatever a reader has read. So
:meth:`MysqlCapture.ensure` and :meth:`MysqlCapture.drop` have nothing to create or remove,
:meth:`MysqlCapture.acknowledge` only records the position for :meth:`MysqlCapture.status`,
and :meth:`MysqlCapture.heartbeat` does nothing: an idle capture holds no log. A position
whose file expired cannot be read again; reading it raises :class:`CdcError` naming the
fix (a new snapshot, a longer expiry).

Positions are ``file:offset`` (:class:`BinlogPosition`), always just after a transaction's
end, so a read resumes at the next transaction.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

import pymysql

from headwater.cdc.capture import CaptureStatus, ChangeBlock
from headwater.cdc.mysql import server, setup
from headwater.cdc.mysql.changes import BlockBuilder
from headwater.cdc.mysql.position import BinlogPosition
from headwater.cdc.mysql.snapshot import MysqlSnapshot
from headwater.cdc.mysql.stream import BinlogStream
from headwater.connect.sql.database import SqlDatabase, reason
from headwater.errors import CdcError, CdcSetupError

_REMEMBERED = 1000  # commit times of recent block ends, for status()'s lag in seconds


class MysqlCapture:
    """Changes of ``tables`` (``database.name``; a bare name is in the URL's database) read
    from the binary log of the server at ``url`` as replica ``server_id`` (unique among the
    server's replicas and captures).

    A capture restarted with a committed position says so with :meth:`acknowledge` before
    :meth:`ensure`; ``heartbeat`` is how often an idle server says it is there (so an empty
    :meth:`read` returns that long after its ``wait`` at most); ``name`` is the connection's,
    for messages. Not for use from several threads at once.
    """

    def __init__(
        self,
        url: str,
        tables: Sequence[str],
        server_id: int,
        *,
        batch_rows: int = 50_000,
        heartbeat: float = 0.1,
        name: str = "cdc source",
    ) -> None:
        self.db = SqlDatabase(url, name=name)
        self.tables = tuple(_qualify(t, self.db.url.database) for t in tables)
        if not self.tables:
            raise CdcError(
                f"connection `{name}`: no tables to capture", hint="name at least one table"
            )
        self.server_id = server_id
        self.batch_rows = batch_rows
        self.heartbeat_seconds = heartbeat
        self._stream: BinlogStream | None = None
        self._streamed = False  # a stream of ours was open: its registration may linger
        self._acknowledged: BinlogPosition | None = None
        self._commit_times: OrderedDict[str, datetime] = OrderedDict()

    # -- setup -----------------------------------------------------------------------------

    def check(self) -> None:
        with contextlib.closing(server.connect(self.db)) as conn:
            setup.check_server(conn, self.db, self.server_id)
            absent = setup.check_privileges(conn, self.db, self.tables)
            setup.check_tables(conn, self.db, self.tables, absent)
            if not self._streamed:
                setup.check_busy(conn, self.db, self.server_id)

    def ensure(self) -> bool:
        """Nothing to create, so False: whether a snapshot is needed is the caller's to tell
        from its committed positions (a position whose file expired fails :meth:`read`)."""
        return False

    def drop(self) -> None:
        """Nothing to remove: the server keeps no state for a reader of its binary log."""

    def heartbeat(self) -> None:
        """Nothing to do: the server frees its binary log by age, not by what was read."""

    # -- data ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[MysqlSnapshot]:
        conn = server.connect(self.db)
        try:
            yield MysqlSnapshot(self.db, conn, self.tables, self.batch_rows)
        except pymysql.err.MySQLError as exc:
            raise self.db.read_error("the captured tables for the snapshot", exc, None) from exc
        finally:
            with contextlib.suppress(pymysql.err.MySQLError):
                conn.rollback()
            conn.close()

    def read(self, after: str | None, *, max_changes: int, wait: float) -> ChangeBlock:
        if after is None and self._acknowledged is None:
            raise CdcError(
                "no position to read the binary log after: nothing is acknowledged yet",
                source=self.db.address,
                hint="read after the snapshot's position (or acknowledge the committed one)",
            )
        start = BinlogPosition.parse(after) if after is not None else self._acknowledged
        assert start is not None
        builder = BlockBuilder()
        stream = self._open(start)
        try:
            alive = stream.read(builder, max_changes=max_changes, wait=wait)
        except pymysql.err.MySQLError as exc:
            self._close_stream()
            raise self._read_error(exc, start) from exc
        except BaseException:
            self._close_stream()
            raise
        end = str(stream.position)
        if not alive:  # the server ended the dump; the next read connects again
            self._close_stream()
        block = ChangeBlock(
            changes=builder.changes(),
            end=end,
            end_commit_time=builder.last_time if builder.count else None,
        )
        if builder.last_time is not None:
            self._commit_times[end] = builder.last_time
            while len(self._commit_times) > _REMEMBERED:
                self._commit_times.popitem(last=False)
        return block

    def acknowledge(self, position: str) -> None:
        self._acknowledged = BinlogPosition.parse(position)

    # -- state -----------------------------------------------------------------------------

    def status(self) -> CaptureStatus:
        with contextlib.closing(server.connect(self.db)) as conn:
            current = server.current_position(conn)
            logs = server.binary_logs(conn) if current is not None else []
            version = str(conn.get_server_info())
        acknowledged = self._acknowledged
        held = acknowledged is None or any(name == acknowledged.file for name, _ in logs)
        return CaptureStatus(
            name=f"server_id {self.server_id} on {self.db.address}",
            exists=held,
            acknowledged=None if acknowledged is None else str(acknowledged),
            current=None if current is None else str(current),
            lag_bytes=_lag_bytes(acknowledged, current, logs) if held else None,
            lag_seconds=self._lag_seconds(acknowledged, current),
            active=self._stream is not None,
            details={
                "server_version": version,
                "tables": ", ".join(self.tables),
                "binary_logs": str(len(logs)),
            },
        )

    def close(self) -> None:
        self._close_stream()

    # -- helpers ---------------------------------------------------------------------------

    def _open(self, start: BinlogPosition) -> BinlogStream:
        if self._stream is not None and self._stream.position == start:
            return self._stream
        self._close_stream()
        if not self._streamed:
            with contextlib.closing(server.connect(self.db)) as conn:
                setup.check_busy(conn, self.db, self.server_id)
        self._stream = BinlogStream(
            server.settings(self.db, read_timeout=max(30.0, 10 * self.heartbeat_seconds)),
            self.server_id,
            self.tables,
            start,
            heartbeat=self.heartbeat_seconds,
            describe=self._describe,
        )
        self._streamed = True
        return self._stream

    def _describe(self, table: str) -> server.TableColumns:
        with contextlib.closing(server.connect(self.db)) as conn:
            described = server.describe(conn, table)
        if described is None:
            raise CdcError(
                f"table `{table}` is gone from {self.db.dialect} at {self.db.address}",
                source=self.db.address,
                hint="leave it out of the capture, or create it again and take a new snapshot",
            )
        return described

    def _close_stream(self) -> None:
        if self._stream is not None:
            stream, self._stream = self._stream, None
            with contextlib.suppress(pymysql.err.MySQLError, OSError):
                stream.close()

    def _read_error(self, exc: BaseException, start: BinlogPosition) -> Exception:
        number = server.code(exc)
        if number == server.BINLOG_READ_FAILED:
            return CdcError(
                f"{self.db.dialect} at {self.db.address} cannot send its binary log from "
                f"{start}: {reason(exc)}",
                source=self.db.address,
                hint="the file has expired or the position is not a transaction's end: take "
                "a new snapshot, and keep binary logs longer than the capture may be stopped "
                "(binlog_expire_logs_seconds, expire_logs_days)",
            )
        if number == server.ACCESS_DENIED:
            return CdcSetupError(
                f"{self.db.dialect} at {self.db.address} refused to send its binary log: "
                f"{reason(exc)}",
                source=self.db.address,
                hint="GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* to the capture's user",
            )
        return self.db.read_error(f"the binary log from {start}", exc, None)

    def _lag_seconds(
        self, acknowledged: BinlogPosition | None, current: BinlogPosition | None
    ) -> float | None:
        if acknowledged is None or current is None:
            return None
        if acknowledged >= current:
            return 0.0
        committed = self._commit_times.get(str(acknowledged))
        if committed is None:
            return None
        return max(0.0, (datetime.now(UTC) - committed).total_seconds())


def _qualify(table: str, database: str | None) -> str:
    if "." in table:
        return table
    if not database:
        raise CdcError(
            f"captured table `{table}` names no database",
            hint="name it database.table, or put the database in the connection URL",
        )
    return f"{database}.{table}"


def _lag_bytes(
    acknowledged: BinlogPosition | None,
    current: BinlogPosition | None,
    logs: list[tuple[str, int]],
) -> int | None:
    """Bytes of binary log from ``acknowledged`` to ``current``, across files."""
    if acknowledged is None or current is None:
        return None
    if acknowledged.file == current.file:
        return max(0, current.offset - acknowledged.offset)
    total = 0
    for name, size in logs:
        index = BinlogPosition(name, 0).index
        if index == acknowledged.index:
            total += max(0, size - acknowledged.offset)
        elif acknowledged.index < index < current.index:
            total += size
    return total + current.offset
