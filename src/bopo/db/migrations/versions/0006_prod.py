"""Running bopo in production: job runs, and the request behind each audit row.

- job_runs: one row per recurring job and tick of its schedule (bopo worker); the
  unique (job, tick) is what makes "ran once per tick" checkable.
- audit_log.request_id: the X-Request-ID of the HTTP request a change was made in.

Both are additions only (a new table, a nullable column): nodes still running the
code before this revision keep working against the upgraded database.

Revision ID: 0006_prod
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import bopo.db.base

revision = "0006_prod"
down_revision = "0006_shops"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_runs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("job", sa.String(length=40), nullable=False),
        sa.Column("tick", bopo.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("worker", sa.String(length=100), nullable=False),
        sa.Column("started_at", bopo.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", bopo.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        sa.Column("result", sa.String(length=16), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "result IN ('running', 'ok', 'failed')", name=op.f("ck_job_runs_result_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_runs")),
        sa.UniqueConstraint("job", "tick", name=op.f("uq_job_runs_job_tick")),
    )
    # A nullable column without a default: instant on PostgreSQL, in place on SQLite.
    op.add_column("audit_log", sa.Column("request_id", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_column("request_id")
    op.drop_table("job_runs")
