"""MQTT feeds against a real Mosquitto: wildcards, every message once, a persistent session,
refused payloads, and a broker restarted mid-feed (a private broker)."""

from __future__ import annotations

import base64
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from headwater.errors import ProjectError, ProjectFileError, SourceUnreachable
from headwater.workspace import Workspace
from tests import mqtt_support as mq


@pytest.fixture
def prefix() -> str:
    mq.require_mosquitto()
    return mq.fresh_prefix()


def _open(root: Path, feeds: dict[str, dict[str, Any]], port: int = mq.PORT) -> Workspace:
    return Workspace.open(mq.write_project(root, feeds, port))


def _subscribe(ws: Workspace, feed: str) -> None:
    """Make the feed's session and subscriptions, so the broker keeps what is published next."""
    ws.run_feed(feed, seconds=0)


def test_wildcards_route_the_right_messages(tmp_path: Path, prefix: str) -> None:
    ws = _open(
        tmp_path,
        {"f": {"topics": [f"{prefix}/+/reading", f"{prefix}/alerts/#"], "payload": "text"}},
    )
    _subscribe(ws, "f")
    wanted = [
        f"{prefix}/d1/reading",
        f"{prefix}/d2/reading",
        f"{prefix}/alerts",  # `#` matches the level above it too
        f"{prefix}/alerts/d1/battery",
    ]
    unwanted = [
        f"{prefix}/d1/b/reading",  # `+` is one level
        f"{prefix}/d1/status",
        f"{prefix}/reading",
        f"{prefix}x/d1/reading",
        f"other/{prefix}/d1/reading",
    ]
    # the unwanted first: one taken by mistake would push a wanted one past max_messages
    mq.publish_all([(t, f"u{i}") for i, t in enumerate(unwanted)])
    mq.publish_all([(t, f"w{i}") for i, t in enumerate(wanted)])
    report = ws.run_feed("f", max_messages=len(wanted), seconds=60)
    assert report.messages == len(wanted)
    got = [json.loads(r.data) for r in mq.read_stream(ws, "readings")]
    assert sorted((g["topic"], g["payload"]) for g in got) == sorted(
        (t, f"w{i}") for i, t in enumerate(wanted)
    )
    assert all(g["received_at"].endswith("+00:00") for g in got)
    # nothing unwanted was left waiting in the session either
    assert ws.run_feed("f", seconds=0.5).messages == 0


@pytest.mark.slow
def test_every_message_lands_once_exactly_as_published(tmp_path: Path, prefix: str) -> None:
    count = 12_000
    ws = _open(tmp_path, {"f": {"topics": [f"{prefix}/#"], "key": "device"}})
    _subscribe(ws, "f")
    payloads = {
        i: json.dumps({"id": i, "device": f"d{i % 17}", "value": i * 0.5}).encode()
        for i in range(count)
    }
    feeding = mq.FeedThread(ws, "f", max_messages=count, seconds=300)
    publisher = mq.Publisher()
    try:
        mq.paced(
            publisher,
            ((f"{prefix}/d{i % 17}", payloads[i]) for i in range(count)),
            lambda: feeding.fed,
        )
        publisher.wait()
    finally:
        publisher.close()
    report = feeding.join(300)
    assert (report.messages, report.records, report.errors) == (count, count, 0)
    records = mq.read_stream(ws, "readings")
    ids = [json.loads(r.data)["id"] for r in records]
    assert len(ids) == count
    assert len(set(ids)) == count
    assert {json.loads(r.data)["id"]: r.data for r in records} == payloads  # byte for byte
    assert {r.partition_key for r in records} == {f"d{i}" for i in range(17)}
    assert all(r.partition_key == json.loads(r.data)["device"] for r in records)


def test_messages_published_while_stopped_arrive_when_it_starts(
    tmp_path: Path, prefix: str
) -> None:
    ws = _open(tmp_path, {"f": {"topics": [f"{prefix}/+"]}})
    _subscribe(ws, "f")
    mq.publish_all((f"{prefix}/a", json.dumps({"n": n})) for n in range(100))
    assert ws.run_feed("f", max_messages=100, seconds=60).messages == 100
    # the feed is down: the broker keeps its session's messages
    mq.publish_all((f"{prefix}/b", json.dumps({"n": n})) for n in range(100, 400))
    again = Workspace.open(tmp_path)  # a new process would see the same
    report = again.run_feed("f", max_messages=300, seconds=60)
    assert report.messages == 300
    numbers = sorted(json.loads(r.data)["n"] for r in mq.read_stream(again, "readings"))
    assert numbers == list(range(400))


