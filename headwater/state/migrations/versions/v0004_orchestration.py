"""Orchestration: logical dates, triggers and owners on runs; attempts and values on task runs;
paused pipelines, scheduler heartbeats, trigger state and alert events.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("logical_date", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("interval_start", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("interval_end", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("trigger", sa.String(20), nullable=False, server_default="manual"))
        batch.add_column(sa.Column("schedule_key", sa.String(40)))
        batch.add_column(sa.Column("conf", sa.JSON))
        batch.add_column(sa.Column("owner", sa.String(80)))
        batch.add_column(sa.Column("cancel_requested", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("deadline", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("sla_missed", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.create_unique_constraint("uq_runs_pipeline_schedule_key", ["pipeline", "schedule_key"])
    op.create_index("ix_runs_status", "runs", ["status"])
    with op.batch_alter_table("task_runs") as batch:
        batch.add_column(sa.Column("attempts", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("value", sa.JSON))
        batch.add_column(sa.Column("retry_at", sa.DateTime(timezone=True)))
    op.create_table(
        "pipeline_state",
        sa.Column("pipeline", sa.String(200), primary_key=True),
        sa.Column("paused", sa.Boolean, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "schedulers",
        sa.Column("scheduler_id", sa.String(80), primary_key=True),
        sa.Column("host", sa.String(200), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "trigger_state",
        sa.Column("pipeline", sa.String(200), primary_key=True),
        sa.Column("trigger_key", sa.String(300), primary_key=True),
        sa.Column("value", sa.JSON),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("pipeline", sa.String(200)),
        sa.Column("run_id", sa.String(36)),
        sa.Column("task_id", sa.String(300)),
        sa.Column("message", sa.Text, nullable=False),
    )
    op.create_index("ix_events_kind", "events", ["kind"])


def downgrade() -> None:
    op.drop_index("ix_events_kind", "events")
    op.drop_table("events")
    op.drop_table("trigger_state")
    op.drop_table("schedulers")
    op.drop_table("pipeline_state")
    with op.batch_alter_table("task_runs") as batch:
        for column in ("retry_at", "value", "attempts"):
            batch.drop_column(column)
    op.drop_index("ix_runs_status", "runs")
    with op.batch_alter_table("runs") as batch:
        batch.drop_constraint("uq_runs_pipeline_schedule_key", type_="unique")
        for column in (
            "sla_missed", "deadline", "cancel_requested", "owner", "conf", "schedule_key",
            "trigger", "interval_end", "interval_start", "logical_date",
        ):
            batch.drop_column(column)
