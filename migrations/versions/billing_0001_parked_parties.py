"""billing: parked parties, the automatic-runs switch, the sandbox's delay

Revision ID: billing_0001
Revises: ui_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "billing_0001"
down_revision = "ui_0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "billing_parked_parties",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("party_kind", sa.String(length=10), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("parked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retry_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retry_requested_by_id", sa.Integer(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("billed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "party_kind IN ('client', 'worker')", name=op.f("ck_billing_parked_parties_party_kind_known")
        ),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], name=op.f("fk_billing_parked_parties_event_id_events")),
        sa.ForeignKeyConstraint(
            ["retry_requested_by_id"], ["users.id"], name=op.f("fk_billing_parked_parties_retry_requested_by_id_users")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_billing_parked_parties_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_parked_parties")),
        sa.UniqueConstraint(
            "party_kind", "user_id", "event_id", name=op.f("uq_billing_parked_parties_party_kind_user_id_event_id")
        ),
    )
    op.create_index("ix_billing_parked_parties_event_id", "billing_parked_parties", ["event_id"], unique=False)
    op.create_index(
        "ix_billing_parked_parties_open",
        "billing_parked_parties",
        ["party_kind", "user_id"],
        unique=False,
        postgresql_where="resolved_at IS NULL",
    )


    op.create_table(
        "billing_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("automatic_runs", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["updated_by_id"], ["users.id"], name=op.f("fk_billing_settings_updated_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_settings")),
    )
    op.add_column("sandbox_settings", sa.Column("delay_ms", sa.Integer(), server_default="0", nullable=False))


def downgrade():
    op.drop_column("sandbox_settings", "delay_ms")
    op.drop_table("billing_settings")
    op.drop_index("ix_billing_parked_parties_open", table_name="billing_parked_parties")
    op.drop_index("ix_billing_parked_parties_event_id", table_name="billing_parked_parties")
    op.drop_table("billing_parked_parties")
