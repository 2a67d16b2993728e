"""orders: the request form's idempotency key, and the double-booking flag (orders and match runs)

Revision ID: matching_0001
Revises: pages_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "matching_0001"
down_revision = "pages_0001"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("orders", sa.Column("request_token", sa.String(length=64), nullable=True))
    op.add_column("orders", sa.Column("double_booked", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_unique_constraint("uq_orders_client_id_request_token", "orders", ["client_id", "request_token"])
    op.add_column("match_runs", sa.Column("double_booked", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    op.drop_column("match_runs", "double_booked")
    op.drop_constraint("uq_orders_client_id_request_token", "orders", type_="unique")
    op.drop_column("orders", "double_booked")
    op.drop_column("orders", "request_token")
