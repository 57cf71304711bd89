"""Emails that are true when they leave: superseding, and what each email states.

- pending_emails.state may be 'superseded'; superseded_by_id (no foreign key: emails are
  never deleted) points at the email that says what is true instead (none when nothing is left to say), superseded_reason says why.
- At most one pending email per sales order and template (a partial unique index).
  Emails queued twice before this upgrade: all but the newest are superseded by it.
- pending_email_associations.qty, due_date, overdue: what the email states for each
  link, so that the mailer can check it is still so (rows already queued are taken as
  stating what is true now).

Revision ID: 0006_truth
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_truth"
down_revision = "0005"
branch_labels = None
depends_on = None

OLD_STATES = "state IN ('pending', 'sending', 'sent', 'failed', 'cancelled')"
NEW_STATES = "state IN ('pending', 'sending', 'sent', 'failed', 'cancelled', 'superseded')"
PENDING = "state = 'pending'"


def _sqlite_check(old: str, new: str) -> None:
    """Widen (or narrow) the state CHECK in place: a rebuild of pending_emails would
    cascade-delete its associations' rows under foreign keys. SQLite documents editing
    the schema text for changing CHECK constraints; the rows on disk do not change."""
    op.execute("PRAGMA writable_schema = ON")
    op.execute(
        sa.text(
            "UPDATE sqlite_master SET sql = replace(sql, :old, :new) "
            "WHERE type = 'table' AND name = 'pending_emails'"
        ).bindparams(old=old, new=new)
    )
    version = op.get_bind().exec_driver_sql("PRAGMA schema_version").scalar()
    op.execute(f"PRAGMA schema_version = {int(version or 0) + 1}")
    op.execute("PRAGMA writable_schema = OFF")


def upgrade() -> None:
    sqlite = op.get_context().dialect.name == "sqlite"
    if sqlite:
        _sqlite_check(OLD_STATES, NEW_STATES)
    else:
        op.drop_constraint(op.f("ck_pending_emails_state_known"), "pending_emails", type_="check")
        op.create_check_constraint(
            op.f("ck_pending_emails_state_known"), "pending_emails", NEW_STATES
        )
    op.add_column("pending_emails", sa.Column("superseded_by_id", sa.Integer(), nullable=True))
    op.add_column("pending_emails", sa.Column("superseded_reason", sa.Text(), nullable=True))

    # Queued twice (possible before this version): the newest stands for the order.
    op.execute(
        "UPDATE pending_emails SET state = 'superseded', "
        "superseded_reason = 'queued again for the same order and template', "
        "superseded_by_id = (SELECT max(n.id) FROM pending_emails n WHERE n.state = 'pending' "
        "AND n.sales_order_id = pending_emails.sales_order_id "
        "AND n.template_id = pending_emails.template_id) "
        "WHERE state = 'pending' AND EXISTS (SELECT 1 FROM pending_emails n "
        "WHERE n.state = 'pending' AND n.sales_order_id = pending_emails.sales_order_id "
        "AND n.template_id = pending_emails.template_id AND n.id > pending_emails.id)"
    )
    op.create_index(
        "uq_pending_emails_pending_order_template",
        "pending_emails",
        ["sales_order_id", "template_id"],
        unique=True,
        postgresql_where=sa.text(PENDING),
        sqlite_where=sa.text(PENDING),
    )

    op.add_column("pending_email_associations", sa.Column("qty", sa.Integer(), nullable=True))
    op.add_column("pending_email_associations", sa.Column("due_date", sa.Date(), nullable=True))
    op.add_column(
        "pending_email_associations",
        sa.Column("overdue", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.execute(
        "UPDATE pending_email_associations SET "
        "qty = (SELECT a.qty FROM associations a "
        "WHERE a.id = pending_email_associations.association_id), "
        "due_date = (SELECT p.due_date FROM associations a JOIN po_lines p ON p.id = a.po_line_id "
        "WHERE a.id = pending_email_associations.association_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("pending_email_associations", schema=None) as batch_op:
        batch_op.drop_column("overdue")
        batch_op.drop_column("due_date")
        batch_op.drop_column("qty")
    op.drop_index("uq_pending_emails_pending_order_template", table_name="pending_emails")
    op.execute("UPDATE pending_emails SET state = 'cancelled' WHERE state = 'superseded'")
    sqlite = op.get_context().dialect.name == "sqlite"
    if sqlite:
        op.execute("ALTER TABLE pending_emails DROP COLUMN superseded_reason")
        op.execute("ALTER TABLE pending_emails DROP COLUMN superseded_by_id")
        _sqlite_check(NEW_STATES, OLD_STATES)
    else:
        op.drop_column("pending_emails", "superseded_reason")
        op.drop_column("pending_emails", "superseded_by_id")
        op.drop_constraint(op.f("ck_pending_emails_state_known"), "pending_emails", type_="check")
        op.create_check_constraint(
            op.f("ck_pending_emails_state_known"), "pending_emails", OLD_STATES
        )
