"""events: each consumer's watermark (every event up to it is handled)

Revision ID: events_0002
Revises: hardening_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "events_0002"
down_revision = "hardening_0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "consumer_watermarks",
        sa.Column("consumer", sa.String(length=64), nullable=False),
        sa.Column("handled_through", sa.BigInteger(), nullable=False),
        sa.Column("advanced_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("consumer"),
    )


def downgrade():
    op.drop_table("consumer_watermarks")
