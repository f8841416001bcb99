"""Processors on the embedded log: transforms, routes, errors, checkpoints and restarts."""

from __future__ import annotations

from pathlib import Path

import pytest

from headwater.errors import ProjectError, ProjectFileError, StreamNotFound
from tests.processor_support import make_project, put_json, read_all, values

STREAMS = """
streams:
  events: {shards: 2}
  usa: {}
  international: {}
"""

SQL_ETL = (
    STREAMS
    + """
processors:
  etl:
    stream: events
    sql: >
      SELECT *, list_sum([b.quantity FOR b IN browse_history]) AS overall_product_quantity,
             len(browse_history) AS total_different_products
      FROM records
    routes:
      - when: "country = 'USA'"
        to: usa
      - to: international
"""
)


def sessions(count: int) -> list[dict[str, object]]:
    countries = ["USA", "France", "Japan"]
    return [
        {
            "session_id": f"s{i}",
            "country": countries[i % 3],
            "browse_history": [{"product_code": f"P{j}", "quantity": j + 1} for j in range(i % 4)],
        }
        for i in range(count)
    ]


def test_sql_transform_routes_by_rule(tmp_path: Path) -> None:
    ws = make_project(tmp_path, SQL_ETL)
    put_json(ws.streams, "events", sessions(300), key="session_id")
    report = ws.run_processor("etl", once=True)
    assert (report.records_in, report.errors, report.dropped) == (300, 0, 0)
    assert report.outputs == {"usa": 100, "international": 200}
    usa = values(ws.streams, "usa")
    assert {v["country"] for v in usa} == {"USA"}
    assert sorted(int(v["session_id"][1:]) for v in usa) == list(range(0, 300, 3))
    by_id = {v["session_id"]: v for v in usa + values(ws.streams, "international")}
    assert by_id["s7"]["overall_product_quantity"] == 6  # 1 + 2 + 3
    assert by_id["s7"]["total_different_products"] == 3
    assert by_id["s4"]["total_different_products"] == 0
    # the outputs keep the input's key, so a session stays in one shard
    keys = {r.partition_key for r in read_all(ws.streams, "usa")}
    assert keys == {f"s{i}" for i in range(0, 300, 3)}
    # a second run finds nothing new
    assert ws.run_processor("etl", once=True).records_in == 0
    assert len(read_all(ws.streams, "usa")) == 100


def test_python_transform_with_field_value_routes(tmp_path: Path) -> None:
    ws = make_project(
        tmp_path,
        STREAMS
        + """
processors:
  etl:
    stream: events
    python: processors/etl.py:transform
    partition_key: country
    routes:
      - when: {country: USA}
        to: usa
      - when: {country: France}
        to: international
""",
        {
            "processors/etl.py": """
            def transform(record):
                if record["country"] == "Japan" and len(record["browse_history"]) == 0:
                    return None
                items = record.pop("browse_history")
                return [{**record, "item": item["product_code"]} for item in items] or record
            """
        },
    )
    put_json(ws.streams, "events", sessions(120), key="session_id")
    report = ws.run_processor("etl", once=True)
    usa = values(ws.streams, "usa")
    # sessions i % 3 == 0 (USA) have i % 4 items, or one output when they have none
    expected_usa = sum(max(i % 4, 1) for i in range(0, 120, 3))
    assert len(usa) == expected_usa == report.outputs["usa"]
    assert {r.partition_key for r in read_all(ws.streams, "usa")} == {"USA"}
    japan = [i for i in range(120) if i % 3 == 2]
    assert report.dropped == sum(1 for i in japan if i % 4 == 0)
    # the other Japanese sessions match no route
    assert report.unrouted == sum(max(i % 4, 1) for i in japan if i % 4 != 0)
    assert report.errors == 0


def test_a_poison_record_goes_to_the_error_stream_and_the_rest_goes_on(tmp_path: Path) -> None:
    ws = make_project(
        tmp_path,
        STREAMS
        + """
processors:
  etl:
    stream: events
    python: processors/etl.py:transform
    to: usa
""",
        {
            "processors/etl.py": """
            def transform(record):
                if record["session_id"] == "s13":
                    raise ValueError("cannot handle s13")
                return record
            """
        },
    )
    put_json(ws.streams, "events", sessions(50), key="session_id")
    ws.streams.put("events", [_entry(b"{not json", "bad")])
    report = ws.run_processor("etl", once=True)
    assert (report.records_in, report.outputs["usa"], report.errors) == (51, 49, 2)
    errors = {e["partition_key"]: e for e in values(ws.streams, "etl__errors")}
    assert set(errors) == {"s13", "bad"}
    assert errors["s13"]["error_type"] == "ValueError"
    assert errors["s13"]["error_message"] == "cannot handle s13"
    assert '"session_id": "s13"' in errors["s13"]["raw"]
    assert errors["bad"]["error_type"] == "JSONDecodeError"
    assert errors["bad"]["raw"] == "{not json"
    lag = ws.stream_lag("processor:etl")
    assert sum(row.errors for row in lag) == 2 and sum(row.delivered for row in lag) == 51


