"""Change assets.condition.

From:
    condition:enum:new,used:default=new
To:
    condition:enum:new,used,broken:default=new

Revision ID: 0009_change_assets_condition
Revises: 0008_rename_assets_description_t
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op
from alembic.util import CommandError

revision: str = "0009_change_assets_condition"
down_revision: str | None = "0008_rename_assets_description_t"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


@contextmanager
def every_project(table: str) -> Iterator[None]:
    """Let the statements inside reach the rows of every project in `table`.

    Row-level security is forced on tenant tables, so that even their owner, who
    runs the migrations, sees no project's rows: an UPDATE filling a column would
    change none. It is lifted for the statements inside and forced again after,
    within the migration's transaction. On SQLite it does nothing.
    """
    postgresql = op.get_context().dialect.name == "postgresql"
    if postgresql:
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    yield
    if postgresql:
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")


def refuse_values(table: str, column: str, kept: tuple[str, ...]) -> None:
    """Stop unless each row of `table` holds one of `kept` in `column`, or nothing.

    The enum check created next would fail on another value with the database's own
    error, as would narrowing the column; this names the values and how many rows
    hold each. The migration's transaction is rolled back: nothing has changed. An
    offline (`--sql`) script has no rows to read, and checks nothing.
    """
    if op.get_context().as_sql:
        return
    rows = sa.table(table, sa.column(column))
    others = (
        sa.select(rows.c[column], sa.func.count())
        .where(rows.c[column].not_in(kept))
        .group_by(rows.c[column])
        .order_by(rows.c[column])
    )
    with every_project(table):
        found = op.get_bind().execute(others).all()
    if found:
        held = ", ".join(f"{value} ({count} row(s))" for value, count in found)
        raise CommandError(
            f"{table}.{column} holds value(s) that this migration drops: {held}. "
            f"Change them to one of {', '.join(kept)}, then run it again."
        )


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
    refuse_values("assets", "condition", ("new", "used"))
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
