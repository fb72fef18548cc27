"""Rename assets.description to notes (the data is kept).

Revision ID: 0008_rename_assets_description_t
Revises: 0007_add_bought_on_to_assets
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_rename_assets_description_t"
down_revision: str | None = "0007_add_bought_on_to_assets"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Rename column assets.description to notes."""
    with op.batch_alter_table("assets") as batch:
        batch.alter_column(
            "description",
            new_column_name="notes",
            existing_type=sa.Text(),
            existing_nullable=True,
        )


def downgrade() -> None:
    """Rename column assets.notes back to description."""
    with op.batch_alter_table("assets") as batch:
        batch.alter_column(
            "notes",
            new_column_name="description",
            existing_type=sa.Text(),
            existing_nullable=True,
        )
