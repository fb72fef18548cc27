"""Test configuration: an isolated database, users and tokens.

Tests run on a throw-away SQLite file by default, or on the PostgreSQL database
named by TEST_DATABASE_URL (its `public` schema is dropped and rebuilt by the
migrations). On PostgreSQL the migrations run as that URL's user, the table owner,
and the application connects as `app_test_user`, a role with no superuser or
BYPASSRLS rights, so that row-level security is in force as in production.
Every test creates its own users and projects, so order never matters.

With pytest-xdist (`pytest -n auto`) each worker has a database of its own: a SQLite
file, or on PostgreSQL a database beside TEST_DATABASE_URL's, named after it and the
worker (`app_test_gw0`), made when missing. A Citus database cannot be made that way:
on Citus the tests run in one process.
"""

import asyncio
import os
import re
import secrets
import tempfile
import uuid
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple, TypeVar

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError

APP_ROLE, APP_PASSWORD = "app_test_user", "app-test-password"
SHARED_URL = os.environ.get("TEST_DATABASE_URL")
"""The database the tests were given, if any (else a SQLite file of their own)."""
WORKER = os.environ.get("PYTEST_XDIST_WORKER")
"""The pytest-xdist worker that runs these tests (`gw0`, `gw1` ...), if any."""


def _owner_url() -> str:
    """The test database of this process, as its owner: see the module's docstring."""
    if SHARED_URL is None:
        return f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'test.db'}"
    if WORKER is None:
        return SHARED_URL
    shared = make_url(SHARED_URL)
    return shared.set(database=f"{shared.database}_{WORKER}").render_as_string(
        hide_password=False
    )


OWNER_URL = _owner_url()
_owner = make_url(OWNER_URL)
APP_URL = (
    OWNER_URL
    if _owner.drivername.startswith("sqlite")
    else _owner.set(username=APP_ROLE, password=APP_PASSWORD).render_as_string(
        hide_password=False
    )
)
os.environ["ENVIRONMENT"] = "test"
os.environ["SECRET_KEY"] = secrets.token_urlsafe(48)
os.environ["DATABASE_URL"] = APP_URL
os.environ["MIGRATION_DATABASE_URL"] = OWNER_URL
# A pool, as in production: opening a connection costs more than most requests.
os.environ["DATABASE_POOL_SIZE"] = "5"
# One client registers and logs in hundreds of users here: limits that never bind.
# test_ratelimit.py sets strict ones.
os.environ["RATE_LIMIT_STORAGE_URL"] = "memory://"
os.environ["RATE_LIMIT_PER_ACCOUNT"] = "10000/minute"
os.environ["RATE_LIMIT_PER_CLIENT"] = "10000/minute"
# Every test registers and logs in users of its own: Argon2 at its lowest cost keeps
# that cheap. Production refuses the setting (test_config.py proves it).
os.environ["PASSWORD_HASH_INSECURE_FOR_TESTS"] = "true"

import asyncpg  # noqa: E402
import httpx  # noqa: E402
import pytest  # noqa: E402
from alembic import command  # noqa: E402
from alembic.config import Config  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import event, text  # noqa: E402
from sqlalchemy.ext.asyncio import (  # noqa: E402
    AsyncConnection,
    AsyncSession,
    create_async_engine,
)
from sqlalchemy.pool import NullPool  # noqa: E402

from app.core.config import Settings, settings  # noqa: E402
from app.core.db import SessionLocal, engine, transaction  # noqa: E402
from app.core.sql import Connection  # noqa: E402
from app.core.tenancy import (  # noqa: E402
    CITUS_INSTALLED,
    PROJECT_SETTING,
    SHOW_SHARDS,
    project_setting_statements,
    rls_statements,
)
from app.main import app  # noqa: E402
from app.models.membership import Role  # noqa: E402
from app.repositories.tenant_repo import TenantRepository  # noqa: E402
from app.schemas.auth import RegisterRequest  # noqa: E402
from app.services.auth_service import AuthService  # noqa: E402
from app.tests.app_client import AppClient  # noqa: E402
from app.tests.live import ROOT, generated_client, serve  # noqa: E402

PASSWORD = "correct horse battery staple"
T = TypeVar("T")
_database_ready = False

_session_client: AppClient | None = None


@event.listens_for(engine.sync_engine, "checkout")
def _on_its_own_event_loop(_dbapi: Any, record: Any, _proxy: Any) -> None:
    """Hand a pooled connection out only on the event loop that opened it.

    asyncpg's connections belong to their event loop, and tests run several: the
    session's client has one, and so has every `asyncio.run` or `TestClient` used
    without `with`. A connection of another loop is replaced by a new one.
    """
    loop = asyncio.get_running_loop()
    if record.info.setdefault("event_loop", loop) is not loop:
        raise DisconnectionError("the pooled connection belongs to another event loop")


