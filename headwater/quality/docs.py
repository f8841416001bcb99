"""Static HTML data docs: every suite's checks with their latest result and their history.

``headwater docs build`` writes ``index.html`` and one page per table into a folder that
opens offline (inline CSS and SVG, no scripts). The history holds no failing rows: with
``check`` given, the checks are evaluated at build time and their failing rows shown.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from headwater.errors import HeadwaterError, ProjectError
from headwater.quality.docs_template import (
    Markup,
    Point,
    badge,
    chart,
    esc,
    join,
    link,
    page,
    table,
)
from headwater.quality.results import SuiteResult
from headwater.quality.rules import Rule
from headwater.quality.suite import Suite

CHARTED = 50  # evaluations charted per check
LISTED = 10  # evaluations listed per check
RECORDS = 10_000  # history records read per table
# Kinds whose outcome is a count of failing rows: their chart is the failing fraction.
COUNTING = frozenset(
    {
        "not_null",
        "unique",
        "accepted_values",
        "not_in_set",
        "between",
        "regex",
        "length",
        "relationships",
        "sql",
    }
)


class CheckHistory(Protocol):
    """Where recorded results come from (the metadata store)."""

    def check_history(
        self, table: str | None = None, check: str | None = None, limit: int = 1000
    ) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class Evaluation:
    """One recorded result of a check."""

    status: str  # pass | warn | fail | error
    at: datetime | None
    evaluated: int
    failing: int
    observed: Any
    error: str | None


@dataclass(frozen=True)
class CheckDoc:
    suite: str
    rule: Rule
    history: tuple[Evaluation, ...]  # oldest first
    sample: tuple[dict[str, Any], ...] = ()  # failing rows, from an evaluation at build time

    @property
    def latest(self) -> Evaluation | None:
        return self.history[-1] if self.history else None


@dataclass(frozen=True)
class TableDoc:
    table: str
    page: str  # path relative to index.html
    checks: tuple[CheckDoc, ...]
    note: str  # how fresh the results are


def build_docs(
    out: Path,
    title: str,
    suites: Mapping[str, Suite],
    store: CheckHistory,
    catalog: Sequence[str],
    check: Callable[[str], SuiteResult] | None = None,
) -> Path:
    """Write the docs of ``suites`` into ``out``; ``check`` evaluates a table's checks first
    (for failing rows). Returns the path of index.html."""
    declared: dict[str, list[tuple[str, Rule]]] = {}
    for suite in suites.values():
        for name, rules in suite.tables.items():
            declared.setdefault(name, []).extend((suite.name, r) for r in rules)
    now = datetime.now(UTC)
    fresh: dict[str, SuiteResult | str] = {}
    for name in declared:
        try:
            if check is not None:
                fresh[name] = check(name)
        except HeadwaterError as exc:
            fresh[name] = exc.message
    pages = _page_names(declared)
    docs = [_table_doc(n, declared[n], store, fresh.get(n), pages[n], now) for n in declared]
    if out.exists() and not out.is_dir():
        raise ProjectError(f"{out} is a file", hint="give --out a folder for the docs")
    (out / "tables").mkdir(parents=True, exist_ok=True)
    for doc in docs:
        (out / doc.page).write_text(_table_page(doc, title), encoding="utf-8")
    index = out / "index.html"
    unchecked = sorted(set(catalog) - set(declared))
    index.write_text(_index_page(title, suites, docs, unchecked, now), encoding="utf-8")
    return index


def _table_doc(
    name: str,
    rules: Sequence[tuple[str, Rule]],
    store: CheckHistory,
    fresh: SuiteResult | str | None,
    page_name: str,
    now: datetime,
) -> TableDoc:
    records: dict[str, list[Evaluation]] = {}
    for row in reversed(store.check_history(name, limit=RECORDS)):
        records.setdefault(row["check_name"], []).append(_evaluation(row))
    samples: dict[str, tuple[dict[str, Any], ...]] = {}
    if isinstance(fresh, SuiteResult):
        samples = {r.check: r.sample for r in fresh.results if r.table == name}
        note = f"Checks evaluated at build time ({_when(now)}); failing rows are from then."
    elif fresh is not None:
        note = f"The checks could not be evaluated at build time: {fresh}"
    else:
        note = (
            "Results from the recorded history; failing rows are not recorded "
            "(`headwater docs build --evaluate` evaluates the checks and shows them)."
        )
    checks = tuple(
        CheckDoc(suite, rule, tuple(records.get(rule.label, ())), samples.get(rule.label, ()))
        for suite, rule in rules
    )
    return TableDoc(name, page_name, checks, note)


def _evaluation(row: Mapping[str, Any]) -> Evaluation:
    return Evaluation(
        status=status(bool(row["passed"]), str(row["severity"]), row["error"]),
        at=row["evaluated_at"],
        evaluated=int(row["evaluated"] or 0),
        failing=int(row["failing"] or 0),
        observed=row["observed"],
        error=row["error"],
    )


def status(passed: bool, severity: str, error: str | None) -> str:
    """A result in one word, as the docs show it."""
    if error:
        return "error"
    if passed:
        return "pass"
    return "warn" if severity == "warn" else "fail"


def _page_names(tables: Mapping[str, Any]) -> dict[str, str]:
    """A file name per table, safe on every file system and distinct from the others."""
    names: dict[str, str] = {}
    taken: set[str] = set()
    for name in tables:
        base = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "table"
        slug, n = base, 1
        while slug.lower() in taken:
            n += 1
            slug = f"{base}-{n}"
        taken.add(slug.lower())
        names[name] = f"tables/{slug}.html"
    return names


# -- rendering --------------------------------------------------------------------------


def _index_page(
    title: str,
    suites: Mapping[str, Suite],
    docs: Sequence[TableDoc],
    unchecked: Sequence[str],
    now: datetime,
) -> str:
    by_table = {d.table: d for d in docs}
    counts: dict[str, int] = {}
    for d in docs:
        for c in d.checks:
            key = c.latest.status if c.latest else "not evaluated"
            counts[key] = counts.get(key, 0) + 1
    summary = join(
        Markup(f"<span>{badge(k)} {v}</span>")
        for k, v in sorted(counts.items(), key=lambda kv: _ORDER.get(kv[0], 9))
    )
    parts = [
        Markup(f"<h1>{esc(title)}: data docs</h1>"),
        Markup(
            f'<p class="muted">Built {esc(_when(now))}: {sum(counts.values())} checks on '
            f"{len(docs)} tables in {len(suites)} suites.</p>"
        ),
        Markup(f'<p class="summary">{summary}</p>'),
    ]
    for suite in suites.values():
        rows = []
        for name, rules in suite.tables.items():
            doc = by_table[name]
            for rule in rules:
                c = next(c for c in doc.checks if c.suite == suite.name and c.rule is rule)
                check = link(f"{doc.page}#{_anchor(rule.label)}", rule.label)
                rows.append([link(doc.page, name), check, *_result_cells(c)])
        parts.append(Markup(f"<h2>Suite {esc(suite.name)}</h2>"))
        parts.append(Markup(f'<p class="muted">{esc(Path(suite.file).name)}</p>'))
        parts.append(table(_RESULT_HEADERS, rows, numeric=2))
    if unchecked:
        parts.append(Markup("<h2>Tables without checks</h2>"))
        parts.append(
            Markup(
                '<p class="muted">Suggest a suite for one with '
                "<code>headwater profile TABLE --write-suite checks/NAME.yaml</code>.</p>"
            )
        )
        parts.append(Markup("<ul>" + "".join(f"<li>{esc(t)}</li>" for t in unchecked) + "</ul>"))
    return page(f"{title}: data docs", join(parts))


_ORDER = {"pass": 0, "warn": 1, "fail": 2, "error": 3}
_RESULT_HEADERS = (
    "table",
    "check",
    "kind",
    "severity",
    "status",
    "observed",
    "when",
    "failing",
    "rows",
)


def _result_cells(c: CheckDoc) -> list[object]:
    e = c.latest
    kind, severity = str(getattr(c.rule, "kind", "")), c.rule.severity
    if e is None:
        return [kind, severity, badge("not evaluated"), "", "", "", ""]
    return [
        kind,
        severity,
        badge(e.status),
        e.error or _text(e.observed, 60),
        _when(e.at),
        f"{e.failing:,}" if e.failing else "",
        f"{e.evaluated:,}",
    ]


def _table_page(doc: TableDoc, title: str) -> str:
    rows = [
        [link(f"#{_anchor(c.rule.label)}", c.rule.label), c.suite, *_result_cells(c)]
        for c in doc.checks
    ]
    parts = [
        Markup(f"<h1>{esc(doc.table)}</h1>"),
        Markup(f'<p class="muted">{esc(doc.note)}</p>'),
        table(("check", "suite", *_RESULT_HEADERS[2:]), rows, numeric=2),
    ]
    parts.extend(_check_section(c) for c in doc.checks)
    return page(f"{doc.table}: {title} data docs", join(parts), home="../index.html")


def _check_section(c: CheckDoc) -> Markup:
    rule, latest = c.rule, c.latest
    kind = str(getattr(rule, "kind", ""))
    definition = json.dumps(
        {"kind": kind, **rule.model_dump(mode="json", exclude_defaults=True)}, default=str
    )
    counting = kind in COUNTING
    charted = c.history[-CHARTED:]
    points = [
        Point(_metric(e, counting), e.status, f"{_when(e.at)}: {e.status}, {_observed(e)}")
        for e in charted
    ]
    caption = (
        f"failing %, last {len(charted)} evaluations;"
        if counting
        else f"observed value, last {len(charted)} evaluations;"
    )
    listed = [
        [
            _when(e.at),
            badge(e.status),
            e.error or _text(e.observed, 80),
            f"{e.failing:,}",
            f"{e.evaluated:,}",
        ]
        for e in reversed(c.history[-LISTED:])
    ]
    parts = [
        Markup(
            f'<div class="check"><h3 id="{esc(_anchor(rule.label))}">{esc(rule.label)} '
            f"{badge(latest.status if latest else 'not evaluated')}</h3>"
        ),
        Markup(
            f'<p class="muted">{esc(kind)} · severity {esc(rule.severity)} · suite '
            f"{esc(c.suite)}</p><pre>{esc(definition)}</pre>"
        ),
        chart(points, caption),
    ]
    if listed:
        parts.append(table(("when", "status", "observed", "failing", "rows"), listed, numeric=2))
    if c.sample:
        headers = list(c.sample[0])
        parts.append(Markup("<p><strong>Failing rows</strong> (evaluated at build time)</p>"))
        parts.append(table(headers, [[_cell(r.get(h)) for h in headers] for r in c.sample]))
    parts.append(Markup("</div>"))
    return join(parts)


def _metric(e: Evaluation, counting: bool) -> float | None:
    """What the chart plots: the percentage of rows failing, or the observed number (or row count)."""
    if e.error:
        return None
    if counting:
        return 100 * e.failing / e.evaluated if e.evaluated else 0.0
    observed = e.observed.get("rows") if isinstance(e.observed, dict) else e.observed
    if isinstance(observed, bool) or not isinstance(observed, int | float):
        return None
    return float(observed)


def _observed(e: Evaluation) -> str:
    if e.error:
        return e.error
    return f"{e.failing:,} of {e.evaluated:,} failing" if e.failing else _text(e.observed, 80)


def _anchor(name: str) -> str:
    """An id for a check's section: other characters spelt by code point, so ids stay distinct."""
    return "check-" + re.sub(r"[^A-Za-z0-9_-]", lambda m: f".{ord(m.group()):x}", name)


def _when(at: datetime | None) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if at else ""


def _cell(value: Any) -> str:
    return "NULL" if value is None else _text(value)


def _text(value: Any, width: int = 200) -> str:
    text = (
        ""
        if value is None
        else json.dumps(value, default=str)
        if isinstance(value, dict | list)
        else str(value)
    )
    return text if len(text) <= width else text[: width - 1] + "…"
