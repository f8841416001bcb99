"""Write–audit–publish: a table's checks run on its new data before the commit makes it visible.

The audit reads the table as the commit would leave it (the files that stay plus the files
just written). If a check of severity `error` fails:

- policy ``reject`` (the default): nothing is published, the run fails with the report, and the
  data the load produced is kept in ``<table>__rejected`` for inspection;
- policy ``quarantine``: the new rows that fail a row-level check go to
  ``<table>__quarantine`` with the checks they failed, the rest is audited again and published
  (or, if a table-level check still fails, rejected as above).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import pyarrow as pa

from headwater.connect.sql.quoting import ident, literal
from headwater.errors import LakeError, QualityFailed
from headwater.lake import Lake, replace_table
from headwater.lake.arrow_types import fit
from headwater.lake.change import WrittenFile
from headwater.lake.properties import RUN_ID
from headwater.lake.quarantine import Reject, quarantine
from headwater.lake.writer import Staging
from headwater.quality import rules as r
from headwater.quality.compile import CheckError, compile_check, fill
from headwater.quality.evaluate import evaluate
from headwater.quality.results import CheckResult, SuiteResult
from headwater.sql.session import Session

Policy = Literal["reject", "quarantine"]
REJECTED = "__rejected"


@dataclass
class Auditor:
    """The audit of one write of ``table`` (see the module docstring)."""

    lake: Lake
    table: str
    checks: Sequence[r.Rule]
    policy: Policy
    run_id: str
    record: Callable[[Sequence[CheckResult]], None]  # keeps results in the run history

    def __call__(
        self, staging: Staging, written: list[WrittenFile], staying: list[str]
    ) -> list[WrittenFile]:
        with Session(self.lake) as session:
            schema = staging.table_schema
            suite = self._evaluate(session, staying + [f.path for f in written], schema)
            if suite.passed:
                self.record(suite.results)
                return written
            if self.policy == "quarantine":
                kept = self._quarantine(session, staging, written, suite)
                if kept is not None:
                    again = self._evaluate(session, staying + [f.path for f in kept], schema)
                    if again.passed:
                        self.record(suite.results)
                        return kept
                    suite = again
            self.record(suite.results)
            self._keep_rejected(session, [f.path for f in written])
        raise self._failure(suite)

    def _evaluate(
        self, session: Session, paths: list[str], schema: pa.Schema | None = None
    ) -> SuiteResult:
        def resolve(name: str) -> str:
            session.map_table(name)
            return ".".join(ident(p) for p in name.split("."))

        relation = _relation(paths)
        if not paths:  # nothing written and nothing kept: the checks see an empty table
            session.con.register("__headwater_empty", (schema or pa.schema([])).empty_table())
            relation = "__headwater_empty"
        return evaluate(session.con, self.table, relation, self.checks, resolve)

    def _quarantine(
        self, session: Session, staging: Staging, written: list[WrittenFile], suite: SuiteResult
    ) -> list[WrittenFile] | None:
        """Route the new rows failing row-level checks to quarantine; write the rest anew."""
        failing = {res.check for res in suite.results if res.blocking}
        columns = {
            row[0]: str(row[1])
            for row in session.con.execute(
                f"DESCRIBE SELECT * FROM {_relation([f.path for f in written])}"
            ).fetchall()
        }
        predicates: list[tuple[str, str]] = []
        for index, check in enumerate(self.checks):
            if check.label not in failing:
                continue
            try:
                compiled = compile_check(check, index, self.table, columns, check.where)
            except CheckError:
                return None
            if compiled.failing_rows is None or "{table}" in compiled.failing_rows:
                return None  # a table-level failure: quarantining rows cannot fix it
            other = None
            if isinstance(check, r.Relationships):
                session.map_table(check.to)
                other = ".".join(ident(p) for p in check.to.split("."))
            predicates.append((check.label, fill(compiled.failing_rows, other=other)))
        new = _relation([f.path for f in written])
        any_fails = " OR ".join(f"coalesce(({p}), false)" for _, p in predicates)
        reasons = ", ".join(
            f"CASE WHEN coalesce(({p}), false) THEN {literal(name)} END" for name, p in predicates
        )
        bad = session.con.execute(
            f"SELECT concat_ws(', ', {reasons}) AS __reasons, * FROM {new} WHERE {any_fails}"
        ).to_arrow_table()
        now = datetime.now(UTC)
        rejects = [
            Reject(
                reason=f"failed {row.pop('__reasons')} (quality policy quarantine)",
                record=json.dumps(row, default=str),
            )
            for row in bad.to_pylist()
        ]
        quarantine(self.lake, self.table, rejects, self.run_id, now)
        reader = session.con.execute(
            f"SELECT * FROM {new} WHERE NOT ({any_fails})"
        ).to_arrow_reader(100_000)
        return staging.writer().write_all(fit(batch, staging.schema) for batch in reader)

    def _keep_rejected(self, session: Session, paths: list[str]) -> None:
        """Keep what the load produced in ``<table>__rejected`` (replaced each time)."""
        if not paths:
            return
        name, props = self.table + REJECTED, {RUN_ID: self.run_id}

        def rows() -> pa.RecordBatchReader:
            return session.con.execute(f"SELECT * FROM {_relation(paths)}").to_arrow_reader(100_000)

        try:
            replace_table(self.lake, name, rows(), props)
        except LakeError:
            # the rejected data of an earlier run had columns of other types: start it over,
            # rather than hide the check report behind a schema error
            self.lake.drop(name)
            replace_table(self.lake, name, rows(), props)

    def _failure(self, suite: SuiteResult) -> QualityFailed:
        failed = [res for res in suite.results if res.blocking]
        lines = [
            f"{res.check}: {res.error or f'{res.failing:,} of {res.evaluated:,} rows fail ({res.expected})'}"
            for res in failed
        ]
        return QualityFailed(
            f"table `{self.table}` was not published: {len(failed)} error check(s) failed — "
            + "; ".join(lines),
            table=self.table,
            failed=[res.check for res in failed],
            hint=f"the data this run produced is in `{self.table}{REJECTED}`; fix the source "
            f"or the model (or the check), then run again",
        )


def _relation(paths: Sequence[str]) -> str:
    listing = ", ".join(literal(p.removeprefix("file://")) for p in paths)
    return f"read_parquet([{listing}], union_by_name = true)"
