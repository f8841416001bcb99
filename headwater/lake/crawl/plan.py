"""A dataset made into a table definition: its name, partitions, merged columns and files."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import duckdb

from headwater.lake.crawl.group import Dataset
from headwater.lake.crawl.infer import merge
from headwater.lake.crawl.layout import Columns, Layout
from headwater.lake.crawl.partitions import PartitionColumn, columns, common_signature, signature
from headwater.lake.crawl.registry import ExternalFile, ExternalTable


@dataclass(frozen=True)
class TablePlan:
    """What a crawl found for one table, before it is compared with what is registered."""

    name: str
    location: str  # the table's folder: a local path or an s3:// URL
    format: str
    layouts: tuple[Layout, ...]
    columns: Columns
    partitions: tuple[PartitionColumn, ...]
    files: tuple[ExternalFile, ...]

    def definition(self, namespace: str, connection: str | None) -> ExternalTable:
        return ExternalTable(
            namespace=namespace,
            name=self.name,
            location=self.location,
            format=self.format,
            layouts=self.layouts,
            columns=self.columns,
            partitions=self.partitions,
            connection=connection,
        )

    def partition_values(self) -> set[str]:
        return partition_folders(f.path for f in self.files)


def plan_table(
    con: duckdb.DuckDBPyConnection,
    dataset: Dataset,
    name: str,
    root: str,
    skip: Callable[[str, str], None],
) -> TablePlan | None:
    """The table for ``dataset`` under the storage root ``root``; files whose partition
    folders differ from most of the table's are skipped. None when no file is left."""
    prefix = f"{dataset.root}/" if dataset.root else ""
    relative = {p.path: p.path[len(prefix) :] for p in dataset.probes}
    keys = common_signature(relative.values())
    probes = []
    for probe in dataset.probes:
        if signature(relative[probe.path]) == keys:
            probes.append(probe)
        else:
            skip(
                probe.path,
                f"its folders under {dataset.root or 'the crawl root'} differ from the table's "
                f"partition layout ({_layout(keys)})",
            )
    if not probes:
        return None
    layouts: dict[Layout, int] = {}
    files = []
    for probe in probes:
        index = layouts.setdefault(probe.layout, len(layouts))
        files.append(
            ExternalFile(relative[probe.path], probe.entry.size, probe.entry.version, index)
        )
    merged = merge(con, [p.columns for p in probes])
    parts = columns(keys, (f.path for f in files))
    taken = {n for n, _ in merged}
    parts = tuple(p for p in parts if p.name not in taken)  # a column in the files wins
    location = f"{root.rstrip('/')}/{dataset.root}" if dataset.root else root.rstrip("/")
    return TablePlan(
        name=name,
        location=location,
        format=probes[0].layout.format,
        layouts=tuple(layouts),
        columns=merged,
        partitions=parts,
        files=tuple(files),
    )


def table_name(label: str) -> str:
    """A folder or file name made a table name: lower case, letters, digits and _."""
    text = re.sub(r"[^0-9a-z_]+", "_", label.lower()).strip("_")
    text = re.sub(r"_+", "_", text) or "table"
    return f"t_{text}" if text[0].isdigit() else text


def partition_folders(paths: Iterable[str]) -> set[str]:
    """The distinct partition folders of files (paths relative to the table's folder)."""
    return {p.rsplit("/", 1)[0] for p in paths if "/" in p}


def _layout(keys: tuple[str | None, ...]) -> str:
    if not keys:
        return "files directly in the table's folder"
    return "/".join(f"{k}=…" if k else "…" for k in keys) + "/"
