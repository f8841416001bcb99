"""A delivery into an Iceberg table: the rows of a flush and the positions they cover, in one
commit through the lake's one commit path.

Why table properties, not snapshot properties, hold the positions: each commit sets
``headwater.delivery.<name>.<shard>`` = the last sequence delivered for the shards it covers,
as a property update inside the same Iceberg commit as the appended files, so rows and
position publish together or not at all. A property set this way stays on the table through
every later snapshot whoever writes it — compaction, snapshot expiry, another load — so no
writer has to carry it forward, and the latest metadata always holds every shard's position.
Two workers sharing a delivery's shards each update only their own shards' keys, so when one
commit loses the race and is applied again on the newer table, it keeps the other's.

Records that fail parse or schema go to the errors table first, with positions of their own:
a replay after a crash between the two commits skips the errors already kept.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pyarrow as pa

from headwater.ingest.contract import plan
from headwater.ingest.origin import Origins, RowReject
from headwater.lake.arrow_types import storable_schema
from headwater.lake.catalog import Lake
from headwater.lake.change import TableChange
from headwater.lake.commits import commit
from headwater.lake.writer import Staging
from headwater.project.deliveries import DeliveryConfig
from headwater.streams.delivery_buffer import Buffered, sequence_key
from headwater.streams.delivery_errors import SCHEMA as ERRORS_SCHEMA
from headwater.streams.delivery_errors import error_rows
from headwater.streams.delivery_parse import Failed, Unexpected, parse
from headwater.streams.records import Record

DELIVERY = "headwater.delivery"  # snapshot property: the delivery that wrote the snapshot


def position_key(delivery: str, shard: str) -> str:
    return f"{DELIVERY}.{delivery}.{shard}"


@dataclass
class Flushed:
    """What one flush delivered."""

    rows: dict[str, int] = field(default_factory=dict)  # per shard
    errors: dict[str, int] = field(default_factory=dict)  # per shard
    files: int = 0
    snapshots: int = 0


# the contract decides what the JSON reader does with a field the table lacks
UNEXPECTED: Mapping[str, Unexpected] = {
    "evolve": "infer",
    "freeze": "error",
    "discard_row": "error",
    "discard_value": "ignore",
}


class TableSink:
    """Flushes into ``config.table`` (see the module docstring)."""

    def __init__(
        self, lake: Lake, name: str, config: DeliveryConfig, declared: pa.Schema | None
    ) -> None:
        assert config.table is not None and config.errors_table is not None
        self.lake = lake
        self.name = name
        self.config = config
        self.table = config.table
        self.errors_table = config.errors_table
        self.declared = declared

    def positions(self) -> dict[str, str]:
        """The last sequence delivered of each shard, as the table holds it."""
        return self._positions(self.table)

    def _positions(self, table: str) -> dict[str, str]:
        current = self.lake.current_metadata(table)
        if current is None:
            return {}
        prefix = f"{DELIVERY}.{self.name}."
        return {
            k.removeprefix(prefix): v for k, v in current.properties.items() if k.startswith(prefix)
        }

    def pending(self, shard: str) -> tuple[str, str] | None:
        return None  # a table commit is atomic: nothing is ever half written

    def flush(self, buffered: Mapping[str, Sequence[Record]]) -> Flushed:
        out = Flushed()
        records = Buffered.of(buffered[shard] for shard in sorted(buffered))
        last = {shard: _last(recs) for shard, recs in buffered.items() if recs}
        current = self.lake.current_metadata(self.table)
        table_schema = storable_schema(current.arrow_schema()) if current is not None else None
        explicit = self.declared if self.declared is not None else table_schema
        rows, kept, failed = parse(records, explicit, UNEXPECTED[self.config.contract])
        batches: list[pa.RecordBatch] = []
        write_schema: pa.Schema | None = None
        if kept:
            contract = plan(self.table, table_schema, rows.schema, self.config.contract)
            write_schema = contract.write_schema
            offset = 0
            for batch in rows.to_batches():
                # each row's place is its record's index in `kept`: a reject names its record
                places = Origins(
                    pa.array([0] * batch.num_rows, pa.int64()),
                    pa.array(range(offset, offset + batch.num_rows), pa.int64()),
                )
                offset += batch.num_rows
                fitted, rejects, _ = contract.apply(batch, places)
                batches.append(fitted)
                failed.extend(
                    Failed(
                        kept[r.row]
                        if isinstance(r, RowReject)
                        else Record(r.record.encode(), "", "", 0, ""),
                        "ContractViolation",
                        r.reason,
                    )
                    for r in rejects
                )
        for f in failed:
            out.errors[f.record.shard] = out.errors.get(f.record.shard, 0) + 1
        self._write_errors(failed, last, out)
        if kept is records:  # every record parsed: no need to look at each
            out.rows.update({shard: len(recs) for shard, recs in buffered.items() if recs})
        else:
            for record in kept:
                out.rows[record.shard] = out.rows.get(record.shard, 0) + 1
        properties = {position_key(self.name, s): seq for s, seq in last.items()}
        if write_schema is not None and sum(b.num_rows for b in batches):
            with Staging(self.lake, self.table, write_schema) as staging:
                files = staging.writer().write_all(batches)
                change = staging.change(files, properties={DELIVERY: self.name})
                staging.publish(dataclasses.replace(change, table_properties=properties))
            out.files += len(files)
            out.snapshots += 1
        elif current is not None:  # every record failed: the positions still move
            commit(self.lake, TableChange(table=self.table, table_properties=properties))
        return out

    def _write_errors(self, failed: list[Failed], last: Mapping[str, str], out: Flushed) -> None:
        if not failed:
            return
        kept_before = self._positions(self.errors_table)
        fresh = [
            f
            for f in failed
            if not f.record.shard  # a contract's reject: no place in the stream
            or f.record.shard not in kept_before
            or sequence_key(f.record.sequence) > sequence_key(kept_before[f.record.shard])
        ]
        if not fresh:
            return
        properties = {position_key(self.name, s): seq for s, seq in last.items()}
        rows = error_rows(self.name, self.config.stream, fresh)
        with Staging(self.lake, self.errors_table, ERRORS_SCHEMA) as staging:
            files = staging.writer().write_all(rows.to_batches())
            change = staging.change(files, properties={DELIVERY: self.name})
            staging.publish(dataclasses.replace(change, table_properties=properties))
        out.files += len(files)
        out.snapshots += 1


def _last(records: Sequence[Record]) -> str:
    return records.last_sequence if isinstance(records, Buffered) else records[-1].sequence
