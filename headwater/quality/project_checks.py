"""A project's checks: its suites, the checks audited before each publish, and a check run
whose results go to the metadata store."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from headwater.errors import ProjectError, did_you_mean

if TYPE_CHECKING:
    from headwater.lake import Lake
    from headwater.lake.writer import Audit
    from headwater.project import Project
    from headwater.quality.results import CheckResult, SuiteResult
    from headwater.quality.rules import Rule
    from headwater.quality.suite import Suite
    from headwater.state import Store


def project_suites(project: Project) -> dict[str, Suite]:
    """Every check suite: ``checks/<name>.yaml`` files and ``checks:`` in the project file."""
    from headwater.quality.suite import load_suites

    cfg = project.config
    return load_suites(project.path(cfg.quality.path), cfg.checks, str(project.file))


def audit_checks(project: Project) -> dict[str, list[Rule]]:
    """Table → the checks audited before each of its publishes (none when audit is off)."""
    cfg = project.config
    if not cfg.quality.audit:
        return {}
    if not cfg.checks and not project.path(cfg.quality.path).is_dir():
        return {}  # no suite anywhere: the check machinery need not load
    checks: dict[str, list[Rule]] = {}
    for suite in project_suites(project).values():
        for table, rules in suite.tables.items():
            checks.setdefault(table, []).extend(rules)
    return checks


def auditor_for(
    project: Project,
    lake: Lake,
    store: Store,
    audited: Mapping[str, Sequence[Rule]],
    table: str,
    run_id: str,
) -> Audit | None:
    """Write–audit–publish for ``table``: its checks, run before its commit (or None)."""
    checks = audited.get(table)
    if not checks:
        return None
    from headwater.quality.audit import Auditor

    return Auditor(
        lake,
        table,
        list(checks),
        "quarantine" if table in project.config.quality.quarantine else "reject",
        run_id,
        lambda results: store.add_check_results(results, run_id),
    )


def run_checks(
    project: Project,
    lake: Lake,
    store: Store,
    target: str | None = None,
    run_id: str | None = None,
    samples: int = 5,
) -> SuiteResult:
    """Evaluate the checks of one suite, one table, or all; results go to the history.

    ``samples`` failing rows are fetched per failed check (0 for none)."""
    from headwater.connect.sql.quoting import ident
    from headwater.quality.evaluate import evaluate
    from headwater.quality.results import SuiteResult
    from headwater.sql import Session

    plan = check_plan(project, project_suites(project), target)
    results: list[CheckResult] = []
    with Session(lake) as session:
        for table, checks in plan.items():
            session.map_table(table)

            def resolve(name: str) -> str:
                session.map_table(name)
                return ".".join(ident(p) for p in name.split("."))

            def history(table: str, check: str) -> list[float]:
                rows = store.check_history(table, check, limit=100)
                counts = [_rows_of(r["observed"]) for r in reversed(rows)]
                return [c for c in counts if c is not None]

            current = lake.current_metadata(table)
            suite = evaluate(
                session.con,
                table,
                resolve(table),
                checks,
                resolve,
                history,
                samples=samples,
                known=current.column_counts() if current else None,
            )
            results.extend(suite.results)
    store.add_check_results(results, run_id)
    return SuiteResult(tuple(results))


def check_plan(
    project: Project, suites: Mapping[str, Suite], target: str | None
) -> dict[str, list[Rule]]:
    """Table → the checks to run for ``target``: a suite, a table, or every one (None)."""
    plan: dict[str, list[Rule]] = {}
    chosen = [suites[target]] if target is not None and target in suites else list(suites.values())
    for suite in chosen:
        for table, checks in suite.tables.items():
            if target is None or target in suites or table == target:
                plan.setdefault(table, []).extend(checks)
    if not plan:
        tables = sorted({t for s in suites.values() for t in s.tables})
        if target is None:
            raise ProjectError(
                "the project has no checks",
                hint=f"write them in {project.config.quality.path}/<suite>.yaml, "
                "e.g. `gold.fact_orders: [{not_null: orderNumber}]`",
            )
        raise ProjectError(
            f"no suite or table with checks named `{target}`"
            f"{did_you_mean(target, list(suites) + tables)}",
            hint=f"suites: {', '.join(suites) or 'none'}; tables with checks: "
            f"{', '.join(tables) or 'none'}",
        )
    return plan


def _rows_of(observed: Any) -> float | None:
    """The row count a volume check observed (a number, or {"rows": n, …})."""
    if isinstance(observed, dict):
        observed = observed.get("rows")
    return float(observed) if isinstance(observed, int | float) else None