if engine.dialect.name == "sqlite":

    @event.listens_for(engine.sync_engine, "connect")
    def _skip_fsync(dbapi_connection: Any, _record: Any) -> None:
        """The throw-away test database need not survive a power cut: no fsync."""
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.close()


def pytest_configure(config: pytest.Config) -> None:
    """Refuse pytest-xdist's workers on Citus, whose databases they cannot make.

    A database of a cluster needs the extension and the workers' registration on
    every node, which `scripts/citus_cluster.sh up NAME` does.
    """
    if config.getoption("numprocesses", default=None) and on_citus():
        raise pytest.UsageError(
            "on Citus, run the tests in one process (without -n): each pytest-xdist "
            "worker would need a Citus database of its own"
        )


def prepare_database() -> None:
    """Build the test database from the migrations, once per test run."""
    global _database_ready
    if _database_ready:
        return
    if not settings.is_sqlite:
        if WORKER is not None:
            create_worker_database()
        empty_database()
        run_sql(
            f"DO $$ BEGIN CREATE ROLE {APP_ROLE} LOGIN PASSWORD '{APP_PASSWORD}' "
            "NOSUPERUSER NOBYPASSRLS; "
            "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$",
        )
        grant_app_role()
    command.upgrade(Config(str(ROOT / "alembic.ini")), "head")
    _database_ready = True


def create_worker_database() -> None:
    """Make this pytest-xdist worker's database beside the shared one, if missing."""
    assert SHARED_URL is not None
    name = _owner.database
    if not run_sql(
        "SELECT 1 FROM pg_database WHERE datname = :name", url=SHARED_URL, name=name
    ):
        run_sql(f'CREATE DATABASE "{name}"', url=SHARED_URL, autocommit=True)


def empty_database() -> None:
    """Drop what an earlier run left: the `public` schema and all in it.

    On Citus, whose extension lives in that schema, every table in it instead.
    """
    [(citus,)] = run_sql(CITUS_INSTALLED)
    if not citus:
        run_sql("DROP SCHEMA public CASCADE", "CREATE SCHEMA public")
        return
    tables = run_sql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    if tables:
        run_sql(
            "DROP TABLE "
            + ", ".join(f'public."{name}"' for (name,) in tables)
            + " CASCADE"
        )


def grant_app_role() -> None:
    """Give the application's role what `scripts/postgres_roles.sql` gives it.

    The schema, and by default the use of every table the owner creates from now on
    (the migrations then take back what the app must not do, see `alembic/env.py`).
    """
    run_sql(
        f"GRANT USAGE ON SCHEMA public TO {APP_ROLE}",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APP_ROLE}",
    )


def run_sql(
    *statements: str, url: str = OWNER_URL, autocommit: bool = False, **params: Any
) -> list[Any]:
    """Run SQL outside the application, as the table owner by default; return last rows.

    In one transaction, or with `autocommit` each statement on its own (as `CREATE
    DATABASE` must run).
    """

    async def execute() -> list[Any]:
        options = {"isolation_level": "AUTOCOMMIT"} if autocommit else {}
        engine = create_async_engine(
            Settings(database_url=url).database_url, poolclass=NullPool, **options
        )
        rows: list[Any] = []
        async with engine.begin() as connection:
            if engine.dialect.name == "sqlite":
                await connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            for statement in statements:
                result = await connection.execute(text(statement), params)
                rows = list(result.all()) if result.returns_rows else []
        await engine.dispose()
        return rows

    return asyncio.run(execute())


@dataclass
class TestUser:
    """A registered user, logged in, with the project they registered with."""

    __test__ = False

    email: str
    password: str
    id: uuid.UUID
    project_id: uuid.UUID
    access_token: str
    refresh_token: str
    referenced: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    """The ids of the objects inserted for this user's payloads, by resource."""

    @property
    def headers(self) -> dict[str, str]:
        """Authorization headers for this user's access token."""
        return {"Authorization": f"Bearer {self.access_token}"}


def register_user(
    client: TestClient | None = None, email: str | None = None
) -> TestUser:
    """Register a new user (with their own project) and log them in."""
    prepare_database()
    client = client or _session_client or TestClient(app)
    email = email or f"user-{uuid.uuid4().hex[:12]}@example.com"
    response = client.post(
        "/api/v1/auth/register", json={"email": email, "password": PASSWORD}
    )
    assert response.status_code == 201, response.text
    user = response.json()
    tokens = login(client, email)
    return TestUser(
        email=email,
        password=PASSWORD,
        id=uuid.UUID(user["id"]),
        project_id=uuid.UUID(user["current_project_id"]),
        access_token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
    )


