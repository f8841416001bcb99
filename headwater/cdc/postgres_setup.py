"""What logical replication needs on a PostgreSQL server, checked with the fix for each gap;
and the publication and replication slot a capture reads through, created and dropped."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from headwater.errors import CdcSetupError, CdcSlotBusy, did_you_mean


def split_table(table: str) -> tuple[str, str]:
    """``schema.name`` (``name`` alone: in ``public``) as its two parts."""
    schema, dot, name = table.partition(".")
    return (schema, name) if dot else ("public", table)


def table_sql(table: str) -> sql.Identifier:
    return sql.Identifier(*split_table(table))


def regclass_text(table: str) -> str:
    """The table as ``to_regclass`` reads it: each part quoted."""
    schema, name = split_table(table)
    return '"{}"."{}"'.format(schema.replace('"', '""'), name.replace('"', '""'))


_SERVER = """
SELECT current_setting('wal_level'),
       current_setting('max_replication_slots')::int,
       (SELECT count(*) FROM pg_replication_slots)::int,
       current_setting('server_version_num')::int,
       current_user, r.rolsuper, r.rolreplication,
       CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_replication')
            THEN pg_has_role(current_user, 'rds_replication', 'member') ELSE false END
FROM pg_roles r WHERE r.rolname = current_user
"""

_TABLES = """
SELECT t.name, c.oid IS NOT NULL, c.relkind::text, c.relreplident::text,
       EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)
FROM unnest(%s::text[], %s::text[]) WITH ORDINALITY AS t(name, quoted, n)
LEFT JOIN pg_class c ON c.oid = to_regclass(t.quoted)
ORDER BY t.n
"""

_SLOT = """
SELECT plugin, slot_type, database, active, active_pid, active_pid = pg_backend_pid(),
       confirmed_flush_lsn::text, restart_lsn::text
