"""Streams: producer → embedded log → delivery → committed Iceberg rows, 200-byte JSON events.

    .venv/bin/python bench/streams.py [--events 200000] [--latency-seconds 20]
    .venv/bin/python bench/streams.py --backend redis|nats [--events 200000]
    .venv/bin/python bench/streams.py --concurrent [--producers 1] [--events 1000000] [--runs 3]

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

With ``--concurrent`` the whole path runs at once, end to end: a delivery (``headwater stream
run d``, 16 MB / 1 s buffer) runs on core 0 and holds its shards; then N producer processes
on core 1 (each a long-running application: started, workspace open, then released together)
put N-th shares of the events, each serialising its events with ``json.dumps`` and putting
batches of 5,000. The clock runs from the first put to the moment the table's current snapshot
holds every event (the bench, on core 1, reads the catalog every 100 ms while the producers
put, every 20 ms after); then the delivery is stopped and the table's row count and distinct
ids are checked. Beside it, from the same run: the same producers alone (no delivery running),
and the delivery alone over what they put (``--once`` on core 0; its rate is given as a whole
process, and from the moment it holds its shards, which leaves out the interpreter's start as
the concurrent delivery's start is). Each side's CPU per event is reported too, and how many
cores other work kept busy meanwhile (from ``/proc/stat``): on a shared machine a pinned
process gets only part of its core.
Cores are pinned with ``os.sched_setaffinity``.

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
from collections.abc import Callable
from pathlib import Path

import psutil
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from headwater.streams.records import Entry  # noqa: E402
from headwater.workspace import Workspace  # noqa: E402

WORK = REPO / "bench" / ".work" / "streams"
HEADWATER = REPO / ".venv" / "bin" / "headwater"
PAD = "x" * 200
BATCH = 5000  # events a producer puts at once


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
    """About 200 bytes of JSON, serialised once (as a producer does): the padding is spliced
    into the closing quote of an empty ``pad``."""
    country = "USA" if i % 3 else "FR"
    text = json.dumps({"id": i, "user": f"u{i % 9973}", "country": country, "ts": ts, "pad": ""})
    return (text[:-2] + PAD[: max(0, 200 - len(text))] + '"}').encode()


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


def pinned(core: int) -> Callable[[], None]:
    """A ``preexec_fn`` that pins the child (and every thread it starts) to ``core``."""
    return lambda: os.sched_setaffinity(0, {core})


def producer(root: Path, stream: str, first: int, count: int, core: int) -> None:
    """One producer process (``--produce``): pinned to ``core``, workspace open, it says
    ``ready`` and waits for a line on stdin; then it puts events ``first`` … ``first+count-1``
    in batches and prints when it began and ended and the CPU seconds it spent between."""
    os.sched_setaffinity(0, {core})
    with Workspace.open(root) as ws:
        ws.streams.describe(stream)  # the backend open, the stream found: what a warm app has
        print("ready", flush=True)
        sys.stdin.readline()
        cpu, began = time.process_time(), time.monotonic()
        for at in range(first, first + count, BATCH):
            batch = [Entry(event(i), str(i)) for i in range(at, min(first + count, at + BATCH))]
            ws.streams.put(stream, batch)
        ended, cpu = time.monotonic(), time.process_time() - cpu
    print(json.dumps({"began": began, "ended": ended, "cpu": cpu}))


def producers(root: Path, events: int, n: int, core: int = 1) -> list[subprocess.Popen[str]]:
    """``n`` producer processes of ``events`` between them, each ready and waiting for go."""
    procs = []
    for k in range(n):
        first, last = events * k // n, events * (k + 1) // n
        cmd = [sys.executable, __file__, "--produce", str(root), "events"]
        cmd += [str(first), str(last - first), str(core)]
        procs.append(
            subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        )
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return procs


def go(procs: list[subprocess.Popen[str]]) -> None:
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()


def finished(procs: list[subprocess.Popen[str]]) -> tuple[float, float, float]:
    """(first put began, last put ended, CPU seconds) over the producers, once they exited."""
    done = []
    for proc in procs:
        out, _ = proc.communicate()
        if proc.returncode != 0:
            raise SystemExit(f"a producer failed ({proc.returncode})")
        done.append(json.loads(out.strip().splitlines()[-1]))
    return (
        min(d["began"] for d in done),
        max(d["ended"] for d in done),
        sum(d["cpu"] for d in done),
    )


def leased(ws: Workspace) -> int:
    """Shards the delivery holds now, as the store has its leases."""
    import sqlalchemy as sa

    from headwater.state import schema

    leases = schema.stream_leases
    query = sa.select(sa.func.count()).where(
        leases.c.consumer == "delivery:d", ~leases.c.shard.startswith("@")
    )
    with ws.store.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def committed(ws: Workspace) -> int:
    """Rows in the table's current snapshot (0 before the first commit)."""
    current = ws.lake.current_metadata("raw.events")
    return int(current.summary.get("total-records", 0)) if current is not None else 0


