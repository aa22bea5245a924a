"""Checks apart from callers, what workers could not record, failed logins to /report.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    # Rows written before this revision were all taken for callers' (the report counted them).
    for table in ("turns", "call_statuses"):
        op.add_column(table, sa.Column("is_check", sa.Boolean, nullable=False, server_default=sa.false()))
    op.create_table(
        "losses",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("turns", sa.Integer, nullable=False),
        sa.Column("statuses", sa.Integer, nullable=False),
        sa.Column("worker", sa.String(64), nullable=False),
    )
    op.create_index("ix_losses_last_at", "losses", ["last_at"])
    op.create_table(
        "login_failures",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_login_failures_address_at", "login_failures", ["address", "at"])


def downgrade() -> None:
    op.drop_table("login_failures")
    op.drop_table("losses")
    for table in ("call_statuses", "turns"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("is_check")
