"""Database outages told from failed statements, whatever the driver or wrapper.

An outage (the database refuses connections, restarts, fails over, drops a
connection) is answered 503 with `Retry-After` by `app.core.db.transaction`; a
statement that fails on a working connection is not one.
"""

import sqlite3
from collections.abc import Iterator

import asyncpg
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

_OUTAGES: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, unreachable, timed out: the network to the database
    PoolTimeout,  # no pooled connection came free in time
    asyncpg.PostgresConnectionError,  # SQLSTATE class 08: the connection is gone
    asyncpg.AdminShutdownError,  # 57P01: terminated, or the server is shutting down
    asyncpg.CrashShutdownError,  # 57P02
    asyncpg.CannotConnectNowError,  # 57P03: the server is starting up or shutting down
    asyncpg.TooManyConnectionsError,  # 53300: no connection slot left for us
    asyncpg.InternalClientError,  # the driver lost track of the connection's protocol
)


def is_outage(error: BaseException) -> bool:
    """Whether `error`, or an error that caused it, says the database is out of reach.

    That is: it could not be connected to, the connection was lost or the server
    ended it, or SQLite stayed locked past its busy timeout (another writer held
    it for 30 s: nothing was written, and a retry is likely to succeed). A
    statement that the database refused (a constraint, a syntax error) is not an
    outage. Any `OSError` counts: a request's network peer is its database (and a
    service that a request needs but cannot reach is a 503 too).
    """
    for cause in _causes(error):
        if isinstance(cause, DBAPIError) and cause.connection_invalidated:
            return True
        if isinstance(cause, asyncpg.OutdatedSchemaCacheError):
            return False
        if isinstance(cause, _OUTAGES) or _closed_connection(cause):
            return True
        if isinstance(cause, sqlite3.OperationalError):
            return cause.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY
    return False


def _closed_connection(error: BaseException) -> bool:
    """asyncpg's error for an operation on a closed connection (SQLAlchemy's own test)."""
    closed = "connection is closed" in str(error)
    return isinstance(error, asyncpg.InterfaceError) and closed


def original_error(error: BaseException) -> BaseException:
    """The error at the root of `error`: the driver's, under SQLAlchemy's wrappers."""
    *_, original = _causes(error)
    return original


def _causes(error: BaseException) -> Iterator[BaseException]:
    """`error`, then what SQLAlchemy wrapped (`orig`) or raised it (`__cause__`)."""
    current: BaseException | None = error
    seen: set[int] = set()
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        wrapped = current.orig if isinstance(current, DBAPIError) else None
        current = wrapped if isinstance(wrapped, BaseException) else current.__cause__
