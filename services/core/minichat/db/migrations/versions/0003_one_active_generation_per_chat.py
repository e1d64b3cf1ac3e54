"""one active generation per chat

Creates racing for the same chat could each start an answer. Such duplicates already running
end as failed, all but the newest of each chat, before the unique index can exist.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ACTIVE = "status IN ('queued', 'streaming')"


def upgrade() -> None:
    op.execute(
        f"""
        UPDATE generations SET status = 'failed', finished_at = CURRENT_TIMESTAMP,
            error_code = 'duplicate_generation',
            error_message = 'another answer to this chat was started at the same time'
        WHERE {_ACTIVE} AND EXISTS (
            SELECT 1 FROM generations AS newer
            WHERE newer.chat_id = generations.chat_id AND newer.{_ACTIVE}
              AND (newer.created_at > generations.created_at
                   OR (newer.created_at = generations.created_at AND newer.id > generations.id))
        )
        """
    )
    op.create_index(
        "uq_generations_chat_id_active",
        "generations",
        ["chat_id"],
        unique=True,
        postgresql_where=sa.text(_ACTIVE),
        sqlite_where=sa.text(_ACTIVE),
    )


def downgrade() -> None:
    op.drop_index("uq_generations_chat_id_active", table_name="generations")
