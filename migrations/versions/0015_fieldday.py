"""fieldday: customer sites with coordinates (and their change log), verified visit
check-ins, day plans, the knowledge documents a user last opened; existing company
coordinates become head-office sites

Revision ID: 0015_fieldday
Revises: 0001_foundation
Create Date: 2026-12-06 07:20:00
"""

import math
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0015_fieldday"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "day_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("start_lat", sa.Double(), nullable=True),
        sa.Column("start_lon", sa.Double(), nullable=True),
        sa.Column(
            "stops", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column(
            "pinned", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column(
            "dropped", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_day_plans_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_day_plans")),
        sa.UniqueConstraint("user_id", "day", name=op.f("uq_day_plans_user_id_day")),
    )
    op.create_table(
        "company_sites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=120), nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("lat", sa.Double(), nullable=False),
        sa.Column("lon", sa.Double(), nullable=False),
        sa.Column("grid_row", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("set_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_company_sites_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["set_by_id"],
            ["users.id"],
            name=op.f("fk_company_sites_set_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_company_sites")),
        sa.UniqueConstraint(
            "company_id", "kind", "label", name=op.f("uq_company_sites_company_id_kind_label")
        ),
    )
    with op.batch_alter_table("company_sites", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_company_sites_company_id"), ["company_id"], unique=False
        )
        batch_op.create_index("ix_company_sites_grid", ["grid_row", "lon"], unique=False)
    _sites_from_company_coordinates()

    op.create_table(
        "kb_reads",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_kb_reads_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "document_id", name=op.f("pk_kb_reads")),
    )
    op.create_table(
        "company_site_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("old_lat", sa.Double(), nullable=True),
        sa.Column("old_lon", sa.Double(), nullable=True),
        sa.Column("new_lat", sa.Double(), nullable=False),
        sa.Column("new_lon", sa.Double(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_company_site_changes_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["company_sites.id"],
            name=op.f("fk_company_site_changes_site_id_company_sites"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_company_site_changes_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_company_site_changes")),
    )
    with op.batch_alter_table("company_site_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_company_site_changes_site_id"), ["site_id"], unique=False
        )

    op.create_table(
        "visit_checkins",
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("lat", sa.Double(), nullable=False),
        sa.Column("lon", sa.Double(), nullable=False),
        sa.Column("distance_m", sa.Integer(), nullable=True),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["activities.id"],
            name=op.f("fk_visit_checkins_activity_id_activities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_visit_checkins_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["company_sites.id"],
            name=op.f("fk_visit_checkins_site_id_company_sites"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_visit_checkins_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("activity_id", name=op.f("pk_visit_checkins")),
    )
    with op.batch_alter_table("visit_checkins", schema=None) as batch_op:
        batch_op.create_index("ix_visit_checkins_user_at", ["user_id", "at"], unique=False)


def _sites_from_company_coordinates() -> None:
    """Companies that already carry coordinates get them as their head-office site."""
    conn = op.get_bind()
    rows = conn.execute(
        sa.text(
            "SELECT id, lat, lon, head_office_address, updated_at FROM companies "
            "WHERE lat IS NOT NULL AND lon IS NOT NULL"
        )
    ).all()
    sites = sa.table(
        "company_sites",
        *(
            sa.column(c)
            for c in (
                "company_id",
                "kind",
                "label",
                "address",
                "lat",
                "lon",
                "grid_row",
                "source",
                "created_at",
                "updated_at",
            )
        ),
    )
    values = [
        dict(
            company_id=cid,
            kind="head_office",
            label="",
            address=address,
            lat=float(lat),
            lon=float(lon),
            grid_row=math.floor(float(lat) * 100),
            source="import",
            created_at=at,
            updated_at=at,
        )
        for cid, lat, lon, address, at in rows
        if -90 <= float(lat) <= 90 and -180 <= float(lon) <= 180
    ]
    for i in range(0, len(values), 1000):
        conn.execute(sites.insert(), values[i : i + 1000])


def downgrade() -> None:
    with op.batch_alter_table("visit_checkins", schema=None) as batch_op:
        batch_op.drop_index("ix_visit_checkins_user_at")

    op.drop_table("visit_checkins")
    with op.batch_alter_table("company_site_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_company_site_changes_site_id"))

    op.drop_table("company_site_changes")
    op.drop_table("kb_reads")
    with op.batch_alter_table("company_sites", schema=None) as batch_op:
        batch_op.drop_index("ix_company_sites_grid")
        batch_op.drop_index(batch_op.f("ix_company_sites_company_id"))

    op.drop_table("company_sites")
    op.drop_table("day_plans")
