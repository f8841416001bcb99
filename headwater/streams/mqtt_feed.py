"""An MQTT feed: the messages of an MQTT broker's topics put into a stream, at least once.

The feed is a persistent MQTT v5 session (clean start off, a session expiry): while the feed
is stopped the broker keeps its subscriptions and the QoS 1 messages that arrive, and hands
them over when it comes back. Each message is acknowledged (paho's manual ack) only after the
stream put that holds it has returned, so a feed killed at any moment loses nothing: what it
had not acknowledged, the broker delivers again.

That makes a feed *at least once*: a message put but not yet acknowledged when the feed or the
broker stopped is put again on redelivery. MQTT gives a redelivered message no identity of its
own (the packet id is a 16-bit slot reused as soon as it is free, and a broker may rewrite
properties such as the message expiry), so a copy cannot be told from a second message with
the same content in general. When every message of a topic is distinct by construction (it
carries a timestamp, a counter or an event id), ``deduplicate: true`` gives each record an id
hashed from its topic and payload, and the stream drops a second put of it.

Messages are put in batches (up to ``batch_messages`` of them, or what arrived ``batch_ms``
after the first), then acknowledged in the order they arrived, as MQTT asks. A broker that goes
away is reconnected to with exponential backoff (the project's retry policy on tenacity), each
attempt logged; acknowledgements are only ever sent on the connection that received the
message, so one put before the loss is delivered again after it rather than acknowledged on a
session that may not know it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from headwater.errors import ConnectionError_, SourceUnreachable, StreamError, StreamExists
from headwater.streams.records import MAX_KEY_CHARS, MAX_RECORD_BYTES, Entry

if TYPE_CHECKING:
    from paho.mqtt.client import Client, MQTTMessage

    from headwater.project.feeds import FeedConfig
    from headwater.project.streams import MqttConnection
    from headwater.streams.hub import Streams

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10.0  # seconds to wait for the broker's CONNACK and SUBACK
KEEPALIVE = 30  # seconds between pings on an idle connection
IDLE_WAIT = 0.2  # longest sleep of the loop with nothing to do (how soon a stop is seen)
ERROR_PAYLOAD_BYTES = 64 << 10  # the most of a refused payload kept in its error record
# MQTT v5 reason codes of a CONNACK that may go away: unavailable, busy, quota, rate
RETRYABLE_CONNACK = frozenset({0x88, 0x89, 0x97, 0x9F})


@dataclass(frozen=True, slots=True)
class FeedReport:
    """What a feed did: messages taken from the broker and put (``records`` into the stream,
    ``errors`` into ``<stream>__errors``), ``duplicates`` the stream dropped as put before
    (``deduplicate: true``), puts (``batches``) and reconnections, over ``seconds``."""

    feed: str
    stream: str
    messages: int = 0
    records: int = 0
    errors: int = 0
    duplicates: int = 0
    batches: int = 0
    reconnects: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        """Messages per second over the run."""
        return self.messages / self.seconds if self.seconds > 0 else 0.0


Progress = Callable[[FeedReport], None]


class MqttFeed:
    """One feed (see the module docstring): :meth:`run` it until ``stop`` is set, ``seconds``
    have passed or ``max_messages`` were put."""

    def __init__(
        self,
        name: str,
        config: FeedConfig,
        connection: MqttConnection,
        streams: Streams,
        client_id: str,
    ) -> None:
        self.name = name
        self.config = config
        self.connection = connection
        self.streams = streams
        self.client_id = client_id
        self.address = f"{connection.host}:{connection.port}"
        self._cond = threading.Condition()
        self._inbox: list[tuple[int, MQTTMessage]] = []  # (connection number, message)
        self._generation = 0  # which connection a message came on; acks go on that one only
        self._live = False
        self._connack: threading.Event = threading.Event()
        self._gone = threading.Event()  # the connection closed
        self._unsuback = threading.Event()
        self._connack_code: Any = None
        self._suback: threading.Event = threading.Event()
        self._suback_codes: list[Any] = []
        self._errors_ready = False
        self._report = FeedReport(feed=name, stream=config.stream)
        self._client: Client | None = None

    # -- running ------------------------------------------------------------------------

    def run(
        self,
        stop: threading.Event | None = None,
        seconds: float | None = None,
        max_messages: int | None = None,
        progress: Progress | None = None,
    ) -> FeedReport:
        """Feed the stream until stopped; then put what is buffered, acknowledge it and
        disconnect, leaving what was not put to the broker's session."""
        stop = stop or threading.Event()
        started = time.monotonic()
        deadline = None if seconds is None else started + seconds
        self.streams.require([self.config.stream])
        self._connect()
        try:
            while not self._done(stop, deadline, max_messages):
                wait = (
                    IDLE_WAIT if deadline is None else min(IDLE_WAIT, deadline - time.monotonic())
                )
                batch = self._take(max(wait, 0.0), max_messages)
                if batch:
                    self._put(batch)
                    self._report = replace(self._report, seconds=time.monotonic() - started)
                    if progress is not None:
                        progress(self._report)
                if not self._live and not self._done(stop, deadline, max_messages):
                    self._flush(max_messages)  # put now, acknowledged never: sent again later
                    self._reconnect(stop)
            self._flush(max_messages)
        finally:
            self._disconnect()
        self._report = replace(self._report, seconds=time.monotonic() - started)
        return self._report

    def _flush(self, most: int | None) -> None:
        """Put what is buffered now (and no more than ``most`` messages in all)."""
        with self._cond:
            left = len(self._inbox)
        while left > 0:
            batch = self._take(0.0, most, wait_full=False)
            if not batch:
                return
            self._put(batch)
            left -= len(batch)

    def _done(self, stop: threading.Event, deadline: float | None, most: int | None) -> bool:
        return (
            stop.is_set()
            or (deadline is not None and time.monotonic() >= deadline)
            or (most is not None and self._report.messages >= most)
        )

    def _take(
        self, wait: float, most: int | None, wait_full: bool = True
    ) -> list[tuple[int, MQTTMessage]]:
        """The next batch: once a first message is there, what arrives within ``batch_ms``,
        up to ``batch_messages`` (and never past ``most`` messages in all)."""
        size = self.config.batch_messages
        if most is not None:
            size = min(size, most - self._report.messages)
        if size <= 0:
            return []
        with self._cond:
            if wait_full:
                if not self._inbox:
                    self._cond.wait(wait)
                if self._inbox and len(self._inbox) < size:
                    window = time.monotonic() + self.config.batch_ms / 1000
                    while len(self._inbox) < size and self._live:
                        left = window - time.monotonic()
                        if left <= 0:
                            break
                        self._cond.wait(left)
            batch = self._inbox[:size]
            del self._inbox[:size]
        return batch

    # -- records ------------------------------------------------------------------------

    def _put(self, batch: list[tuple[int, MQTTMessage]]) -> None:
        """Put a batch into the stream (and refused messages into the errors stream), then
        acknowledge the messages of the current connection, in the order they came."""
        if not batch:
            return
        received = datetime.now(UTC).isoformat(timespec="milliseconds")
        records: list[Entry] = []
        errors: list[Entry] = []
        for _, message in batch:
            entry = self._entry(message, received)
            if isinstance(entry, Entry):
                records.append(entry)
            else:
                errors.append(self._error_entry(message, entry, received))
        duplicates = self._send(self.config.stream, records)
        if errors:
            self._ensure_errors_stream()
            duplicates += self._send(self.config.errors_stream, errors)
        client = self._client
        with self._cond:
            generation, live = self._generation, self._live
        if client is not None and live:
            for number, message in batch:
                if number == generation and message.qos > 0:
                    client.ack(message.mid, message.qos)
        r = self._report
        self._report = replace(
            r,
            messages=r.messages + len(batch),
            records=r.records + len(records),
            errors=r.errors + len(errors),
            duplicates=r.duplicates + duplicates,
            batches=r.batches + 1,
        )

    def _send(self, stream: str, entries: list[Entry]) -> int:
        """Put ``entries``; how many the stream dropped as put before. Raises when one was not
        taken: nothing of the batch is acknowledged, so the broker delivers it again."""
        if not entries:
            return 0
        results = self.streams.put(stream, entries)
        failed = [r for r in results if not r.ok]
        if failed:
            raise StreamError(
                f"feed `{self.name}`: {len(failed):,} of {len(entries):,} records were not taken "
                f"by stream `{stream}`: {failed[0].error}: {failed[0].message}",
                stream=stream,
                hint="nothing of the batch was acknowledged: the broker delivers it again when "
                "the feed restarts",
            )
        return sum(1 for r in results if r.duplicate)

    def _entry(self, message: MQTTMessage, received: str) -> Entry | str:
        """The record of a message, or why it cannot be one."""
        config = self.config
        topic = message.topic
        payload = bytes(message.payload)
        key = topic
        if config.payload == "json":
            try:
                value = json.loads(payload)
            except (ValueError, UnicodeDecodeError) as exc:
                return f"payload is not JSON: {exc}" if payload else "payload is empty, not JSON"
            if config.key != "topic" or config.include_topic:
                if not isinstance(value, dict):
                    return f"payload is a JSON {type(value).__name__}, not an object"
                if config.key != "topic":
                    found = value.get(config.key)
                    if found is None or found == "" or isinstance(found, (dict, list)):
                        return f"payload has no `{config.key}` (text or number) to key it by"
                    key = str(found)
                if config.include_topic:
                    value["_topic"] = topic
                    payload = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
        else:
            if config.payload == "text":
                try:
                    shown = payload.decode()
                except UnicodeDecodeError as exc:
                    return f"payload is not UTF-8 text: {exc}"
            else:
                shown = base64.b64encode(payload).decode()
            payload = json.dumps(
                {"topic": topic, "payload": shown, "received_at": received},
                ensure_ascii=False,
                separators=(",", ":"),
            ).encode()
        if len(payload) > MAX_RECORD_BYTES:
            return f"the record would be {len(payload):,} bytes; a record takes at most 1 MiB"
        return Entry(data=payload, partition_key=_key(key), id=self._id(message))

    def _error_entry(self, message: MQTTMessage, error: str, received: str) -> Entry:
        raw = bytes(message.payload)
        kept = raw[:ERROR_PAYLOAD_BYTES]
        try:
            shown, encoding = kept.decode(), "utf-8"
        except UnicodeDecodeError:
            shown, encoding = base64.b64encode(kept).decode(), "base64"
        body = {
            "error": error,
            "feed": self.name,
            "topic": message.topic,
            "payload": shown,
            "payload_encoding": encoding,
            "payload_bytes": len(raw),
            "received_at": received,
        }
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        return Entry(data=data, partition_key=_key(message.topic), id=self._id(message))

    def _id(self, message: MQTTMessage) -> str | None:
        if not self.config.deduplicate:
            return None
        digest = hashlib.blake2b(digest_size=16)
        digest.update(message.topic.encode())
        digest.update(b"\x00")
        digest.update(message.payload)
        return digest.hexdigest()

    def _ensure_errors_stream(self) -> None:
        if self._errors_ready:
            return
        name = self.config.errors_stream
        if name not in self.streams.declared and name not in self.streams.names():
            with contextlib.suppress(StreamExists):  # another feed created it meanwhile
                self.streams.create(name)
        self._errors_ready = True

    # -- the broker ---------------------------------------------------------------------

    def _new_client(self) -> Client:
        from paho.mqtt.client import CallbackAPIVersion, Client, MQTTv5

        client = Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=MQTTv5,
            reconnect_on_failure=False,  # reconnecting is the feed's, with the retry policy
            manual_ack=True,
        )
        if self.connection.username is not None:
            password = self.connection.password
            client.username_pw_set(
                self.connection.username,
                None if password is None else password.get_secret_value(),
            )
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_unsubscribe = self._on_unsubscribe
        client.on_message = self._on_message
        return client

    def _connect_properties(self) -> Any:
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        from headwater.durations import parse_duration

        properties = Properties(PacketTypes.CONNECT)
        expiry = int(parse_duration(self.config.session_expiry).total_seconds())
        properties.SessionExpiryInterval = min(expiry, 0xFFFFFFFE)
        # a whole batch in flight, and the next one arriving while it is put
        properties.ReceiveMaximum = min(2 * self.config.batch_messages, 65_535)
        return properties

    def _connect(self) -> None:
        """Connect, resume the session and subscribe; raises what kept it from working."""
        from paho.mqtt.subscribeoptions import SubscribeOptions

        first = self._client is None
        if first:
            self._client = self._new_client()
        client = self._client
        assert client is not None
        self._connack.clear()
        self._connack_code = None
        self._suback.clear()
        with self._cond:
            self._generation += 1
        try:
            if first:
                client.connect(
                    self.connection.host,
                    self.connection.port,
                    keepalive=KEEPALIVE,
                    clean_start=False,
                    properties=self._connect_properties(),
                )
            else:
                client.reconnect()
        except OSError as exc:
            raise self._unreachable(exc.strerror or str(exc)) from exc
        client.loop_start()
        if not self._connack.wait(CONNECT_TIMEOUT):
            self._abandon()
            raise self._unreachable(f"no answer to CONNECT in {CONNECT_TIMEOUT:g} s")
        code = self._connack_code
        if code is None:  # the broker closed the connection without a CONNACK
            self._abandon()
            raise self._unreachable("the broker closed the connection")
        if code.is_failure:
            self._abandon()
            if code.value in RETRYABLE_CONNACK:
                raise self._unreachable(f"the broker answered `{code}`")
            raise ConnectionError_(
                f"the MQTT broker at {self.address} refused feed `{self.name}` "
                f"(client id `{self.client_id}`): {code}",
                hint="check the connection's username and password, and that the broker lets "
                "this client id connect",
            )
        options = SubscribeOptions(qos=self.config.qos, retainHandling=1)
        client.subscribe([(topic, options) for topic in self.config.topics])
        if not self._suback.wait(CONNECT_TIMEOUT):
            self._abandon()
            raise self._unreachable(f"no answer to SUBSCRIBE in {CONNECT_TIMEOUT:g} s")
        refused = [
            (topic, code)
            for topic, code in zip(self.config.topics, self._suback_codes, strict=False)
            if code.is_failure
        ]
        if refused:
            self._abandon()
            topic, code = refused[0]
            raise ConnectionError_(
                f"the MQTT broker at {self.address} refused feed `{self.name}` a subscription "
                f"to `{topic}`: {code}",
                hint="check the topic filter and the broker's access control for this client",
            )
        log.info(
            "feed %s connected to %s as %s, topics %s",
            self.name,
            self.address,
            self.client_id,
            ", ".join(self.config.topics),
        )

    def _reconnect(self, stop: threading.Event) -> None:
        """Connect again after the broker went away, with backoff, until it answers or the
        feed is stopped."""
        from headwater.retry import until_stopped

        self._abandon()
        log.warning("feed %s lost the MQTT broker at %s; reconnecting", self.name, self.address)

        def waiting(error: BaseException | None, seconds: float) -> None:
            log.warning(
                "feed %s: reconnecting to %s failed (%s); next attempt in %.1f s",
                self.name,
                self.address,
                error,
                seconds,
            )

        retrying = until_stopped(stop, None, waiting)  # whatever a reconnect may outlive
        try:
            retrying(self._connect)
        except SourceUnreachable:
            if not stop.is_set():
                raise
            return  # stopped while the broker was away
        self._report = replace(self._report, reconnects=self._report.reconnects + 1)

    def _unreachable(self, reason: str) -> SourceUnreachable:
        return SourceUnreachable(
            f"feed `{self.name}` cannot reach the MQTT broker at {self.address} ({reason})",
            dialect="mqtt",
            address=self.address,
            hint="is the broker running? the feed's connection "
            f"`{self.config.connection}` sets its host and port",
        )

    def _abandon(self) -> None:
        """Stop the network thread of a connection that is lost or refused."""
        client = self._client
        with self._cond:
            self._live = False
        if client is not None:
            client.disconnect()
            _stop_network(client)

    def _disconnect(self) -> None:
        """Send the last acknowledgements and a clean DISCONNECT; the session stays."""
        client = self._client
        if client is None:
            return
        if self._live:
            # A round trip after the last acknowledgements: the broker answers an UNSUBSCRIBE
            # once it has read every packet before it. Closing sooner could lose them: the
            # broker keeps sending messages as acknowledgements free its window, and a socket
            # closed with unread data is reset, which discards what the broker had not read.
            self._unsuback.clear()
            client.unsubscribe(f"headwater/sync/{uuid.uuid4().hex}")
            self._unsuback.wait(CONNECT_TIMEOUT)
        with self._cond:
            was_live, self._live = self._live, False
        self._gone.clear()
        if client.disconnect() == 0 and was_live:  # MQTT_ERR_SUCCESS
            self._gone.wait(CONNECT_TIMEOUT)  # the network thread writes it, then closes
        _stop_network(client)

    # -- callbacks (the network thread) -------------------------------------------------

    def _on_connect(
        self, client: Client, userdata: Any, flags: Any, code: Any, properties: Any
    ) -> None:
        self._connack_code = code
        if not code.is_failure:
            with self._cond:
                self._live = True
        self._connack.set()

    def _on_subscribe(
        self, client: Client, userdata: Any, mid: int, codes: list[Any], properties: Any
    ) -> None:
        self._suback_codes = list(codes)
        self._suback.set()

    def _on_unsubscribe(
        self, client: Client, userdata: Any, mid: int, codes: list[Any], properties: Any
    ) -> None:
        self._unsuback.set()

    def _on_disconnect(
        self, client: Client, userdata: Any, flags: Any, code: Any, properties: Any
    ) -> None:
        with self._cond:
            self._live = False
            self._cond.notify_all()
        self._gone.set()
        self._connack.set()  # a connection refused outright wakes the waiting connect too

    def _on_message(self, client: Client, userdata: Any, message: MQTTMessage) -> None:
        with self._cond:
            self._inbox.append((self._generation, message))
            if len(self._inbox) in (1, self.config.batch_messages):
                self._cond.notify_all()


