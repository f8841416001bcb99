"""Which files make one table: Glue's rule, folder by folder from the leaves up.

A folder is one table (its subfolders become partitions) when its files and subfolders share
one format and most of them are alike — at least half of their columns in common — or when
its subfolders are Hive partitions (``key=value``). Otherwise each subfolder is a table of its
own (or several), and the folder's own files make a table named after the folder. Below the
crawl root a folder holding a single subfolder is one table with it; at the root it is not,
so crawling ``s3://bucket/`` with just ``sales/`` under it gives the table ``sales``.

Files of another format than most files of their folder are skipped ("mixed formats"); with
no strict majority each format makes its own table.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from headwater.lake.crawl.infer import Probe

# Two schemas are alike when at least this share of all their columns is in both.
ALIKE = 0.5


@dataclass(frozen=True)
class Dataset:
    """Files that make one table: rooted at ``root`` (a folder relative to the crawl root,
    "" for the root itself); ``label`` names it (the folder, or folder and file)."""

    root: str
    label: str
    probes: tuple[Probe, ...]


@dataclass
class _Unit:
    """Files alike, or a folder whose files are all alike: a candidate part of a table."""

    path: str
    format: str
    columns: set[str]
    probes: list[Probe]
    folder: bool = False  # a subfolder (not files)
    hive: bool = False  # a key=value folder
    count: int = 1  # units merged into this one


@dataclass
class _Folder:
    path: str
    files: list[Probe] = field(default_factory=list)
    folders: dict[str, _Folder] = field(default_factory=dict)


@dataclass
class _Result:
    one: _Unit | None  # the whole folder is one table
    tables: list[Dataset]  # otherwise these


def group(probes: list[Probe], skip: Callable[[str, str], None]) -> list[Dataset]:
    """The datasets under the crawl root, each becoming one table."""
    root = _Folder("")
    for probe in probes:
        node = root
        parts = probe.path.split("/")
        for depth in range(len(parts) - 1):
            name = parts[depth]
            node = node.folders.setdefault(name, _Folder("/".join(parts[: depth + 1])))
        node.files.append(probe)
    result = _visit(root, skip, at_root=True)
    if result.one is not None:
        return [Dataset("", _name(""), tuple(result.one.probes))]
    return result.tables


def _visit(folder: _Folder, skip: Callable[[str, str], None], at_root: bool = False) -> _Result:
    files = _one_format(folder, skip)
    subs = {name: _visit(sub, skip) for name, sub in sorted(folder.folders.items())}
    clusters = _clusters([_Unit(p.path, p.layout.format, _names(p), [p]) for p in files])
    whole = [r.one for r in subs.values() if r.one is not None]
    if len(clusters) <= 1 and len(whole) == len(subs):
        units = clusters + [
            _Unit(u.path, u.format, u.columns, u.probes, True, "=" in u.path.rsplit("/", 1)[-1])
            for u in whole
        ]
        if units and _one_table(units, at_root, bool(files)):
            merged = _Unit(folder.path, units[0].format, set(), [])
            for unit in units:
                merged.columns |= unit.columns
                merged.probes.extend(unit.probes)
            return _Result(merged, [])
    tables: list[Dataset] = []
    for result in subs.values():
        if result.one is not None:
            tables.append(
                Dataset(result.one.path, _name(result.one.path), tuple(result.one.probes))
            )
        else:
            tables.extend(result.tables)
    for index, cluster in enumerate(clusters):
        label = _name(folder.path)
        if index > 0:  # files unlike the folder's main ones: a table per kind, as Glue does
            stem = cluster.probes[0].path.rsplit("/", 1)[-1].split(".", 1)[0]
            label = f"{label}_{stem}" if folder.path else stem
        tables.append(Dataset(folder.path, label, tuple(cluster.probes)))
    return _Result(None, tables)


def _one_table(units: list[_Unit], at_root: bool, has_files: bool) -> bool:
    if len({u.format for u in units}) != 1:
        return False
    folders = [u for u in units if u.folder]
    keys = {u.path.rsplit("/", 1)[-1].split("=", 1)[0] for u in folders}
    if folders and all(u.hive for u in folders) and len(keys) == 1:
        return True  # key=value folders say "partitions of one table" outright
    if len(units) == 1:
        return not at_root or has_files
    clusters = _clusters([_Unit(u.path, u.format, set(u.columns), list(u.probes)) for u in units])
    return max(c.count for c in clusters) * 2 > len(units)


def _clusters(units: list[_Unit]) -> list[_Unit]:
    """Alike units of one format merged, largest first (then by path)."""
    clusters: list[_Unit] = []
    for unit in units:
        for cluster in clusters:
            if cluster.format == unit.format and alike(cluster.columns, unit.columns):
                cluster.columns |= unit.columns
                cluster.probes.extend(unit.probes)
                cluster.count += 1
                break
        else:
            clusters.append(_Unit(unit.path, unit.format, set(unit.columns), list(unit.probes)))
    return sorted(clusters, key=lambda c: (-c.count, -len(c.probes), c.path))


def alike(a: set[str], b: set[str]) -> bool:
    """At least ``ALIKE`` of all their columns are in both."""
    union = a | b
    return not union or len(a & b) / len(union) >= ALIKE


def _one_format(folder: _Folder, skip: Callable[[str, str], None]) -> list[Probe]:
    """The folder's files, without those of a minority format when one format has most."""
    counts = Counter(p.layout.format for p in folder.files)
    if len(counts) <= 1:
        return folder.files
    main, count = counts.most_common(1)[0]
    if count * 2 <= len(folder.files):
        return folder.files
    where = folder.path or "the crawl root"
    for probe in folder.files:
        if probe.layout.format != main:
            skip(
                probe.path,
                f"mixed formats: {where} holds {count} {main} files and this "
                f"{probe.layout.format} file; move it to a folder of its own",
            )
    return [p for p in folder.files if p.layout.format == main]


def _names(probe: Probe) -> set[str]:
    return {name for name, _ in probe.columns}


def _name(path: str) -> str:
    return path.rsplit("/", 1)[-1]
