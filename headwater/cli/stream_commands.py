"""The stream commands: create, list, describe, put, tail and delete streams; run feeds."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from headwater.cli.app import (
    DebugOpt,
    ProjectOpt,
    VarOpt,
    _size,
    app,
    consoles,
    handles_errors,
    open_workspace,
)
from headwater.cli.help_text import Typer
from headwater.cli.output import counted
from headwater.errors import HeadwaterError

if TYPE_CHECKING:
    from headwater.streams.delivery import DeliveryReport
    from headwater.streams.hub import Streams
    from headwater.streams.records import Entry, Position, Record

stream_app = Typer(
    help="Streams: append-only logs of events, sharded by key (like Kinesis data streams).",
    no_args_is_help=True,
)
app.add_typer(stream_app, name="stream")

PUT_BATCH = 500  # records sent in one put


@stream_app.command("create")
@handles_errors
def create(
    name: Annotated[str, typer.Argument(help="Stream name (letters, digits, _ . -).")],
    shards: Annotated[
        int | None,
        typer.Option(min=1, max=1024, help="Shards.", show_default="declared, else 1"),
    ] = None,
    retention: Annotated[
        str | None,
        typer.Option(help="How long records are kept: 90m, 24h, 7d.", show_default="24h"),
    ] = None,
    project: ProjectOpt = Path("."),
    var: VarOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Create a stream: on its declared connection when `streams:` names it, else on the
    embedded log under .headwater/streams.

    Example: headwater stream create clicks --shards 4 --retention 7d
    """
    from headwater.durations import parse_duration
    from headwater.streams.log import Retention

    out = consoles()[0]
    streams = open_workspace(project, var).streams
    kept = None
    if retention is not None:
        _, declared = streams.settings(name)
        hours = parse_duration(retention).total_seconds() / 3600
        kept = Retention(hours=hours, bytes=declared.bytes)
    info = streams.create(name, shards, kept)
    out.print(
        f"created stream [bold]{name}[/bold] on the {info.backend} backend: "
        f"{counted(len(info.shards), 'shard')}, records kept {info.retention.hours:g} h",
        highlight=False,
    )


@stream_app.command("list")
@handles_errors
def list_streams(
    project: ProjectOpt = Path("."), var: VarOpt = None, debug: DebugOpt = False
) -> None:
    """List the streams: declared ones that exist, and those on the embedded log."""
    out = consoles()[0]
    streams = open_workspace(project, var).streams
    view = Table(header_style="bold")
    for column in ("stream", "backend", "shards", "records", "size", "retention"):
        view.add_column(
            column, justify="right" if column in ("shards", "records", "size") else "left"
        )
    names = streams.names()
    for name in names:
        info = streams.describe(name)
        view.add_row(
            name,
            info.backend,
            f"{len(info.shards):,}",
            "?" if info.records is None else f"{info.records:,}",
            "?" if info.bytes is None else _size(info.bytes),
            f"{info.retention.hours:g} h",
        )
    if not names:
        out.print("no streams yet: `headwater stream create NAME` makes one")
        return
    out.print(view)


