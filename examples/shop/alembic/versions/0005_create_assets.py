"""Create the assets table.

Revision ID: 0005_assets
Revises: 0004_notifications
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.core.distribution import distribute

revision: str = "0005_assets"
down_revision: str | None = "0004_notifications"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the assets table, its keys and indexes."""
    op.create_table(
        "assets",
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
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
            name=op.f("fk_assets_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", "id", name=op.f("pk_assets")),
    )
    # On Citus, the table's shards go with their projects' (app/core/distribution.py).
    distribute("assets")

    if op.get_bind().dialect.name == "postgresql":
        # Row-level security: only rows of the transaction's app.project_id.

        op.execute("ALTER TABLE assets ENABLE ROW LEVEL SECURITY")

        op.execute("ALTER TABLE assets FORCE ROW LEVEL SECURITY")

        op.execute(
            "CREATE POLICY assets_project_isolation ON assets USING (project_id = NULLIF(current_setting('app.project_id', true), '')::uuid) WITH CHECK (project_id = NULLIF(current_setting('app.project_id', true), '')::uuid)"
        )


def downgrade() -> None:
    """Drop the assets table."""

    op.drop_table("assets")
