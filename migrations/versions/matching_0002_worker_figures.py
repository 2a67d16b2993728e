"""matching: per-worker figures (past results, booked orders per day) kept by a trigger on orders,
backfilled here; the booked-orders overlap index; match runs' scores compressed with lz4

Revision ID: matching_0002
Revises: matching_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "matching_0002"
down_revision = "matching_0001"
branch_labels = None
depends_on = None

BOOKED = "('matched', 'kit_issued', 'in_progress')"

# One order's contribution to its worker's figures, added (sign 1) or removed (sign -1). Every
# write to orders that can change it (insert, delete, an update of status, worker or slot) calls
# this for the old row and the new one, in the writing transaction: the figures are exact at
# every commit, whatever wrote the order (services, a manager's SQL, a bulk load).
FUNCTIONS = f"""
CREATE FUNCTION matching_figures_apply(worker integer, order_status text, slot timestamptz, sign integer)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    slot_day date := (slot AT TIME ZONE 'UTC')::date;
BEGIN
    IF worker IS NULL THEN
        RETURN;
    END IF;
    IF order_status IN ('completed', 'failed', 'cancelled') THEN
        INSERT INTO matching_worker_figures AS f (worker_id, completed, failed, cancelled)
        VALUES (worker,
                CASE WHEN order_status = 'completed' THEN sign ELSE 0 END,
                CASE WHEN order_status = 'failed' THEN sign ELSE 0 END,
                CASE WHEN order_status = 'cancelled' THEN sign ELSE 0 END)
        ON CONFLICT (worker_id) DO UPDATE
        SET completed = f.completed + EXCLUDED.completed,
            failed = f.failed + EXCLUDED.failed,
            cancelled = f.cancelled + EXCLUDED.cancelled;
    ELSIF order_status IN {BOOKED} THEN
        INSERT INTO matching_worker_load_days AS d (worker_id, day, busy)
        VALUES (worker, slot_day, sign)
        ON CONFLICT (worker_id, day) DO UPDATE SET busy = d.busy + EXCLUDED.busy;
        IF sign < 0 THEN
            DELETE FROM matching_worker_load_days WHERE worker_id = worker AND day = slot_day AND busy = 0;
        END IF;
    END IF;
END
$$;

CREATE FUNCTION matching_figures_on_order() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    worker integer;
BEGIN
    -- The workers' figures rows first, lowest id first: matching holds a worker's row (its lock
    -- while choosing, app.matching.figures.lock_worker) before its assignment touches the worker's
    -- load days, so every transaction takes these rows in the same order and none can deadlock.
    FOR worker IN
        SELECT DISTINCT w FROM unnest(ARRAY[
            CASE WHEN TG_OP <> 'INSERT' THEN OLD.worker_id END,
            CASE WHEN TG_OP <> 'DELETE' THEN NEW.worker_id END
        ]) AS w WHERE w IS NOT NULL ORDER BY w
    LOOP
        INSERT INTO matching_worker_figures AS f (worker_id) VALUES (worker)
        ON CONFLICT (worker_id) DO UPDATE SET completed = f.completed;
    END LOOP;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM matching_figures_apply(OLD.worker_id, OLD.status, OLD.slot_start, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM matching_figures_apply(NEW.worker_id, NEW.status, NEW.slot_start, 1);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER matching_figures_insert AFTER INSERT ON orders
    FOR EACH ROW WHEN (NEW.worker_id IS NOT NULL) EXECUTE FUNCTION matching_figures_on_order();
CREATE TRIGGER matching_figures_update AFTER UPDATE OF status, worker_id, slot_start ON orders
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.worker_id IS DISTINCT FROM NEW.worker_id
                       OR OLD.slot_start IS DISTINCT FROM NEW.slot_start)
    EXECUTE FUNCTION matching_figures_on_order();
CREATE TRIGGER matching_figures_delete AFTER DELETE ON orders
    FOR EACH ROW WHEN (OLD.worker_id IS NOT NULL) EXECUTE FUNCTION matching_figures_on_order();
"""

# The same recount that app.matching.figures.rebuild runs.
BACKFILL = f"""
INSERT INTO matching_worker_figures (worker_id, completed, failed, cancelled)
SELECT worker_id, count(*) FILTER (WHERE status = 'completed'), count(*) FILTER (WHERE status = 'failed'),
       count(*) FILTER (WHERE status = 'cancelled')
FROM orders WHERE worker_id IS NOT NULL AND status IN ('completed', 'failed', 'cancelled')
GROUP BY worker_id;
INSERT INTO matching_worker_load_days (worker_id, day, busy)
SELECT worker_id, (slot_start AT TIME ZONE 'UTC')::date, count(*)
FROM orders WHERE worker_id IS NOT NULL AND status IN {BOOKED}
GROUP BY 1, 2;
"""


def upgrade():
    op.create_table(
        "matching_worker_figures",
        sa.Column("worker_id", sa.Integer(), nullable=False),
        sa.Column("completed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("failed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("cancelled", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["worker_id"], ["users.id"], name="fk_matching_worker_figures_worker_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("worker_id", name="pk_matching_worker_figures"),
    )
    op.create_table(
        "matching_worker_load_days",
        sa.Column("worker_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("busy", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["worker_id"], ["users.id"], name="fk_matching_worker_load_days_worker_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("worker_id", "day", name="pk_matching_worker_load_days"),
    )
    op.create_index("ix_matching_worker_load_days_day", "matching_worker_load_days", ["day", "worker_id"])
    op.create_index(
        "ix_orders_booked_during",
        "orders",
        [sa.literal_column("tstzrange(slot_start, slot_end)")],
        postgresql_using="gist",
        postgresql_where=sa.text(f"status IN {BOOKED}"),
    )
    op.execute(FUNCTIONS)
    op.execute(BACKFILL)
    # Each run stores every candidate's scores (~100 KB of JSON at 1,000 workers, ~1 MB at 10,000):
    # as json text (no conversion to jsonb's binary form), compressed by lz4, several times faster
    # than the default pglz. A server built without lz4 (the embedded one of `make run`) keeps pglz.
    op.execute("ALTER TABLE match_runs ALTER COLUMN scores TYPE json USING scores::json")
    op.execute(
        """
        DO $$
        BEGIN
            ALTER TABLE match_runs ALTER COLUMN scores SET COMPRESSION lz4;
        EXCEPTION WHEN feature_not_supported THEN
            RAISE NOTICE 'this PostgreSQL has no lz4: match runs keep the default compression';
        END $$
        """
    )


def downgrade():
    op.execute("ALTER TABLE match_runs ALTER COLUMN scores SET COMPRESSION default")
    op.execute("ALTER TABLE match_runs ALTER COLUMN scores TYPE jsonb USING scores::jsonb")
    for trigger in ("matching_figures_insert", "matching_figures_update", "matching_figures_delete"):
        op.execute(f"DROP TRIGGER {trigger} ON orders")
    op.execute("DROP FUNCTION matching_figures_on_order()")
    op.execute("DROP FUNCTION matching_figures_apply(integer, text, timestamptz, integer)")
    op.drop_index("ix_orders_booked_during", table_name="orders")
    op.drop_index("ix_matching_worker_load_days_day", table_name="matching_worker_load_days")
    op.drop_table("matching_worker_load_days")
    op.drop_table("matching_worker_figures")
