"""Database outages: requests that meet one answer 503, and no acknowledged write is lost.

The main test terminates the database's connections (`pg_terminate_backend`, as a
restart or a failover does) again and again while clients read and write
concurrently through a real connection pool: every request must answer 2xx or 503
with `Retry-After`, never 500; every write answered 201 must be in the database
afterwards; the service must work again as soon as the database does.
"""

import asyncio
import logging
import sqlite3
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field

import anyio
import asyncpg
import httpx
import pytest
from fastapi import Request
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from app.core import db
from app.core.config import settings
from app.core.outages import is_outage
from app.core.sql import Connection, Query
from app.main import app
from app.tests.conftest import TestUser, register_user, run_sql

CLIENTS = 8
POOL_SIZE = 4
KILLS_AT_MOST = 200
OUTAGES_MET = 5
"""Terminate connections until this many requests met an outage (a 503)."""

CURRENT_PROJECT = "/api/v1/users/me/current-project"
postgresql_only = pytest.mark.skipif(
    settings.is_sqlite, reason="server connections and their pool are PostgreSQL's"
)


@dataclass
class Tally:
    """What the clients saw."""

    statuses: Counter[int] = field(default_factory=Counter)
    unavailable: list[httpx.Response] = field(default_factory=list)
    created: list[str] = field(default_factory=list)

    def record(self, response: httpx.Response) -> None:
        """Count a response; keep the 503s and the ids of acknowledged writes."""
        self.statuses[response.status_code] += 1
        if response.status_code == 503:
            self.unavailable.append(response)
        elif response.status_code == 201:
            self.created.append(response.json()["id"])


async def _client_loop(
    client: httpx.AsyncClient, user: TestUser, tally: Tally, done: asyncio.Event
) -> None:
    """Write a project, then read through the prebuilt statements, until `done`."""
    while not done.is_set():
        name = f"Outage {uuid.uuid4().hex[:8]}"
        tally.record(
            await client.post(
                "/api/v1/projects/", json={"name": name}, headers=user.headers
            )
        )
        tally.record(await client.get(CURRENT_PROJECT, headers=user.headers))


async def _terminate_app_connections(killer: AsyncEngine) -> int:
    """Terminate every other connection of the application's role to this database."""
    async with killer.connect() as connection:
        result = await connection.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE usename = current_user AND datname = current_database() "
                "AND pid <> pg_backend_pid()"
            )
        )
        return int(result.scalar_one())


@contextmanager
def served_by(engine: AsyncEngine) -> Iterator[None]:
    """The application, its requests' transactions taken from `engine`."""

    async def connection() -> AsyncIterator[Connection]:
        async with db.transaction(engine) as connection:
            yield connection

    app.dependency_overrides[db.get_connection] = connection
    try:
        yield
    finally:
        app.dependency_overrides.pop(db.get_connection)


def _sqlite_error(code: int) -> sqlite3.OperationalError:
    error = sqlite3.OperationalError("sqlite says no")
    error.sqlite_errorcode = code
    return error


@contextmanager
def unreachable_database() -> Iterator[AsyncEngine]:
    """An engine whose database cannot serve requests.

    PostgreSQL: a port where nothing listens. SQLite: the file locked by another
    writer, with a busy timeout of a tenth of a second.
    """
    url = make_url(settings.database_url)
    if not settings.is_sqlite:
        yield create_async_engine(url.set(host="127.0.0.1", port=1), poolclass=NullPool)
        return
    with closing(sqlite3.connect(str(url.database))) as writer:
        writer.execute("BEGIN EXCLUSIVE")
        yield create_async_engine(
            url, poolclass=NullPool, connect_args={"timeout": 0.1}
        )


def test_the_transaction_needs_the_endpoint_exit_stack_of_fastapi() -> None:
    """Without the exit stack FastAPI closes after the endpoint, no transaction opens."""
    request = Request({"type": "http", "headers": [], "path": "/"})
    with pytest.raises(RuntimeError, match=r"fastapi>=0\.121"):
        asyncio.run(db.get_connection(request))


@pytest.mark.parametrize(
    ("error", "outage"),
    [
        (ConnectionRefusedError(111, "Connect call failed"), True),
        (asyncpg.CannotConnectNowError("the database system is starting up"), True),
        (asyncpg.AdminShutdownError("terminating connection"), True),
        (asyncpg.TooManyConnectionsError("too many connections for role"), True),
        (asyncpg.ConnectionDoesNotExistError("closed in the middle"), True),
        (asyncpg.InternalClientError("cannot switch to state 15"), True),
        (
            asyncpg.InterfaceError(
                "cannot call Transaction.commit(): the underlying connection is closed"
            ),
            True,
        ),
        (PoolTimeout("QueuePool limit reached"), True),
        (OperationalError("BEGIN", {}, _sqlite_error(sqlite3.SQLITE_BUSY)), True),
        (DBAPIError("SELECT 1", {}, Exception(), connection_invalidated=True), True),
        (
            OperationalError("INSERT", {}, _sqlite_error(sqlite3.SQLITE_CONSTRAINT)),
            False,
        ),
        (asyncpg.UniqueViolationError("duplicate key"), False),
        (asyncpg.InterfaceError("the server expects 1 argument, 0 passed"), False),
        (asyncpg.OutdatedSchemaCacheError("cached statement plan is invalid"), False),
        (ValueError("not the database"), False),
    ],
)
def test_outages_are_told_from_failed_statements(
    error: Exception, outage: bool
) -> None:
    assert is_outage(error) is outage
    try:
        raise RuntimeError("wrapped") from error
    except RuntimeError as wrapped:
        assert is_outage(wrapped) is outage