def _stop_network(client: Client) -> None:
    """Stop the client's network thread and close the socket pair that wakes it: paho's
    ``loop_stop`` leaves the pair open until the client is collected, and ``loop_start``
    after a reconnection would open another."""
    client.loop_stop()
    client._reset_sockets(sockpair_only=True)


def _key(text: str) -> str:
    """A partition key the log takes: ``text``, or its MD5 when it is too long."""
    if len(text) <= MAX_KEY_CHARS:
        return text
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def open_feed(streams: Streams, name: str) -> MqttFeed:
    """The feed ``name`` of the project ``streams`` belong to."""
    from headwater.errors import ProjectError, did_you_mean
    from headwater.project.streams import MqttConnection

    project = streams.project
    feeds = project.config.feeds
    config = feeds.get(name)
    if config is None:
        raise ProjectError(
            f"no feed `{name}` in {project.file.name}{did_you_mean(name, feeds)}",
            hint="feeds are declared under `feeds:`"
            + (f"; there are: {', '.join(sorted(feeds))}" if feeds else ""),
        )
    connection = project.config.connections.get(config.connection)
    if not isinstance(connection, MqttConnection):
        raise ProjectError(
            f"feed `{name}`: connection `{config.connection}` is not an mqtt connection",
            hint="declare it under `connections:` with `type: mqtt`",
        )
    client_id = config.client_id_for(project.config.name, name)
    return MqttFeed(name, config, connection, streams, client_id)


def run_feeds(
    streams: Streams,
    names: list[str],
    stop: threading.Event | None = None,
    seconds: float | None = None,
    max_messages: int | None = None,
    progress: Progress | None = None,
) -> list[FeedReport]:
    """Run feeds side by side, each on its own thread, until ``stop`` (or each one's limit);
    the first that fails stops the others, and its error is raised once they have stopped."""
    stop = stop or threading.Event()
    feeds = [open_feed(streams, name) for name in names]
    if len(feeds) == 1:
        return [feeds[0].run(stop, seconds, max_messages, progress)]
    reports: dict[str, FeedReport] = {}
    failures: list[BaseException] = []

    def work(feed: MqttFeed) -> None:
        try:
            reports[feed.name] = feed.run(stop, seconds, max_messages, progress)
        except BaseException as exc:
            failures.append(exc)
            stop.set()

    threads = [
        threading.Thread(target=work, args=(feed,), name=f"feed-{feed.name}") for feed in feeds
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(IDLE_WAIT)
    finally:  # an interrupt here must not leave the feeds running with no one to stop them
        stop.set()
        for thread in threads:
            if thread.is_alive():
                thread.join()
    if failures:
        raise failures[0]
    return [reports[feed.name] for feed in feeds]
