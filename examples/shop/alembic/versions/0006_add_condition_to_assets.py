"""Add condition to assets.

Revision ID: 0006_add_condition_to_assets
Revises: 0005_assets
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_add_condition_to_assets"
down_revision: str | None = "0005_assets"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add column assets.condition."""
    with op.batch_alter_table("assets") as batch:
        batch.add_column(
            sa.Column(
                "condition",
                sa.String(length=4),
                nullable=False,
                server_default=sa.text("'new'"),
            )
        )
    with op.batch_alter_table("assets") as batch:
        batch.create_check_constraint(
            op.f("ck_assets_condition"), "condition IN ('new', 'used')"
        )


def downgrade() -> None:
    """Drop column assets.condition."""
    with op.batch_alter_table("assets") as batch:
        batch.drop_constraint(op.f("ck_assets_condition"), type_="check")
    with op.batch_alter_table("assets") as batch:
        batch.drop_column("condition")