def create_user(
    project_id: uuid.UUID | None = None, role: Role = Role.MEMBER
) -> TestUser:
    """A new user with a project of their own, logged in, made without a request.

    The account services register and log them in, as the endpoints do, in one
    transaction (test_auth.py tests the endpoints). With `project_id`, the user is
    also a member of that project with `role`, and works in it.
    """
    prepare_database()
    email = f"user-{uuid.uuid4().hex[:12]}@example.com"

    async def register() -> TestUser:
        async with transaction() as db, SessionLocal(bind=db.connection) as session:
            accounts = AuthService(session)
            user = await accounts.register(
                RegisterRequest(email=email, password=PASSWORD)
            )
            own_project = user.current_project_id
            if project_id is not None:
                tenants = TenantRepository(session)
                assert await tenants.add_member(project_id, user.id, role) is not None
                assert await tenants.set_current_project(user, project_id)
            tokens = await accounts.login(email, PASSWORD)
            await session.commit()
        assert own_project is not None
        return TestUser(
            email=email,
            password=PASSWORD,
            id=user.id,
            project_id=own_project,
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token,
        )

    return run_async(register())


def login(client: TestClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    """Log in and return the token pair."""
    response = client.post(
        "/api/v1/auth/token", data={"username": email, "password": password}
    )
    assert response.status_code == 200, response.text
    tokens: dict[str, str] = response.json()
    return tokens


def concurrently(*requests: tuple[str, str, dict[str, Any]]) -> list[httpx.Response]:
    """Send `(method, url, options)` requests to the app at the same time.

    Each request has its own database connection and transaction, as under real
    traffic, so the requests race in the database; the responses keep their order.
    An error the app did not handle (a 500) is raised, with its traceback, once
    every request has ended.
    """

    async def send_all() -> list[httpx.Response | BaseException]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver"
        ) as client:
            return list(
                await asyncio.gather(
                    *(
                        client.request(method, url, **options)
                        for method, url, options in requests
                    ),
                    return_exceptions=True,
                )
            )

    responses: list[httpx.Response] = []
    for result in run_async(send_all()):
        if isinstance(result, BaseException):
            raise result
        responses.append(result)
    return responses


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on the event loop of the session's client, if it is open.

    The application's pooled connections then serve it (see
    `_on_its_own_event_loop`); without that client, on a loop of its own.
    """
    if _session_client is not None:
        return _session_client.run(coroutine)
    return asyncio.run(coroutine)


@cache
def on_citus() -> bool:
    """Whether the tests run on a Citus database (TEST_DATABASE_URL, its coordinator)."""
    return not settings.is_sqlite and bool(
        run_sql(CITUS_INSTALLED, url=SHARED_URL or OWNER_URL)[0][0]
    )


def scoped_request_statements() -> int:
    """Statements of the auth and tenancy of a project-scoped request (`authorize`).

    One query loads the user's state and membership and, on PostgreSQL, sets
    app.project_id. On Citus, four: the user's state, the two `SET LOCAL`s that
    carry the project to the workers, then the role, from the project's shard.
    """
    return 4 if on_citus() else 1


_TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


class Statement(NamedTuple):
    """A statement the application ran, and the values it ran with."""

    sql: str
    parameters: tuple[Any, ...]


@contextmanager
def count_statements() -> Iterator[list[Statement]]:
    """Record every SQL statement the application runs in the block.

    SQLAlchemy reports what it runs; on PostgreSQL the prebuilt statements go to
    asyncpg directly, whose query logger reports them. BEGIN, COMMIT and the like
    are not counted.
    """
    statements: list[Statement] = []

    def record(*args: Any) -> None:
        parameters = args[3]
        statements.append(
            Statement(
                args[2],
                tuple(parameters) if isinstance(parameters, list | tuple) else (),
            )
        )

    def log_query(query: Any) -> None:
        if not query.query.lstrip().upper().startswith(_TRANSACTION_CONTROL):
            statements.append(Statement(query.query, tuple(query.args)))

    def watch(_dbapi: Any, pool_entry: Any, *_args: Any) -> None:
        if hasattr(pool_entry.driver_connection, "add_query_logger"):
            pool_entry.driver_connection.add_query_logger(log_query)

    def unwatch(_dbapi: Any, pool_entry: Any) -> None:
        if hasattr(pool_entry.driver_connection, "remove_query_logger"):
            pool_entry.driver_connection.remove_query_logger(log_query)

    listeners = [
        ("before_cursor_execute", record),
        ("checkout", watch),
        ("checkin", unwatch),
    ]
    for name, listener in listeners:
        event.listen(engine.sync_engine, name, listener)
    try:
        yield statements
    finally:
        for name, listener in listeners:
            event.remove(engine.sync_engine, name, listener)


citus_only = pytest.mark.skipif(
    not on_citus(),
    reason="TEST_DATABASE_URL is not a Citus coordinator (see scripts/citus_cluster.sh)",
)


def tenant_table_statements(table: str) -> list[str]:
    """What the migrations do to a new tenant table (for tables the tests make).

    On Citus, distribute it by project; on PostgreSQL, confine it to the project
    in the setting (row-level security).
    """
    distribute = (
        [
            f"SELECT create_distributed_table('{table}', 'project_id', colocate_with => 'projects')"
        ]
        if on_citus()
        else []
    )
    return [*distribute, *rls_statements(table)]


async def choose_project(
    target: Connection | AsyncSession | AsyncConnection, project_id: uuid.UUID
) -> None:
    """Set the project for row-level security in a transaction, as the app does.

    With `set_config`, or on Citus with the `SET LOCAL`s that reach the workers.
    """
    statements = (
        project_setting_statements(project_id)
        if on_citus()
        else (f"SELECT set_config('{PROJECT_SETTING}', '{project_id}', true)",)
    )
    for statement in statements:
        if isinstance(target, Connection):
            await target.run(statement)
        else:
            await target.execute(text(statement))


def assert_routed_to_one_shard(statements: list[Statement]) -> None:
    """Each statement is a Citus router query: one task, on the node of one shard.

    The statements are explained as the application's role ran them, in one
    transaction, with the project set by its `SET LOCAL`s as in the request, on a
    connection set up as the application's are (`SHOW_SHARDS`).
    """

    async def explain() -> list[tuple[str, str]]:
        url = make_url(APP_URL).set(drivername="postgresql")
        connection = await asyncpg.connect(url.render_as_string(hide_password=False))
        plans: list[tuple[str, str]] = []
        try:
            await connection.execute(SHOW_SHARDS)
            async with connection.transaction():
                for statement in statements:
                    if statement.sql.lstrip().upper().startswith("SET "):
                        await connection.execute(statement.sql)
                        continue
                    rows = await connection.fetch(
                        f"EXPLAIN {statement.sql}", *statement.parameters
                    )
                    plans.append((statement.sql, "\n".join(row[0] for row in rows)))
        finally:
            await connection.close()
        return plans

    plans = asyncio.run(explain())
    assert plans, "no statement to explain"
    for sql, plan in plans:
        assert re.findall(r"Task Count: (\d+)", plan) == ["1"], f"{sql}\n{plan}"


def get_test_user_token() -> str:
    """An access token of a new user who owns a project, set as current."""
    return create_user().access_token


def add_member(client: TestClient, owner: TestUser, user: TestUser, role: str) -> None:
    """Make `user` a member of `owner`'s project with `role`, and switch them to it."""
    response = client.post(
        f"/api/v1/projects/{owner.project_id}/members",
        json={"email": user.email, "role": role},
        headers=owner.headers,
    )
    assert response.status_code == 201, response.text
    response = client.put(
        "/api/v1/users/me/current-project",
        json={"project_id": str(owner.project_id)},
        headers=user.headers,
    )
    assert response.status_code == 200, response.text


