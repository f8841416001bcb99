"""Deliveries into Iceberg tables on the embedded log: exactly once, errors, schema drift,
buffering hints, leases shared by two workers, lag, compaction and the config's errors."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from headwater.cli import app
from headwater.errors import ProjectFileError, StreamError
from headwater.streams.delivery import DeliveryWorker
from headwater.workspace import Workspace
from tests.delivery_support import event, make_project, put_events, put_raw, table_ids

TABLE = {"stream": "events", "table": "raw.events", "buffer": {"seconds": 0}}


def worker(ws: Workspace, name: str = "d", **kwargs: float) -> DeliveryWorker:
    return DeliveryWorker(ws.project, ws.streams, ws.lake, ws.store, name, **kwargs)


@pytest.mark.slow
def test_100k_events_are_delivered_exactly_once(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", {"d": TABLE}, shards=4)
    with Workspace.open(root) as ws:
        put_events(ws, (event(i) for i in range(100_000)))
        report = ws.run_delivery("d")
        ids = table_ids(ws, "raw.events")
    assert report.records_written == 100_000 and report.errors == 0
    assert len(ids) == 100_000 and len(set(ids)) == 100_000
    assert sorted(report.shards) == [f"shardId-{i:012d}" for i in range(4)]


def test_a_restart_rereads_what_was_not_committed_and_skips_what_was(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", {"d": TABLE})
    with Workspace.open(root) as ws:
        put_events(ws, (event(i) for i in range(3000)))
        first = worker(ws, read_limit=500)
        first.claim()
        first.read_round()
        first.flush()  # committed: a restart must not deliver these again
        first.read_round()  # read, never flushed: the process dies here
        assert first.buffered_bytes > 0
        first.release()
        put_events(ws, (event(i) for i in range(3000, 4000)))
        again = ws.run_delivery("d")
        ids = table_ids(ws, "raw.events")
    assert again.records_written == 4000 - 1000  # two shards × 500 were committed before
    assert sorted(ids) == list(range(4000))


def test_a_shard_taken_over_while_its_worker_stalled_is_not_delivered_twice(
    tmp_path: Path,
) -> None:
    root = make_project(tmp_path / "p", {"d": TABLE}, shards=1)
    with Workspace.open(root) as ws:
        put_events(ws, (event(i) for i in range(1000)))
        stalled = worker(ws, lease_seconds=0.5)
        stalled.claim()
        stalled.read_round()  # buffered; then the worker stalls past its lease (a broker outage)
        time.sleep(0.6)
        other = ws.run_delivery("d", lease_seconds=0.5)  # takes the shard, delivers, gives it back
        assert other.records_written == 1000
        stalled.flush()  # renews first: the shard is its own again, under a new epoch
        stalled.read_round()
        stalled.flush()
        ids = table_ids(ws, "raw.events")
    assert sorted(ids) == list(range(1000))


def test_bad_records_go_to_the_errors_table_and_the_delivery_goes_on(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", {"d": TABLE}, shards=1)
    with Workspace.open(root) as ws:
        put_events(ws, (event(i) for i in range(10)))
        ws.run_delivery("d")
        put_raw(ws, [b'{"id": 10, "country"', b'{"id": "eleven"}', b"\xff\xfe", b"[1, 2]"])
        put_events(ws, (event(i) for i in range(12, 20)))
        report = ws.run_delivery("d")
        errors = ws.query(
            "SELECT error_type, raw, raw_encoding, stream, shard, sequence, error_message "
            "FROM raw.events__errors ORDER BY sequence::INT"
        ).to_pylist()
        ids = table_ids(ws, "raw.events")
        # the same records again (a replay) add nothing to the errors
        ws.run_delivery("d")
        assert ws.query("SELECT count(*) AS n FROM raw.events__errors").to_pylist()[0]["n"] == 4
    assert report.errors == 4 and report.records_written == 8
    assert sorted(ids) == [*range(10), *range(12, 20)]
    assert [e["error_type"] for e in errors] == [
        "MalformedJSON",
        "SchemaMismatch",
        "MalformedJSON",
        "NotAnObject",
    ]
    assert errors[0]["raw"] == '{"id": 10, "country"' and errors[0]["raw_encoding"] == "text"
    assert errors[1]["raw"] == '{"id": "eleven"}' and "string" in errors[1]["error_message"]
    assert errors[2]["raw_encoding"] == "base64" and errors[2]["raw"] == "//4="
    assert {e["stream"] for e in errors} == {"events"}
    assert [e["sequence"] for e in errors] == ["10", "11", "12", "13"]


def test_a_new_field_evolves_the_table(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", {"d": TABLE}, shards=1)
    with Workspace.open(root) as ws:
        put_events(ws, (event(i) for i in range(5)))
        ws.run_delivery("d")
        put_events(ws, (event(i, coupon=f"C{i}") for i in range(5, 8)))
        ws.run_delivery("d")
        rows = ws.query("SELECT id, coupon FROM raw.events ORDER BY id").to_pylist()
    assert [r["coupon"] for r in rows] == [None] * 5 + ["C5", "C6", "C7"]


def test_a_frozen_contract_sends_new_fields_to_the_errors(tmp_path: Path) -> None:
    config = {**TABLE, "contract": "freeze", "schema": {"id": "BIGINT", "country": "VARCHAR"}}
    root = make_project(tmp_path / "p", {"d": config}, shards=1)
    with Workspace.open(root) as ws:
        put_events(ws, [{"id": 1, "country": "USA"}, {"id": 2, "country": "FR", "extra": 1}])
        report = ws.run_delivery("d")
        assert ws.query("SELECT * FROM raw.events").to_pylist() == [{"id": 1, "country": "USA"}]
        kinds = ws.query("SELECT error_type FROM raw.events__errors").column(0).to_pylist()
    assert report.errors == 1 and kinds == ["SchemaMismatch"]


def test_a_record_discard_row_refuses_reaches_the_errors_with_its_position(
    tmp_path: Path,
) -> None:
    config = {**TABLE, "contract": "discard_row"}
    root = make_project(tmp_path / "p", {"d": config}, shards=1)
    with Workspace.open(root) as ws:
        put_events(ws, [{"id": 1, "country": "USA"}])
        ws.run_delivery("d")
        put_events(ws, [{"id": 2, "country": "FR", "extra": 1}, {"id": 3, "country": "DE"}])
        report = ws.run_delivery("d")
        rows = ws.query("SELECT id FROM raw.events ORDER BY id").column(0).to_pylist()
        errors = ws.query(
            "SELECT error_type, error_message, raw, shard, sequence FROM raw.events__errors"
        ).to_pylist()
    assert rows == [1, 3] and report.errors == 1
    [error] = errors
    assert error["error_type"] == "SchemaMismatch"
    assert error["raw"] == '{"id": 2, "country": "FR", "extra": 1}'
    assert (error["shard"], error["sequence"]) == ("shardId-000000000000", "1")


def test_the_interval_flushes_by_time_and_the_size_hint_by_size(tmp_path: Path) -> None:
    slow = {**TABLE, "buffer": {"seconds": 0.3, "mb": 128}}
    small = {**TABLE, "table": "raw.small", "buffer": {"seconds": 900, "mb": 1}}
    root = make_project(tmp_path / "p", {"slow": slow, "small": small}, shards=1)
    with Workspace.open(root) as ws:
        put_events(ws, (event(i, pad="x" * 400) for i in range(4000)))  # about 1.8 MB
        by_time = worker(ws, "slow", read_limit=100)
        by_time.claim()
        by_time.read_round()
        assert not by_time.due()  # 100 small records: neither hint is reached
        time.sleep(0.35)
        assert by_time.due()
        by_size = worker(ws, "small", read_limit=4000)
        by_size.claim()
        by_size.read_round()
        assert by_size.buffered_bytes >= 1 << 20 and by_size.due()  # 900 s are not over


def test_two_workers_share_four_shards_and_deliver_each_record_once(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", {"d": {**TABLE, "buffer": {"seconds": 0.2}}}, shards=4)
    with Workspace.open(root) as ws:
        stop = threading.Event()
        reports = {}

        def run(tag: str) -> None:
            with Workspace.open(root) as own:
                reports[tag] = own.run_delivery("d", once=False, stop=stop, lease_seconds=1.5)

        threads = [threading.Thread(target=run, args=(t,)) for t in ("a", "b")]
        for thread in threads:
            thread.start()
        for part in range(20):
            put_events(ws, (event(i) for i in range(part * 1000, (part + 1) * 1000)))
            time.sleep(0.1)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            done = sum(c.records for c in ws.store.checkpoints("delivery:d"))
            if done >= 20_000:
                break
            time.sleep(0.2)
        stop.set()
        for thread in threads:
            thread.join()
        ids = table_ids(ws, "raw.events")
    assert len(ids) == 20_000 and len(set(ids)) == 20_000
    assert reports["a"].records_written + reports["b"].records_written == 20_000
    assert reports["a"].records_written > 0 and reports["b"].records_written > 0


def test_positions_survive_compaction(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", {"d": TABLE}, shards=1)
    with Workspace.open(root) as ws:
        for part in range(4):
            put_events(ws, (event(i) for i in range(part * 10, part * 10 + 10)))
            ws.run_delivery("d")
        before = dict(ws.lake.current_metadata("raw.events").properties)
        ws.maintain("raw.events")
        after = ws.lake.current_metadata("raw.events").properties
        assert ws.lake.info("raw.events").files == 1
        put_events(ws, (event(i) for i in range(40, 45)))
        ws.run_delivery("d")
        ids = table_ids(ws, "raw.events")
    key = "headwater.delivery.d.shardId-000000000000"
    assert before[key] == after[key] == "39"
    assert sorted(ids) == list(range(45))


def test_stream_lag_reports_each_shard(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", {"d": TABLE}, shards=2)
    with Workspace.open(root) as ws:
        put_events(ws, (event(i) for i in range(100)))
        put_raw(ws, [b"not json"])
        ws.run_delivery("d")
        put_events(ws, (event(i) for i in range(100, 130)))
        lag = ws.stream_lag()
    assert {r.shard for r in lag} == {"shardId-000000000000", "shardId-000000000001"}
    assert sum(r.delivered for r in lag) == 100 and sum(r.errors for r in lag) == 1
    assert sum(r.records_behind or 0 for r in lag) == 30
    result = CliRunner().invoke(app, ["stream", "lag", "-p", str(root)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "delivery:d" in result.output and "shardId-000000000001" in result.output


def test_throughput_in_and_out_between_two_samples(tmp_path: Path) -> None:
    from headwater.streams.delivery_lag import rates

    root = make_project(tmp_path / "p", {"d": TABLE}, shards=2)
    with Workspace.open(root) as ws:
        put_events(ws, (event(i) for i in range(100)))
        ws.run_delivery("d")
        before = ws.stream_lag()
        counts = {("events", s.shard.id): s.records for s in ws.streams.describe("events").shards}
        put_events(ws, (event(i) for i in range(100, 160)))
        ws.run_delivery("d")
        after = ws.stream_lag()
        later = {("events", s.shard.id): s.records for s in ws.streams.describe("events").shards}
        measured = rates(before, after, counts, later, seconds=2.0)
        result = CliRunner().invoke(
            app, ["stream", "lag", "--rate", "0.2", "-p", str(root)], env={"COLUMNS": "200"}
        )
    assert sum(r.put or 0 for r in measured) == 30.0  # 60 records put in 2 s
    assert sum(r.done for r in measured) == 30.0  # and 60 delivered
    assert all(r.put is not None for r in measured)
    assert result.exit_code == 0, result.output
    assert "in/s" in result.output and "out/s" in result.output  # idle now: 0 in, 0 out
    assert "measuring throughput for 0.2 s" in result.stderr


def test_stream_run_once_on_the_command_line(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", {"d": TABLE})
    with Workspace.open(root) as ws:
        put_events(ws, (event(i) for i in range(50)))
    result = CliRunner().invoke(app, ["stream", "run", "--once", "-p", str(root)])
    assert result.exit_code == 0, result.output
    assert "50 delivered" in result.output
    unknown = CliRunner().invoke(app, ["stream", "run", "nope", "--once", "-p", str(root)])
    assert unknown.exit_code == 1 and "no delivery `nope`" in unknown.output


def test_a_delivery_config_names_one_destination(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", {"d": {"stream": "events"}})
    with pytest.raises(ProjectFileError, match="give one destination"):
        Workspace.open(root)
    bad_prefix = {"stream": "events", "files": {"url": "out", "prefix": "!{when:HH}/"}}
    root = make_project(tmp_path / "q", {"d": bad_prefix})
    with pytest.raises(ProjectFileError, match="not an expression a prefix takes"):
        Workspace.open(root)
    same = {**TABLE, "errors": "raw.events"}
    root = make_project(tmp_path / "r", {"d": same})
    with pytest.raises(ProjectFileError, match="errors table is the delivery's own table"):
        Workspace.open(root)


def test_an_undeclared_schema_type_is_refused_with_its_name(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", {"d": {**TABLE, "schema": {"id": "BIGNUMBER"}}})
    with Workspace.open(root) as ws, pytest.raises(StreamError, match="not a DuckDB type"):
        ws.run_delivery("d")


def test_a_delivery_from_a_redis_stream_and_its_lag(tmp_path: Path) -> None:
    import uuid

    import yaml

    from tests import services
    from tests.stream_support import require_redis

    require_redis()
    stream = f"hwtest_{uuid.uuid4().hex[:10]}"
    root = tmp_path / "p"
    root.mkdir()
    config = {
        "name": "redis_delivery",
        "connections": {"bus": {"type": "redis", "url": services.REDIS_URL}},
        "streams": {stream: {"connection": "bus", "shards": 2}},
        "deliveries": {"d": {**TABLE, "stream": stream}},
    }
    (root / "headwater.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    with Workspace.open(root) as ws:
        try:
            put_events(ws, (event(i) for i in range(500)), stream=stream)
            report = ws.run_delivery("d")
            put_events(ws, (event(i) for i in range(500, 600)), stream=stream)
            again = ws.run_delivery("d")
            ids = table_ids(ws, "raw.events")
            lag = ws.stream_lag("delivery:d")
        finally:
            ws.streams.delete(stream)
    assert (report.records_written, again.records_written) == (500, 100)
    assert sorted(ids) == list(range(600))
    assert sorted(row.shard for row in lag) == ["shardId-000000000000", "shardId-000000000001"]
    # Redis sequence numbers have gaps: the lag is told in time, not counted in records
    assert all(row.records_behind is None and row.ms_behind >= 0 for row in lag)
    assert sum(row.delivered for row in lag) == 600