def test_an_unreachable_database_answers_503(
    owner: TestUser, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        unreachable_database() as unreachable,
        served_by(unreachable),
        caplog.at_level(logging.WARNING),
    ):
        response = TestClient(app).get(CURRENT_PROJECT, headers=owner.headers)
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) >= 1
    assert response.json() == {"detail": db.UNAVAILABLE, "code": "service_unavailable"}
    [line] = [r for r in caplog.records if r.name == "app.core.db"]
    assert line.levelno == logging.WARNING and not line.exc_info


@pytest.fixture
def pooled_engine() -> AsyncEngine:
    """An engine with a real pool, as in production (the tests' own has none)."""
    return create_async_engine(
        settings.database_url, pool_size=POOL_SIZE, max_overflow=0
    )


@pytest.fixture
def users() -> list[TestUser]:
    """One registered user per client (registered before the pool is swapped)."""
    return [register_user() for _ in range(CLIENTS)]


@pytest.fixture
def pooled_app(users: list[TestUser], pooled_engine: AsyncEngine) -> Iterator[None]:
    """The application on `pooled_engine` (once the users registered without it)."""
    with served_by(pooled_engine):
        yield


@postgresql_only
def test_requests_meeting_an_outage_answer_503_and_lose_no_write(
    users: list[TestUser],
    pooled_engine: AsyncEngine,
    pooled_app: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    tally = Tally()

    async def scenario() -> list[int]:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        killer = create_async_engine(settings.database_url, poolclass=NullPool)
        done = asyncio.Event()
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test"
        ) as client:
            try:
                clients = [
                    asyncio.create_task(_client_loop(client, user, tally, done))
                    for user in users
                ]
                for _ in range(KILLS_AT_MOST):
                    await _terminate_app_connections(killer)
                    await asyncio.sleep(0.02)
                    if len(tally.unavailable) >= OUTAGES_MET:
                        break
                done.set()
                await asyncio.gather(*clients)
                await _terminate_app_connections(killer)  # idle in the pool, now
                await asyncio.sleep(0.2)  # the pool's sockets see the server's close
                after = [
                    (
                        await client.get(CURRENT_PROJECT, headers=user.headers)
                    ).status_code
                    for user in users
                    for _ in range(POOL_SIZE)
                ]
            finally:
                await killer.dispose()
                await pooled_engine.dispose()
        return after

    with caplog.at_level(logging.WARNING):
        after = asyncio.run(scenario())

    assert set(tally.statuses) <= {200, 201, 503}, tally.statuses
    assert len(tally.unavailable) >= OUTAGES_MET, tally.statuses
    for response in tally.unavailable:
        assert int(response.headers["Retry-After"]) >= 1
        assert response.json()["detail"]
    assert after == [200] * len(after)
    acknowledged = {uuid.UUID(id_) for id_ in tally.created}
    stored = run_sql(
        "SELECT id FROM projects WHERE id = ANY(:ids)", ids=list(acknowledged)
    )
    assert {row.id for row in stored} == acknowledged
    assert [r for r in caplog.records if r.exc_info] == []
    outages = [r.getMessage() for r in caplog.records if r.name == "app.core.db"]
    assert len(outages) == len(tally.unavailable)
    assert not [line for line in outages if "\n" in line]


@postgresql_only
def test_a_query_cancelled_midway_leaves_no_busy_connection_in_the_pool() -> None:
    engine = create_async_engine(settings.database_url, pool_size=1, max_overflow=0)
    sleep = Query(text("SELECT pg_sleep(30) AS slept"))
    backend = Query(text("SELECT pg_backend_pid() AS pid"))
    sleeping = Query(
        text(
            "SELECT count(*) AS sleeping FROM pg_stat_activity "
            "WHERE usename = current_user AND datname = current_database() "
            "AND state = 'active' AND query LIKE 'SELECT pg_sleep%'"
        )
    )

    async def cancel_then_reuse() -> tuple[int, int, int]:
        try:
            with anyio.move_on_after(0.2):  # a client that went away, say
                async with db.transaction(engine) as connection:
                    row = await connection.fetch_one(backend, {})
                    await connection.fetch(sleep, {})
            async with db.transaction(engine) as connection:
                after = await connection.fetch_one(backend, {})
                still = await connection.fetch_one(sleeping, {})
        finally:
            await engine.dispose()
        assert row is not None and after is not None and still is not None
        return int(row["pid"]), int(after["pid"]), int(still["sleeping"])

    cancelled, next_backend, still_sleeping = asyncio.run(cancel_then_reuse())
    assert next_backend != cancelled
    assert still_sleeping == 0
