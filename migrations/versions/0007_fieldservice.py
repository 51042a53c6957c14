"""fieldservice: technician profiles and skills, service jobs, job offers

Revision ID: 0007_fieldservice
Revises: 0001_foundation
Create Date: 2026-11-29 02:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007_fieldservice"
down_revision: str | Sequence[str] | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('technician_profiles',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('shift_start_min', sa.Integer(), nullable=False),
    sa.Column('shift_end_min', sa.Integer(), nullable=False),
    sa.Column('work_days', sa.String(length=7), nullable=False),
    sa.Column('load_cap', sa.Integer(), nullable=False),
    sa.Column('dispatchable', sa.Boolean(), nullable=False),
    sa.Column('home_base', sa.String(length=200), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_technician_profiles_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_technician_profiles'))
    )
    op.create_table('technician_skills',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('skill', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_technician_skills_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'skill', name=op.f('pk_technician_skills'))
    )
    op.create_index('ix_technician_skills_skill', 'technician_skills', ['skill', 'user_id'], unique=False)
    op.create_table('service_jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=True),
    sa.Column('deal_id', sa.Integer(), nullable=True),
    sa.Column('territory_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('skill', sa.String(length=40), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('site_address', sa.Text(), nullable=True),
    sa.Column('site_lat', sa.Double(), nullable=True),
    sa.Column('site_lon', sa.Double(), nullable=True),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=True),
    sa.Column('window_end', sa.DateTime(timezone=True), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('equipment', sa.String(length=300), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('technician_id', sa.Integer(), nullable=True),
    sa.Column('assigned_by_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('eta_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('en_route_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('arrived_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delay_noted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('parts', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'), nullable=False),
    sa.Column('failure_reason', sa.Text(), nullable=True),
    sa.Column('photo_name', sa.String(length=200), nullable=True),
    sa.Column('photo_mime', sa.String(length=80), nullable=True),
    sa.Column('photo', sa.LargeBinary(), nullable=True),
    sa.Column('external_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['assigned_by_id'], ['users.id'], name=op.f('fk_service_jobs_assigned_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['company_id'], ['companies.id'], name=op.f('fk_service_jobs_company_id_companies'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_service_jobs_contact_id_contacts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_service_jobs_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['deal_id'], ['deals.id'], name=op.f('fk_service_jobs_deal_id_deals'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['technician_id'], ['users.id'], name=op.f('fk_service_jobs_technician_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['territory_id'], ['territories.id'], name=op.f('fk_service_jobs_territory_id_territories'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_jobs')),
    sa.UniqueConstraint('external_id', name=op.f('uq_service_jobs_external_id'))
    )
    op.create_index(op.f('ix_service_jobs_company_id'), 'service_jobs', ['company_id'], unique=False)
    op.create_index(op.f('ix_service_jobs_deal_id'), 'service_jobs', ['deal_id'], unique=False)
    op.create_index(op.f('ix_service_jobs_status'), 'service_jobs', ['status'], unique=False)
    op.create_index('ix_service_jobs_tech_status', 'service_jobs', ['technician_id', 'status'], unique=False)
    op.create_index(op.f('ix_service_jobs_technician_id'), 'service_jobs', ['technician_id'], unique=False)
    op.create_table('job_offers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('technician_id', sa.Integer(), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('distance_km', sa.Double(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('offered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['job_id'], ['service_jobs.id'], name=op.f('fk_job_offers_job_id_service_jobs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['technician_id'], ['users.id'], name=op.f('fk_job_offers_technician_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_offers')),
    sa.UniqueConstraint('job_id', 'technician_id', name=op.f('uq_job_offers_job_id_technician_id'))
    )
    op.create_index('ix_job_offers_status_expires', 'job_offers', ['status', 'expires_at'], unique=False)
    op.create_index('ix_job_offers_technician', 'job_offers', ['technician_id', 'status'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_job_offers_technician', table_name='job_offers')
    op.drop_index('ix_job_offers_status_expires', table_name='job_offers')
    op.drop_table('job_offers')
    op.drop_index(op.f('ix_service_jobs_technician_id'), table_name='service_jobs')
    op.drop_index('ix_service_jobs_tech_status', table_name='service_jobs')
    op.drop_index(op.f('ix_service_jobs_status'), table_name='service_jobs')
    op.drop_index(op.f('ix_service_jobs_deal_id'), table_name='service_jobs')
    op.drop_index(op.f('ix_service_jobs_company_id'), table_name='service_jobs')
    op.drop_table('service_jobs')
    op.drop_index('ix_technician_skills_skill', table_name='technician_skills')
    op.drop_table('technician_skills')
    op.drop_table('technician_profiles')