def test_max_messages_leaves_the_rest_to_the_next_run(tmp_path: Path, prefix: str) -> None:
    ws = _open(tmp_path, {"f": {"topics": [f"{prefix}/+"], "batch_messages": 7}})
    _subscribe(ws, "f")
    mq.publish_all((f"{prefix}/a", json.dumps({"n": n})) for n in range(50))
    first = ws.run_feed("f", max_messages=20, seconds=60)
    assert first.messages == 20
    second = ws.run_feed("f", max_messages=30, seconds=60)
    assert second.messages == 30
    numbers = sorted(json.loads(r.data)["n"] for r in mq.read_stream(ws, "readings"))
    assert numbers == list(range(50))  # none lost, none twice: unput ones were never acked


def test_refused_payloads_go_to_the_errors_stream(tmp_path: Path, prefix: str) -> None:
    ws = _open(tmp_path, {"f": {"topics": [f"{prefix}/#"], "key": "device", "include_topic": True}})
    _subscribe(ws, "f")
    sent: list[tuple[str, bytes]] = [
        (f"{prefix}/ok", b'{"device": "d1", "t": 20.5}'),
        (f"{prefix}/bad", b'{"device": "d1", "t": '),
        (f"{prefix}/empty", b""),
        (f"{prefix}/list", b"[1, 2]"),
        (f"{prefix}/nokey", b'{"t": 1}'),
        (f"{prefix}/binary", b"\xff\xfe\x00"),
        (f"{prefix}/ok", b'{"device": 7, "t": 21}'),
    ]
    mq.publish_all(sent)
    report = ws.run_feed("f", max_messages=len(sent), seconds=60)
    assert (report.records, report.errors) == (2, 5)
    good = sorted((json.loads(r.data) for r in mq.read_stream(ws, "readings")), key=str)
    assert good == sorted(
        [
            {"device": "d1", "t": 20.5, "_topic": f"{prefix}/ok"},
            {"device": 7, "t": 21, "_topic": f"{prefix}/ok"},
        ],
        key=str,
    )
    errors = {
        json.loads(r.data)["topic"].rsplit("/", 1)[1]: json.loads(r.data)
        for r in mq.read_stream(ws, "readings__errors")
    }
    assert set(errors) == {"bad", "empty", "list", "nokey", "binary"}
    assert errors["bad"]["error"].startswith("payload is not JSON")
    assert errors["bad"]["payload"] == '{"device": "d1", "t": '
    assert errors["empty"]["error"] == "payload is empty, not JSON"
    assert errors["list"]["error"] == "payload is a JSON list, not an object"
    assert errors["nokey"]["error"] == "payload has no `device` (text or number) to key it by"
    assert errors["binary"]["payload_encoding"] == "base64"
    assert base64.b64decode(errors["binary"]["payload"]) == b"\xff\xfe\x00"
    assert all(e["feed"] == "f" for e in errors.values())


def test_bytes_payloads_are_wrapped_with_their_topic(tmp_path: Path, prefix: str) -> None:
    ws = _open(tmp_path, {"f": {"topics": [f"{prefix}/cam/+"], "payload": "bytes"}})
    _subscribe(ws, "f")
    mq.publish_all([(f"{prefix}/cam/1", b"\x00\x01jpeg")])
    ws.run_feed("f", max_messages=1, seconds=60)
    (record,) = mq.read_stream(ws, "readings")
    body = json.loads(record.data)
    assert body["topic"] == f"{prefix}/cam/1"
    assert base64.b64decode(body["payload"]) == b"\x00\x01jpeg"
    assert record.partition_key == f"{prefix}/cam/1"


def test_deduplicate_drops_a_second_copy_of_a_message(tmp_path: Path, prefix: str) -> None:
    ws = _open(tmp_path, {"f": {"topics": [f"{prefix}/+"], "deduplicate": True}})
    _subscribe(ws, "f")
    reading = json.dumps({"device": "d1", "ts": "2026-01-01T00:00:00Z", "t": 20})
    mq.publish_all([(f"{prefix}/a", reading), (f"{prefix}/a", reading), (f"{prefix}/b", reading)])
    report = ws.run_feed("f", max_messages=3, seconds=60)
    assert (report.messages, report.duplicates) == (3, 1)
    assert sorted(r.partition_key for r in mq.read_stream(ws, "readings")) == [
        f"{prefix}/a",
        f"{prefix}/b",
    ]


