"""pipeline: stage rule overrides, allocation settings, lead announcements

Revision ID: 0003_pipeline
Revises: 0001_foundation
Create Date: 2026-11-29 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import core.models.base

revision: str = "0003_pipeline"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "stage_rules",
        sa.Column("stage", sa.String(length=24), nullable=False),
        sa.Column("requirements", JSON, nullable=False),
        sa.Column("probability", sa.Integer(), nullable=True),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", core.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["updated_by_id"], ["users.id"],
                                name=op.f("fk_stage_rules_updated_by_id_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("stage", name=op.f("pk_stage_rules")),
    )
    op.create_table(
        "pipeline_settings",
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("value", JSON, nullable=False),
        sa.Column("updated_at", core.models.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_pipeline_settings")),
    )
    op.create_table(
        "lead_announcements",
        sa.Column("deal_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("announced_at", core.models.base.UTCDateTime(), nullable=False),
        sa.Column("claim_until", core.models.base.UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("how", sa.String(length=16), nullable=True),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("settled_at", core.models.base.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["deal_id"], ["deals.id"],
                                name=op.f("fk_lead_announcements_deal_id_deals"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"],
                                name=op.f("fk_lead_announcements_owner_id_users"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"],
                                name=op.f("fk_lead_announcements_team_id_teams"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("deal_id", name=op.f("pk_lead_announcements")),
    )
    op.create_index(op.f("ix_lead_announcements_claim_until"), "lead_announcements",
                    ["claim_until"], unique=False)
    op.create_index(op.f("ix_lead_announcements_status"), "lead_announcements", ["status"],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_lead_announcements_status"), table_name="lead_announcements")
    op.drop_index(op.f("ix_lead_announcements_claim_until"), table_name="lead_announcements")
    op.drop_table("lead_announcements")
    op.drop_table("pipeline_settings")
    op.drop_table("stage_rules")