@pytest.fixture(scope="session", autouse=True)
def database() -> None:
    """The migrated test database."""
    prepare_database()


@pytest.fixture(scope="session")
def client() -> Iterator[AppClient]:
    """An HTTP client for the application."""
    global _session_client
    with AppClient(app) as test_client:
        _session_client = test_client
        try:
            yield test_client
        finally:
            _session_client = None


@pytest.fixture(scope="session")
def server() -> Iterator[str]:
    """The application served by uvicorn on the test database: its URL."""
    prepare_database()
    with serve() as url:
        yield url


@pytest.fixture(scope="session")
def api_client(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    """The package of the Python client generated from the API (see `make client`)."""
    return generated_client(tmp_path_factory.mktemp("client"))


@pytest.fixture
def owner(client: TestClient) -> TestUser:
    """A user who owns the project they work in (project A).

    Made on the event loop of the session's `client`, like the requests.
    """
    return create_user()


@pytest.fixture
def outsider(client: TestClient) -> TestUser:
    """A user of another project (project B), who must never see project A's data."""
    return create_user()


@pytest.fixture
def member_of(client: TestClient, owner: TestUser) -> Any:
    """A factory: a new user with the given role in the owner's project, working in it."""

    def make(role: str) -> TestUser:
        return create_user(owner.project_id, Role(role))

    return make
