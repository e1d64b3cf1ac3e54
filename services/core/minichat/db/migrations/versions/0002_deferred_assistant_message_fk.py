"""generations.assistant_message_id checked at commit

A generation's end names its assistant message in the same guarded UPDATE that makes it final,
before the message row is written in that transaction; the key is checked at commit.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 03:50:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NAME = "fk_generations_assistant_message_id_messages"


def _recreate(*, deferred: bool) -> None:
    # Batch mode: SQLite rebuilds the table; PostgreSQL drops and adds the constraint.
    with op.batch_alter_table("generations") as batch:
        batch.drop_constraint(_NAME, type_="foreignkey")
        batch.create_foreign_key(
            _NAME,
            "messages",
            ["assistant_message_id"],
            ["id"],
            ondelete="SET NULL",
            deferrable=deferred or None,
            initially="DEFERRED" if deferred else None,
        )


def upgrade() -> None:
    _recreate(deferred=True)


def downgrade() -> None:
    _recreate(deferred=False)
