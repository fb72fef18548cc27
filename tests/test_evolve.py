"""A generated resource changed five times in a row, with hand edits in between.

After each change, on SQLite and on PostgreSQL: the hand edits are still there,
the rows created through the API keep their data, the backend is ruff and black
clean, `alembic check` sees no drift, and the resource's generated tests and the
user's own test pass. At the end, downgrading one migration at a time returns the
database to each earlier schema.
"""

import asyncio
import json
import sqlite3
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

from backend_builder.cli import app
from tests.backend_checks import alembic, execute, lint, run, run_some_tests
from tests.conftest import admin_sql

pytestmark = pytest.mark.slow

ALEMBIC = (sys.executable, "-m", "alembic")
TICKET = (
    "Ticket title:str number:str:unique status:enum:open,closed:default=open "
    "note:text:optional customer:ref"
)
# The five changes: two added fields (one required, with a default), a rename,
# an enum that gains a value, and a removed field.
CHANGES: list[list[str]] = [
    ["generate", "field", "Ticket", "priority:int:default=3"],
    ["generate", "field", "Ticket", "due_on:date:optional:index"],
    ["rename", "field", "Ticket", "number", "reference"],
    ["change", "field", "Ticket", "status:enum:open,closed,void:default=open"],
    ["remove", "field", "Ticket", "note", "--yes"],
]

SERVICE_EDIT = '''
    async def titles(self) -> list[str]:
        """The titles on the first page of the project's tickets (written by hand)."""
        page = await self.list_page(TicketListParams(limit=100))
        return [ticket.title for ticket in page.items]
'''
SCHEMA_EDIT = '''
    @field_validator("title")
    @classmethod
    def strip_title(cls, value: str) -> str:
        """Titles are stored without surrounding spaces (written by hand)."""
        return value.strip()
'''
TEST_EDIT = '''

def test_titles_are_stripped(client: TestClient, owner: TestUser) -> None:
    """Written by hand: the schema's validator strips titles."""
    ticket = create_ticket(client, owner, title="  padded  ")
    assert ticket["title"] == "padded"
'''
REPOSITORY_EDIT = '''

def describe(ticket_id: object) -> str:
    """A label for logs (written by hand, between two changes)."""
    return f"ticket {ticket_id}"
'''

# Rows created through the API before the changes, then read back after each one.
SEED = """
import json, sys
from fastapi.testclient import TestClient
from app.main import app

client = TestClient(app)
email, password = "evolve@example.com", "correct horse battery staple"
registered = client.post("/api/v1/auth/register", json={"email": email, "password": password})
assert registered.status_code == 201, registered.text
token = client.post("/api/v1/auth/token", data={"username": email, "password": password}).json()
headers = {"Authorization": f"Bearer {token['access_token']}"}
customer = client.post("/api/v1/customers/", json={"name": "Acme"}, headers=headers).json()
for n, status in enumerate(["open", "closed", "open"]):
    body = {"title": f"t{n}", "number": f"N-{n}", "status": status, "note": f"note {n}",
            "customer_id": customer["id"]}
    response = client.post("/api/v1/tickets/", json=body, headers=headers)
    assert response.status_code == 201, response.text
"""
READ = """
import json
from fastapi.testclient import TestClient
from app.main import app

client = TestClient(app)
token = client.post("/api/v1/auth/token", data={"username": "evolve@example.com",
                    "password": "correct horse battery staple"}).json()
headers = {"Authorization": f"Bearer {token['access_token']}"}
response = client.get("/api/v1/tickets/?sort=title", headers=headers)
assert response.status_code == 200, response.text
print(json.dumps(response.json()))
"""

# What each row holds after each change (by title), beyond the unchanged fields.
EXPECTED_AFTER = [
    {"number": "N-{n}", "note": "note {n}", "priority": 3},
    {"number": "N-{n}", "note": "note {n}", "priority": 3, "due_on": None},
    {"reference": "N-{n}", "note": "note {n}", "priority": 3, "due_on": None},
    {"reference": "N-{n}", "note": "note {n}", "priority": 3, "due_on": None},
    {"reference": "N-{n}", "priority": 3, "due_on": None},
]
GONE_AFTER = [set(), set(), {"number"}, {"number"}, {"number", "note"}]


def _cli(backend: Path, *args: str) -> None:
    result = CliRunner().invoke(app, [*args, "--path", str(backend)])
    assert result.exit_code == 0, result.output


