"""The table maintenance command: maintain (compaction, snapshot expiry, orphan-file removal)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
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
from headwater.cli.output import counted
from headwater.errors import HeadwaterError

if TYPE_CHECKING:
    from headwater.lake.maintenance import MaintenanceReport

SHOWN_ORPHANS = 20  # orphan paths listed per table; the rest are counted


@app.command()
@handles_errors
def maintain(
    table: Annotated[
        str | None, typer.Argument(help="Table name, NAMESPACE.NAME; every table when omitted.")
    ] = None,
    compact: Annotated[
        bool,
        typer.Option(
            "--compact/--no-compact",
            help="Rewrite small data files into files of the target size (one commit).",
        ),
    ] = True,
    expire: Annotated[
        bool,
        typer.Option(
            "--expire/--no-expire",
            help="Expire old snapshots and delete the files only they referenced.",
        ),
    ] = True,
    orphans: Annotated[
        bool,
        typer.Option(
            "--orphans/--no-orphans",
            help="Delete files under the table's location that no metadata references.",
        ),
    ] = True,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be done; change nothing.")
    ] = False,
    target_mb: Annotated[
        int | None,
        typer.Option(
            "--target-mb",
            min=1,
            help="Size of a compacted file.",
            show_default="lake.target_file_mb",
        ),
    ] = None,
    keep_last: Annotated[
        int, typer.Option("--keep-last", min=1, help="Snapshots of the current history to keep.")
    ] = 5,
    older_than: Annotated[
        str | None,
        typer.Option(
            "--older-than",
            help="Also keep every snapshot newer than this (90m, 12h, 7d, 2w): only older "
            "ones beyond --keep-last expire.",
        ),
    ] = None,
    orphan_age: Annotated[
        str,
        typer.Option(
            "--orphan-age",
            help="Only delete orphan files older than this, so a write in progress is never "
            "touched; keep it above your longest load.",
        ),
    ] = "1d",
    project: ProjectOpt = Path("."),
    var: VarOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Compact small files, expire old snapshots and delete orphan files, table by table.

    Readers see the same rows throughout, and the next load starts from the same cursor.

    Example: headwater maintain raw.events --keep-last 10 --older-than 7d --dry-run
    """
    from headwater.lake.maintenance import Maintenance

    options = Maintenance(
        compact=compact,
        expire=expire,
        orphans=orphans,
        dry_run=dry_run,
        target_bytes=target_mb << 20 if target_mb else None,
        keep_last=keep_last,
        older_than=_duration("--older-than", older_than) if older_than else None,
        orphan_age=_duration("--orphan-age", orphan_age),
    )
    out, err = consoles()
    ws = open_workspace(project, var)
    count = 1 if table else len(ws.lake.tables())
    with _Progress(err, count) as progress:
        reports = ws.maintain(table, options, progress)
    _show(out, err, reports, dry_run)


def _duration(option: str, text: str) -> timedelta:
    from headwater.durations import parse_duration

    try:
        return parse_duration(text)
    except HeadwaterError as exc:
        raise HeadwaterError(f"{option}: {exc.message}", hint=exc.hint) from None


class _Progress:
    """A spinner naming the table and step on a terminal; one line per step otherwise."""

    def __init__(self, console: Console, count: int) -> None:
        self.console = console
        self.count = count
        self.tables: list[str] = []
        self.shown: tuple[str, str] = ("", "")
        self._status = console.status("") if console.is_terminal else None

    def __enter__(self) -> _Progress:
        if self._status is not None:
            self._status.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._status is not None:
            self._status.__exit__(None, None, None)

    def __call__(self, table: str, step: str, rows: int = 0) -> None:
        if table not in self.tables:
            self.tables.append(table)
        where = f"{table} ({len(self.tables)}/{self.count})"
        if self._status is not None:
            done = f": {counted(rows, 'row')}" if rows else ""
            self._status.update(f"{where} {step}{done}")
        elif self.shown != (table, step):
            self.console.print(f"{where} {step}", highlight=False)
            self.shown = (table, step)


