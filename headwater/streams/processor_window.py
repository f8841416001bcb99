"""Windowed aggregation in a processor: tumbling event-time windows per key, each emitted once,
when it is complete, exactly once across restarts — without a state store.

Semantics, for a processor with ``window: {size, by, time, lateness}`` and ``aggregate:``:

- **Windows.** A record belongs to the window ``[start, start + size)`` holding its event time
  (windows are aligned on the Unix epoch), of its ``by`` values. Windows are kept per shard: a
  key's records must be in one shard (put them with the key as partition key), or each shard
  makes its own window records for the key.
- **Watermark and closing.** Each shard has a watermark: the newest event time seen in it,
  minus ``lateness``. A window closes when the watermark reaches its end; its aggregates are
  then computed and it is emitted, once: ``{by…, window_start, window_end, aggregates…}``
  (ISO 8601 UTC times), routed by the processor's routes.
- **Late records.** A record whose window had closed when it was read (its window's end is
  at or before the watermark) goes to the error stream as ``LateRecord``, with the record —
  never silently dropped, never into a window.
- **Exactly once, without a state store.** A window record's de-duplication id is
  ``<processor>/<shard>/<window_start>/<by values as JSON>``, the same however often it is
  computed. The checkpoint saved for a shard is the sequence just before the first record of
  the open window that began first (or the last record read when no window is open), so a
  restart, or another worker taking the shard over, reads the open windows' records again and
  rebuilds them. Because every record before that checkpoint belongs to a window closed
  earlier, whose end is at or before the first replayed record's time, the watermark after
  each replayed record is what it was the first time: the same records are late, the same
  windows close with the same records. A window closed before the crash and computed again
  in the replay (from the part of it after the checkpoint) carries the id of the one emitted,
  and the stream drops it — as long as the stream remembers that id (the embedded log: the
  newest 200,000 per shard; NATS and Redis: ``dedup_window``, 2 minutes by default), so a
  restart must come within that memory, as for every processor's replay.
- **Stopping.** A graceful stop emits no open window (it would be incomplete): it stays open
  in the replay of the next run. ``--once`` does the same; ``--once --flush-windows`` (for a
  finished input, a backfill or a test) emits the open windows at the end and checkpoints the
  last record read — records of a flushed window that arrive afterwards make a second, partial
  window record with the same id, which the stream drops while it remembers the id.
- **Memory** holds the records of the open windows (their JSON, about ``size + lateness`` of
  each shard's input), nothing of the closed ones.

Why the records are kept rather than running aggregates: any DuckDB aggregate works (median,
quantiles, ``arg_max``, ``string_agg``, ``count(DISTINCT …)``, ``FILTER``), computed by DuckDB
over the window's records exactly as a ``GROUP BY`` would, in one query for all the windows
that close after a micro-batch. Incremental state would need a merge rule per aggregate, and
would still have to be rebuilt by the same replay after a restart.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from headwater.errors import ProjectError
from headwater.project.window_aggregates import check_aggregate
from headwater.streams.processor_batch import Failure
from headwater.streams.processor_event_time import event_times
from headwater.streams.processor_json import json_table
from headwater.streams.processor_routes import Routes, quote_identifier
from headwater.streams.records import Entry, Record

if TYPE_CHECKING:
    import duckdb

    from headwater.project.processors import ProcessorConfig

TABLE = "__headwater_window"  # the closing windows' records, as DuckDB sees them
START = "__headwater_start"  # a record's window start (epoch ms)


class LateRecord(ValueError):
    """A record whose window had closed when it was read."""


class WindowFailed(ValueError):
    """A window whose aggregates DuckDB could not compute (a field missing or of a type the
    aggregate does not take)."""


# a chunk holds the records of one micro-batch that went into windows still open after it:
# their JSON (data), sequence (seq) and window start (start)
CHUNK = pa.schema([("data", pa.binary()), ("seq", pa.string()), ("start", pa.int64())])


@dataclass
class _Shard:
    """What a shard's open windows hold (rebuilt by replay after a restart)."""

    last: str | None  # the sequence of the last record read (or the checkpoint started from)
    newest_ms: int | None = None  # the newest event time seen
    position: int = 0  # records read since the shard was taken
    chunks: list[pa.Table] = field(default_factory=list)  # of CHUNK
    # window start -> (position of its first record, the sequence just before it)
    opened: dict[int, tuple[int, str | None]] = field(default_factory=dict)