def _edit(path: Path, anchor: str, addition: str) -> None:
    source = path.read_text()
    assert anchor in source, f"{anchor!r} not in {path}"
    path.write_text(source.replace(anchor, anchor + addition, 1))


def _hand_edits(backend: Path) -> None:
    service = backend / "app/services/ticket_service.py"
    source = service.read_text()
    service.write_text(source.rstrip("\n") + "\n" + SERVICE_EDIT)
    _edit(
        backend / "app/schemas/ticket.py",
        "from pydantic import ",
        "field_validator, ",
    )
    schema = backend / "app/schemas/ticket.py"
    source = schema.read_text()
    anchor = "class TicketCreate(TicketBase):"
    head, tail = source.split(anchor)
    schema.write_text(head.rstrip("\n") + "\n" + SCHEMA_EDIT + "\n\n" + anchor + tail)
    tests = backend / "app/tests/test_tickets.py"
    tests.write_text(tests.read_text().rstrip("\n") + "\n" + TEST_EDIT)


def _hand_edits_kept(backend: Path, *, repository: bool) -> None:
    assert SERVICE_EDIT.strip() in (backend / "app/services/ticket_service.py").read_text()
    assert SCHEMA_EDIT.strip() in (backend / "app/schemas/ticket.py").read_text()
    assert TEST_EDIT.strip() in (backend / "app/tests/test_tickets.py").read_text()
    if repository:
        assert REPOSITORY_EDIT.strip() in (backend / "app/repositories/ticket_repo.py").read_text()


def _python(backend: Path, code: str, database_url: str) -> str:
    script = backend / "evolve_script.py"
    script.write_text(code)
    try:
        return run(backend, sys.executable, str(script), DATABASE_URL=database_url).stdout
    finally:
        script.unlink()


def _rows(backend: Path, database_url: str) -> list[dict[str, Any]]:
    return json.loads(_python(backend, READ, database_url).strip().splitlines()[-1])


def _check_rows(rows: list[dict[str, Any]], step: int) -> None:
    assert [row["title"] for row in rows] == ["t0", "t1", "t2"]
    for n, row in enumerate(rows):
        assert row["status"] == ["open", "closed", "open"][n]
        for key, value in EXPECTED_AFTER[step].items():
            expected = value.format(n=n) if isinstance(value, str) else value
            assert row[key] == expected, (step, key, row)
        assert not GONE_AFTER[step] & row.keys(), (step, row)


def _schema(url: str) -> dict[str, Any]:
    """Columns, keys, unique constraints and indexes of the tickets table."""

    def read(connection: Any) -> dict[str, Any]:
        inspector = inspect(connection)
        return {
            "columns": {
                c["name"]: (str(c["type"]), c["nullable"]) for c in inspector.get_columns("tickets")
            },
            "unique": sorted(
                (u["name"], tuple(u["column_names"]))
                for u in inspector.get_unique_constraints("tickets")
            ),
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]))
                for i in inspector.get_indexes("tickets")
                if not i.get("duplicates_constraint")
            ),
            "foreign_keys": sorted(
                (f["name"], tuple(f["constrained_columns"]))
                for f in inspector.get_foreign_keys("tickets")
            ),
            "checks": sorted(
                (c["name"], c["sqltext"]) for c in inspector.get_check_constraints("tickets")
            ),
        }

    async def go() -> dict[str, Any]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(read)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def _async_url(url: str) -> str:
    if url.startswith("sqlite:///"):
        return url.replace("sqlite:///", "sqlite+aiosqlite:///", 1)
    return url.replace("postgresql://", "postgresql+asyncpg://", 1)


def _evolve(backend: Path, database_url: str, test_env: dict[str, str]) -> None:
    _cli(backend, "generate", "resource", "Customer", "name:str")
    name, *fields = TICKET.split()
    _cli(backend, "generate", "resource", name, *fields)
    run(backend, *ALEMBIC, "upgrade", "head", DATABASE_URL=database_url)
    _python(backend, SEED, database_url)
    _hand_edits(backend)
    schemas = [_schema(_async_url(database_url))]
    for step, change in enumerate(CHANGES):
        _cli(backend, *change)
        if step == 1:  # another hand edit, between two changes
            repository = backend / "app/repositories/ticket_repo.py"
            repository.write_text(repository.read_text().rstrip("\n") + "\n" + REPOSITORY_EDIT)
        _hand_edits_kept(backend, repository=step >= 1)
        lint(backend)
        alembic(backend, database_url, "upgrade head", "check")
        _check_rows(_rows(backend, database_url), step)
        schemas.append(_schema(_async_url(database_url)))
        run_some_tests(backend, "app/tests/test_tickets.py", **test_env)
    assert len({json.dumps(schema, sort_keys=True) for schema in schemas}) == len(schemas)
    for step in reversed(range(len(CHANGES))):
        run(backend, *ALEMBIC, "downgrade", "-1", DATABASE_URL=database_url)
        assert _schema(_async_url(database_url)) == schemas[step], f"after undoing {step + 1}"


