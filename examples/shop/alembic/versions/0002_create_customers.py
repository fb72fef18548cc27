"""Create the customers table.

Revision ID: 0002_customers
Revises: 0001_base
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.core.distribution import distribute

revision: str = "0002_customers"
down_revision: str | None = "0001_base"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the customers table, its keys and indexes."""
    op.create_table(
        "customers",
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_customers_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", "id", name=op.f("pk_customers")),
    )
    # On Citus, the table's shards go with their projects' (app/core/distribution.py).
    distribute("customers")

    if op.get_bind().dialect.name == "postgresql":
        # Row-level security: only rows of the transaction's app.project_id.

        op.execute("ALTER TABLE customers ENABLE ROW LEVEL SECURITY")

        op.execute("ALTER TABLE customers FORCE ROW LEVEL SECURITY")

        op.execute(
            "CREATE POLICY customers_project_isolation ON customers USING (project_id = NULLIF(current_setting('app.project_id', true), '')::uuid) WITH CHECK (project_id = NULLIF(current_setting('app.project_id', true), '')::uuid)"
        )


def downgrade() -> None:
    """Drop the customers table."""

    op.drop_table("customers")
