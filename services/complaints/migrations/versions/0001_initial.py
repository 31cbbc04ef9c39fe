"""complaints: chassis tables and the customer read model

Revision ID: 0001
Revises:
"""

from alembic import op

from shared.migrations import create_chassis_tables
from shared.read_models import known_customers

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    create_chassis_tables(bind)
    known_customers.create(bind)



def downgrade() -> None:
    for table in ("known_customers", "inbox", "outbox"):
        op.drop_table(table)
