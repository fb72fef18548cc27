"""Alembic environment: runs migrations with the application's async engine."""

import asyncio
from typing import Any

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import event, pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from app.core.config import Settings, settings
from app.core.distribution import prepare, without_keys_citus_cannot_keep
from app.models import Base
from app.models.base import UTCDateTime

config = context.config
target_metadata = Base.metadata


def database_url() -> str:
    """The URL to migrate: MIGRATION_DATABASE_URL (the table owner) or DATABASE_URL,
    from the environment or from .env."""
    return Settings().migration_database_url or settings.database_url


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | bool:
    """Render the application's column types with plain SQLAlchemy types."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure(connection: Connection | None = None, **kwargs: Any) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        render_item=render_item,
        **kwargs,
    )


def run_migrations_offline() -> None:
    """Emit the SQL to stdout instead of running it."""
    _configure(
        url=database_url(), literal_binds=True, dialect_opts={"paramstyle": "named"}
    )
    with context.begin_transaction():
        context.run_migrations()


# Roles that use the tables (the app) may read the migration state, never change it.
# The table's owner keeps its rights, whoever runs this migration (a superuser, once).
_PROTECT_VERSION_TABLE = """
DO $$
DECLARE
    grantee_name text;
BEGIN
    FOR grantee_name IN
        SELECT DISTINCT grantee FROM information_schema.role_table_grants
        WHERE table_schema = current_schema() AND table_name = 'alembic_version'
            AND privilege_type IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE')
            AND grantee NOT IN (current_user, 'PUBLIC')
            AND grantee NOT IN (
                SELECT tableowner FROM pg_tables
                WHERE schemaname = current_schema() AND tablename = 'alembic_version'
            )
    LOOP
        EXECUTE format(
            'REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON alembic_version FROM %I',
            grantee_name
        );
    END LOOP;
END $$
"""


def _run_sync(connection: Connection) -> None:
    _configure(connection, include_object=without_keys_citus_cannot_keep(connection))
    with context.begin_transaction():
        prepare(connection)
        context.run_migrations()
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(_PROTECT_VERSION_TABLE)


def _no_implicit_transactions(dbapi_connection: Any, _record: Any) -> None:
    """Stop the SQLite driver from opening transactions itself (see below)."""
    dbapi_connection.isolation_level = None


def _begin(connection: Connection) -> None:
    """Open the transaction, DDL included, as SQLite's driver no longer does."""
    connection.exec_driver_sql("BEGIN")


async def run_migrations_online() -> None:
    """Run the migrations on a live database connection, all in one transaction.

    SQLite's driver opens a transaction only before it changes rows, so the tables a
    migration creates or rebuilds (`batch_alter_table`) would stay after a failure,
    and block the next attempt: there, the transaction is begun explicitly.
    """
    engine = create_async_engine(database_url(), poolclass=pool.NullPool)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _no_implicit_transactions)
        event.listen(engine.sync_engine, "begin", _begin)
    async with engine.connect() as connection:
        await connection.run_sync(_run_sync)
    await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_migrations_online())
