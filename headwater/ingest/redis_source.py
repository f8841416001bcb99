"""Redis keys matching a pattern as a table: a row per key, read in full each time.

Values are spooled as JSON Lines (:class:`RecordSpool`) and typed by DuckDB: JSON values by
inference over every record (objects become structs), hash fields and plain strings as text
(Redis stores bytes, so guessing numbers from them would be a guess), then the table's
``types`` are applied with ``TRY_CAST``; a value that does not cast makes its key a reject,
found by a vectorised query rather than per key in Python. The source is not stateful: the
``merge`` strategy on the key column makes repeated full reads incremental-safe.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from headwater.connect.documents import Document, DocumentStore, ReadAs
from headwater.connect.sql.quoting import ident, literal
from headwater.errors import SourceError
from headwater.ingest.extraction import Extraction, ReadContext, Reject
from headwater.ingest.records import RecordSpool
from headwater.project import Project
from headwater.project.redis import RedisConnection, RedisSource, RedisTable

BATCH_ROWS = 100_000
TEXT = " (set `value: string` on the table to load the text as it is)"


def build(
    project: Project, source: RedisSource, table: RedisTable, connection: RedisConnection
) -> DocumentResource:
    """The resource for one key pattern of a Redis source."""
    from headwater.connect.redis import RedisStore

    return DocumentResource(table, lambda: RedisStore(connection.url, source.scan_count))


@dataclass(frozen=True)
class DocumentResource:
    """The keys of a document store matching a pattern, one row each."""

    table: RedisTable
    connect: Callable[[], DocumentStore]

    @property
    def name(self) -> str:
        return self.table.name

    def read(self, context: ReadContext) -> Extraction:
        store = self.connect()
        spool = RecordSpool(prefix=self.name)
        try:
            store.check()
            collector = Collector(self.table)
            for batch in store.scan(self.table.pattern, _read_as(self.table.value)):
                for document in batch:
                    record = collector.record(document)
                    if record is not None:
                        spool.add(record)
            spool.close()
            reader, cast_rejects = self._typed(spool, collector)
        except BaseException:
            spool.discard()
            raise
        finally:
            store.close()
        rejects = collector.rejects + cast_rejects
        return Extraction([reader], rejects=lambda: rejects, complete=True)

    def _typed(
        self, spool: RecordSpool, collector: Collector
    ) -> tuple[pa.RecordBatchReader, list[Reject]]:
        """The spooled records as typed batches, and the keys whose values do not cast."""
        key = self.table.key_column
        if not spool.files:
            spool.discard()
            empty = pa.schema([pa.field(key, pa.string())])
            return pa.RecordBatchReader.from_batches(empty, iter(())), []
        listing = "[" + ", ".join(literal(str(p)) for p in spool.files) + "]"
        if collector.kind == "json":
            options = "sample_size = -1, maximum_depth = -1"
        else:
            text = ", ".join(f"{literal(f)}: 'VARCHAR'" for f in collector.fields)
            options = f"columns = {{{text}}}"
        source = f"read_json({listing}, format = 'newline_delimited', {options})"
        con = duckdb.connect()
        try:
            con.execute("SET TimeZone = 'UTC'")
            con.execute(f"CREATE VIEW records AS SELECT * FROM {source}")
            present = {row[0] for row in con.execute("DESCRIBE records").fetchall()}
            bad, rejects = self._cast_rejects(con, present)
            casts = ", ".join(
                f"TRY_CAST({ident(f)} AS {t}) AS {ident(f)}" for f, t in self.table.types.items()
            )
            replace = f" REPLACE ({casts})" if casts else ""
            where = f" WHERE NOT ({' OR '.join(bad)})" if bad else ""
            result = con.execute(f"SELECT *{replace} FROM records{where}")
            reader = result.to_arrow_reader(BATCH_ROWS)
        except BaseException:
            con.close()
            raise

        def batches() -> Iterator[pa.RecordBatch]:
            try:
                yield from reader
            finally:
                con.close()
                spool.discard()

        return pa.RecordBatchReader.from_batches(reader.schema, batches()), rejects

    def _cast_rejects(
        self, con: duckdb.DuckDBPyConnection, present: set[str]
    ) -> tuple[list[str], list[Reject]]:
        """Per typed field, the condition of a value that does not cast, and those values."""
        conditions: list[str] = []
        rejects: list[Reject] = []
        key = ident(self.table.key_column)
        for field, type_ in self.table.types.items():
            if field not in present:
                raise SourceError(
                    f"table `{self.name}`: field `{field}` in `types` is in no value "
                    f"of the keys matching `{self.table.pattern}`",
                    hint=f"fields found: {', '.join(sorted(present))}",
                )
            column = ident(field)
            condition = f"({column} IS NOT NULL AND TRY_CAST({column} AS {type_}) IS NULL)"
            try:
                rows = con.execute(
                    f"SELECT {key}, {column}::VARCHAR, to_json(r)::VARCHAR FROM records r "
                    f"WHERE {condition}"
                ).fetchall()
            except duckdb.Error as exc:
                raise SourceError(
                    f"table `{self.name}`: `types` gives field `{field}` type `{type_}`: "
                    f"{str(exc).strip().splitlines()[0]}",
                    hint="use a DuckDB type name: BIGINT, DOUBLE, BOOLEAN, DATE, TIMESTAMP…",
                ) from exc
            conditions.append(condition)
            rejects.extend(
                Reject(f"`{value}` is not a valid {type_}", record, str(k), field)
                for k, value, record in rows
            )
        return conditions, rejects


class Collector:
    """Turns documents into records of one kind; what does not fit becomes a reject."""

    def __init__(self, table: RedisTable) -> None:
        self.key = table.key_column
        self.kind: str = "" if table.value == "auto" else table.value
        self.fields: dict[str, None] = {self.key: None}  # ordered set of hash fields
        self.rejects: list[Reject] = []

    def record(self, document: Document) -> dict[str, object] | None:
        """The row of a key, or None when it became a reject."""
        if document.error is not None:
            self._reject(document, document.error)
            return None
        if not self.kind:
            if document.kind not in ("hash", "string"):
                self._reject(document, f"the key is a {document.kind}, not a hash or a string")
                return None
            # auto: the first hash or string key decides; strings hold JSON documents
            self.kind = "hash" if document.kind == "hash" else "json"
        value = document.value
        if self.kind == "hash":
            if not isinstance(value, dict):
                self._reject(document, f"the key is a {document.kind}, not a hash")
                return None
            self.fields.update(dict.fromkeys(value))
            return {**value, self.key: document.key}
        if not isinstance(value, str):
            self._reject(document, f"the key is a {document.kind}, not a string")
            return None
        if self.kind == "string":
            self.fields["value"] = None
            return {self.key: document.key, "value": value}
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError as exc:
            self._reject(document, f"invalid JSON: {exc.msg} at position {exc.pos}{TEXT}")
            return None
        if not isinstance(parsed, dict):
            self._reject(document, f"JSON {type(parsed).__name__}, not an object{TEXT}")
            return None
        parsed[self.key] = document.key  # the key wins over a field of the same name
        return parsed

    def _reject(self, document: Document, reason: str) -> None:
        raw = document.value if isinstance(document.value, str) else json.dumps(document.value)
        self.rejects.append(Reject(reason, raw or "", document.key))


def _read_as(value: str) -> ReadAs:
    return "string" if value in ("json", "string") else "hash" if value == "hash" else "auto"
