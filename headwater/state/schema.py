"""Tables of the metadata store (SQLAlchemy Core). Change them only with a new migration."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("run_id", sa.String(36), primary_key=True),
    sa.Column("pipeline", sa.String(200), nullable=False, index=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("ended_at", sa.DateTime(timezone=True)),
    sa.Column("error", sa.Text),
    sa.Column("variables", sa.JSON),
)

task_runs = sa.Table(
    "task_runs",
    metadata,
    sa.Column("run_id", sa.String(36), sa.ForeignKey("runs.run_id"), primary_key=True),
    sa.Column("task_id", sa.String(300), primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True)),
    sa.Column("ended_at", sa.DateTime(timezone=True)),
    sa.Column("target", sa.String(300)),
    sa.Column("rows", sa.BigInteger),
    sa.Column("bytes", sa.BigInteger),
    sa.Column("snapshot_id", sa.BigInteger),
    sa.Column("error", sa.Text),
    sa.Column("details", sa.JSON),
)

schema_changes = sa.Table(
    "schema_changes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(36), nullable=False),
    sa.Column("task_id", sa.String(300), nullable=False),
    sa.Column("table_name", sa.String(300), nullable=False, index=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("column_name", sa.String(300)),
    sa.Column("old_type", sa.Text),
    sa.Column("new_type", sa.Text),
    sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
)

check_results = sa.Table(
    "check_results",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(36)),
    sa.Column("table_name", sa.String(300), nullable=False),
    sa.Column("check_name", sa.String(300), nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("severity", sa.String(10), nullable=False),
    sa.Column("passed", sa.Boolean, nullable=False),
    sa.Column("evaluated", sa.BigInteger),
    sa.Column("failing", sa.BigInteger),
    sa.Column("observed", sa.JSON),
    sa.Column("error", sa.Text),
    sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_check_results_table_name_check_name", "table_name", "check_name"),
)