def test_five_changes_on_sqlite(backend: Path) -> None:
    _evolve(backend, f"sqlite:///{backend / 'evolve.db'}", {})


@pytest.mark.postgres
def test_five_changes_on_postgresql(backend: Path, postgres_database: str) -> None:
    # The generated suite rebuilds its own database; the rows live in another one.
    name = postgres_database.rsplit("/", 1)[1] + "_suite"
    admin_sql(f'CREATE DATABASE "{name}"')
    try:
        suite = postgres_database.rsplit("/", 1)[0] + "/" + name
        _evolve(backend, postgres_database, {"TEST_DATABASE_URL": suite})
    finally:
        admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# Every kind of change, on a resource of every type with a row in its table.
GADGET = (
    "Gadget label:str:index count:int:default=3 big:bigint:optional price:float "
    "score:decimal:10,4:optional day:date:optional at:datetime:optional ref_code:uuid:unique "
    "meta:json:optional contact:email:unique site:url:optional level:enum:low,high:optional "
    "owner:ref:users:optional maker:ref:customer:optional"
)
EVERY_CHANGE = [
    "change field Gadget label:text",  # widened, and no longer indexed
    "change field Gadget count:bigint:default=3",
    "change field Gadget day:date:default=2030-01-01",  # now required: the null is filled
    "change field Gadget big:bigint:default=7",
    "rename field Gadget maker producer",  # a ref: its key and index follow
    "rename field Gadget contact email_address",  # a unique constraint follows
    "change field Gadget email_address:email",  # no longer unique
    "change field Gadget site:url:optional:unique",  # now unique
    "change field Gadget level:enum:low,mid,high:optional:index",
    "rename field Gadget level grade",  # an enum: its check follows
    # a value dropped, its rows given a new one (and back: a downgrade narrows the column)
    "change field Gadget grade:enum:lowest,mid,high:optional:index --replace low=lowest",
    "remove field Gadget producer --yes",
    "generate field Gadget supplier:ref:customer:optional:index",
    "change field Gadget at:datetime:default=2030-01-31T12:00:00Z",
    "change field Gadget ref_code:uuid",
    "change field Gadget score:decimal:12,4:optional",
    "generate field Gadget flag:bool:default=true note:str:default=hello",
    # added with a default, kept as the column's server default: it follows the value
    "generate field Gadget tier:enum:basic,pro:default=basic",
    "change field Gadget tier:enum:starter,pro:default=starter --replace basic=starter",
]


def _insert_gadget(url: str) -> None:
    sqlite = url.startswith("sqlite")

    def key(n: int) -> str:
        value = f"00000000-0000-0000-0000-{n:012d}"
        return value.replace("-", "") if sqlite else value

    now = "'2030-01-01 00:00:00'"
    statements = [
        f"INSERT INTO projects (id, name, created_at, updated_at) "
        f"VALUES ('{key(1)}', 'p', {now}, {now})",
        f"INSERT INTO customers (project_id, id, name, created_at, updated_at) "
        f"VALUES ('{key(1)}', '{key(2)}', 'c', {now}, {now})",
        "INSERT INTO gadgets (project_id, id, label, count, price, ref_code, contact, "
        "maker_id, level, created_at, updated_at) VALUES "
        f"('{key(1)}', '{key(3)}', 'L', 3, 1.5, '{key(4)}', 'a@b.co', '{key(2)}', 'low', "
        f"{now}, {now})",
    ]

    async def go() -> None:
        engine = create_async_engine(_async_url(url))
        try:
            async with engine.begin() as connection:
                for statement in statements:
                    await connection.exec_driver_sql(statement)
        finally:
            await engine.dispose()

    asyncio.run(go())


