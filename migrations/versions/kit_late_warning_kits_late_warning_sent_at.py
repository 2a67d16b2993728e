"""kits: when the department and the managers were warned that a kit is late

Revision ID: kit_late_warning
Revises: 53be34b73211
Create Date: 2026-12-02 07:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'kit_late_warning'
down_revision = '53be34b73211'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('kits', sa.Column('late_warning_sent_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    op.drop_column('kits', 'late_warning_sent_at')
