"""finish_reason of generations and messages

Why the model ended an answer: "length" when the token limit cut it (it can be continued),
"stop" otherwise; null for answers that ended before this column, or by cancel or failure.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("generations", "messages")


def upgrade() -> None:
    for table in _TABLES:
        op.add_column(table, sa.Column("finish_reason", sa.String(length=16), nullable=True))


def downgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("finish_reason")
