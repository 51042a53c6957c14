"""perf (issue 23), part 2: covering indexes for activity reports per person / customer

Revision ID: 0014_perf_reports
Revises: 0014_perf
Create Date: 2026-12-01 12:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014_perf_reports"
down_revision: str | Sequence[str] | None = "0014_perf"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.create_index("ix_activities_user_kind_at", ["user_id", "kind", "occurred_at"],
                              unique=False)
        batch_op.create_index("ix_activities_company_at_kind",
                              ["company_id", "occurred_at", "kind", "user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.drop_index("ix_activities_company_at_kind")
        batch_op.drop_index("ix_activities_user_kind_at")
