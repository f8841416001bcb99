"""Register crawled tables, applying the schema-change policy (Glue's SchemaChangePolicy).

| policy      | the schema changed                               | the folder has no files left |
|-------------|--------------------------------------------------|------------------------------|
| `update`    | the new definition becomes the next version      | the table is deprecated      |
| `log`       | the table stays as it was; the change is logged  | reported only                |
| `deprecate` | the table stays, marked deprecated; change kept  | the table is deprecated      |

New or removed files and partitions are applied under every policy when the schema is the
same. Every definition a crawl registers or only sees is kept in the version history.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Literal

from headwater.lake.catalog import Lake
from headwater.lake.crawl.plan import TablePlan, partition_folders
from headwater.lake.crawl.registry import ExternalFile, ExternalTable
from headwater.lake.crawl.report import TableOutcome

Policy = Literal["log", "update", "deprecate"]


def register(
    lake: Lake,
    namespace: str,
    plans: Sequence[TablePlan],
    policy: Policy,
    connection: str | None,
    gone: Iterable[ExternalTable] = (),
    progress: Callable[[int], None] | None = None,
) -> list[TableOutcome]:
    """Register or update each planned table; ``gone`` are registered tables no file was
    found for (only when the crawl looked at everything)."""
    outcomes = [_one(lake, namespace, plan, policy, connection, progress) for plan in plans]
    for table in gone:
        outcomes.append(_gone(lake, table, policy))
    return outcomes


def schema_changes(old: ExternalTable, plan: TablePlan) -> list[str]:
    """What differs between a registered definition and a crawl's: format, columns, partitions."""
    out = []
    if old.format != plan.format:
        out.append(f"format: {old.format} → {plan.format}")
    before, after = dict(old.columns), dict(plan.columns)
    for name, kind in plan.columns:
        if name not in before:
            out.append(f"+{name} {kind}")
        elif before[name] != kind:
            out.append(f"{name}: {before[name]} → {kind}")
    out.extend(f"-{name}" for name in before if name not in after)
    old_parts = [(p.name, p.type) for p in old.partitions]
    new_parts = [(p.name, p.type) for p in plan.partitions]
    if old_parts != new_parts:
        out.append(f"partitions: {_parts(old_parts)} → {_parts(new_parts)}")
    return out


def _one(
    lake: Lake,
    namespace: str,
    plan: TablePlan,
    policy: Policy,
    connection: str | None,
    progress: Callable[[int], None] | None,
) -> TableOutcome:
    full = f"{namespace}.{plan.name}"
    registry = lake.external
    seen = plan.definition(namespace, connection)

    def outcome(
        action: str, partitions_added: int = 0, changes: Sequence[str] = (), detail: str = ""
    ) -> TableOutcome:
        if progress:
            progress(1)
        return TableOutcome.of(
            full, plan, action, partitions_added=partitions_added, changes=changes, detail=detail
        )

    if lake.exists(full):
        return outcome(
            "conflict",
            detail=f"an Iceberg table `{full}` exists; crawl into another namespace, or import "
            "with --import",
        )
    old = registry.get(full)
    if old is None:
        registry.save(seen, plan.files, "created")
        return outcome("added", partitions_added=len(plan.partition_values()))
    changes = schema_changes(old, plan)
    before = registry.files(full)
    added = plan.partition_values() - partition_folders(f.path for f in before)
    if not changes:
        same_files = _identity(before) == _identity(plan.files)
        if same_files and old.layouts == plan.layouts and old.status == "active":
            return outcome("unchanged")
        restored = old.status != "active"
        registry.save(
            replace(seen, version=old.version, created_at=old.created_at),
            plan.files,
            "restored" if restored else None,
        )
        return outcome(
            "updated",
            partitions_added=len(added),
            detail=_file_change(before, plan.files) + ("; active again" if restored else ""),
        )
    if policy == "update":
        registry.save(
            replace(seen, version=old.version + 1, created_at=old.created_at),
            plan.files,
            "updated",
            changes,
        )
        return outcome(
            "updated",
            partitions_added=len(added),
            changes=tuple(changes),
            detail=f"version {old.version} → {old.version + 1}",
        )
    if policy == "log":
        registry.record(replace(seen, version=old.version), "logged", changes)
        return outcome(
            "logged",
            changes=tuple(changes),
            detail=f"schema change not applied (policy log); version {old.version} kept",
        )
    registry.set_status(old, "deprecated", replace(seen, version=old.version), changes)
    return outcome(
        "deprecated",
        changes=tuple(changes),
        detail=f"schema changed: marked deprecated (policy deprecate); version {old.version} kept",
    )


def _gone(lake: Lake, table: ExternalTable, policy: Policy) -> TableOutcome:
    if policy == "log":
        action, detail = "logged", "no files under its folder (policy log)"
    else:
        lake.external.set_status(table, "deprecated", table, ["files gone"], event="gone")
        action, detail = "deprecated", "no files under its folder any more"
    return TableOutcome(
        table.full_name, action, table.location, table.format, files=table.files, detail=detail
    )


def _identity(files: Iterable[ExternalFile]) -> set[tuple[str, int, str]]:
    return {(f.path, f.size, f.version) for f in files}


def _file_change(before: Sequence[ExternalFile], after: Sequence[ExternalFile]) -> str:
    old, new = _identity(before), _identity(after)
    old_paths, new_paths = {p for p, _, _ in old}, {p for p, _, _ in new}
    parts = []
    if len(new_paths - old_paths):
        parts.append(f"+{_files(len(new_paths - old_paths))}")
    if len(old_paths - new_paths):
        parts.append(f"-{_files(len(old_paths - new_paths))}")
    changed = len({p for p, _, _ in new - old} & old_paths)
    if changed:
        parts.append(f"{_files(changed)} changed")
    return ", ".join(parts) or "files re-read"


def _files(n: int) -> str:
    return f"{n} file" if n == 1 else f"{n} files"


def _parts(parts: list[tuple[str, str]]) -> str:
    return "/".join(name for name, _ in parts) or "none"
