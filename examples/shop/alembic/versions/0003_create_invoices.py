"""Create the invoices table.

Revision ID: 0003_invoices
Revises: 0002_customers
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.core.distribution import distribute

revision: str = "0003_invoices"
down_revision: str | None = "0002_customers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the invoices table, its keys and indexes."""
    op.create_table(
        "invoices",
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.String(length=255), nullable=False),
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "sent",
                "paid",
                name="status",
                native_enum=False,
                create_constraint=True,
                length=5,
            ),
            nullable=False,
        ),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
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
            name=op.f("fk_invoices_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id", "customer_id"],
            ["customers.project_id", "customers.id"],
            name=op.f("fk_invoices_project_id_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("project_id", "id", name=op.f("pk_invoices")),
        sa.UniqueConstraint(
            "project_id", "number", name=op.f("uq_invoices_project_id_number")
        ),
    )
    # On Citus, the table's shards go with their projects' (app/core/distribution.py).
    distribute("invoices")

    op.create_index(
        "ix_invoices_project_id_customer_id", "invoices", ["project_id", "customer_id"]
    )

    if op.get_bind().dialect.name == "postgresql":
        # Row-level security: only rows of the transaction's app.project_id.

        op.execute("ALTER TABLE invoices ENABLE ROW LEVEL SECURITY")

        op.execute("ALTER TABLE invoices FORCE ROW LEVEL SECURITY")

        op.execute(
            "CREATE POLICY invoices_project_isolation ON invoices USING (project_id = NULLIF(current_setting('app.project_id', true), '')::uuid) WITH CHECK (project_id = NULLIF(current_setting('app.project_id', true), '')::uuid)"
        )


def downgrade() -> None:
    """Drop the invoices table."""

    op.drop_index("ix_invoices_project_id_customer_id", table_name="invoices")

    op.drop_table("invoices")