def test_sql_poison_records_are_narrowed_down(tmp_path: Path) -> None:
    ws = make_project(
        tmp_path,
        STREAMS
        + """
processors:
  etl:
    stream: events
    sql: SELECT session_id, CAST(amount AS INTEGER) AS amount FROM records
    to: usa
    errors: international
""",
    )
    rows = [{"session_id": f"s{i}", "amount": str(i)} for i in range(500)]
    rows[77]["amount"] = "seventy-seven"
    put_json(ws.streams, "events", rows, key="session_id")
    ws.streams.put("events", [_entry(b"[1, 2]", "array"), _entry(b'"text"', "text")])
    report = ws.run_processor("etl", once=True)
    assert (report.records_in, report.outputs["usa"], report.errors) == (502, 499, 3)
    out = values(ws.streams, "usa")
    assert sorted(v["amount"] for v in out) == [i for i in range(500) if i != 77]
    failed = {e["partition_key"]: e for e in values(ws.streams, "international")}
    assert set(failed) == {"s77", "array", "text"}
    assert failed["s77"]["error_type"] == "ConversionException"


def test_restart_resumes_from_the_checkpoint(tmp_path: Path) -> None:
    ws = make_project(tmp_path, SQL_ETL)
    put_json(ws.streams, "events", sessions(1000), key="session_id")
    ws.run_processor("etl", once=True)
    put_json(ws.streams, "events", sessions(1500)[1000:], key="session_id")
    report = ws.run_processor("etl", once=True)
    assert report.records_in == 500
    ids = [v["session_id"] for v in values(ws.streams, "usa") + values(ws.streams, "international")]
    assert len(ids) == len(set(ids)) == 1500
    points = ws.processor_checkpoints("etl")
    assert sum(p.records for p in points) == 1500
    assert {p.stream for p in points} == {"events"} and len(points) == 2


def test_a_replayed_batch_is_dropped_by_the_output_streams(tmp_path: Path) -> None:
    ws = make_project(tmp_path, SQL_ETL)
    put_json(ws.streams, "events", sessions(400), key="session_id")
    ws.run_processor("etl", once=True)
    # as after a crash between the puts and the checkpoint: the positions are lost
    ws.store.forget_consumer("processor:etl")
    report = ws.run_processor("etl", once=True)
    assert report.records_in == 400
    assert len(read_all(ws.streams, "usa")) + len(read_all(ws.streams, "international")) == 400


def test_start_latest_skips_what_was_there(tmp_path: Path) -> None:
    ws = make_project(
        tmp_path, SQL_ETL.replace("stream: events", "stream: events\n    start: latest")
    )
    put_json(ws.streams, "events", sessions(30), key="session_id")
    assert ws.run_processor("etl", once=True).records_in == 0
    put_json(ws.streams, "events", sessions(40)[30:], key="session_id")
    assert ws.run_processor("etl", once=True).records_in == 10


def test_streams_a_processor_names_must_exist(tmp_path: Path) -> None:
    ws = make_project(tmp_path, SQL_ETL.replace("to: usa", "to: usaa"))
    with pytest.raises(
        StreamNotFound,
        match=r"processors\.etl\.routes\.0\.to: no stream `usaa` \(did you mean `usa`",
    ):
        ws.run_processor("etl", once=True)


def test_bad_processor_settings_are_reported_where_they_are(tmp_path: Path) -> None:
    with pytest.raises(ProjectFileError, match="would write into `events`, the stream it reads"):
        make_project(tmp_path / "a", SQL_ETL.replace("to: usa", "to: events"))
    with pytest.raises(ProjectFileError, match="either `python: file.py:function` or `sql:"):
        make_project(tmp_path / "b", STREAMS + "processors:\n  p: {stream: events, to: usa}\n")
    with pytest.raises(ProjectFileError, match="route 0 has no `when`"):
        make_project(
            tmp_path / "c",
            STREAMS + "processors:\n  p:\n    stream: events\n    sql: SELECT * FROM records\n"
            "    routes: [{to: usa}, {when: 'true', to: international}]\n",
        )
    ws = make_project(
        tmp_path / "d",
        STREAMS
        + "processors:\n  p: {stream: events, to: usa, sql: 'SELECT count(*) FROM records'}\n",
    )
    with pytest.raises(ProjectError, match=r"processors\.p\.sql: `COUNT\(\*\)` mixes the records"):
        ws.run_processor("p", once=True)
    ws = make_project(
        tmp_path / "e",
        STREAMS
        + "processors:\n  p: {stream: events, to: usa, python: 'processors/x.py:transform'}\n",
    )
    with pytest.raises(ProjectError, match=r"processors\.p\.python: no file .*processors/x\.py"):
        ws.run_processor("p", once=True)


def _entry(data: bytes, key: str):  # type: ignore[no-untyped-def]
    from headwater.streams.records import Entry

    return Entry(data, partition_key=key)


def test_python_transform_with_sql_routes(tmp_path: Path) -> None:
    ws = make_project(
        tmp_path,
        STREAMS
        + """
processors:
  etl:
    stream: events
    python: processors/etl.py:transform
    routes:
      - when: "country = 'USA' AND items > 1"
        to: usa
      - when: "country <> 'USA'"
        to: international
""",
        {
            "processors/etl.py": """
            def transform(record):
                return {"id": record["session_id"], "country": record["country"],
                        "items": len(record["browse_history"])}
            """
        },
    )
    put_json(ws.streams, "events", sessions(90), key="session_id")
    report = ws.run_processor("etl", once=True)
    usa = {v["id"] for v in values(ws.streams, "usa")}
    assert usa == {f"s{i}" for i in range(0, 90, 3) if i % 4 > 1}
    assert report.outputs["international"] == 60
    assert report.unrouted == 30 - len(usa)
