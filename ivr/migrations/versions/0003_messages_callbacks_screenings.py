"""Messages, call-back requests and screened transfers' answers (the person the caller could
not reach).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")  # SQLite auto-increments INTEGER keys only


def upgrade() -> None:
    # AUTOINCREMENT on SQLite: an id is never given twice, so `ivr inbox done ID` with a
    # stale id cannot close a newer request.
    op.create_table(
        "messages",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("call_sid", sa.String(64), nullable=False),
        sa.Column("caller_key", sa.String(64)),
        sa.Column("step", sa.SmallInteger),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_seconds", sa.Integer, nullable=False),
        sa.Column("recording_sid", sa.String(64), nullable=False, unique=True),
        sa.Column("recording_url", sa.String(500), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True)),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_messages_at", "messages", ["at"])
    op.create_table(
        "callbacks",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("caller_key", sa.String(64), nullable=False, unique=True),
        sa.Column("number_sealed", sa.Text, nullable=False),
        sa.Column("call_sid", sa.String(64), nullable=False),
        sa.Column("step", sa.SmallInteger),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_callbacks_at", "callbacks", ["at"])
    op.create_table(
        "screenings",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("call_sid", sa.String(64), nullable=False),
        sa.Column("dial_call_sid", sa.String(64), nullable=False),
        sa.Column("accepted", sa.Boolean, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_screenings_call", "screenings", ["call_sid"])
    op.create_index("ix_screenings_at", "screenings", ["at"])


def downgrade() -> None:
    op.drop_table("screenings")
    op.drop_table("callbacks")
    op.drop_table("messages")
