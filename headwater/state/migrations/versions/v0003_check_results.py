"""Check results: every evaluation with its observed value, for history and anomaly checks.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "check_results",
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
    )
    op.create_index(
        "ix_check_results_table_name_check_name", "check_results", ["table_name", "check_name"]
    )


def downgrade() -> None:
    op.drop_index("ix_check_results_table_name_check_name", "check_results")
    op.drop_table("check_results")