def _show(out: Console, err: Console, reports: list[MaintenanceReport], dry_run: bool) -> None:
    if not reports:
        out.print("[dim]no tables yet — run a pipeline first[/dim]")
        return
    view = Table(
        header_style="bold",
        title="dry run: nothing was changed" if dry_run else None,
        title_justify="left",
    )
    for name in ("table", "data files", "snapshots", "expired files", "orphan files"):
        view.add_column(name, justify="left" if name == "table" else "right")
    freed = 0
    for r in reports:
        if r.error is not None:
            view.add_row(r.table, "[red]failed[/red]", "", "", "")
            continue
        view.add_row(r.table, *_cells(r))
        freed += (r.expire.deleted_bytes if r.expire else 0) + (r.orphans.bytes if r.orphans else 0)
    out.print(view)
    for r in reports:
        if r.orphans and r.orphans.shared is not None:
            out.print(f"{r.table}: {r.orphans.shared}", highlight=False, soft_wrap=True)
        if r.orphans and r.orphans.orphans:
            verb = "would delete" if dry_run else "deleted"
            out.print(f"{r.table}: {verb} these orphan files", highlight=False)
            for f in r.orphans.orphans[:SHOWN_ORPHANS]:
                out.print(f"  {f.path}  {_size(f.bytes)}", highlight=False, soft_wrap=True)
            if len(r.orphans.orphans) > SHOWN_ORPHANS:
                out.print(f"  … and {len(r.orphans.orphans) - SHOWN_ORPHANS:,} more")
    verb = "would free" if dry_run else "freed"
    failed = [r for r in reports if r.error is not None]
    out.print(
        f"{len(reports) - len(failed)} table(s) maintained; {verb} {_size(freed)}", highlight=False
    )
    for r in failed:
        err.print(f"[bold red]error:[/bold red] {r.table}: {r.error}", highlight=False)
    if failed:
        raise typer.Exit(1)


def _cells(r: MaintenanceReport) -> tuple[str, str, str, str]:
    skipped = "[dim]skipped[/dim]"
    files = snapshots = expired = orphans = skipped
    if (c := r.compact) is not None:
        if c.committed:
            files = f"{c.files_before:,} → {c.files_after:,}"
        elif c.dry_run and c.rewritten:
            files = f"{c.files_before:,}, {c.rewritten:,} to rewrite"
        else:
            files = f"{c.files_before:,} [dim]unchanged[/dim]"
    if (e := r.expire) is not None:
        if e.dry_run and e.expired:
            snapshots = f"{e.snapshots_before:,}, {len(e.expired):,} to expire"
        elif e.expired:
            snapshots = f"{e.snapshots_before:,} → {e.snapshots_after:,}"
        else:
            snapshots = f"{e.snapshots_before:,} [dim]unchanged[/dim]"
        expired = f"{e.deleted_files:,} ({_size(e.deleted_bytes)})"
    if (o := r.orphans) is not None:
        orphans = f"{len(o.orphans):,} ({_size(o.bytes)})"
        if o.shared is not None:
            orphans += f" [yellow]{o.kept:,} kept: shared folder[/yellow]"
        if o.too_young:
            orphans += f" [dim]+{o.too_young:,} too new[/dim]"
    return files, snapshots, expired, orphans


@app.command()
@handles_errors
def relocate(project: ProjectOpt = Path("."), var: VarOpt = None, debug: DebugOpt = False) -> None:
    """Make a copied or moved project's lake its own, so it writes nothing outside its folder.

    Iceberg metadata holds absolute paths: after `cp -r myproj scratch`, the catalog in
    scratch/.headwater still points into myproj, and every command that uses the lake stops
    with an error naming both folders. This command registers each such table again on the
    copies of its files under this project's warehouse, in one commit per table: the current
    rows, schema, table properties and load cursor are kept (nothing is rewritten); snapshot
    history is not (the table starts again from one snapshot). A moved project works the
    same: only the copies in this folder are read. A copy whose tables stay in shared storage
    (an S3 warehouse) keeps them there and becomes a catalog of its own, so that its
    maintenance and the original's never delete each other's files.

    Example: cp -r myproj scratch && cd scratch && headwater relocate && headwater run
    """
    out, err = consoles()
    ws = open_workspace(project, var)
    original = ws.lake.copied_from()
    done = ws.relocate(lambda name: err.print(f"{name} relocating", highlight=False))
    if not done:
        where = ws.lake.warehouse.removeprefix("file://")
        if original is None:
            out.print(f"every table is already in this project's warehouse {where}; nothing to do")
        else:
            out.print(
                f"this catalog is now one of its own (it was made as {original}); its tables "
                f"stay in {where}",
                highlight=False,
                soft_wrap=True,
            )
        return
    for r in done:
        out.print(
            f"{r.table}: {r.files:,} file(s), {counted(r.rows, 'row')} now at "
            f"{r.location.removeprefix('file://')} (was {r.previous.removeprefix('file://')})",
            highlight=False,
            soft_wrap=True,
        )
    out.print(f"{len(done)} table(s) relocated; their snapshot history starts again here")
