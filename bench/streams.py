"""Streams: producer → embedded log → delivery → committed Iceberg rows, 200-byte JSON events.

    .venv/bin/python bench/streams.py [--events 200000] [--latency-seconds 20]
    .venv/bin/python bench/streams.py --backend redis|nats [--events 200000]

Three measurements, each in a fresh project under bench/.work/streams:

1. throughput: N events are put into a 4-shard stream (the producer's rate is reported), then
   ``headwater stream run d --once`` delivers them, pinned to one core (``taskset -c 0``) and
   timed as a whole process (interpreter start included), with its peak RSS;
2. memory: the same at 10 N events — the peak RSS of the delivery should stay flat;
3. latency: a delivery with a 1 s buffer interval runs (one core) while a producer puts 500
   events a second stamped with their put time; the bench watches the table's snapshots and
   takes, per event, the time from its put to the first snapshot holding it (p50, p99).

With ``--backend redis`` or ``nats`` the stream lives on the local broker (Redis at
127.0.0.1:6379, NATS JetStream at 127.0.0.1:4222, declared through a connection), and the
delivery is compared in the same run with a raw consume-only loop of the same client over the
same records — redis-py ``XRANGE`` pages, a nats-py pull consumer's ``fetch`` — pinned to the
same core and timed as a whole process too; the target is a delivery at ≥ 0.5× the raw loop.
Both run in this environment, so with the same client library and the same reply parser
(redis-py takes hiredis, a dependency of Headwater, wherever it is installed; the raw loop
reports the parser it used). The raw loop reads as a user of redis-py does (``xrange``, its
reply parsed into an id and a dict per entry); the delivery asks for replies as Redis sent
them and pauses the garbage collector while it reads one (see
``headwater/streams/redis_entries.py``). Each side's CPU seconds are reported beside its wall
time: on a machine shared with other work they say what waiting for a core hides.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from headwater.streams.records import Entry  # noqa: E402
from headwater.workspace import Workspace  # noqa: E402

WORK = REPO / "bench" / ".work" / "streams"
HEADWATER = REPO / ".venv" / "bin" / "headwater"
PAD = "x" * 120


BROKERS = {"redis": "redis://127.0.0.1:6379/0", "nats": "nats://127.0.0.1:4222"}
READ = 10_000  # records a raw loop asks for at once: what a delivery asks a shard for


def project(
    name: str, seconds: float, mb: float = 16, backend: str = "embedded", stream: str = "events"
) -> Path:
    root = WORK / name
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    declared: dict[str, object] = {"shards": 4}
    config: dict[str, object] = {"name": "bench_streams"}
    if backend != "embedded":
        config["connections"] = {"bus": {"type": backend, "url": BROKERS[backend]}}
        declared["connection"] = "bus"
    config |= {
        "streams": {stream: declared},
        "deliveries": {
            "d": {
                "stream": stream,
                "table": "raw.events",
                "buffer": {"seconds": seconds, "mb": mb},
            }
        },
    }
    (root / "headwater.yaml").write_text(yaml.safe_dump(config))
    return root


def event(i: int, ts: float = 0.0) -> bytes:
    body = {"id": i, "user": f"u{i % 9973}", "country": "USA" if i % 3 else "FR", "ts": ts}
    data = json.dumps({**body, "pad": PAD[: max(0, 200 - len(json.dumps(body)) - 10)]})
    return data.encode()


def produce(root: Path, events: int, stream: str = "events") -> float:
    """Put ``events`` events; returns the seconds it took."""
    started = time.perf_counter()
    with Workspace.open(root) as ws:
        for first in range(0, events, 5000):
            batch = [
                Entry(event(i), partition_key=str(i))
                for i in range(first, min(events, first + 5000))
            ]
            ws.streams.put(stream, batch)
    return time.perf_counter() - started


def deliver(root: Path) -> tuple[float, int, str]:
    """``headwater stream run d --once`` on one core: (seconds, peak RSS bytes, output)."""
    cmd = ["taskset", "-c", "0", str(HEADWATER), "stream", "run", "d", "--once", "-p", str(root)]
    started = time.perf_counter()
    process = psutil.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak = 0
    while process.poll() is None:
        try:
            peak = max(peak, process.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.05)
    out = process.stdout.read() if process.stdout else ""
    elapsed = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"delivery failed:\n{out}")
    return elapsed, peak, out


def rows(root: Path) -> tuple[int, int]:
    with Workspace.open(root) as ws:
        result = ws.query("SELECT count(*) AS n, count(DISTINCT id) AS d FROM raw.events")
        row = result.to_pylist()[0]
        return int(row["n"]), int(row["d"])


def throughput(events: int) -> dict[str, float]:
    root = project(f"throughput-{events}", seconds=60, mb=16)
    put_s = produce(root, events)
    deliver_s, peak, _ = deliver(root)
    count, distinct = rows(root)
    assert count == distinct == events, (count, distinct, events)
    return {
        "events": events,
        "produce_s": put_s,
        "produce_eps": events / put_s,
        "deliver_s": deliver_s,
        "deliver_eps": events / deliver_s,
        "end_to_end_eps": events / (put_s + deliver_s),
        "peak_rss_mb": peak / 2**20,
    }


def raw_redis(stream: str, shards: int) -> tuple[int, str]:
    """Every record of the stream's shards, read with redis-py ``XRANGE`` pages, as a user
    of redis-py reads them; with the reply parser redis-py used (hiredis when installed)."""
    import redis

    client = redis.Redis.from_url(BROKERS["redis"])
    n = 0
    for index in range(shards):
        key, start = f"hw:stream:{stream}:{index}", "-"
        while rows := client.xrange(key, start, "+", count=READ):
            n += len(rows)
            start = "(" + rows[-1][0].decode()
    connection = client.connection_pool.get_connection()
    parser = type(getattr(connection, "_parser", None)).__name__
    client.connection_pool.release(connection)
    client.close()
    return n, parser


def raw_nats(stream: str, counts: list[int]) -> int:
    """Every record of the stream's shards, fetched by a nats-py pull consumer per shard."""
    import asyncio

    import nats
    from nats.js import api

    from headwater.streams.nats_log import stream_name, subject

    async def consume() -> int:
        nc = await nats.connect(BROKERS["nats"])
        js = nc.jetstream()
        n = 0
        for index, count in enumerate(counts):
            config = api.ConsumerConfig(
                ack_policy=api.AckPolicy.NONE,
                deliver_policy=api.DeliverPolicy.ALL,
                mem_storage=True,
                inactive_threshold=30,
            )
            sub = await js.pull_subscribe(
                subject(stream, index), stream=stream_name(stream), config=config
            )
            got = 0
            while got < count:
                got += len(await sub.fetch(min(READ, count - got), timeout=10))
            await sub.unsubscribe()
            n += got
        await nc.close()
        return n

    return asyncio.run(consume())


