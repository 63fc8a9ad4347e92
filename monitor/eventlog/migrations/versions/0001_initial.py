"""The event log as releases before migrations made it with ``SQLModel.metadata.create_all``.

A database from such a release is stamped at this revision without running it, so this
must stay exactly that table: every column, type, constraint and index of ``EventRecord``
at the time. It spells the types out instead of importing them from
:mod:`monitor.eventlog.log`: a revision is history, and must not change when the model does.

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "events",
        # SQLite only auto-increments an INTEGER PRIMARY KEY (the rowid alias); PostgreSQL
        # gets BIGSERIAL.
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("stream", sa.String(512), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        # UTC without an offset (UTCDateTime converts on the way in and out).
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
        sa.UniqueConstraint("stream", "version", name="uq_events_stream_version"),
    )
    op.create_index("ix_events_type_seq", "events", ["type", "seq"])


def downgrade() -> None:
    op.drop_index("ix_events_type_seq", table_name="events")
    op.drop_table("events")
