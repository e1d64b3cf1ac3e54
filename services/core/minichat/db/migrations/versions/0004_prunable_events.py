"""indexes that let old outbox rows and processed event ids be pruned

The relay deletes outbox rows sent before its retention period and the worker deletes event
ids applied before its own, a batch at a time, oldest first; these indexes find them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SENT = "sent_at IS NOT NULL"


def upgrade() -> None:
    op.create_index(
        "ix_outbox_sent",
        "outbox",
        ["sent_at"],
        postgresql_where=sa.text(_SENT),
        sqlite_where=sa.text(_SENT),
    )
    op.create_index("ix_processed_events_processed_at", "processed_events", ["processed_at"])


def downgrade() -> None:
    op.drop_index("ix_processed_events_processed_at", table_name="processed_events")
    op.drop_index("ix_outbox_sent", table_name="outbox")
