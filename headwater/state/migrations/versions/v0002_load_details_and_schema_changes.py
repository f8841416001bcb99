"""Load details on task runs (strategy, rows inserted/deleted/rejected) and schema changes.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("task_runs") as batch:
        batch.add_column(sa.Column("details", sa.JSON))
    op.create_table(
        "schema_changes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("task_id", sa.String(300), nullable=False),
        sa.Column("table_name", sa.String(300), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("column_name", sa.String(300)),
        sa.Column("old_type", sa.Text),
        sa.Column("new_type", sa.Text),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_schema_changes_table_name", "schema_changes", ["table_name"])


def downgrade() -> None:
    op.drop_index("ix_schema_changes_table_name", "schema_changes")
    op.drop_table("schema_changes")
    with op.batch_alter_table("task_runs") as batch:
        batch.drop_column("details")
