"""One crawl: list, detect, infer, group, plan, then register (or import) the tables.

``crawl`` is a plain function of the lake and a storage, so a pipeline task can run it as
well as ``headwater crawl``. Stages hand over plain values (entries → detected formats →
probes → datasets → table plans → outcomes); each stage skips what it cannot use, with the
reason, and the crawl goes on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import duckdb

from headwater.connect.sql.duckdb_types import common_type
from headwater.connect.storage import FileEntry, Storage, attach
from headwater.errors import LakeError
from headwater.lake.catalog import Lake
from headwater.lake.crawl.discover import detect_all, hidden, listing
from headwater.lake.crawl.group import Dataset, group
from headwater.lake.crawl.importer import import_tables
from headwater.lake.crawl.infer import Probe, Sampling, infer
from headwater.lake.crawl.partitions import signature
from headwater.lake.crawl.plan import TablePlan, plan_table, table_name
from headwater.lake.crawl.register import Policy, register
from headwater.lake.crawl.registry import ExternalFile, ExternalTable
from headwater.lake.crawl.report import CrawlReport, SkippedFile
from headwater.project.base import IDENTIFIER

Recrawl = Literal["everything", "new-folders-only"]

# (stage, done, total): stages are listing, reading, sampling, registering / importing
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class CrawlOptions:
    """How to crawl: what to do with schema changes, what to look at, where tables go."""

    policy: Policy = "update"
    recrawl: Recrawl = "everything"
    import_files: bool = False  # load into Iceberg tables instead of registering the files
    sampling: Sampling = field(default_factory=Sampling)
    connection: str | None = None  # the files connection the storage belongs to (recorded)


def crawl(
    lake: Lake,
    storage: Storage,
    namespace: str,
    options: CrawlOptions = CrawlOptions(),
    progress: Progress | None = None,
) -> CrawlReport:
    """Find the datasets under ``storage`` and make each a table of ``namespace``."""
    if not IDENTIFIER.match(namespace):
        raise LakeError(
            f"namespace `{namespace}` must be letters, digits and underscores",
            hint="e.g. --namespace landing",
        )
    started = time.perf_counter()
    report = CrawlReport(
        storage.root, namespace, options.import_files, options.policy, options.recrawl
    )
    lock = threading.Lock()

    def skip(path: str, reason: str) -> None:
        with lock:
            report.skipped.append(SkippedFile(path, reason))

    tell = progress or (lambda stage, done, total: None)
    tell("listing", 0, 0)
    entries = listing(storage)
    report.files_seen = len(entries)
    for entry in entries:
        if hidden(entry.path):
            skip(entry.path, "a hidden or marker file (its name starts with `_` or `.`)")
    entries = [e for e in entries if not hidden(e.path)]
    root = storage.root.rstrip("/")
    registered = [] if options.import_files else _under(lake.external.tables(namespace), root)
    extend: dict[str, list[FileEntry]] = {}
    if options.recrawl == "new-folders-only":
        entries, extend = _new_folders(lake, registered, entries, root)
    known = _unchanged(lake, registered, entries, root)

    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        attach(storage, con)
        todo = [e for e in entries if e.path not in known]
        todo += [e for files in extend.values() for e in files]
        detected = detect_all(storage, todo, skip, _counter(tell, "reading", len(todo)))
        counted = _counter(tell, "sampling", len(detected))
        fine = options.recrawl == "new-folders-only"
        probes = infer(con, storage, detected, options.sampling, skip, counted, fine)
        by_path = {**known, **{p.path: p for p in probes}}
        plans = []
        if options.recrawl == "new-folders-only":  # every registered table, new folders or not
            for table in registered:
                added = [
                    by_path[e.path] for e in extend.get(table.full_name, []) if e.path in by_path
                ]
                plans.append(_extended(con, lake, table, added, root, skip))
        fresh = [by_path[e.path] for e in entries if e.path in by_path]
        taken = {t.name: t.location for t in lake.external.tables(namespace)}
        for dataset in group(fresh, skip):
            name = _unique(_label(dataset, root), dataset, root, taken, plans)
            plan = plan_table(con, dataset, name, root, skip)
            if plan is not None:
                plans.append(plan)
    finally:
        con.close()

    count = _counter(tell, "importing" if options.import_files else "registering", len(plans))
    if options.import_files:
        report.tables = import_tables(lake, namespace, plans, options.policy, storage, count)
    else:
        planned = {f"{namespace}.{p.name}" for p in plans}
        gone = [
            t
            for t in registered
            if t.full_name not in planned
            and t.status == "active"
            and options.recrawl == "everything"
        ]
        report.tables = register(
            lake, namespace, plans, options.policy, options.connection, gone, count
        )
    report.skipped.sort(key=lambda s: s.path)
    report.seconds = time.perf_counter() - started
    return report


def _under(tables: list[ExternalTable], root: str) -> list[ExternalTable]:
    """The registered tables whose folder is the crawl root or under it."""
    return [t for t in tables if t.location == root or t.location.startswith(root + "/")]


def _unchanged(
    lake: Lake, registered: list[ExternalTable], entries: list[FileEntry], root: str
) -> dict[str, Probe]:
    """Files registered before and unchanged since (same size and version): what the last
    crawl found about them stands, so a recrawl reads and samples only what changed."""
    listed = {e.path: e for e in entries}
    known: dict[str, Probe] = {}
    for table in registered:
        prefix = table.location[len(root) + 1 :] + "/" if table.location != root else ""
        types = dict(table.columns)
        for f in lake.external.files(table.full_name):
            entry = listed.get(prefix + f.path)
            if entry is None or (entry.size, entry.version) != (f.size, f.version):
                continue
            layout = table.layouts[f.layout]
            found = (
                tuple((n, types.get(n, "VARCHAR")) for n in layout.names)
                if layout.names
                else table.columns
            )
            known[entry.path] = Probe(entry, layout, found)
    return known


def _new_folders(
    lake: Lake, registered: list[ExternalTable], entries: list[FileEntry], root: str
) -> tuple[list[FileEntry], dict[str, list[FileEntry]]]:
    """Files in folders no registered table holds: those under a table's folder (its new
    partitions), by table; and the rest, which may make new tables."""
    known: set[str] = set()
    for table in registered:
        for f in lake.external.files(table.full_name):
            known.add(table.file_location(f.path).rsplit("/", 1)[0])
    fresh: list[FileEntry] = []
    extend: dict[str, list[FileEntry]] = {}
    for entry in entries:
        folder = f"{root}/{entry.path}".rsplit("/", 1)[0]
        if folder in known:
            continue
        owner = next(
            (t for t in registered if folder == t.location or folder.startswith(t.location + "/")),
            None,
        )
        if owner is None:
            fresh.append(entry)
        else:
            extend.setdefault(owner.full_name, []).append(entry)
    return fresh, extend


def _extended(
    con: duckdb.DuckDBPyConnection,
    lake: Lake,
    table: ExternalTable,
    probes: list[Probe],
    root: str,
    skip: Callable[[str, str], None],
) -> TablePlan:
    """``table`` with the files of its new folders that fit it; never a schema change."""
    files = list(lake.external.files(table.full_name))
    layouts = list(table.layouts)
    types = dict(table.columns)
    keys = tuple(
        p.name if p.hive else None for p in sorted(table.partitions, key=lambda p: p.level)
    )
    prefix = table.location[len(root) + 1 :] + "/" if table.location != root else ""
    for probe in probes:
        relative = probe.path[len(prefix) :]
        problem = _misfit(con, table, probe, types, keys, relative)
        if problem:
            skip(
                probe.path,
                f"{problem}; new-folders-only changes no schema — crawl with "
                "--recrawl everything to apply it",
            )
            continue
        if probe.layout not in layouts:
            layouts.append(probe.layout)
        files.append(
            ExternalFile(
                relative, probe.entry.size, probe.entry.version, layouts.index(probe.layout)
            )
        )
    return TablePlan(
        table.name,
        table.location,
        table.format,
        tuple(layouts),
        table.columns,
        table.partitions,
        tuple(sorted(files, key=lambda f: f.path)),
    )


def _misfit(
    con: duckdb.DuckDBPyConnection,
    table: ExternalTable,
    probe: Probe,
    types: dict[str, str],
    keys: tuple[str | None, ...],
    relative: str,
) -> str | None:
    if probe.layout.format != table.format:
        return f"a {probe.layout.format} file in {table.full_name}, a {table.format} table"
    if table.partitions and signature(relative) != keys:
        return f"its folders do not match the partitions of {table.full_name}"
    for name, kind in probe.columns:
        if name in types and common_type(con, [types[name], kind]) != types[name]:
            return f"column `{name}` is {kind} here but {types[name]} in {table.full_name}"
    return None


def _label(dataset: Dataset, root: str) -> str:
    return dataset.label or root.rsplit("/", 1)[-1] or "table"


def _unique(
    label: str, dataset: Dataset, root: str, taken: dict[str, str], plans: list[TablePlan]
) -> str:
    """A table name for ``dataset``: its label's, unless a table elsewhere has it."""
    location = f"{root}/{dataset.root}" if dataset.root else root
    base = table_name(label)
    used = {p.name for p in plans}
    name, n = base, 1
    while name in used or taken.get(name, location) != location:
        n += 1
        name = f"{base}_{n}"
    return name


def _counter(tell: Progress, stage: str, total: int) -> Callable[[int], None]:
    done = 0
    lock = threading.Lock()
    tell(stage, 0, total)

    def step(n: int) -> None:
        nonlocal done
        with lock:
            done += n
            tell(stage, done, total)

    return step
