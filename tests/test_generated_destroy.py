"""A backend stays green after `destroy resource`, and its drop migration goes both ways.

Customer is kept; Invoice, which refers to it, gets a field, then is destroyed.
The backend migrates to the head (the table dropped), passes its linters and a
couple of its test files; one step down brings the invoices table back as it was
before the drop (columns, keys, indexes, row-level security), one step up drops it
again.
"""

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

from backend_builder.cli import app
from tests.backend_checks import lint, run

pytestmark = pytest.mark.slow

COMMANDS = [
    ["generate", "resource", "Customer", "name:str", "email:email:optional"],
    [
        "generate",
        "resource",
        "Invoice",
        "number:str:unique",
        "status:enum:draft,sent,paid:default=draft",
        "note:str:index",
        "customer:ref",
        "owner:ref:users:optional",
    ],
    ["generate", "field", "Invoice", "due_on:date:optional"],
    ["destroy", "resource", "Invoice", "--yes"],
]
# The generated tests that run: the kept resource's, and the isolation layers'.
TESTS = ("app/tests/test_customers.py", "app/tests/test_isolation.py")
BEFORE_DROP = "0004_add_due_on_to_invoices"


def _build(backend: Path) -> None:
    runner = CliRunner()
    for command in COMMANDS:
        result = runner.invoke(app, [*command, "--path", str(backend)])
        assert result.exit_code == 0, result.output


def _alembic(backend: Path, url: str, *args: str) -> None:
    run(backend, sys.executable, "-m", "alembic", *args, DATABASE_URL=url)


def _shape(connection: Connection, table: str) -> dict[str, Any] | None:
    """Everything the migrations make of `table`, or None if there is no such table.

    Columns and constraints are compared by name, not by position: a column added
    by a later migration comes last, and the recreated table has it among the others.
    """
    inspector = sa.inspect(connection)
    if not inspector.has_table(table):
        return None
    shape: dict[str, Any] = {
        "columns": sorted(
            (c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
            for c in inspector.get_columns(table)
        ),
        "primary_key": inspector.get_pk_constraint(table),
        "foreign_keys": _by_name(inspector.get_foreign_keys(table)),
        "unique": _by_name(inspector.get_unique_constraints(table)),
        "indexes": _by_name(inspector.get_indexes(table)),
        "checks": _by_name(inspector.get_check_constraints(table)),
    }
    if connection.dialect.name == "postgresql":
        shape["row_level_security"] = tuple(
            connection.execute(
                sa.text(
                    "SELECT relrowsecurity, relforcerowsecurity FROM pg_class "
                    "WHERE relname = :table"
                ),
                {"table": table},
            ).one()
        )
        shape["policies"] = [
            tuple(row)
            for row in connection.execute(
                sa.text(
                    "SELECT policyname, permissive, cmd, qual, with_check FROM pg_policies "
                    "WHERE tablename = :table"
                ),
                {"table": table},
            )
        ]
    return shape


def _by_name(items: list[Any]) -> list[Any]:
    return sorted(items, key=lambda item: str(item.get("name")))


def _table(url: str, table: str) -> dict[str, Any] | None:
    async_url = make_url(url)
    driver = (
        "sqlite+aiosqlite" if async_url.drivername.startswith("sqlite") else "postgresql+asyncpg"
    )

    async def read() -> dict[str, Any] | None:
        engine = create_async_engine(async_url.set(drivername=driver))
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(_shape, table)
        finally:
            await engine.dispose()

    return asyncio.run(read())


def _check(backend: Path, url: str, **env: str) -> None:
    # The table as the migrations before the drop made it.
    _alembic(backend, url, "upgrade", BEFORE_DROP)
    before_drop = _table(url, "invoices")
    assert before_drop is not None and ("due_on", "DATE", True, "None") in before_drop["columns"]
    assert len(before_drop["foreign_keys"]) == 3 and len(before_drop["indexes"]) >= 3
    assert before_drop["unique"] and before_drop["checks"]  # UNIQUE (project_id, number); the enum
    if make_url(url).get_backend_name() == "postgresql":
        assert before_drop["row_level_security"] == (True, True) and before_drop["policies"]
    # The head drops it, without drift from the models; the backend is green.
    _alembic(backend, url, "upgrade", "head")
    _alembic(backend, url, "check")
    assert _table(url, "invoices") is None
    assert _table(url, "customers") is not None
    output = run(
        backend, sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *TESTS, **env
    ).stdout
    assert " passed" in output and "failed" not in output
    # One step down brings it back as it was; one step up drops it again.
    _alembic(backend, url, "downgrade", "-1")
    assert _table(url, "invoices") == before_drop
    _alembic(backend, url, "upgrade", "head")
    assert _table(url, "invoices") is None


def test_destroy_keeps_the_backend_green_on_sqlite(backend: Path) -> None:
    _build(backend)
    lint(backend)
    _check(backend, f"sqlite:///{backend / 'check.db'}")


@pytest.mark.postgres
def test_destroy_keeps_the_backend_green_on_postgresql(
    backend: Path, postgres_database: str
) -> None:
    _build(backend)
    _check(backend, postgres_database, TEST_DATABASE_URL=postgres_database)
