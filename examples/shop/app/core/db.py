"""Database engine, session factory and the per-request transaction.

A request uses one pooled connection and one transaction: `get_connection` opens
them, and the ORM session of `get_db`, if the request needs one, runs on the same
connection, so prebuilt statements and ORM code see each other's writes.
"""

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends
from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from app.core.config import settings
from app.core.errors import keeps_writes
from app.core.sql import Connection, CoreConnection, DriverConnection
from app.core.tenancy import TenantSession


def _engine_options() -> dict[str, Any]:
    """Pool and driver options for the configured database."""
    options: dict[str, Any] = {"echo": settings.database_echo}
    if settings.database_pool_size == 0:
        options["poolclass"] = NullPool
    elif not settings.is_sqlite:
        # No pre-ping: it costs a transaction per checkout; a broken connection
        # fails its request and is then discarded by the pool.
        options["pool_size"] = settings.database_pool_size
        options["pool_recycle"] = 1800
    if settings.is_sqlite:
        options["connect_args"] = {"timeout": 30}
    elif not settings.database_prepared_statements:
        # Behind a pooler that cannot track named prepared statements (PgBouncer
        # before 1.21 in transaction mode): unnamed statements only.
        options["connect_args"] = {
            "statement_cache_size": 0,
            "prepared_statement_cache_size": 0,
            "prepared_statement_name_func": _unique_statement_name,
        }
    return options


def _unique_statement_name() -> str:
    """A statement name no other client of a shared server connection will use."""
    return f"__asyncpg_{uuid.uuid4()}__"


engine = create_async_engine(settings.database_url, **_engine_options())
SessionLocal = async_sessionmaker(
    engine, expire_on_commit=False, autoflush=False, sync_session_class=TenantSession
)


if settings.is_sqlite:

    @event.listens_for(engine.sync_engine, "connect")
    def _enable_sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
        """SQLite ignores foreign keys unless asked, per connection."""
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


@asynccontextmanager
async def _ending(
    commit: Callable[[], Awaitable[Any]], rollback: Callable[[], Awaitable[Any]]
) -> AsyncIterator[None]:
    """Commit if the block succeeds or fails with an error that keeps its writes."""
    try:
        yield
    except BaseException as error:
        await (commit() if keeps_writes(error) else rollback())
        raise
    await commit()


@asynccontextmanager
async def transaction(bind: AsyncEngine = engine) -> AsyncIterator[Connection]:
    """A pooled connection in a transaction that commits if the block succeeds."""
    async with bind.connect() as connection:
        if bind.dialect.driver != "asyncpg":
            await connection.begin()
            async with _ending(connection.commit, connection.rollback):
                yield CoreConnection(connection)
            return
        raw = await connection.get_raw_connection()
        if raw.driver_connection.is_closed():  # the server dropped it while pooled
            await connection.invalidate()
            raw = await connection.get_raw_connection()
        db = DriverConnection(connection, raw.driver_connection)
        try:
            driver_transaction = db.driver.transaction()
            await driver_transaction.start()
            async with _ending(driver_transaction.commit, driver_transaction.rollback):
                yield db
        except BaseException:
            if db.driver.is_closed():  # lost mid-request: the pool must not reuse it
                await connection.invalidate()
            raise


async def get_connection() -> AsyncIterator[Connection]:
    """The request's connection and transaction: committed when the request succeeds.

    This is the one transaction boundary of a request: repositories and services
    never commit, and any exception rolls everything back (except the errors that
    say they keep their writes, such as a detected refresh-token reuse).
    """
    async with transaction() as connection:
        yield connection


async def get_db(
    db: Annotated[Connection, Depends(get_connection, scope="function")],
) -> AsyncIterator[AsyncSession]:
    """An ORM session on the request's connection, inside its transaction."""
    async with (
        SessionLocal(bind=db.connection) as session,
        _ending(session.commit, session.rollback),
    ):
        yield session
