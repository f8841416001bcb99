"""PostgreSQL change data capture through logical replication with the built-in ``pgoutput``
plugin: a publication names the tables, a logical replication slot keeps the server's log
(WAL) until the lake has what it holds.

The slot is read by polling it with SQL (``pg_logical_slot_peek_binary_changes``), not over
the streaming replication protocol:

- a peek consumes nothing: the slot moves only when :meth:`PostgresCapture.acknowledge`
  advances it (``pg_replication_slot_advance``) after the lake committed, which is the
  capture's contract, with no state of the stream to keep between calls;
- psycopg 3 runs ``START_REPLICATION`` (since 3.3) but has no API for the stream it opens:
  reading it means driving libpq's COPY BOTH mode and the standby status messages by hand;
- decoding runs in the capture's own session, so the settings of that session
  (:data:`~headwater.cdc.postgres_types.SESSION_OPTIONS`: ISO dates, UTC, hex bytea) shape
  every value the server writes;
- the server stops a peek at the first transaction end past ``upto_nchanges`` rows, so a
  read is bounded by whole transactions, as a block must be.

- it is faster: measured (bench/cdc.py, docs/benchmarks.md), psycopg drains a slot about 3×
  faster through ``pg_logical_slot_get_binary_changes`` than over the streaming protocol,
  where the server's WAL sender sending one message at a time is the limit, and PostgreSQL's
  own ``pg_recvlogical`` is no faster; the capture, decoding into typed Arrow, keeps pace
  with both streaming consumers.

The price is latency (a poll every 50 to 500 ms while idle) and the decoding a peek repeats
of what is pending and not yet acknowledged (the apply step acknowledges every block).

Positions are LSNs as PostgreSQL writes them (``0/16B3748``): the end of a transaction's
commit record, where the next read starts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg import sql

from headwater.cdc import postgres_setup as setup
from headwater.cdc.capture import CaptureStatus, ChangeBlock
from headwater.cdc.pgoutput import (
    Begin,
    Commit,
    Delete,
    Insert,
    Message,
    Relation,
    Truncate,
    Update,
    decode,
    lsn_text,
    lsn_value,
)
from headwater.cdc.postgres_changes import Collector
from headwater.cdc.postgres_snapshot import PostgresSnapshot
from headwater.cdc.postgres_types import SESSION_OPTIONS
from headwater.connect.sql.database import SqlDatabase
from headwater.errors import CdcError, CdcSlotBusy, HeadwaterError

log = logging.getLogger(__name__)

#: the prefix of the logical messages :meth:`PostgresCapture.heartbeat` writes
HEARTBEAT_PREFIX = "headwater"

_FETCH_ROWS = 2_000
_POLL_FIRST = 0.05
_POLL_MOST = 0.5
# how much WAL past the acknowledged position status() decodes to find the lag in seconds
_LAG_SCAN_BYTES = 64 << 20


def conninfo(url: sa.URL) -> str:
    """A libpq connection string for a SQLAlchemy (or libpq) PostgreSQL URL."""
    params: dict[str, Any] = {
        "host": url.host,
        "port": url.port,
        "user": url.username,
        "password": url.password,
        "dbname": url.database,
        **{k: v for k, v in url.query.items() if isinstance(v, str)},
    }
    return psycopg.conninfo.make_conninfo(**{k: v for k, v in params.items() if v is not None})


class PostgresCapture:
    """The changes of ``tables`` (``schema.name``) through replication slot ``slot`` and
    publication ``publication`` (both created by :meth:`ensure`, removed by :meth:`drop`)."""

    def __init__(self, url: str, tables: list[str], slot: str, publication: str) -> None:
        self.db = SqlDatabase(url, name=slot)
        self.where = self.db.address
        self.tables = [".".join(setup.split_table(t)) for t in tables]
        self.slot = slot
        self.publication = publication
        self._conninfo = conninfo(self.db.url)
        self._conn: psycopg.Connection[Any] | None = None
        self._exported: setup.ExportedSlot | None = None
        self._keys: dict[str, tuple[str, ...]] = {}

    # -- connections and errors

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            return psycopg.connect(
                self._conninfo,
                autocommit=True,
                options=SESSION_OPTIONS,
                application_name=f"headwater cdc {self.slot}"[:63],
                connect_timeout=10,
            )
        except psycopg.Error as exc:
            raise self.db.connect_error(exc) from exc

    @property
    def conn(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            if self._conn is not None:
                self._conn.close()
            self._conn = self._connect()
        return self._conn

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        """Driver errors of ``what`` as the error hierarchy."""
        try:
            yield
        except HeadwaterError:
            raise
        except psycopg.errors.ObjectInUse as exc:
            raise CdcSlotBusy(
                f"{what} on {self.where}: {exc.diag.message_primary}",
                source=self.where,
                hint="another process reads the replication slot: stop it, or give this source "
                "another slot",
                retry_after=5.0,
            ) from exc
        except psycopg.errors.UndefinedObject as exc:
            if "replication slot" not in str(exc):
                raise CdcError(f"{what} on {self.where} failed: {exc}", source=self.where) from exc
            raise CdcError(
                f"replication slot `{self.slot}` does not exist on {self.where}",
                source=self.where,
                hint="the changes since the lake's last position are gone with it: create the "
                "slot again and take a new snapshot",
            ) from exc
        except psycopg.OperationalError as exc:
            if self._conn is not None:
                self._conn.close()
            raise self.db.read_error(f"{what} (slot `{self.slot}`)", exc, 0) from exc
        except psycopg.Error as exc:
            raise CdcError(
                f"{what} on {self.where} failed: {str(exc).strip()}", source=self.where
            ) from exc

    # -- setting up

    def check(self) -> None:
        with self._errors("checking the server"):
            setup.check(self.conn, self.tables, self.slot, self.where)

    def ensure(self) -> bool:
        with self._errors("creating the publication and slot"):
            setup.ensure_publication(self.conn, self.publication, self.tables, self.where)
            if setup.slot(self.conn, self.slot) is not None:
                return False
            self._hold(setup.create_slot(self._conninfo, self.slot, SESSION_OPTIONS, self.where))
        return True

    def _hold(self, exported: setup.ExportedSlot) -> None:
        if self._exported is not None:
            self._exported.close()
        self._exported = exported

    @contextmanager
    def snapshot(self) -> Iterator[PostgresSnapshot]:
        """The tables as of the slot's start. Right after :meth:`ensure` created the slot,
        its exported snapshot; otherwise the slot is made again (dropped and created), so
        that its start and the snapshot are one moment: what it held before is replaced by
        the snapshot anyway."""
        with self._errors("starting the snapshot"):
            if self._exported is None:
                found = setup.slot(self.conn, self.slot)
                if found is not None:
                    if found.active and not found.ours:
                        raise setup.busy(self.slot, found, self.where)
                    self.conn.execute("SELECT pg_drop_replication_slot(%s)", (self.slot,))
                setup.ensure_publication(self.conn, self.publication, self.tables, self.where)
                self._hold(
                    setup.create_slot(self._conninfo, self.slot, SESSION_OPTIONS, self.where)
                )
            exported = self._exported
            assert exported is not None
            self._exported = None
            reader = self._connect()
            try:
                reader.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                reader.execute(
                    sql.SQL("SET TRANSACTION SNAPSHOT {}").format(
                        sql.Literal(exported.snapshot_name)
                    )
                )
            except BaseException:
                reader.close()
                raise
            finally:
                exported.close()  # the snapshot lives on in `reader`'s transaction
        try:
            with self._errors("reading the snapshot"):
                yield PostgresSnapshot(exported.consistent_point, reader, list(self.tables))
        finally:
            reader.close()

    # -- reading

    def read(self, after: str | None, *, max_changes: int, wait: float) -> ChangeBlock:
        """Whole transactions committed after ``after``; as soon as a poll finds some, or an
        empty block (ending where reading would start) once ``wait`` seconds passed."""
        deadline = time.monotonic() + wait
        pause = _POLL_FIRST
        while True:
            block = self._read_once(after, max(1, max_changes))
            remaining = deadline - time.monotonic()
            if block.changes or block.end_commit_time is not None or remaining <= 0:
                return block
            time.sleep(min(pause, remaining))
            pause = min(pause * 2, _POLL_MOST)

    def _read_once(self, after: str | None, max_changes: int) -> ChangeBlock:
        with self._errors("reading changes"):
            confirmed = self._confirmed()
            start = max(confirmed, lsn_value(after)) if after else confirmed
            rows_limit = 3 * max_changes + 16
            while True:
                collector = Collector(frozenset(self.tables), start)
                rows = self._peek(collector, rows_limit, max_changes)
                exhausted = rows < rows_limit
                if collector.transactions or exhausted or collector.count >= max_changes:
                    break
                # every transaction read was at or before `after`: look further
                rows_limit *= 4
            return ChangeBlock(
                collector.changes(self._key),
                lsn_text(collector.end),
                collector.end_commit_time,
            )

    def _confirmed(self) -> int:
        found = setup.slot(self.conn, self.slot)
        if found is None:
            raise CdcError(
                f"replication slot `{self.slot}` does not exist on {self.where}",
                source=self.where,
                hint="run the capture's setup (it creates the slot) and take a snapshot",
            )
        if found.active and not found.ours:
            raise setup.busy(self.slot, found, self.where)
        return lsn_value(found.confirmed or "0/0")

    def _peek_sql(self, messages: bool = False) -> sql.Composed:
        """The peek, with two parameters: the LSN to stop before (or None) and the rows to
        stop after."""
        options = sql.SQL(", 'messages', 'true'") if messages else sql.SQL("")
        return sql.SQL(
            "SELECT data FROM pg_logical_slot_peek_binary_changes({}, {}::pg_lsn, {}, "
            "'proto_version', '1', 'publication_names', {}{})"
        ).format(
            sql.Literal(self.slot),
            sql.Placeholder(),
            sql.Placeholder(),
            sql.Literal(sql.Identifier(self.publication).as_string(self.conn)),
            options,
        )

    def _peek(
        self, collector: Collector, rows_limit: int, max_changes: int, upto: str | None = None
    ) -> int:
        """Feed ``collector`` from the slot; stop at the first transaction end past
        ``max_changes`` (or before the first committed at ``upto``). The rows the server
        returned (or more)."""
        rows = 0
        with (
            self.conn.transaction(),
            self.conn.cursor(name=f"headwater_peek_{id(collector)}", binary=True) as cursor,
        ):
            cursor.execute(self._peek_sql(), (upto, rows_limit))
            while batch := cursor.fetchmany(_FETCH_ROWS):
                rows += len(batch)
                for (data,) in batch:
                    collector.feed_bytes(data)
                    if collector.count >= max_changes and not collector.in_transaction:
                        return rows_limit  # stopped early: not exhausted
        if collector.in_transaction:
            collector.rollback_open()
        return rows

    def _key(self, relation: Relation) -> tuple[str, ...]:
        table = relation.table
        names = [c.name for c in relation.columns]
        key = self._keys.get(table)
        if key is None or not set(key) <= set(names):
            key = self._keys[table] = setup.key_columns(self.conn, table)
        if key and set(key) <= set(names):
            return key
        flagged = tuple(c.name for c in relation.columns if c.key)
        return flagged or tuple(names)

    # -- moving the slot

    def acknowledge(self, position: str) -> None:
        with self._errors("acknowledging a position"):
            confirmed = self._confirmed()
            if lsn_value(position) > confirmed:
                self.conn.execute(
                    "SELECT pg_replication_slot_advance(%s, %s::pg_lsn)", (self.slot, position)
                )

    def heartbeat(self) -> None:
        """Write a logical message, and advance the slot past it when nothing of the
        captured tables is pending before it: an idle capture (or one whose tables are
        quiet while others are busy) then does not hold the server's WAL."""
        with self._errors("sending a heartbeat"):
            row = self.conn.execute(
                "SELECT pg_logical_emit_message(true, %s, %s)::text", (HEARTBEAT_PREFIX, self.slot)
            ).fetchone()
            assert row is not None
            confirmed = self._confirmed()
            messages = self.conn.info.server_version >= 140000
            safe = self._quiet_until(lsn_value(row[0]), messages)
            if safe is not None and safe > confirmed:
                self.conn.execute(
                    "SELECT pg_replication_slot_advance(%s, %s::pg_lsn)",
                    (self.slot, lsn_text(safe)),
                )

    def _quiet_until(self, heartbeat: int, messages: bool) -> int | None:
        """The end of the last of the leading transactions with no change of the captured
        tables, up to the one of the heartbeat message written at ``heartbeat``."""
        tables = frozenset(self.tables)
        relations: dict[int, str] = {}
        safe: int | None = None
        changed = ours = False
        with (
            self.conn.transaction(),
            self.conn.cursor(name="headwater_heartbeat", binary=True) as cursor,
        ):
            cursor.execute(self._peek_sql(messages), (None, 256))
            for (data,) in cursor:
                message = decode(data)
                if isinstance(message, Relation):
                    relations[message.relid] = message.table
                elif isinstance(message, Insert | Update | Delete):
                    changed = changed or relations.get(message.relid) in tables
                elif isinstance(message, Truncate):
                    changed = changed or any(relations.get(r) in tables for r in message.relids)
                elif isinstance(message, Message):
                    ours = ours or message.lsn >= heartbeat
                elif isinstance(message, Begin):
                    changed = False
                    ours = ours or message.final_lsn > heartbeat  # servers before 14
                elif isinstance(message, Commit):
                    if changed:
                        break
                    safe = message.end_lsn
                    if ours:
                        break
        return safe

    # -- operations

    def status(self) -> CaptureStatus:
        with self._errors("reading the slot's status"):
            row = self.conn.execute(
                """
                SELECT s.active, s.active_pid, s.confirmed_flush_lsn::text, s.restart_lsn::text,
                       cur::text, pg_wal_lsn_diff(cur, s.confirmed_flush_lsn)::bigint,
                       s.wal_status, s.plugin
                FROM pg_current_wal_lsn() AS cur
                LEFT JOIN pg_replication_slots s ON s.slot_name = %s
                """,
                (self.slot,),
            ).fetchone()
            assert row is not None
            active, pid, confirmed, restart, current, lag_bytes, wal_status, plugin = row
            exists = plugin is not None
            details = {"publication": self.publication}
            if exists:
                details |= {"restart_lsn": restart or "", "wal_status": wal_status or ""}
                if active:
                    details["active_pid"] = str(pid)
            lag_seconds = None
            if exists and not active and lag_bytes:
                oldest = self._oldest_pending()
                if oldest is not None:
                    lag_seconds = max(0.0, (datetime.now(UTC) - oldest).total_seconds())
            return CaptureStatus(
                name=self.slot,
                exists=exists,
                acknowledged=confirmed,
                current=current,
                lag_bytes=int(lag_bytes) if lag_bytes is not None else None,
                lag_seconds=lag_seconds,
                active=bool(active),
                details=details,
            )

    def _oldest_pending(self) -> datetime | None:
        """Commit time of the first transaction of the captured tables not acknowledged,
        when it commits within :data:`_LAG_SCAN_BYTES` of WAL after the acknowledged
        position (None beyond: the server would decode all of it to find out)."""
        confirmed = self._confirmed()
        collector = Collector(frozenset(self.tables), confirmed)
        self._peek(collector, 16, 1, upto=lsn_text(confirmed + _LAG_SCAN_BYTES))
        return collector.end_commit_time if collector.count else None

    def drop(self) -> None:
        if self._exported is not None:
            self._exported.close()
            self._exported = None
        with self._errors("dropping the slot and publication"):
            setup.drop(self.conn, self.slot, self.publication, self.where)

    def close(self) -> None:
        if self._exported is not None:
            self._exported.close()
            self._exported = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None
