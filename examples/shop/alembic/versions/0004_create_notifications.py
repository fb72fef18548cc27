"""Create the notifications table.

Revision ID: 0004_notifications
Revises: 0003_invoices
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.core.distribution import distribute

revision: str = "0004_notifications"
down_revision: str | None = "0003_invoices"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the notifications table, its keys and indexes."""
    op.create_table(
        "notifications",
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("read", sa.Boolean(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
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
            name=op.f("fk_notifications_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id", "user_id"],
            ["memberships.project_id", "memberships.user_id"],
            name=op.f("fk_notifications_project_id_user_id_memberships"),
        ),
        sa.PrimaryKeyConstraint("project_id", "id", name=op.f("pk_notifications")),
    )
    # On Citus, the table's shards go with their projects' (app/core/distribution.py).
    distribute("notifications")

    op.create_index(
        "ix_notifications_project_id_user_id",
        "notifications",
        ["project_id", "user_id"],
    )

    if op.get_bind().dialect.name == "postgresql":
        # Row-level security: only rows of the transaction's app.project_id.

        op.execute("ALTER TABLE notifications ENABLE ROW LEVEL SECURITY")

        op.execute("ALTER TABLE notifications FORCE ROW LEVEL SECURITY")

        op.execute(
            "CREATE POLICY notifications_project_isolation ON notifications USING (project_id = NULLIF(current_setting('app.project_id', true), '')::uuid) WITH CHECK (project_id = NULLIF(current_setting('app.project_id', true), '')::uuid)"
        )


def downgrade() -> None:
    """Drop the notifications table."""

    op.drop_index("ix_notifications_project_id_user_id", table_name="notifications")

    op.drop_table("notifications")