def children_cpu() -> float:
    """CPU seconds (user + system) of the child processes waited for so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def consume_raw(backend: str, stream: str, counts: list[int]) -> tuple[float, float, int, str]:
    """The raw loop in its own process on core 0, timed as a whole: (seconds, CPU seconds,
    records, the client's reply parser)."""
    cmd = ["taskset", "-c", "0", sys.executable, __file__, "--raw", backend, stream]
    cmd += [str(c) for c in counts]
    cpu = children_cpu()
    started = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    elapsed = time.perf_counter() - started
    n, _, parser = out.strip().partition(" ")
    return elapsed, children_cpu() - cpu, int(n), parser


def broker(backend: str, events: int) -> dict[str, float | str]:
    """Put ``events`` on the broker; time the raw loop, then the delivery, over them."""
    stream = f"bench_{os.getpid()}_{events}"
    root = project(f"{backend}-{events}", seconds=60, mb=16, backend=backend, stream=stream)
    try:
        put_s = produce(root, events, stream)
        with Workspace.open(root) as ws:
            counts = [s.records or 0 for s in ws.streams.describe(stream).shards]
        if backend == "redis":  # the shards' counts as Redis holds them (XLEN)
            import redis

            client = redis.Redis.from_url(BROKERS["redis"])
            counts = [client.xlen(f"hw:stream:{stream}:{i}") for i in range(len(counts))]
            client.close()
        assert sum(counts) == events, (counts, events)
        raw_s, raw_cpu, raw_n, parser = consume_raw(backend, stream, counts)
        assert raw_n == events, (raw_n, events)
        cpu = children_cpu()
        deliver_s, peak, _ = deliver(root)
        deliver_cpu = children_cpu() - cpu
        count, distinct = rows(root)
        assert count == distinct == events, (count, distinct, events)
    finally:
        with Workspace.open(root) as ws:
            ws.streams.delete(stream)
    return {
        "backend": backend,
        "events": events,
        "produce_s": put_s,
        "produce_eps": events / put_s,
        "raw_s": raw_s,
        "raw_eps": events / raw_s,
        "raw_cpu_s": raw_cpu,
        "deliver_s": deliver_s,
        "deliver_eps": events / deliver_s,
        "deliver_cpu_s": deliver_cpu,
        "ratio": raw_s / deliver_s,
        "cpu_ratio": raw_cpu / deliver_cpu,
        "peak_rss_mb": peak / 2**20,
        "parser": parser,  # the raw loop's; the delivery runs in the same environment
    }


def latency(seconds: float) -> dict[str, float]:
    root = project("latency", seconds=1, mb=16)
    with Workspace.open(root) as ws:
        ws.streams.create("events")
    cmd = ["taskset", "-c", "0", str(HEADWATER), "stream", "run", "d", "-p", str(root)]
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seen: list[tuple[float, int]] = []  # (time observed, snapshot id)
    stop = threading.Event()

    def watch() -> None:
        with Workspace.open(root) as ws:
            last = None
            while not stop.is_set():
                current = ws.lake.current_metadata("raw.events")
                snapshot = current.current_snapshot if current is not None else None
                sid = int(snapshot["snapshot-id"]) if snapshot else None
                if sid is not None and sid != last:
                    seen.append((time.time(), sid))
                    last = sid
                time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    time.sleep(3)  # the delivery has started and holds its shards
    put_at: dict[int, float] = {}
    with Workspace.open(root) as ws:
        i, end = 0, time.time() + seconds
        while time.time() < end:
            now = time.time()
            batch = [Entry(event(i + k, now), partition_key=str(i + k)) for k in range(5)]
            ws.streams.put("events", batch)
            for k in range(5):
                put_at[i + k] = now
            i += 5
            time.sleep(0.01)
    time.sleep(3)
    process.terminate()
    process.wait(timeout=60)
    stop.set()
    watcher.join()
    first_seen: dict[int, float] = {}
    with Workspace.open(root) as ws:
        table = ws.lake.table("raw.events")
        for observed, sid in seen:
            ids = table.scan(snapshot_id=sid, selected_fields=("id",)).to_arrow().column("id")
            for value in ids.to_pylist():
                first_seen.setdefault(value, observed)
    delays = sorted(first_seen[k] - t for k, t in put_at.items() if k in first_seen)
    missing = len(put_at) - len(delays)
    return {
        "events": len(put_at),
        "missing": missing,
        "p50_s": statistics.median(delays),
        "p99_s": delays[int(len(delays) * 0.99) - 1],
        "max_s": delays[-1],
        "snapshots": len(seen),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--latency-seconds", type=float, default=20)
    parser.add_argument("--backend", choices=["embedded", "redis", "nats"], default="embedded")
    parser.add_argument("--raw", nargs="+", help=argparse.SUPPRESS)  # backend stream counts…
    args = parser.parse_args()
    if args.raw:  # the raw consume-only loop, in the process `consume_raw` starts
        backend, stream, *counts = args.raw
        shards = [int(c) for c in counts]
        if backend == "redis":
            print(*raw_redis(stream, len(shards)))
        else:
            print(raw_nats(stream, shards), "nats-py")
        return
    WORK.mkdir(parents=True, exist_ok=True)
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    print(f"machine: {os.cpu_count()} cores (nproc {len(os.sched_getaffinity(0))}), {cpu}")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.backend != "embedded":
        print("broker", json.dumps(broker(args.backend, args.events)))
        return
    for n in (args.events, args.events * 10):
        print("throughput", json.dumps(throughput(n)))
    print("latency", json.dumps(latency(args.latency_seconds)))


if __name__ == "__main__":
    main()
