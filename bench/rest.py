"""Benchmark: REST ingestion of the local music API, Headwater's REST resource against dlt's.

The music API (``examples/music_api/server.py``) serves ``--albums`` new releases; each
contender reads every album's tracks (parent → child, ``next`` links, pages of 50) with the
same concurrency and writes them to Parquet on local disk. Each run is a fresh child process
(imports are not timed); the API runs in this process, so it has a core of its own. The
median of ``--repeat`` runs is reported, with ratios against Headwater.

Contenders:
  headwater    RestResource.read() → typed Arrow (DuckDB over the spooled pages) → Parquet
  dlt          rest_api_source + pipeline.run(loader_file_format="parquet") to a local
               filesystem destination (extract, normalize, load; nested lists unnested
               into child tables, as dlt does by default)
  dlt_extract  the same source, pipeline.extract() only: just the HTTP part of dlt's run

    .venv/bin/python bench/rest.py --albums 800 --concurrency 8 --repeat 3

Not a test: nothing asserts on timings.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
SERVER = BENCH_DIR.parent / "examples" / "music_api" / "server.py"
CONTENDERS = ("headwater", "dlt", "dlt_extract")
TOKEN = "music-static-token"  # the music API's static bearer token: same auth for all


def music_api() -> ModuleType:
    """The example's music API server, loaded from its path (it is a script, not a package)."""
    spec = importlib.util.spec_from_file_location("music_api_server", SERVER)
    assert spec is not None and spec.loader is not None, SERVER
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # before running it: its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def headwater_run(url: str, concurrency: int, out: Path) -> tuple[int, float]:
    import pyarrow.parquet as pq

    from headwater.ingest.extraction import ReadContext
    from headwater.ingest.rest.resource import RestResource
    from headwater.project.http import HttpConnection, RestSource

    connection = HttpConnection.model_validate(
        {
            "base_url": url,
            "auth": {"type": "bearer", "token": TOKEN},
            "concurrency": concurrency,
        }
    )
    source = RestSource.model_validate(
        {
            "connection": "music",
            "tables": [
                {
                    "name": "new_releases",
                    "path": "/v1/browse/new-releases",
                    "records": "albums.items",
                    "paginate": {"type": "offset", "limit": 50, "total": "albums.total"},
                },
                {
                    "name": "album_tracks",
                    "path": "/v1/albums/{album_id}/tracks",
                    "params": {"limit": 50},
                    "records": "items",
                    "parent": {"table": "new_releases", "field": "id", "as": "album_id"},
                    "paginate": {"type": "next_url", "next": "next"},
                },
            ],
        }
    )
    resource = RestResource(source, source.table("album_tracks"), connection, out)
    started = time.perf_counter()
    extraction = resource.read(ReadContext())
    rows = 0
    with pq.ParquetWriter(out / "album_tracks.parquet", extraction.schema) as writer:
        for reader in extraction.readers:
            for batch in reader:
                writer.write_batch(batch)
                rows += batch.num_rows
    return rows, time.perf_counter() - started


def dlt_run(url: str, concurrency: int, out: Path, extract_only: bool) -> tuple[int, float]:
    os.environ["EXTRACT__WORKERS"] = str(concurrency)
    os.environ["RUNTIME__LOG_LEVEL"] = "WARNING"
    import dlt
    from dlt.sources.rest_api import rest_api_source

    config: Any = {
        "client": {"base_url": url, "auth": {"type": "bearer", "token": TOKEN}},
        "resources": [
            {
                "name": "new_releases",
                "endpoint": {
                    "path": "v1/browse/new-releases",
                    "data_selector": "albums.items",
                    "paginator": {
                        "type": "offset",
                        "limit": 50,
                        "offset_param": "offset",
                        "limit_param": "limit",
                        "total_path": "albums.total",
                    },
                },
            },
            {
                "name": "album_tracks",
                "parallelized": True,
                "endpoint": {
                    "path": "v1/albums/{resources.new_releases.id}/tracks",
                    "params": {"limit": 50},
                    "data_selector": "items",
                    "paginator": {"type": "json_link", "next_url_path": "next"},
                },
            },
        ],
    }
    source = rest_api_source(config).with_resources("album_tracks")
    pipeline = dlt.pipeline(
        pipeline_name="bench_rest",
        pipelines_dir=str(out / "pipelines"),
        destination=dlt.destinations.filesystem(bucket_url=(out / "lake").as_uri()),
        dataset_name="music",
    )
    started = time.perf_counter()
    if extract_only:
        info = pipeline.extract(source)
        seconds = time.perf_counter() - started
        rows = sum(
            m.get("items_count", 0)
            for m in info.asdict()["job_metrics"]
            if m.get("table_name") == "album_tracks"
        )
        return rows, seconds
    pipeline.run(source, loader_file_format="parquet")
    seconds = time.perf_counter() - started
    trace = pipeline.last_trace.last_normalize_info
    assert trace is not None
    return trace.row_counts.get("album_tracks", 0), seconds


def child(name: str, url: str, concurrency: int, out: Path) -> None:
    """Run one contender and print its numbers as JSON (the last line of stdout)."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    if name == "headwater":
        rows, seconds = headwater_run(url, concurrency, out)
    else:
        rows, seconds = dlt_run(url, concurrency, out, extract_only=name == "dlt_extract")
    print(json.dumps({"rows": rows, "seconds": seconds}))


def measure(name: str, url: str, concurrency: int, work: Path) -> dict[str, Any]:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        name,
        "--url",
        url,
        "--concurrency",
        str(concurrency),
        "--work-dir",
        str(work),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=False)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed"}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--albums", type=int, default=800, help="albums (8–20 tracks each)")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight")
    parser.add_argument("--repeat", type=int, default=3, help="runs per contender; median kept")
    parser.add_argument("--only", default="", help="comma list of contenders; default all")
    parser.add_argument("--work-dir", type=Path, default=BENCH_DIR / ".work" / "rest")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    work = args.work_dir.resolve()
    if args.child:
        child(args.child, args.url, args.concurrency, work / args.child)
        return 0

    server = music_api()
    only = [n for n in args.only.split(",") if n] or list(CONTENDERS)
    with server.MusicApi(server.Settings(albums=args.albums)) as api:
        expected = len(api.track_ids())
        print(
            f"music API: {args.albums} albums, {expected:,} tracks; "
            f"concurrency {args.concurrency}; median of {args.repeat}"
        )
        runs: dict[str, list[float]] = {name: [] for name in only}
        for attempt in range(args.repeat):
            for name in only:  # in rounds, so that load spikes hit every contender alike
                result = measure(name, api.url, args.concurrency, work)
                if "error" in result or result["rows"] != expected:
                    print(f"  [{attempt + 1}] {name}: FAILED {result}")
                    continue
                runs[name].append(result["seconds"])
                print(f"  [{attempt + 1}/{args.repeat}] {name}: {result['seconds']:.2f} s")
    medians = {n: statistics.median(s) for n, s in runs.items() if s}
    base = medians.get("headwater")
    print("\n| contender | seconds (median) | tracks/s | × Headwater's time |")
    print("|---|---:|---:|---:|")
    for name, seconds in medians.items():
        ratio = f"{seconds / base:.2f}" if base else "–"
        print(f"| {name} | {seconds:.2f} | {expected / seconds:,.0f} | {ratio} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
