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
    sa.Column("logical_date", sa.DateTime(timezone=True)),
    sa.Column("interval_start", sa.DateTime(timezone=True)),
    sa.Column("interval_end", sa.DateTime(timezone=True)),
    # manual | schedule | backfill | event | api
    sa.Column("trigger", sa.String(20), nullable=False, server_default="manual"),
    # the logical date of a scheduled or backfilled run: one run per date, whoever creates it
    sa.Column("schedule_key", sa.String(40)),
    sa.Column("conf", sa.JSON),
    sa.Column("owner", sa.String(80)),  # the process executing the run
    sa.Column("cancel_requested", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("deadline", sa.DateTime(timezone=True)),
    sa.Column("sla_missed", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.UniqueConstraint("pipeline", "schedule_key", name="uq_runs_pipeline_schedule_key"),
    sa.Index("ix_runs_status", "status"),
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
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("value", sa.JSON),  # what the task returned, for its downstream tasks
    sa.Column("retry_at", sa.DateTime(timezone=True)),
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

pipeline_state = sa.Table(
    "pipeline_state",
    metadata,
    sa.Column("pipeline", sa.String(200), primary_key=True),
    sa.Column("paused", sa.Boolean, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

schedulers = sa.Table(
    "schedulers",
    metadata,
    sa.Column("scheduler_id", sa.String(80), primary_key=True),
    sa.Column("host", sa.String(200), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
)

trigger_state = sa.Table(
    "trigger_state",
    metadata,
    sa.Column("pipeline", sa.String(200), primary_key=True),
    sa.Column("trigger_key", sa.String(300), primary_key=True),
    sa.Column("value", sa.JSON),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("pipeline", sa.String(200)),
    sa.Column("run_id", sa.String(36)),
    sa.Column("task_id", sa.String(300)),
    sa.Column("message", sa.Text, nullable=False),
    sa.Index("ix_events_kind", "kind"),
)

stream_leases = sa.Table(
    "stream_leases",
    metadata,
    sa.Column("consumer", sa.String(200), primary_key=True),
    sa.Column("stream", sa.String(200), primary_key=True),
    sa.Column("shard", sa.String(100), primary_key=True),
    sa.Column("owner", sa.String(120), nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
    sa.Column("epoch", sa.Integer, nullable=False),
)

stream_checkpoints = sa.Table(
    "stream_checkpoints",
    metadata,
    sa.Column("consumer", sa.String(200), primary_key=True),
    sa.Column("stream", sa.String(200), primary_key=True),
    sa.Column("shard", sa.String(100), primary_key=True),
    sa.Column("sequence", sa.String(100), nullable=False),
    sa.Column("behind_ms", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("records", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
