"""customers: merge history (duplicates merged into the kept record), the bot's cached
chat profile (Telegram username for invite deep links), companies.email indexed (the
duplicate check of a new company)

Revision ID: 0013_customers
Revises: 0001_foundation
Create Date: 2026-03-02 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from core.models.base import UTCDateTime

revision: str = "0013_customers"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "merge_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("kept_id", sa.Integer(), nullable=False),
        sa.Column("merged_id", sa.Integer(), nullable=False),
        sa.Column("merged_name", sa.String(length=200), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=True),
        sa.Column("snapshot", JSON, nullable=False),
        sa.Column("moved", JSON, nullable=False),
        sa.Column("merged_by_id", sa.Integer(), nullable=True),
        sa.Column("merged_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["company_id"], ["companies.id"], ondelete="CASCADE",
                                name=op.f("fk_merge_records_company_id_companies")),
        sa.ForeignKeyConstraint(["merged_by_id"], ["users.id"], ondelete="SET NULL",
                                name=op.f("fk_merge_records_merged_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merge_records")),
    )
    op.create_index(op.f("ix_merge_records_company_id"), "merge_records", ["company_id"])
    op.create_index("ix_merge_records_kept", "merge_records", ["kind", "kept_id"])
    op.create_index(op.f("ix_companies_email"), "companies", ["email"])
    op.create_table(
        "bot_profiles",
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("platform", name=op.f("pk_bot_profiles")),
    )


def downgrade() -> None:
    op.drop_table("bot_profiles")
    op.drop_index(op.f("ix_companies_email"), table_name="companies")
    op.drop_index("ix_merge_records_kept", table_name="merge_records")
    op.drop_index(op.f("ix_merge_records_company_id"), table_name="merge_records")
    op.drop_table("merge_records")
