"""Turns of calls and how calls ended.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")  # SQLite auto-increments INTEGER keys only


def upgrade() -> None:
    op.create_table(
        "turns",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("call_sid", sa.String(64), nullable=False),
        sa.Column("caller_key", sa.String(64)),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("place", sa.String(16), nullable=False),
        sa.Column("step", sa.SmallInteger),
        sa.Column("input", sa.String(8), nullable=False),
        sa.Column("words", sa.String(100)),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("slow", sa.Boolean, nullable=False),
    )
    op.create_index("ix_turns_caller_at", "turns", ["caller_key", "at"])
    op.create_index("ix_turns_at", "turns", ["at"])
    op.create_index("ix_turns_call", "turns", ["call_sid"])
    op.create_table(
        "call_statuses",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("call_sid", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("duration_seconds", sa.Integer),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_call_statuses_at", "call_statuses", ["at"])
    op.create_index("ix_call_statuses_call", "call_statuses", ["call_sid"])


def downgrade() -> None:
    op.drop_table("call_statuses")
    op.drop_table("turns")
