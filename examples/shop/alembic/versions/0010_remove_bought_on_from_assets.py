"""Remove bought_on from assets (the column data is lost).

Revision ID: 0010_remove_bought_on_from_asset
Revises: 0009_change_assets_condition
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_remove_bought_on_from_asset"
down_revision: str | None = "0009_change_assets_condition"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Drop column assets.bought_on (its data is lost)."""
    with op.batch_alter_table("assets") as batch:
        batch.drop_column("bought_on")


def downgrade() -> None:
    """Add column assets.bought_on back, empty."""
    with op.batch_alter_table("assets") as batch:
        batch.add_column(sa.Column("bought_on", sa.Date(), nullable=True))
