"""Database engine, session factory and the per-request transaction.

A request uses one pooled connection and one transaction: `get_connection` opens
them, and the ORM session of `get_db`, if the request needs one, runs on the same
connection, so prebuilt statements and ORM code see each other's writes.

When the database is out of reach (restarted, failing over, refusing connections),
requests answer 503 with `Retry-After`, each logged as one warning line, and the
connections involved are discarded rather than returned to the pool. A request is
answered 2xx only once its COMMIT has succeeded.
"""

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from typing import Annotated, Any

import anyio
from asyncpg.transaction import Transaction
from fastapi import Depends, Request
from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from app.core.config import settings
from app.core.errors import ServiceUnavailable, keeps_writes
from app.core.outages import is_outage, original_error
from app.core.sql import Connection, CoreConnection, DriverConnection
from app.core.tenancy import CITUS_INSTALLED, DISTRIBUTED, SHOW_SHARDS, TenantSession

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 2
"""What `Retry-After` tells clients while the database is out of reach."""
UNAVAILABLE = "The database is unavailable; retry later"
DISCARD_TIMEOUT = 1.0
"""Seconds to close a connection in doubt politely before dropping its socket."""


def _engine_options() -> dict[str, Any]:
    """Pool and driver options for the configured database."""
    options: dict[str, Any] = {"echo": settings.database_echo}
    if settings.database_pool_size == 0:
        options["poolclass"] = NullPool
    elif not settings.is_sqlite:
        # No pre-ping: it costs a round trip per checkout. A pooled connection the
        # server dropped fails at BEGIN and is replaced then (`_begin`).
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
    """A pooled connection in a transaction that commits if the block succeeds.

    If the database is out of reach (`is_outage`) when connecting, during the block
    or at commit, the error becomes `ServiceUnavailable` (503 with `Retry-After`) and
    is logged as one warning line. Nothing was acknowledged: a success is answered
    only once COMMIT succeeded (if COMMIT itself was cut off, its outcome is unknown).
    """
    try:
        if bind.dialect.driver == "asyncpg":
            async with _driver_transaction(bind) as db:
                yield db
            return
        async with bind.connect() as connection:
            await connection.begin()
            async with _ending(connection.commit, connection.rollback):
                yield CoreConnection(connection)
    except Exception as error:
        if not is_outage(error):
            raise
        cause = original_error(error)
        logger.warning(  # the first line only: not SQLAlchemy's statement and values
            "Database unavailable, request answered 503: %s: %s",
            type(cause).__name__,
            str(cause).partition("\n")[0],
        )
        raise ServiceUnavailable(RETRY_AFTER_SECONDS, UNAVAILABLE) from error


@asynccontextmanager
async def _driver_transaction(bind: AsyncEngine) -> AsyncIterator[DriverConnection]:
    """A transaction on the asyncpg connection itself, which commits if the block does.

    The connection goes back to the pool once the transaction has ended cleanly. It
    is discarded (`_discard`) whenever its state is in doubt: the block was
    interrupted (a cancelled request), the connection failed or was lost, or
    ROLLBACK or COMMIT failed. It is never handed to another request while an
    operation may still be running on it.
    """
    db, driver_transaction = await _begin(bind)
    settled = False  # the transaction ended cleanly, though the block failed
    try:
        try:
            yield db
        except Exception as error:
            if not (is_outage(error) or db.driver.is_closed()):
                await (
                    driver_transaction.commit()
                    if keeps_writes(error)
                    else driver_transaction.rollback()
                )
                settled = True
            raise
        await driver_transaction.commit()
    except BaseException:
        if not settled:
            await _discard(db)
        raise
    finally:
        await db.close()  # nothing left to do once discarded


async def _begin(bind: AsyncEngine) -> tuple[DriverConnection, Transaction]:
    """Start the transaction on the driver, on a new connection if the pooled one is dead.

    The server may have dropped pooled connections while they waited (a restart, a
    failover). One that fails at BEGIN, before any statement of the request, is
    discarded and the transaction starts once more, on the next connection.
    """
    db = await _checkout(bind)
    try:
        return db, await _start(db)
    except Exception:  # not when connecting fails: that is not worth a second wait
        db = await _checkout(bind)
        return db, await _start(db)


async def _checkout(bind: AsyncEngine) -> DriverConnection:
    """A connection from the pool, once those the driver knows closed are discarded.

    That check costs no round trip. Each discarded connection is replaced by the
    pool's next one, or by a new connection once none is left: the loop ends.
    """
    db = DriverConnection(bind, await bind.raw_connection())
    while db.driver.is_closed():
        await _discard(db)
        db = DriverConnection(bind, await bind.raw_connection())
    return db


async def _start(db: DriverConnection) -> Transaction:
    """BEGIN on the connection's driver; discard the connection if that fails.

    A new connection first asks whether its database is a Citus database (once:
    the answer is kept with the pooled connection), and on Citus sends `SHOW_SHARDS`.
    """
    try:
        distributed = db.pooled.info.get(DISTRIBUTED)
        if distributed is None:
            distributed = bool(await db.driver.fetchval(CITUS_INSTALLED))
            if distributed:
                await db.driver.execute(SHOW_SHARDS)
            db.pooled.info[DISTRIBUTED] = distributed
        db.distributed = distributed
        driver_transaction = db.driver.transaction()
        await driver_transaction.start()
    except BaseException:
        await _discard(db)
        raise
    return driver_transaction


async def _discard(db: DriverConnection) -> None:
    """Close the request's connection and keep the pool from handing it out again.

    `close` first has the server cancel a query still running on the connection
    (a request cancelled midway), then ends the session; if that fails or takes
    over `DISCARD_TIMEOUT`, `terminate` drops the socket. Either way the server
    rolls back what was not committed, and no later request meets the connection.
    Shielded: a cancelled request still cleans up after itself.
    """
    with anyio.move_on_after(DISCARD_TIMEOUT, shield=True), suppress(Exception):
        await db.driver.close()
    db.driver.terminate()  # a no-op once closed
    with anyio.CancelScope(shield=True):
        await db.invalidate()


ENDPOINT_EXIT_STACK = "fastapi_function_astack"
"""The scope key of the exit stack FastAPI closes when a request's endpoint returns.

It is where a dependency with `yield` and `scope="function"` ends (fastapi>=0.121).
"""


async def get_connection(request: Request) -> Connection:
    """The request's connection and transaction: committed when the request succeeds.

    This is the one transaction boundary of a request: repositories and services
    never commit, and any exception rolls everything back (except the errors that
    say they keep their writes, such as a detected refresh-token reuse).

    The transaction ends when the endpoint returns or raises, before the response
    is sent, as a dependency with `yield` and `scope="function"` would end it: it
    is entered on the exit stack FastAPI closes then. A plain dependency costs a
    request less than a generator, which FastAPI wraps in several context managers.
    FastAPI caches the connection: the dependencies of one request share it.
    """
    stack: AsyncExitStack | None = request.scope.get(ENDPOINT_EXIT_STACK)
    if stack is None:
        raise RuntimeError(
            f"FastAPI set no {ENDPOINT_EXIT_STACK!r} in the request scope: "
            "get_connection needs fastapi>=0.121"
        )
    return await stack.enter_async_context(transaction())


async def get_db(
    db: Annotated[Connection, Depends(get_connection, scope="function")],
) -> AsyncIterator[AsyncSession]:
    """An ORM session on the request's connection, inside its transaction."""
    async with (
        SessionLocal(bind=db.connection) as session,
        _ending(session.commit, session.rollback),
    ):
        yield session
