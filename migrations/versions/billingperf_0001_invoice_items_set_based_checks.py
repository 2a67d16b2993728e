"""billing: invoice items' references checked once per statement instead of once per row

Revision ID: billingperf_0001
Revises: matching_0002

A month's invoices write one invoice item per ledger transaction (900,000 at 1M orders). Each row's
two foreign-key checks ran a lookup that also locked the referenced row (FOR KEY SHARE: a dirtied
page and a WAL record per transaction), 13 of the statement's 20 s on the 1M set. The same
guarantee is now one set-based check per statement over the inserted rows (a transition table);
the referenced rows cannot vanish meanwhile: ledger transactions are append-only (a trigger) and
an invoice that still has items cannot be deleted (checked the same way).
"""

from alembic import op

revision = "billingperf_0001"
down_revision = "matching_0002"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_constraint("fk_invoice_items_invoice_id_invoices", "invoice_items", type_="foreignkey")
    op.drop_constraint("fk_invoice_items_transaction_id_ledger_transactions", "invoice_items", type_="foreignkey")
    op.execute(
        """
        CREATE FUNCTION invoice_items_check_references() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF EXISTS (SELECT 1 FROM new_items n LEFT JOIN invoices i ON i.id = n.invoice_id WHERE i.id IS NULL) THEN
                RAISE EXCEPTION 'invoice_items: an item names no invoice' USING ERRCODE = 'foreign_key_violation';
            END IF;
            IF EXISTS (SELECT 1 FROM new_items n LEFT JOIN ledger_transactions t ON t.id = n.transaction_id
                       WHERE t.id IS NULL) THEN
                RAISE EXCEPTION 'invoice_items: an item names no ledger transaction'
                    USING ERRCODE = 'foreign_key_violation';
            END IF;
            RETURN NULL;
        END $$;
        """
    )
    op.execute(
        """
        CREATE FUNCTION invoices_refuse_delete_with_items() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF EXISTS (SELECT 1 FROM old_invoices o JOIN invoice_items i ON i.invoice_id = o.id) THEN
                RAISE EXCEPTION 'invoices: an invoice with items cannot be deleted'
                    USING ERRCODE = 'foreign_key_violation';
            END IF;
            RETURN NULL;
        END $$;
        """
    )
    for event in ("INSERT", "UPDATE"):
        op.execute(
            f"CREATE TRIGGER invoice_items_references_{event.lower()} AFTER {event} ON invoice_items "
            "REFERENCING NEW TABLE AS new_items FOR EACH STATEMENT EXECUTE FUNCTION invoice_items_check_references()"
        )
    op.execute(
        "CREATE TRIGGER invoices_items_kept AFTER DELETE ON invoices "
        "REFERENCING OLD TABLE AS old_invoices FOR EACH STATEMENT EXECUTE FUNCTION invoices_refuse_delete_with_items()"
    )


def downgrade():
    op.execute("DROP TRIGGER invoices_items_kept ON invoices")
    op.execute("DROP TRIGGER invoice_items_references_insert ON invoice_items")
    op.execute("DROP TRIGGER invoice_items_references_update ON invoice_items")
    op.execute("DROP FUNCTION invoices_refuse_delete_with_items()")
    op.execute("DROP FUNCTION invoice_items_check_references()")
    op.create_foreign_key("fk_invoice_items_invoice_id_invoices", "invoice_items", "invoices", ["invoice_id"], ["id"])
    op.create_foreign_key(
        "fk_invoice_items_transaction_id_ledger_transactions",
        "invoice_items",
        "ledger_transactions",
        ["transaction_id"],
        ["id"],
    )