def _gadget(url: str) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        engine = create_async_engine(_async_url(url))
        try:
            async with engine.connect() as connection:
                result = await connection.exec_driver_sql("SELECT * FROM gadgets")
                return dict(result.mappings().one())
        finally:
            await engine.dispose()

    return asyncio.run(go())


def _server_default(url: str, table: str, column: str) -> str | None:
    """The database's default of a column, as its dialect writes it."""

    async def go() -> str | None:
        engine = create_async_engine(_async_url(url))
        try:
            async with engine.connect() as connection:
                columns = await connection.run_sync(lambda sync: inspect(sync).get_columns(table))
        finally:
            await engine.dispose()
        default: str | None = next(c["default"] for c in columns if c["name"] == column)
        return default

    return asyncio.run(go())


def _every_change(backend: Path, database_url: str) -> None:
    _cli(backend, "generate", "resource", "Customer", "name:str")
    name, *fields = GADGET.split()
    _cli(backend, "generate", "resource", name, *fields)
    run(backend, *ALEMBIC, "upgrade", "head", DATABASE_URL=database_url)
    _insert_gadget(database_url)
    for change in EVERY_CHANGE:
        _cli(backend, *change.split())
        alembic(backend, database_url, "upgrade head", "check")
    row = _gadget(database_url)
    assert (row["label"], row["count"], row["big"], row["email_address"]) == ("L", 3, 7, "a@b.co")
    assert (row["grade"], row["flag"], row["note"], row["tier"]) == (
        "lowest",
        True,
        "hello",
        "starter",
    )
    assert str(row["day"]) == "2030-01-01" and row["supplier_id"] is None
    assert "producer_id" not in row and "maker_id" not in row
    assert "'starter'" in str(_server_default(database_url, "gadgets", "tier"))
    lint(backend)
    run(backend, *ALEMBIC, "downgrade", "0003_gadgets", DATABASE_URL=database_url)
    row = _gadget(database_url)
    assert (row["label"], row["contact"], row["level"]) == ("L", "a@b.co", "low")
    alembic(backend, database_url, "upgrade head", "check")


def test_every_kind_of_change_on_sqlite(backend: Path) -> None:
    _every_change(backend, f"sqlite:///{backend / 'changes.db'}")


@pytest.mark.postgres
def test_every_kind_of_change_on_postgresql(backend: Path, postgres_database: str) -> None:
    _every_change(backend, postgres_database)


PROJECT = uuid.UUID("00000000-0000-4000-8000-000000000001")


def test_a_failed_migration_on_sqlite_leaves_nothing_behind(backend: Path) -> None:
    """A change whose migration stops on the data (a duplicate for a new unique) rolls
    back whole: the table it was rebuilding is gone, and once the data is fixed the
    same upgrade passes (a leftover `_alembic_tmp_customers` blocked every retry)."""
    url = f"sqlite:///{backend / 'app.db'}"
    _cli(backend, "generate", "resource", "Customer", "name:str")
    alembic(backend, url, "upgrade head")
    database = sqlite3.connect(backend / "app.db")
    for _ in range(2):
        database.execute(
            "INSERT INTO customers (project_id, id, name, created_at, updated_at) "
            "VALUES (?, ?, 'twin', datetime('now'), datetime('now'))",
            (PROJECT.hex, uuid.uuid4().hex),
        )
    database.commit()
    tables = "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
    before = database.execute(tables).fetchall()
    _cli(backend, "change", "field", "Customer", "name:str:unique")
    failed = execute(backend, sys.executable, "-m", "alembic", "upgrade", "head", DATABASE_URL=url)
    assert failed.returncode != 0
    # The migration stops before the constraint, naming the column and the query
    # that lists the duplicates, without a traceback.
    assert "FAILED: customers.name cannot become unique: 1 value(s)" in failed.stdout
    assert "GROUP BY customers.project_id, customers.name" in failed.stdout
    assert "Traceback" not in failed.stderr, failed.stderr
    assert database.execute(tables).fetchall() == before
    database.execute("UPDATE customers SET name = 'other' WHERE rowid = 1")
    database.commit()
    database.close()
    alembic(backend, url, "upgrade head", "check")


def _sql(url: str, *statements: str) -> None:
    """Run statements on the database at `url`, in one transaction."""

    async def go() -> None:
        engine = create_async_engine(_async_url(url))
        try:
            async with engine.begin() as connection:
                for statement in statements:
                    await connection.exec_driver_sql(statement)
        finally:
            await engine.dispose()

    asyncio.run(go())