def busy() -> float:
    """CPU seconds the whole machine has spent busy (every core, every process) so far."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def end_to_end(events: int, n: int, seconds: float) -> dict[str, float]:
    """Producers and the delivery at once, and each alone, on the same events (see above).

    Besides the wall-clock rates, the CPU seconds each side spent per event: on a machine
    shared with other work a pinned process gets only part of its core, and the CPU per event
    says what each side would do with its core to itself."""
    os.sched_setaffinity(0, {1})  # this process polls beside the producers, not the delivery
    # alone: the producers with no delivery running, then the delivery over what they put
    root = project(f"alone-{events}", seconds=seconds, mb=16)
    with Workspace.open(root) as ws:
        ws.streams.create("events")
    procs = producers(root, events, n)
    go(procs)
    began, ended, alone_producer_cpu = finished(procs)
    produce_s = ended - began
    cmd = [str(HEADWATER), "stream", "run", "d", "--once", "-p", str(root)]
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    with Workspace.open(root) as ws:
        started = time.monotonic()
        delivery = subprocess.Popen(cmd, stdout=subprocess.PIPE, preexec_fn=pinned(0), text=True)
        holding = None
        while delivery.poll() is None:
            if holding is None and leased(ws) == 4:
                holding = time.monotonic()
            time.sleep(0.05)
        finished_at = time.monotonic()
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    alone_delivery_cpu = used.ru_utime + used.ru_stime - children.ru_utime - children.ru_stime
    if delivery.returncode != 0:
        raise SystemExit("the delivery failed")
    assert rows(root) == (events, events)
    deliver_s = finished_at - started
    deliver_work_s = finished_at - (holding or started)
    shutil.rmtree(root)

    # together: the delivery holds its shards, then the producers go
    root = project(f"e2e-{events}", seconds=seconds, mb=16)
    with Workspace.open(root) as ws:
        ws.streams.create("events")
        cmd = [str(HEADWATER), "stream", "run", "d", "-p", str(root)]
        delivery = psutil.Popen(cmd, stdout=subprocess.PIPE, preexec_fn=pinned(0), text=True)
        while leased(ws) < 4:
            if delivery.poll() is not None:
                raise SystemExit("the delivery stopped")
            time.sleep(0.05)
        procs = producers(root, events, n)
        delivery_cpu = sum(delivery.cpu_times()[:2])
        machine, mine = busy(), time.process_time()
        go(procs)
        while committed(ws) < events:
            if delivery.poll() is not None:
                raise SystemExit("the delivery stopped")
            # a look costs about half a millisecond of the producers' core: seldom while
            # they put, often once they are done (the tail is what is measured then)
            time.sleep(0.1 if any(p.poll() is None for p in procs) else 0.02)
        visible = time.monotonic()
        delivery_cpu = sum(delivery.cpu_times()[:2]) - delivery_cpu
        machine, mine = busy() - machine, time.process_time() - mine
    delivery.terminate()
    delivery.communicate(timeout=120)
    if delivery.returncode != 0:
        raise SystemExit(f"the delivery failed on stopping ({delivery.returncode})")
    began, ended, producer_cpu = finished(procs)
    count, distinct = rows(root)
    assert count == distinct == events, (count, distinct, events)
    elapsed = visible - began
    shutil.rmtree(root)
    us = 1e6 / events
    return {
        "events": events,
        "producers": n,
        "end_to_end_s": elapsed,
        "end_to_end_eps": events / elapsed,
        "concurrent_produce_eps": events / (ended - began),
        "tail_s": visible - ended,  # the last put to the last row queryable
        "producer_cpu_us": producer_cpu * us,  # CPU per event, all producers together
        "delivery_cpu_us": delivery_cpu * us,  # CPU per event, from the first put to the end
        "producer_core_share": producer_cpu / (ended - began),  # of core 1 while they put
        "delivery_core_share": delivery_cpu / elapsed,  # of core 0 over the run
        # cores busy with other work over the run (of 2): what the pinned processes shared
        "others_cores": (machine - delivery_cpu - producer_cpu - mine) / elapsed,
        "alone_produce_eps": events / produce_s,
        "alone_producer_cpu_us": alone_producer_cpu * us,
        "alone_deliver_eps": events / deliver_s,  # the whole process, start included
        "alone_deliver_work_eps": events / deliver_work_s,  # from holding its shards
        "alone_delivery_cpu_us": alone_delivery_cpu * us,  # the whole process
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
    parser.add_argument("--concurrent", action="store_true", help="producers and delivery at once")
    parser.add_argument("--producers", type=int, default=1, help="producer processes (core 1)")
    parser.add_argument("--runs", type=int, default=3, help="--concurrent: runs, median kept")
    parser.add_argument("--buffer-seconds", type=float, default=1.0, help="--concurrent")
    parser.add_argument("--raw", nargs="+", help=argparse.SUPPRESS)  # backend stream counts…
    parser.add_argument("--produce", nargs=5, help=argparse.SUPPRESS)  # root stream first n core
    args = parser.parse_args()
    if args.produce:  # one producer, in the process `producers` starts
        root, stream, first, count, core = args.produce
        producer(Path(root), stream, int(first), int(count), int(core))
        return
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
    if args.concurrent:
        runs = []
        for _ in range(args.runs):
            runs.append(end_to_end(args.events, args.producers, args.buffer_seconds))
            print("end_to_end", json.dumps(runs[-1]), flush=True)
            print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
        median = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        print("median", json.dumps(median))
        return
    for n in (args.events, args.events * 10):
        print("throughput", json.dumps(throughput(n)))
    print("latency", json.dumps(latency(args.latency_seconds)))


if __name__ == "__main__":
    main()