@dataclass
class Stepped:
    """What one micro-batch of a shard made: window records, failed and late records, and the
    checkpoint to save (None: none can be saved yet)."""

    windows: dict[str, list[Entry]] = field(default_factory=dict)  # per output stream
    failures: list[Failure] = field(default_factory=list)  # indexes into the batch
    late: int = 0
    unrouted: int = 0
    window_errors: list[Entry] = field(default_factory=list)
    checkpoint: str | None = None


class Windows:
    """The windows of one processor, per shard (see the module docstring)."""

    def __init__(self, name: str, config: ProcessorConfig, routes: Routes, where: str) -> None:
        import duckdb

        assert config.window is not None
        self.name = name
        self.where = where
        self.window = config.window
        self.size = config.window.size_ms
        self.lateness = config.window.lateness_ms
        self.by = tuple(config.window.by)
        self.aggregates = tuple(config.aggregate)
        self.aliases = [check_aggregate(a, "aggregate") for a in self.aggregates]
        self.routes = routes
        self.partition_key = config.partition_key
        self.errors_stream = config.errors_stream(name)
        self.db: duckdb.DuckDBPyConnection = duckdb.connect(config={"threads": 1})
        self.db.execute("SET TimeZone = 'UTC'")
        self.shards: dict[str, _Shard] = {}

    # -- a shard's life ---------------------------------------------------------------------

    def restart(self, shard: str, after: str | None) -> None:
        """Forget ``shard``'s windows: it is read again from after ``after`` (None: from its
        start), and the replay rebuilds them."""
        self.shards[shard] = _Shard(last=after)

    def forget(self, shard: str) -> None:
        self.shards.pop(shard, None)

    def open_records(self) -> int:
        """Records held in open windows, over every shard."""
        return sum(c.num_rows for s in self.shards.values() for c in s.chunks)

    def step(self, shard: str, records: Sequence[Record]) -> Stepped:
        """Take one micro-batch of ``shard``: late and bad records out, the rest into their
        windows, and the windows the watermark passed computed and emitted."""
        state = self.shards.setdefault(shard, _Shard(last=None))
        out = Stepped()
        times = event_times(records, self.window.time, self.db)
        out.failures = list(times.failures)
        placed = self._place(times.millis, state.newest_ms)
        if placed.num_rows:
            late = placed.column("late")
            for index, millis, watermark in zip(
                *(placed.filter(late).column(c).to_pylist() for c in ("i", "ms", "watermark")),
                strict=True,
            ):
                out.failures.append(Failure.of(index, self._late(millis, watermark)))
                out.late += 1
            # the watermark never goes back, so the last row's is the shard's now
            state.newest_ms = placed.column("watermark")[-1].as_py() + self.lateness
            kept = placed.filter(pc.invert(late))
            if kept.num_rows:
                self._open(state, records, kept)
        out.failures.sort(key=lambda f: f.source)
        state.position += len(records)
        state.last = records[-1].sequence if records else state.last
        self._close(shard, state, out, flush=False)
        out.checkpoint = self._checkpoint(state)
        return out

    def _place(self, millis: pa.Array, newest: int | None) -> pa.Table:
        """For each record with an event time, in order: its batch index ``i``, time ``ms``,
        window ``start``, the shard's ``watermark`` after it, and whether it is ``late``."""
        size, lateness = self.size, self.lateness
        prior = "NULL" if newest is None else str(newest)
        indexes = pa.array(range(len(millis)), pa.int64())
        self.db.register("__headwater_times", pa.table({"i": indexes, "ms": millis}))
        try:
            return self.db.execute(
                f"""
                SELECT i, ms, start, watermark, start + {size} <= watermark AS late FROM (
                  SELECT i, ms, ms - (((ms % {size}) + {size}) % {size}) AS start,
                    coalesce(greatest(max(ms) OVER (ORDER BY i ROWS BETWEEN UNBOUNDED PRECEDING
                      AND CURRENT ROW), {prior}), ms) - {lateness} AS watermark
                  FROM __headwater_times WHERE ms IS NOT NULL
                ) ORDER BY i
                """
            ).to_arrow_table()
        finally:
            self.db.unregister("__headwater_times")

    def flush(self, shard: str) -> Stepped:
        """Emit every open window of ``shard`` now (``--flush-windows``)."""
        out = Stepped()
        state = self.shards.get(shard)
        if state is not None:
            self._close(shard, state, out, flush=True)
            out.checkpoint = state.last
        return out

    def _open(self, state: _Shard, records: Sequence[Record], kept: pa.Table) -> None:
        """Put the records kept into their windows; note the windows they begin."""
        rows = kept.column("i").to_pylist()
        state.chunks.append(
            pa.table(
                [
                    pa.array([records[i].data for i in rows], pa.binary()),
                    pa.array([records[i].sequence for i in rows], pa.string()),
                    kept.column("start"),
                ],
                schema=CHUNK,
            )
        )
        firsts = kept.group_by("start").aggregate([("i", "min")])
        for start, index in zip(
            firsts.column("start").to_pylist(), firsts.column("i_min").to_pylist(), strict=True
        ):
            if start in state.opened:
                continue
            before = records[index - 1].sequence if index > 0 else state.last
            state.opened[start] = (state.position + index, before)

    def _checkpoint(self, state: _Shard) -> str | None:
        """Just before the first record of the open window that began first; the last record
        read when none is open."""
        if not state.opened:
            return state.last
        return min(state.opened.values(), key=lambda opened: opened[0])[1]

    def _late(self, millis: int, watermark: int) -> LateRecord:
        start = millis // self.size * self.size
        return LateRecord(
            f"event time {iso(millis)} is in window [{iso(start)}, {iso(start + self.size)}), "
            f"closed: the shard's watermark was at {iso(watermark)}; raise `lateness` "
            f"(now {self.window.lateness}) to take records this late"
        )

    # -- closing ----------------------------------------------------------------------------

    def _close(self, shard: str, state: _Shard, out: Stepped, *, flush: bool) -> None:
        """Compute and emit the windows whose end the watermark reached (all, with flush)."""
        if state.newest_ms is None or not state.chunks:
            return
        edge = state.newest_ms - self.lateness - self.size  # a window starting at or before closes
        closing: list[pa.Table] = []
        kept: list[pa.Table] = []
        for chunk in state.chunks:
            if flush:
                closing.append(chunk)
                continue
            mask = pc.less_equal(chunk.column("start"), edge)
            if not pc.any(mask).as_py():
                kept.append(chunk)
                continue
            closing.append(chunk.filter(mask))
            rest = chunk.filter(pc.invert(mask))
            if rest.num_rows:
                kept.append(rest)
        state.chunks = kept
        if not closing:
            return
        for start in [s for s in state.opened if flush or s <= edge]:
            del state.opened[start]
        rows = pa.concat_tables(closing)
        try:
            self._emit(shard, rows, out)
        except (pa.ArrowInvalid, ValueError, _duckdb_error()) as exc:
            starts = pc.unique(rows.column("start")).to_pylist()
            if len(starts) == 1:
                out.window_errors.append(self._failed(shard, starts[0], rows, exc))
                return
            # narrow it down to the windows that fail on their own
            for start in starts:
                one = rows.filter(pc.equal(rows.column("start"), start))
                try:
                    self._emit(shard, one, out)
                except (pa.ArrowInvalid, ValueError, _duckdb_error()) as failed:
                    out.window_errors.append(self._failed(shard, start, one, failed))

    def _parsed(self, rows: pa.Table) -> pa.Table:
        """The closing records' JSON as columns: parsed by Arrow in one pass, or when a field's
        type differs between records (a time as a number here, as text there), by DuckDB,
        which gives such a field the JSON type."""
        try:
            return json_table(rows.column("data").to_pylist())
        except (pa.ArrowInvalid, ValueError):
            pass
        texts = pa.table({"data": rows.column("data").cast(pa.string())})
        self.db.register("__headwater_texts", texts)
        try:
            structure = self.db.execute(
                "SELECT json_group_structure(data::JSON) FROM __headwater_texts"
            ).fetchone()
            shape = _escape(str(structure[0] if structure else "{}"))
            return self.db.execute(
                f"SELECT s.* FROM (SELECT json_transform(data, '{shape}') AS s "
                "FROM __headwater_texts)"
            ).to_arrow_table()
        finally:
            self.db.unregister("__headwater_texts")

    def _emit(self, shard: str, rows: pa.Table, out: Stepped) -> None:
        table = self._parsed(rows)
        for name in self.by:
            if name not in table.column_names:
                table = table.append_column(name, pa.nulls(table.num_rows))
        table = table.append_column(START, rows.column("start"))
        self.db.register(TABLE, table)
        try:
            result = self.db.execute(self._query()).to_arrow_table()
        finally:
            self.db.unregister(TABLE)
        columns = [result.column(i).to_pylist() for i in range(5)]
        made: list[tuple[int, str, str, str, str]] = list(zip(*columns, strict=True))
        for route, key, key_json, window_start, data in made:
            if route < 0:
                out.unrouted += 1
                continue
            stream = self.routes.streams[route]
            out.windows.setdefault(stream, []).append(
                Entry(
                    data=data.encode(),
                    partition_key=key,
                    id=f"{self.name}/{shard}/{window_start}/{key_json}",
                )
            )

    def _query(self) -> str:
        """One query computing every closing window's record, its route and its key."""
        by = [quote_identifier(b) for b in self.by]
        fmt = "%Y-%m-%dT%H:%M:%SZ" if self.size % 1000 == 0 else "%Y-%m-%dT%H:%M:%S.%gZ"

        def moment(millis: str) -> str:
            return f"strftime(make_timestamp(({millis}) * 1000), '{fmt}')"

        inner = ", ".join(
            [
                *by,
                f"{moment(START)} AS window_start",
                f"{moment(f'{START} + {self.size}')} AS window_end",
                *self.aggregates,
                f"{START}",
            ]
        )
        group = ", ".join([*by, START])
        names = [*self.by, "window_start", "window_end", *self.aliases]
        fields = ", ".join(f"'{_escape(n)}': {quote_identifier(n)}" for n in names)
        keyed = ", ".join(f"'{_escape(b)}': {quote_identifier(b)}" for b in self.by)
        if self.partition_key in names:
            key = f"CAST({quote_identifier(self.partition_key or '')} AS VARCHAR)"
        elif self.by:
            key = (
                "concat_ws('/', "
                + ", ".join(f"coalesce(CAST({b} AS VARCHAR), 'null')" for b in by)
                + ")"
            )
        else:
            key = "'window'"
        key_json = f"to_json({{{keyed}}})" if keyed else "'{}'"
        return (
            f"WITH __headwater_out AS (SELECT {inner} FROM {TABLE} GROUP BY {group}) "
            f"SELECT {self.routes.case()} AS __headwater_route, "
            f"left(coalesce(nullif({key}, ''), 'window'), 256) AS __headwater_key, "
            f"{key_json}::VARCHAR AS __headwater_key_json, "
            f"window_start, to_json({{{fields}}})::VARCHAR AS __headwater_json "
            f"FROM __headwater_out ORDER BY {START}, __headwater_key_json"
        )

    def _failed(self, shard: str, start: int, rows: pa.Table, exc: BaseException) -> Entry:
        sequences = rows.column("seq").to_pylist()
        message = str(exc).splitlines()[0] if str(exc) else repr(exc)
        shown = {
            "processor": self.name,
            "error_type": WindowFailed.__name__,
            "error_message": f"{message[:2000]} (the aggregates of {self.where})",
            "shard": shard,
            "window_start": iso(start),
            "window_end": iso(start + self.size),
            "records": len(sequences),
            "first_sequence": sequences[0],
            "last_sequence": sequences[-1],
        }
        return Entry(
            data=json.dumps(shown).encode(),
            partition_key=shard,
            id=f"{self.name}/{shard}/{iso(start)}/failed",
        )

    def check(self) -> None:
        """Raise when the aggregates do not compile in DuckDB (a typo in a function name)."""
        try:
            self.db.execute(f"EXPLAIN SELECT {', '.join(self.aggregates)} FROM (SELECT 1)")
        except _duckdb_error() as exc:
            text = str(exc).splitlines()[0]
            if "Referenced column" in text or "not found in FROM clause" in text:
                return  # fields are only known once records arrive
            raise ProjectError(
                f"{self.where}: DuckDB does not take the aggregates: {text}",
                hint="fix `aggregate:`; each is a DuckDB aggregate with an alias",
            ) from None

    def close(self) -> None:
        self.db.close()


def iso(millis: int) -> str:
    """Epoch milliseconds as ISO 8601 UTC (milliseconds shown only when there are some)."""
    from datetime import UTC, datetime, timedelta

    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=millis)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if millis % 1000:
        text += f".{millis % 1000:03d}"
    return text + "Z"


def _escape(text: str) -> str:
    return text.replace("'", "''")


def _duckdb_error() -> type[Exception]:
    import duckdb

    return duckdb.Error
