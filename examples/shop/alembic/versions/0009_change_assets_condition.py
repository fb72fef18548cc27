"""Change assets.condition.

From:
    condition:enum:new,used:default=new
To:
    condition:enum:new,used,broken:default=new

Revision ID: 0009_change_assets_condition
Revises: 0008_rename_assets_description_t
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_change_assets_condition"
down_revision: str | None = "0008_rename_assets_description_t"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Alter column assets.condition."""
    with op.batch_alter_table("assets") as batch:
        batch.drop_constraint(op.f("ck_assets_condition"), type_="check")
    with op.batch_alter_table("assets") as batch:
        batch.alter_column(
            "condition",
            type_=sa.String(length=6),
            existing_type=sa.String(length=4),
            existing_nullable=False,
        )
    with op.batch_alter_table("assets") as batch:
        batch.create_check_constraint(
            op.f("ck_assets_condition"), "condition IN ('new', 'used', 'broken')"
        )


def downgrade() -> None:
    """Alter column assets.condition back."""
    with op.batch_alter_table("assets") as batch:
        batch.drop_constraint(op.f("ck_assets_condition"), type_="check")
    with op.batch_alter_table("assets") as batch:
        batch.alter_column(
            "condition",
            type_=sa.String(length=4),
            existing_type=sa.String(length=6),
            existing_nullable=False,
        )
    with op.batch_alter_table("assets") as batch:
        batch.create_check_constraint(
            op.f("ck_assets_condition"), "condition IN ('new', 'used')"
        )