@stream_app.command("describe")
@handles_errors
def describe(
    name: Annotated[str, typer.Argument(help="Stream name.")],
    project: ProjectOpt = Path("."),
    var: VarOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Show a stream's shards: hash-key ranges, sequence numbers and record counts."""
    out = consoles()[0]
    info = open_workspace(project, var).streams.describe(name)
    out.print(
        f"[bold]{name}[/bold] on the {info.backend} backend, records kept "
        f"{info.retention.hours:g} h"
        + ("" if info.retention.bytes is None else f" and at most {_size(info.retention.bytes)}"),
        highlight=False,
    )
    view = Table(header_style="bold")
    for column in ("shard", "hash keys from", "to", "first sequence", "last sequence", "records"):
        view.add_column(column, justify="right" if column == "records" else "left")
    for state in info.shards:
        view.add_row(
            state.shard.id,
            str(state.shard.start_hash),
            str(state.shard.end_hash),
            state.first or "-",
            state.last or "-",
            "?" if state.records is None else f"{state.records:,}",
        )
    out.print(view)


@stream_app.command("put")
@handles_errors
def put(
    name: Annotated[str, typer.Argument(help="Stream name.")],
    file: Annotated[
        Path | None,
        typer.Option(
            "--file", "-f", help="JSON Lines file to read records from.", show_default="stdin"
        ),
    ] = None,
    data: Annotated[
        list[str] | None, typer.Option("--data", "-d", help="One record (repeatable).")
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(
            "--key",
            "-k",
            help="JSON field whose value is each record's partition key.",
            show_default="a random key per record",
        ),
    ] = None,
    project: ProjectOpt = Path("."),
    var: VarOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Put records into a stream: one per line of a file or of stdin, or each --data.

    Example: headwater stream put clicks --key session_id --file events.jsonl
    """
    from headwater.streams.producing import entries_from_lines

    out, err = consoles()
    streams = open_workspace(project, var).streams
    if data:
        lines: Iterator[bytes] = (d.encode() for d in data)
        source = "--data"
    elif file is not None:
        if not file.is_file():
            raise HeadwaterError(f"no file {file}", hint="give the path of a JSON Lines file")
        lines, source = _lines(file), str(file)
    else:
        if sys.stdin.isatty():
            err.print("reading records from stdin, one per line (Ctrl-D ends)")
        lines, source = iter(sys.stdin.buffer), "stdin"
    total = 0
    batch: list[Entry] = []
    try:
        for entry in entries_from_lines(lines, key, source):
            batch.append(entry)
            if len(batch) >= PUT_BATCH:
                total += _put(streams, name, batch)
                batch = []
        if batch:
            total += _put(streams, name, batch)
    except HeadwaterError as exc:
        if not total:
            raise
        # what went in stays in: running the whole input again would put it twice
        raise HeadwaterError(
            f"{exc.message} — the first {counted(total, 'record')} of {source} were put "
            f"into {name} before it",
            hint=f"{exc.hint + '; ' if exc.hint else ''}put only the records after the "
            f"first {total:,} again, or they are in the stream twice",
        ) from exc
    out.print(f"put {counted(total, 'record')} into {name}", highlight=False)


def _lines(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as f:
        yield from f


def _put(streams: Streams, name: str, batch: list[Entry]) -> int:
    results = streams.put(name, batch)
    failed = [r for r in results if not r.ok]
    if failed:
        raise HeadwaterError(
            f"{counted(len(failed), 'record')} of a batch of {len(batch):,} were not taken: "
            f"{failed[0].error}: {failed[0].message}",
            hint="records the server refused can be put again; check the stream's broker",
        )
    return len(results)


@stream_app.command("tail")
@handles_errors
def tail(
    name: Annotated[str, typer.Argument(help="Stream name.")],
    start: Annotated[
        str,
        typer.Option(
            "--from",
            help="Where to start in each shard: trim_horizon (oldest kept), latest, "
            "at:SEQUENCE, after:SEQUENCE, or an ISO time (2026-12-07T10:00:00Z).",
        ),
    ] = "trim_horizon",
    limit: Annotated[int, typer.Option(min=1, help="Records to print at most.")] = 20,
    follow: Annotated[
        bool, typer.Option("--follow", "-F", help="Keep printing new records until Ctrl-C.")
    ] = False,
    shard: Annotated[
        str | None, typer.Option(help="One shard only.", show_default="every shard")
    ] = None,
    project: ProjectOpt = Path("."),
    var: VarOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Print a stream's records as JSON lines: shard, sequence, key, arrival time and data.

    Example: headwater stream tail clicks --from latest --follow
    """
    streams = open_workspace(project, var).streams
    shards = [shard] if shard else streams.shards(name)
    positions = {s: parse_position(start) for s in shards}
    printed = 0
    while True:
        got = 0
        for s in shards:
            batch = streams.read(
                name, s, positions[s], limit=limit - printed if not follow else 500
            )
            positions[s] = batch.next
            for record in batch.records:
                sys.stdout.write(json.dumps(_shown(record)) + "\n")
                got += 1
                printed += 1
                if not follow and printed >= limit:
                    return
        sys.stdout.flush()
        if not follow and got == 0:
            return
        if follow and got == 0:
            time.sleep(0.2)


def _shown(record: Record) -> dict[str, object]:
    try:
        shown: object = json.loads(record.data)
    except ValueError:
        shown = record.data.decode(errors="replace")
    arrived = datetime.fromtimestamp(record.arrived_ms / 1000).astimezone()
    return {
        "shard": record.shard,
        "sequence": record.sequence,
        "key": record.partition_key,
        "arrived": arrived.isoformat(timespec="milliseconds"),
        "data": shown,
    }


def parse_position(text: str) -> Position:
    """``trim_horizon``, ``latest``, ``at:SEQ``, ``after:SEQ`` or an ISO time."""
    from headwater.streams.records import LATEST, TRIM_HORIZON, Position, Start

    lowered = text.strip().lower()
    if lowered == "trim_horizon":
        return TRIM_HORIZON
    if lowered == "latest":
        return LATEST
    if lowered.startswith("at:"):
        return Position.at(text.strip()[3:])
    if lowered.startswith("after:"):
        return Position.after(text.strip()[6:])
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise HeadwaterError(
            f"--from `{text}` is not a place in a stream",
            hint="use trim_horizon, latest, at:SEQUENCE, after:SEQUENCE or an ISO time such "
            "as 2026-12-07T10:00:00Z",
        ) from None
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return Position(Start.AT_TIMESTAMP, timestamp_ms=int(moment.timestamp() * 1000))


@stream_app.command("delete")
@handles_errors
def delete(
    name: Annotated[str, typer.Argument(help="Stream name.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask to confirm.")] = False,
    project: ProjectOpt = Path("."),
    var: VarOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Delete a stream and every record in it."""
    out = consoles()[0]
    streams = open_workspace(project, var).streams
    info = streams.describe(name)
    if not yes:
        records = "its records" if info.records is None else counted(info.records, "record")
        typer.confirm(f"delete stream {name} and {records}?", abort=True)
    streams.delete(name)
    out.print(f"deleted stream {name}", highlight=False)


@stream_app.command("process")
@handles_errors
def process(
    names: Annotated[
        list[str] | None,
        typer.Argument(help="Processors to run.", show_default="every one in headwater.yaml"),
    ] = None,
    once: Annotated[
        bool,
        typer.Option("--once", help="Process the records there now, then exit."),
    ] = False,
    flush_windows: Annotated[
        bool,
        typer.Option(
            "--flush-windows",
            help="With --once: emit the windows still open at the end (for a finished input; "
            "without it they stay open for the next run).",
        ),
    ] = False,
    project: ProjectOpt = Path("."),
    var: VarOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Run processors: read their streams, transform or aggregate over windows, route,
    checkpoint — until Ctrl-C or SIGTERM (the batch in hand is finished and checkpointed, the
    shards given back; open windows stay open), or with --once until what is there now is
    done. Run it in several processes to share the shards.

    Example: headwater stream process etl
    """
    from headwater.cli.processor_progress import ProcessorProgress
    from headwater.stopping import stop_gracefully

    out, err = consoles()
    if flush_windows and not once:
        raise HeadwaterError(
            "--flush-windows needs --once: a processor that goes on running emits each window "
            "when it closes",
            hint="use `headwater stream process --once --flush-windows`",
        )
    ws = open_workspace(project, var)
    chosen = names or ws.processor_names()
    if not chosen:
        raise HeadwaterError(
            "no processors in headwater.yaml",
            hint="declare one under `processors:` (see `headwater guide streams processors`)",
        )
    with stop_gracefully() as stop, ProcessorProgress(err, once=once) as progress:
        reports = ws.run_processors(
            chosen, once=once, flush_windows=flush_windows, stop=stop, progress=progress.update
        )
    for report in reports:
        out.print(progress.summary(report), highlight=False)


@stream_app.command("feed")
@handles_errors
def feed(
    names: Annotated[
        list[str] | None,
        typer.Argument(help="Feeds to run.", show_default="every feed under `feeds:`"),
    ] = None,
    seconds: Annotated[
        float | None,
        typer.Option("--for", min=0, help="Stop after this many seconds.", show_default="never"),
    ] = None,
    max_messages: Annotated[
        int | None,
        typer.Option(min=1, help="Stop each feed after it put this many messages."),
    ] = None,
    project: ProjectOpt = Path("."),
    var: VarOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Run MQTT feeds: put their topics' messages into their streams until Ctrl-C or SIGTERM,
    which put what is buffered, acknowledge it to the broker and exit 0.

    Example: headwater stream feed sensors --for 60
    """
    from headwater.cli.feed_progress import FeedProgress
    from headwater.stopping import stop_gracefully

    out, err = consoles()
    ws = open_workspace(project, var)
    chosen = names or sorted(ws.project.config.feeds)
    if not chosen:
        raise HeadwaterError(
            "no feeds in headwater.yaml",
            hint="declare one under `feeds:` (see `headwater guide streams mqtt-feeds`)",
        )
    with FeedProgress(chosen, err) as progress, stop_gracefully() as stop:
        reports = ws.run_feeds(
            chosen, seconds=seconds, max_messages=max_messages, stop=stop, progress=progress
        )
    for report in reports:
        extra = [
            f"{counted(report.errors, 'message')} to {report.stream}__errors"
            if report.errors
            else "",
            f"{counted(report.duplicates, 'duplicate')} dropped" if report.duplicates else "",
            f"{counted(report.reconnects, 'reconnection')}" if report.reconnects else "",
        ]
        shown = "; ".join(e for e in extra if e)
        out.print(
            f"feed {report.feed}: {counted(report.records, 'record')} into {report.stream} "
            f"in {report.seconds:.1f} s ({report.rate:,.0f}/s)" + (f"; {shown}" if shown else ""),
            highlight=False,
        )


@stream_app.command("run")
@handles_errors
def run(
    deliveries: Annotated[
        list[str] | None,
        typer.Argument(help="Deliveries to run.", show_default="every declared one"),
    ] = None,
    once: Annotated[
        bool,
        typer.Option("--once", help="Deliver what the stream holds now, then exit."),
    ] = False,
    project: ProjectOpt = Path("."),
    var: VarOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Run deliveries until Ctrl-C or SIGTERM, which flush what is buffered, commit it, give
    the shards back and exit 0. Several processes running one delivery share its shards.

    Example: headwater stream run clicks_to_lake --once
    """
    from headwater.stopping import stop_gracefully

    out, err = consoles()
    ws = open_workspace(project, var)

    def line(reports: list[DeliveryReport]) -> None:
        if err.is_terminal:
            shown = "  ".join(
                f"{r.delivery}: {r.records_read:,} in, {r.records_written:,} out, "
                f"{counted(r.errors, 'error')}, {r.behind_ms / 1000:.1f}s behind"
                for r in reports
            )
            err.print(shown, end="\r", highlight=False, soft_wrap=True)

    with stop_gracefully() as stop:
        reports = ws.run_deliveries(deliveries or (), once=once, stop=stop, progress=line)
    for report in reports:
        out.print(
            f"{report.delivery}: {counted(report.records_read, 'record')} read, "
            f"{report.records_written:,} delivered, {report.errors:,} to errors, "
            f"{counted(report.files, 'file')}, {counted(report.snapshots, 'snapshot')}",
            highlight=False,
        )


@stream_app.command("lag")
@handles_errors
def lag(
    consumer: Annotated[
        str | None,
        typer.Argument(help="One consumer (delivery:NAME, or a processor).", show_default="all"),
    ] = None,
    rate: Annotated[
        float | None,
        typer.Option(
            "--rate",
            min=0.1,
            help="Also measure throughput over this many seconds: records/s put into each "
            "shard (in) and finished by each consumer (out).",
        ),
    ] = None,
    project: ProjectOpt = Path("."),
    var: VarOpt = None,
    debug: DebugOpt = False,
) -> None:
    """How far each delivery and processor is behind, per stream and shard: records and
    seconds behind, last delivery, records delivered and failed; with --rate, the records per
    second put into each shard and finished by each consumer.

    Example: headwater stream lag delivery:clicks_to_lake
    """
    out, err = consoles()
    ws = open_workspace(project, var)
    speeds = {}
    if rate is not None:
        err.print(f"measuring throughput for {rate:g} s…", highlight=False)
        speeds = {(r.consumer, r.stream, r.shard): r for r in ws.stream_rates(rate, consumer)}
    rows = ws.stream_lag(consumer)
    if not rows:
        out.print("no consumer has delivered anything yet", highlight=False)
        return
    table = Table(
        "consumer",
        "stream",
        "shard",
        "sequence",
        "records behind",
        "behind",
        "last delivery",
        "delivered",
        "errors",
        *(("in/s", "out/s") if rate is not None else ()),
    )
    for r in rows:
        speed = speeds.get((r.consumer, r.stream, r.shard))
        measured: tuple[str, ...] = ()
        if rate is not None:
            measured = (
                "?" if speed is None or speed.put is None else f"{speed.put:,.0f}",
                "?" if speed is None else f"{speed.done:,.0f}",
            )
        table.add_row(
            r.consumer,
            r.stream,
            r.shard,
            r.sequence,
            "?" if r.records_behind is None else f"{r.records_behind:,}",
            f"{r.ms_behind / 1000:.1f}s",
            r.last_delivery.strftime("%Y-%m-%d %H:%M:%S"),
            f"{r.delivered:,}",
            f"{r.errors:,}",
            *measured,
        )
    out.print(table)