FROM pg_replication_slots WHERE slot_name = %s
"""


@dataclass(frozen=True)
class Slot:
    plugin: str | None
    kind: str
    database: str | None
    active: bool
    active_pid: int | None
    ours: bool
    confirmed: str | None
    restart: str | None


def slot(conn: psycopg.Connection[Any], name: str) -> Slot | None:
    row = conn.execute(_SLOT, (name,)).fetchone()
    if row is None:
        return None
    plugin, kind, database, active, pid, ours, confirmed, restart = row
    return Slot(plugin, kind, database, active, pid, bool(ours), confirmed, restart)


def busy(name: str, found: Slot, where: str) -> CdcSlotBusy:
    return CdcSlotBusy(
        f"replication slot `{name}` on {where} is in use by another process (PID {found.active_pid})",
        source=where,
        hint="another capture or pg_recvlogical reads it: stop that one, or give this source "
        f"another slot (to free it: SELECT pg_terminate_backend({found.active_pid}))",
        retry_after=5.0,
    )


def check(conn: psycopg.Connection[Any], tables: list[str], slot_name: str, where: str) -> None:
    """Raise :class:`CdcSetupError` listing every gap (with its fix) that stops capturing
    ``tables`` through ``slot_name``; :class:`CdcSlotBusy` when another process reads it."""
    (wal_level, max_slots, slots, version, user, superuser, replication, rds) = (
        conn.execute(_SERVER).fetchone() or (None,) * 8
    )
    problems: list[str] = []
    fixes: list[str] = []
    if version is not None and version < 100000:
        problems.append(f"the server is PostgreSQL {version // 10000}, older than 10")
        fixes.append("capture needs PostgreSQL 10 or later (the pgoutput plugin)")
    if wal_level != "logical":
        problems.append(f"wal_level is `{wal_level}`, not `logical`")
        fixes.append(
            "set `wal_level = logical` in postgresql.conf (ALTER SYSTEM SET wal_level = logical) "
            "and restart the server; on Amazon RDS or Aurora set `rds.logical_replication = 1` "
            "in the instance's parameter group and reboot it"
        )
    if not (superuser or replication or rds):
        problems.append(f"user `{user}` lacks the REPLICATION privilege")
        fixes.append(
            f'ALTER ROLE "{user}" REPLICATION (on Amazon RDS: GRANT rds_replication TO "{user}")'
        )
    quoted = [regclass_text(t) for t in tables]
    rows = conn.execute(_TABLES, (tables, quoted)).fetchall()
    missing = [name for name, exists, *_ in rows if not exists]
    if missing:
        schemas = sorted({split_table(t)[0] for t in missing})
        known = [
            f"{s}.{n}"
            for s, n in conn.execute(
                "SELECT table_schema, table_name FROM information_schema.tables "
                "WHERE table_schema = ANY(%s)",
                (schemas,),
            )
        ]
        for name in missing:
            problems.append(f"table `{name}` does not exist{did_you_mean(name, known)}")
        fixes.append("create the tables or correct their names (as schema.table)")
    keyless = [
        name
        for name, exists, kind, identity, primary in rows
        if exists and kind in ("r", "p") and (identity == "n" or (identity == "d" and not primary))
    ]
    for name in keyless:
        problems.append(
            f"table `{name}` has no primary key, so PostgreSQL does not log which row an "
            "update or delete changed"
        )
        fixes.append(
            f"ALTER TABLE {regclass_text(name)} REPLICA IDENTITY FULL (or add a primary key)"
        )
    found = slot(conn, slot_name)
    if found is None and max_slots is not None and slots >= max_slots:
        problems.append(
            f"all {max_slots} replication slots (max_replication_slots) are taken, so slot "
            f"`{slot_name}` cannot be created"
        )
        fixes.append(
            "drop an unused slot (SELECT pg_drop_replication_slot(name)) or raise "
            "max_replication_slots in postgresql.conf and restart the server"
        )
    if found is not None and (found.plugin != "pgoutput" or found.database != conn.info.dbname):
        problems.append(
            f"replication slot `{slot_name}` exists for plugin `{found.plugin}` in database "
            f"`{found.database}`, not for pgoutput in `{conn.info.dbname}`"
        )
        fixes.append(f"drop it (SELECT pg_drop_replication_slot('{slot_name}')) or name another")
    if problems:
        raise CdcSetupError(
            f"PostgreSQL at {where} is not set up for change data capture: " + "; ".join(problems),
            source=where,
            hint="; ".join(fixes),
        )
    if found is not None and found.active and not found.ours:
        raise busy(slot_name, found, where)


def publication_tables(conn: psycopg.Connection[Any], name: str) -> set[str] | None:
    """The tables ``name`` publishes (None: no such publication; every table: ``{'*'}``)."""
    row = conn.execute("SELECT puballtables FROM pg_publication WHERE pubname = %s", (name,))
    found = row.fetchone()
    if found is None:
        return None
    if found[0]:
        return {"*"}
    rows = conn.execute(
        "SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = %s", (name,)
    )
    return {f"{schema}.{table}" for schema, table in rows}


def ensure_publication(
    conn: psycopg.Connection[Any], name: str, tables: list[str], where: str
) -> None:
    """Create publication ``name`` for ``tables``, or add and remove tables to match."""
    wanted = {".".join(split_table(t)) for t in tables}
    have = publication_tables(conn, name)
    statements: list[sql.Composed] = []
    pub = sql.Identifier(name)
    if have is None:
        listed = sql.SQL(", ").join(table_sql(t) for t in sorted(wanted))
        statements.append(sql.SQL("CREATE PUBLICATION {} FOR TABLE {}").format(pub, listed))
    elif have != {"*"}:
        for table in sorted(wanted - have):
            statements.append(
                sql.SQL("ALTER PUBLICATION {} ADD TABLE {}").format(pub, table_sql(table))
            )
        for table in sorted(have - wanted):
            statements.append(
                sql.SQL("ALTER PUBLICATION {} DROP TABLE {}").format(pub, table_sql(table))
            )
    for statement in statements:
        try:
            conn.execute(statement)
        except psycopg.errors.InsufficientPrivilege as exc:
            raise CdcSetupError(
                f"cannot create or change publication `{name}` on {where}: {exc.diag.message_primary}",
                source=where,
                hint="the capture's user needs CREATE on the database and to own the tables; "
                f"or a DBA runs: {statement.as_string(conn)}",
            ) from exc


@dataclass
class ExportedSlot:
    """A slot just created on a replication connection, whose snapshot is exported while
    that connection stays open and idle."""

    connection: psycopg.Connection[Any]
    consistent_point: str
    snapshot_name: str

    def close(self) -> None:
        self.connection.close()


def create_slot(conninfo: str, name: str, options: str, where: str) -> ExportedSlot:
    """Create logical slot ``name`` for pgoutput, exporting the snapshot of its start."""
    conn = psycopg.connect(conninfo, replication="database", autocommit=True, options=options)
    try:
        # the syntax every server since 10 takes (15 also has `(SNAPSHOT 'export')`)
        row = conn.execute(
            sql.SQL("CREATE_REPLICATION_SLOT {} LOGICAL pgoutput EXPORT_SNAPSHOT").format(
                sql.Identifier(name)
            )
        ).fetchone()
    except psycopg.errors.ConfigurationLimitExceeded as exc:
        conn.close()
        raise CdcSetupError(
            f"cannot create replication slot `{name}` on {where}: {exc.diag.message_primary}",
            source=where,
            hint="drop an unused slot or raise max_replication_slots (and max_wal_senders) in "
            "postgresql.conf and restart the server",
        ) from exc
    except BaseException:
        conn.close()
        raise
    assert row is not None
    return ExportedSlot(conn, row[1], row[2])


def drop(conn: psycopg.Connection[Any], slot_name: str, publication: str, where: str) -> None:
    found = slot(conn, slot_name)
    if found is not None:
        if found.active and not found.ours:
            raise busy(slot_name, found, where)
        conn.execute("SELECT pg_drop_replication_slot(%s)", (slot_name,))
    conn.execute(sql.SQL("DROP PUBLICATION IF EXISTS {}").format(sql.Identifier(publication)))


def key_columns(conn: psycopg.Connection[Any], table: str) -> tuple[str, ...]:
    """The table's primary key (else its replica identity index's columns); empty when it
    has neither (REPLICA IDENTITY FULL: the whole row is the key)."""
    rows = conn.execute(
        """
        SELECT array_agg(a.attname ORDER BY array_position(i.indkey::int2[], a.attnum))
        FROM pg_index i
        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
        WHERE i.indrelid = to_regclass(%s) AND (i.indisprimary OR i.indisreplident)
        GROUP BY i.indexrelid, i.indisprimary
        ORDER BY i.indisprimary DESC
        LIMIT 1
        """,
        (regclass_text(table),),
    ).fetchone()
    return tuple(rows[0]) if rows else ()