def test_unreachable_broker_says_where(tmp_path: Path) -> None:
    port = mq._free_port()
    ws = _open(tmp_path, {"f": {"topics": ["a/#"]}}, port=port)
    with pytest.raises(
        SourceUnreachable, match=rf"feed `f` cannot reach the MQTT broker at 127\.0\.0\.1:{port}"
    ):
        ws.run_feed("f", seconds=1)


def test_unknown_feed_is_named(tmp_path: Path) -> None:
    ws = _open(tmp_path, {"sensors": {"topics": ["a/#"]}})
    with pytest.raises(ProjectError, match=r"no feed `sensor` .*did you mean `sensors`"):
        ws.run_feed("sensor")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"topics": ["a/#/b"]}, r"`#` must be a level of its own and the last one"),
        ({"topics": ["a/b+"]}, r"`\+` must be a whole level"),
        ({"topics": []}, r"at least 1 item"),
        ({"topics": ["a"], "payload": "text", "key": "id"}, r"names a JSON field"),
        ({"topics": ["a"], "qos": 2}, r"qos"),
        ({"topics": ["a"], "connection": "nowhere"}, r"connection `nowhere` is not defined"),
    ],
)
def test_feed_settings_are_checked(tmp_path: Path, settings: dict[str, Any], message: str) -> None:
    mq.write_project(tmp_path, {"f": settings})
    with pytest.raises(ProjectFileError, match=message):
        Workspace.open(tmp_path)


def test_feed_needs_an_mqtt_connection(tmp_path: Path) -> None:
    (tmp_path / "headwater.yaml").write_text(
        "name: p\nconnections:\n  db: {type: sql, url: 'sqlite:///x.db'}\n"
        "feeds:\n  f: {connection: db, topics: [a], stream: s}\n"
    )
    with pytest.raises(ProjectFileError, match=r"a feed reads an mqtt connection"):
        Workspace.open(tmp_path)


@pytest.mark.faults
@pytest.mark.slow
@pytest.mark.parametrize("deduplicate", [False, True], ids=["at-least-once", "deduplicated"])
def test_broker_restarted_mid_feed_loses_nothing(tmp_path: Path, deduplicate: bool) -> None:
    broker = mq.PrivateMosquitto(tmp_path / "broker")
    broker.start()
    try:
        count, restart_at = 10_000, 4_000
        ws = _open(
            tmp_path / "project",
            {"f": {"topics": ["plant/+/reading"], "key": "id", "deduplicate": deduplicate}},
            port=broker.port,
        )
        _subscribe(ws, "f")
        payloads = [json.dumps({"id": i, "v": i % 97}).encode() for i in range(count)]
        feeding = mq.FeedThread(ws, "f", max_messages=count + 2_000, seconds=300)
        publisher = mq.Publisher(broker.port)
        messages = [(f"plant/m{i % 5}/reading", payloads[i]) for i in range(count)]
        mq.paced(publisher, messages[:restart_at], lambda: feeding.fed)
        broker.restart()  # sessions and queued messages survive: persistence
        mq.paced(publisher, messages[restart_at:], lambda: feeding.fed)
        publisher.close()
        # all is in once the stream holds every id; then stop the feed
        mq.wait_until(lambda: _distinct(ws) == count, timeout=120)
        report = feeding.stop()
    finally:
        broker.stop()
    records = mq.read_stream(ws, "readings")
    ids = Counter(json.loads(r.data)["id"] for r in records)
    assert set(ids) == set(range(count))  # nothing lost
    assert {r.data for r in records} == set(payloads)  # every copy exactly as published
    assert report.reconnects >= 1
    duplicates = len(records) - count
    if deduplicate:
        assert duplicates == 0
    else:
        # at least once: only what was in flight, unacknowledged, when the broker went away
        # comes again (the feed's receive window, and the publisher's own resends); a message
        # the publisher resent while its first copy was in the feed's window comes three times
        assert duplicates <= 2 * 500 + 20
        assert max(ids.values()) <= 3


def _distinct(ws: Workspace) -> int:
    return len({json.loads(r.data)["id"] for r in mq.read_stream(ws, "readings")})