def _a_value_a_downgrade_drops_is_named(backend: Path, url: str) -> None:
    """A downgrade that takes back an enum value some rows hold stops, naming it and
    its rows, before the column narrows or the check fails on them; once they hold
    another value, it runs."""
    _cli(backend, "generate", "resource", "Ticket", "state:enum:open,done:default=open")
    _cli(backend, "change", "field", "Ticket", "state:enum:open,done,cancelled:default=open")
    alembic(backend, url, "upgrade head")
    key = PROJECT.hex if url.startswith("sqlite") else str(PROJECT)
    now = "'2030-01-01 00:00:00'"
    _sql(
        url,
        "INSERT INTO projects (id, name, created_at, updated_at) "
        f"VALUES ('{key}', 'p', {now}, {now})",
        "INSERT INTO tickets (project_id, id, state, created_at, updated_at) VALUES "
        f"('{key}', '{uuid.UUID(int=1).hex}', 'cancelled', {now}, {now})",
    )
    failed = execute(backend, *ALEMBIC, "downgrade", "-1", DATABASE_URL=url)
    assert failed.returncode != 0
    assert (
        "FAILED: tickets.state holds value(s) that this migration drops: cancelled (1 row(s)). "
        "Change them to one of open, done, then run it again." in failed.stdout
    ), (failed.stdout + failed.stderr)
    assert "Traceback" not in failed.stdout + failed.stderr
    _sql(url, "UPDATE tickets SET state = 'done'")
    alembic(backend, url, "downgrade -1", "upgrade head", "check")


def test_a_value_a_downgrade_drops_is_named_on_sqlite(backend: Path) -> None:
    _a_value_a_downgrade_drops_is_named(backend, f"sqlite:///{backend / 'values.db'}")


@pytest.mark.postgres
def test_a_value_a_downgrade_drops_is_named_on_postgresql(
    backend: Path, postgres_database: str
) -> None:
    _a_value_a_downgrade_drops_is_named(backend, postgres_database)


def _a_value_a_narrower_type_cannot_hold_is_named(backend: Path, url: str) -> None:
    """Downgrades of widenings (text back to str, bigint back to int) stop on a value
    the narrower type would not hold, naming the column, before changing it; once the
    value fits, they run."""
    _cli(backend, "generate", "resource", "Note", "title:str", "count:int")
    _cli(backend, "change", "field", "Note", "count:bigint")
    _cli(backend, "change", "field", "Note", "title:text")
    alembic(backend, url, "upgrade head")
    key = PROJECT.hex if url.startswith("sqlite") else str(PROJECT)
    now = "'2030-01-01 00:00:00'"
    _sql(
        url,
        "INSERT INTO projects (id, name, created_at, updated_at) "
        f"VALUES ('{key}', 'p', {now}, {now})",
        "INSERT INTO notes (project_id, id, title, count, created_at, updated_at) VALUES "
        f"('{key}', '{uuid.UUID(int=1).hex}', '{'x' * 300}', 3000000000, {now}, {now})",
    )
    for message, fix in (
        (
            "FAILED: notes.title holds 1 value(s) longer than 255 characters",
            "UPDATE notes SET title = 'short'",
        ),
        (
            "FAILED: notes.count holds 1 value(s) beyond a 32-bit integer",
            "UPDATE notes SET count = 3",
        ),
    ):
        failed = execute(backend, *ALEMBIC, "downgrade", "-1", DATABASE_URL=url)
        assert failed.returncode != 0
        assert message in failed.stdout, failed.stdout + failed.stderr
        assert "Traceback" not in failed.stdout + failed.stderr
        _sql(url, fix)
        alembic(backend, url, "downgrade -1")
    alembic(backend, url, "upgrade head", "check")


def test_a_value_a_narrower_type_cannot_hold_is_named_on_sqlite(backend: Path) -> None:
    _a_value_a_narrower_type_cannot_hold_is_named(backend, f"sqlite:///{backend / 'types.db'}")


@pytest.mark.postgres
def test_a_value_a_narrower_type_cannot_hold_is_named_on_postgresql(
    backend: Path, postgres_database: str
) -> None:
    _a_value_a_narrower_type_cannot_hold_is_named(backend, postgres_database)
