"""accounts: an optional phone number on client profiles, as typed and normalised for tel: links

Revision ID: ui_0001
Revises: events_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "ui_0001"
down_revision = "events_0002"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("client_profiles", sa.Column("phone", sa.String(length=30), server_default="", nullable=False))
    op.add_column("client_profiles", sa.Column("phone_tel", sa.String(length=16), server_default="", nullable=False))
    op.create_check_constraint(
        op.f("ck_client_profiles_phone_normalised"),
        "client_profiles",
        "(phone = '' AND phone_tel = '') OR (phone <> '' AND phone_tel ~ '^[+]?[0-9]{6,15}$')",
    )


def downgrade():
    op.drop_constraint(op.f("ck_client_profiles_phone_normalised"), "client_profiles", type_="check")
    op.drop_column("client_profiles", "phone_tel")
    op.drop_column("client_profiles", "phone")
