"""Citus: the tables distributed by project over several PostgreSQL nodes.

On a database with the `citus` extension, the migrations call these functions after
creating each table; on plain PostgreSQL and SQLite they do nothing.

- `users` and `refresh_tokens` belong to no project: they become reference tables,
  with a copy on every node, so that a join with them never leaves a node.
- `projects` is distributed by `id`; memberships and every resource's table by
  `project_id`, co-located with projects. A project's rows live together on one
  shard, and a statement that names its project is routed to that shard's node.

At run time, `app.core.db` tells the application whether its database is a Citus
database (`CITUS_INSTALLED`), and `app.core.tenancy.project_setting_statements` says
how the project reaches the workers.
"""

from collections.abc import Callable
from typing import Any

from alembic import op
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

CITUS_INSTALLED = "SELECT EXISTS (SELECT FROM pg_extension WHERE extname = 'citus')"
"""A query: whether the connection's database has the Citus extension."""


def citus_installed(connection: Connection) -> bool:
    """Whether `connection`'s database has the Citus extension."""
    if connection.dialect.name != "postgresql":
        return False
    return bool(connection.exec_driver_sql(CITUS_INSTALLED).scalar())


def migrating_citus() -> bool:
    """Whether the running migration works on a Citus database (not when writing SQL)."""
    return not op.get_context().as_sql and citus_installed(op.get_bind())


REFLECTED_ARRAY_TYPES = (
    "SELECT CAST(NULL AS name[]), CAST(NULL AS bool[]), CAST(NULL AS int8[]), "
    "CAST(NULL AS int2vector)"
)
"""A query whose columns have the array types that reflecting the schema reads."""


def prepare(connection: Connection) -> None:
    """Settings of a migration's transaction on Citus (see `alembic/env.py`).

    A new table keeps its foreign keys to reference tables as written, to be
    distributed next (Citus would otherwise turn it into a "Citus local" table), and
    statements over many shards run on one connection per node, so that a migration
    may change reference tables after distributed ones in the same transaction.

    asyncpg looks up each array type once per connection, with a query that scans
    `pg_class`, which Citus slows down by hiding its shards there (300 ms of the
    coordinator's CPU instead of 8 ms). The types that `alembic check` reads are
    looked up first with the shards shown; reflection itself keeps them hidden.
    """
    if citus_installed(connection):
        connection.exec_driver_sql(
            "SET LOCAL citus.enable_local_reference_table_foreign_keys = off"
        )
        connection.exec_driver_sql(
            "SET LOCAL citus.multi_shard_modify_mode = 'sequential'"
        )
        connection.exec_driver_sql("SET LOCAL citus.override_table_visibility = off")
        connection.exec_driver_sql(REFLECTED_ARRAY_TYPES)
        connection.exec_driver_sql("SET LOCAL citus.override_table_visibility = on")


KEYS_CITUS_CANNOT_KEEP = frozenset({"fk_users_current_project_id_projects"})
"""Foreign keys of the models that a Citus database does not have.

Citus keeps no foreign key from a reference table to a distributed one: the first
migration leaves this one out there, and `TenantRepository` does its work.
"""


def without_keys_citus_cannot_keep(
    connection: Connection,
) -> Callable[[Any, str | None, str, bool, Any], bool]:
    """An `include_object` hook: on Citus, `alembic check` expects none of those keys.

    It asks whether the database is a Citus database when `alembic check` first
    compares a key, inside the migration's transaction, not before it begins.
    """
    answers: list[bool] = []

    def include(
        _object: Any, name: str | None, type_: str, reflected: bool, _to: Any
    ) -> bool:
        if type_ != "foreign_key_constraint" or name not in KEYS_CITUS_CANNOT_KEEP:
            return True
        if not answers:
            answers.append(citus_installed(connection))
        return not answers[0]

    return include


def distribute(
    table: str, column: str = "project_id", colocate_with: str = "projects"
) -> None:
    """Distribute `table` by `column`, its shards placed with those of `colocate_with`."""
    if migrating_citus():
        op.get_bind().execute(
            text(
                "SELECT create_distributed_table("
                ":table, :column, colocate_with => :colocate_with)"
            ),
            {"table": table, "column": column, "colocate_with": colocate_with},
        )


def replicate(table: str) -> None:
    """Make `table` a reference table: a copy on every node."""
    if migrating_citus():
        op.get_bind().execute(
            text("SELECT create_reference_table(:table)"), {"table": table}
        )


REFERENCE_TABLES = ("users", "refresh_tokens")
"""The tables of no project: a copy on every node."""


def distribute_existing_tables() -> None:
    """Distribute the tables that earlier migrations created without distributing them.

    For a backend whose first migrations were generated before they distributed their
    tables: one new migration calls this (it does nothing off Citus, nor for tables
    already distributed). The foreign keys of those tables are dropped, the tables
    distributed in order (`REFERENCE_TABLES` replicated, `projects` by `id`, then every
    table with a `project_id`), and the keys created again, but those Citus cannot
    keep. Other tables stay on the coordinator alone.
    """
    if not migrating_citus():
        return
    bind = op.get_bind()
    done = {
        name
        for (name,) in bind.execute(
            text("SELECT logicalrelid::text FROM pg_dist_partition")
        )
    }
    inspector = inspect(bind)
    tables = [
        name
        for name in inspector.get_table_names()
        if name != "alembic_version" and name not in done
    ]
    keys = {name: inspector.get_foreign_keys(name) for name in tables}
    by_project = [
        name
        for name in tables
        if name not in (*REFERENCE_TABLES, "projects")
        and "project_id" in {column["name"] for column in inspector.get_columns(name)}
    ]
    for name, foreign_keys in keys.items():
        for key in foreign_keys:
            op.drop_constraint(key["name"], name, type_="foreignkey")
    for name in REFERENCE_TABLES:
        if name in tables:
            replicate(name)
    if "projects" in tables:
        distribute("projects", "id", colocate_with="default")
    for name in by_project:
        distribute(name)
    for name in [*REFERENCE_TABLES, "projects", *by_project]:
        if (
            name in tables
        ):  # the rows now live in the shards: drop the coordinator's copy
            bind.execute(
                text("SELECT truncate_local_data_after_distributing_table(:table)"),
                {"table": name},
            )
    for name, foreign_keys in keys.items():
        for key in foreign_keys:
            if key["name"] in KEYS_CITUS_CANNOT_KEEP:
                continue
            actions = {
                option: value
                for option in ("ondelete", "onupdate")
                if (value := key["options"].get(option))
            }
            op.create_foreign_key(
                key["name"],
                name,
                key["referred_table"],
                key["constrained_columns"],
                key["referred_columns"],
                **actions,
            )
