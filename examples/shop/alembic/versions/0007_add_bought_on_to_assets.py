"""Add bought_on to assets.

Revision ID: 0007_add_bought_on_to_assets
Revises: 0006_add_condition_to_assets
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_add_bought_on_to_assets"
down_revision: str | None = "0006_add_condition_to_assets"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add column assets.bought_on."""
    with op.batch_alter_table("assets") as batch:
        batch.add_column(sa.Column("bought_on", sa.Date(), nullable=True))


def downgrade() -> None:
    """Drop column assets.bought_on."""
    with op.batch_alter_table("assets") as batch:
        batch.drop_column("bought_on")
