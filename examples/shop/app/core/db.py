"""Database engine, session factory and the per-request transaction."""

from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from app.core.config import settings
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
    return options


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


async def get_db() -> AsyncIterator[AsyncSession]:
    """Yield a session whose transaction commits when the request succeeds.

    This is the one transaction boundary of a request: repositories and services
    only flush, and any exception rolls everything back.
    """
    async with SessionLocal() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
