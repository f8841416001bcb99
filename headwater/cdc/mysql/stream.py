"""One binary log dump connection, read whole transaction by whole transaction.

The stream stays open between reads (a read that resumes where the last one ended goes on
reading it), blocking on the server, which sends a heartbeat every ``heartbeat`` seconds when
it has nothing else: so a read with nothing to read returns within about its ``wait``.

Transactions are told apart by the events that open and close them: MariaDB's GTID event
(or MySQL's ``BEGIN``) opens one; the XID event (InnoDB), a ``COMMIT`` query (tables without
transactions) or a DDL statement (its own transaction) closes it. Between two transactions
the stream's position is a place a reader may resume from; a read stops only there.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable, Iterable
from typing import Any

from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.event import (
    GtidEvent,
    HeartbeatLogEvent,
    MariadbGtidEvent,
    QueryEvent,
    RotateEvent,
    XidEvent,
)
from pymysqlreplication.row_event import (
    DeleteRowsEvent,
    TableMapEvent,
    UpdateRowsEvent,
    WriteRowsEvent,
)

from headwater.cdc.mysql import server
from headwater.cdc.mysql.changes import BlockBuilder, TablePlan
from headwater.cdc.mysql.position import BinlogPosition
from headwater.cdc.mysql.server import TableColumns

_EVENTS = [
    GtidEvent,
    MariadbGtidEvent,
    QueryEvent,
    XidEvent,
    TableMapEvent,
    WriteRowsEvent,
    UpdateRowsEvent,
    DeleteRowsEvent,
    RotateEvent,
    HeartbeatLogEvent,
]
_ROWS = {WriteRowsEvent: "write", UpdateRowsEvent: "update", DeleteRowsEvent: "delete"}
_TRUNCATE = re.compile(
    r"\s*TRUNCATE\s+(?:TABLE\s+)?(?:`((?:[^`]|``)+)`|(\w+))(?:\.(?:`((?:[^`]|``)+)`|(\w+)))?",
    re.IGNORECASE,
)


class BinlogStream:
    """A binary log dump from ``start`` for the ``tables`` (``database.name``)."""

    def __init__(
        self,
        connection: dict[str, Any],
        server_id: int,
        tables: Iterable[str],
        start: BinlogPosition,
        *,
        heartbeat: float,
        describe: Callable[[str], TableColumns],
    ) -> None:
        self.tables = frozenset(tables)
        self._describe_table = describe
        #: where the next transaction starts: the reader's place between reads
        self.position = start
        self._plans: dict[int, TablePlan] = {}
        self._latest: dict[str, TablePlan] = {}  # each table's newest plan
        self._shapes: dict[tuple[Any, ...], TablePlan] = {}
        self._open = False
        self._reader = BinLogStreamReader(
            connection_settings=dict(connection),
            server_id=server_id,
            resume_stream=True,
            blocking=True,
            log_file=start.file,
            log_pos=start.offset,
            only_events=_EVENTS,
            only_schemas=sorted({t.split(".", 1)[0] for t in self.tables}),
            only_tables=sorted({t.split(".", 1)[1] for t in self.tables}),
            slave_heartbeat=heartbeat,
            # registered (SHOW SLAVE HOSTS) so that a second reader with this server_id is seen
            report_slave=("headwater@" + socket.gethostname())[:60],
            enable_logging=False,
            pymysql_wrapper=server.replication_connect,
        )

    def read(self, builder: BlockBuilder, *, max_changes: int, wait: float) -> bool:
        """Add whole transactions to ``builder`` until one ends past ``max_changes`` changes,
        or one ends or the server is idle ``wait`` seconds after the first event came (a
        stream's connect does not count); False when the server ended the stream (it is
        shutting down), after the last whole transaction."""
        reader = self._reader
        deadline: float | None = None
        while True:
            event = reader.fetchone()
            if deadline is None:
                deadline = time.monotonic() + wait
            if event is None:
                builder.rollback()
                self._open = False
                return False
            kind = type(event)
            ended = False
            if kind is TableMapEvent:
                self._map(event)
            elif kind in _ROWS:
                plan = self._plans.get(event.table_id)
                if plan is not None:
                    builder.add(plan, event, _ROWS[kind])
            elif kind is XidEvent:
                ended = True
            elif kind is MariadbGtidEvent or kind is GtidEvent:
                # opens a transaction, or (MariaDB's standalone flag) one DDL statement
                self._open = True
            elif kind is QueryEvent:
                ended = self._query(event, builder)
            if ended:
                self._open = False
                self.position = BinlogPosition(reader.log_file, reader.log_pos)
                builder.commit(str(self.position), event.timestamp)
            elif not self._open and kind is RotateEvent:
                self.position = BinlogPosition(reader.log_file, reader.log_pos)
            if self._open:
                continue
            if builder.count >= max_changes:
                return True
            # past the deadline, stop at a transaction's end or when the server says it has
            # nothing more (a heartbeat), not at the events that open a stream: a read after
            # a slow connect still reads what is there
            if (ended or kind is HeartbeatLogEvent) and time.monotonic() >= deadline:
                return True

    def close(self) -> None:
        self._reader.close()

    def _map(self, event: Any) -> None:
        table = f"{event.schema}.{event.table}"
        if table not in self.tables:
            self._plans.pop(event.table_id, None)
            return
        metadata = event.optional_metadata
        shape = (
            table,
            tuple(
                (
                    c.name,
                    c.type,
                    c.unsigned,
                    c.character_set_name,
                    getattr(c, "precision", None),
                    getattr(c, "decimals", None),
                    tuple(c.set_values or ()),
                )
                for c in event.columns
            ),
            tuple(metadata.simple_primary_key_list),
            tuple(metadata.primary_keys_with_prefix),
        )
        plan = self._shapes.get(shape)
        if plan is None:
            plan = TablePlan.from_table_map(event, str(self.position))
            if len(self._shapes) > 1000:  # many ALTER TABLEs in one long-lived stream
                self._shapes.clear()
            self._shapes[shape] = plan
        self._plans[event.table_id] = plan
        self._latest[table] = plan

    def _query(self, event: Any, builder: BlockBuilder) -> bool:
        """Whether the query event ends a transaction (or is one)."""
        text = event.query.strip()
        word = text.split(None, 1)[0].upper() if text else ""
        if word == "BEGIN":
            self._open = True
            return False
        if word in ("SAVEPOINT", "RELEASE", "XA") or (
            word == "ROLLBACK" and text.upper() != "ROLLBACK"
        ):
            return False
        if word == "ROLLBACK":
            builder.rollback()
            return True
        if word == "COMMIT":
            return True
        # a statement (DDL): its own transaction, ending any open one
        truncated = self._truncated(event, text)
        if truncated is not None:  # no row events for it: the statement is the change
            builder.truncate(self._latest.get(truncated) or self._describe(truncated))
        return True

    def _describe(self, table: str) -> TablePlan:
        plan = TablePlan.from_catalog(self._describe_table(table))
        self._latest[table] = plan
        return plan

    def _truncated(self, event: Any, text: str) -> str | None:
        found = _TRUNCATE.match(text)
        if found is None:
            return None
        first = (found.group(1) or "").replace("``", "`") or found.group(2)
        second = (found.group(3) or "").replace("``", "`") or found.group(4)
        schema = event.schema.decode() if isinstance(event.schema, bytes) else str(event.schema)
        table = f"{first}.{second}" if second else f"{schema}.{first}"
        return table if table in self.tables else None
