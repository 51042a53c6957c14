"""reports: saved report templates; covering indexes for grouped reports

Revision ID: 0008_reports
Revises: 0001_foundation
Create Date: 2026-11-29 02:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008_reports"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "report_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("spec", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                  nullable=False),
        sa.Column("schedule", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"],
                                name=op.f("fk_report_templates_owner_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_templates")),
        sa.UniqueConstraint("owner_id", "name", name=op.f("uq_report_templates_owner_id_name")),
    )
    op.create_index("ix_activities_at_user_kind", "activities",
                    ["occurred_at", "user_id", "kind"], unique=False)
    op.create_index("ix_deal_stage_changes_to_at", "deal_stage_changes", ["to_stage", "at"],
                    unique=False)


def downgrade() -> None:
    op.drop_index("ix_deal_stage_changes_to_at", table_name="deal_stage_changes")
    op.drop_index("ix_activities_at_user_kind", table_name="activities")
    op.drop_table("report_templates")
