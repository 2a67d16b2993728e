"""orders: counts per status kept by triggers, indexes for the managers' table and its people search

Revision ID: pages_0001
Revises: billing_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "pages_0001"
down_revision = "billing_0001"
branch_labels = None
depends_on = None

# Statement-level triggers with transition tables: one INSERT of grouped deltas per statement,
# however many orders it wrote (a set-based insert of 100,000 orders adds at most 7 rows).
COUNT_FUNCTION = """
CREATE FUNCTION orders_count_statuses() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO order_status_counts (status, delta)
        SELECT status, count(*) FROM new_rows GROUP BY status;
        INSERT INTO order_slot_counts (slot_hour, status, delta)
        SELECT date_trunc('hour', slot_start, 'UTC'), status, count(*) FROM new_rows GROUP BY 1, 2;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO order_status_counts (status, delta)
        SELECT status, -count(*) FROM old_rows GROUP BY status;
        INSERT INTO order_slot_counts (slot_hour, status, delta)
        SELECT date_trunc('hour', slot_start, 'UTC'), status, -count(*) FROM old_rows GROUP BY 1, 2;
    ELSE
        INSERT INTO order_status_counts (status, delta)
        SELECT status, sum(delta) FROM (
            SELECT o.status, -1 AS delta FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE o.status <> n.status
            UNION ALL
            SELECT n.status, 1 FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE o.status <> n.status
        ) moves
        GROUP BY status;
        INSERT INTO order_slot_counts (slot_hour, status, delta)
        SELECT slot_hour, status, sum(delta) FROM (
            SELECT date_trunc('hour', o.slot_start, 'UTC') AS slot_hour, o.status, -1 AS delta
            FROM old_rows o JOIN new_rows n ON n.id = o.id
            WHERE o.status <> n.status OR o.slot_start <> n.slot_start
            UNION ALL
            SELECT date_trunc('hour', n.slot_start, 'UTC'), n.status, 1
            FROM old_rows o JOIN new_rows n ON n.id = o.id
            WHERE o.status <> n.status OR o.slot_start <> n.slot_start
        ) moves
        GROUP BY slot_hour, status
        HAVING sum(delta) <> 0;
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION orders_truncate_counts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM order_status_counts;
    DELETE FROM order_slot_counts;
    RETURN NULL;
END
$$;

CREATE TRIGGER orders_counts_insert AFTER INSERT ON orders
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION orders_count_statuses();
CREATE TRIGGER orders_counts_update AFTER UPDATE ON orders
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION orders_count_statuses();
CREATE TRIGGER orders_counts_delete AFTER DELETE ON orders
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION orders_count_statuses();
CREATE TRIGGER orders_counts_truncate AFTER TRUNCATE ON orders
    FOR EACH STATEMENT EXECUTE FUNCTION orders_truncate_counts();
"""


# The table's worker and client filters match part of a name or email (ILIKE '%term%'): trigram
# indexes serve that where PostgreSQL has pg_trgm (a contrib module: the embedded development
# server may lack it, and then the search scans the users as before). Declared in app/orders/models.py.
PEOPLE_SEARCH = """
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') THEN
        CREATE EXTENSION IF NOT EXISTS pg_trgm;
        CREATE INDEX ix_users_name_trgm ON users USING gin (lower(name) gin_trgm_ops);
        CREATE INDEX ix_users_email_trgm ON users USING gin (lower(email) gin_trgm_ops);
    END IF;
END
$$;
"""


def upgrade():
    op.create_table(
        "order_status_counts",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("delta", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "order_slot_counts",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("slot_hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("delta", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_order_slot_counts_hour", "order_slot_counts", ["slot_hour", "status"], postgresql_include=["delta"]
    )
    op.drop_index("ix_orders_created_at", table_name="orders")
    op.create_index("ix_orders_created_id", "orders", ["created_at", "id"], unique=False)
    op.create_index(
        "ix_orders_status_created_id",
        "orders",
        ["status", "created_at", "id"],
        unique=False,
        postgresql_include=["slot_start"],
    )
    op.create_index(
        "ix_orders_slot_status_id",
        "orders",
        ["slot_start", "status", "id"],
        unique=False,
        postgresql_include=["created_at"],
    )
    op.create_index(
        "ix_orders_worker_status_sorts",
        "orders",
        ["worker_id", "status"],
        unique=False,
        postgresql_include=["created_at", "slot_start", "price_cents"],
    )
    # The triggers are created before the existing orders are counted, in one transaction: CREATE
    # TRIGGER locks out writers to orders until the commit, so no order is missed or counted twice.
    op.execute(COUNT_FUNCTION)
    op.execute("INSERT INTO order_status_counts (status, delta) SELECT status, count(*) FROM orders GROUP BY status")
    op.execute(
        "INSERT INTO order_slot_counts (slot_hour, status, delta)"
        " SELECT date_trunc('hour', slot_start, 'UTC'), status, count(*) FROM orders GROUP BY 1, 2"
    )
    op.execute(PEOPLE_SEARCH)


def downgrade():
    op.execute("DROP INDEX IF EXISTS ix_users_email_trgm")
    op.execute("DROP INDEX IF EXISTS ix_users_name_trgm")
    for name in ("insert", "update", "delete", "truncate"):
        op.execute(f"DROP TRIGGER orders_counts_{name} ON orders")
    op.execute("DROP FUNCTION orders_truncate_counts()")
    op.execute("DROP FUNCTION orders_count_statuses()")
    op.drop_index("ix_orders_worker_status_sorts", table_name="orders")
    op.drop_index("ix_orders_slot_status_id", table_name="orders")
    op.drop_index("ix_orders_status_created_id", table_name="orders")
    op.drop_index("ix_orders_created_id", table_name="orders")
    op.create_index("ix_orders_created_at", "orders", ["created_at"], unique=False)
    op.drop_index("ix_order_slot_counts_hour", table_name="order_slot_counts")
    op.drop_table("order_slot_counts")
    op.drop_table("order_status_counts")
