"""`scripts/postgres_roles.sql` sets up an owner for migrations and an app role under RLS."""

import asyncio
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from backend_builder.cli import app
from tests.backend_checks import execute, run
from tests.conftest import POSTGRES_URL, admin_sql

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


async def _inspect(url: str) -> tuple[int, str, bool]:
    """As the app role: rows visible with no project, table owner, whether RLS binds it.

    The app role may read the migration state, but never change it.
    """
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        assert await connection.fetchval("SELECT count(*) FROM alembic_version") == 1
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await connection.execute("DELETE FROM alembic_version")
        rows = await connection.fetchval("SELECT count(*) FROM notes")
        owner = await connection.fetchval(
            "SELECT tableowner FROM pg_tables WHERE tablename = 'notes'"
        )
        bypass = await connection.fetchval(
            "SELECT rolbypassrls OR rolsuper FROM pg_roles WHERE rolname = current_user"
        )
        return rows, owner, bypass
    finally:
        await connection.close()


def _superuser_sql(url: str, *statements: str) -> list[object]:
    """Run statements in one session as the superuser; the first value of each."""
    import asyncpg

    async def run() -> list[object]:
        connection = await asyncpg.connect(url)
        try:
            return [await connection.fetchval(statement) for statement in statements]
        finally:
            await connection.close()

    return asyncio.run(run())


def test_roles_script_migrations_as_owner_app_under_rls(
    tmp_path: Path, postgres_database: str
) -> None:
    if shutil.which("psql") is None:
        pytest.skip("psql is not installed")
    name = f"roles_{uuid.uuid4().hex[:8]}"
    backend = tmp_path / name
    runner = CliRunner()
    assert runner.invoke(app, ["new", str(backend), "--database", "postgresql"]).exit_code == 0
    generated = runner.invoke(
        app,
        ["generate", "resource", "Note", "title:str", "body:text:optional", "--path", str(backend)],
    )
    assert generated.exit_code == 0, generated.output
    script = backend / "scripts" / "postgres_roles.sql"
    psql = ["psql", POSTGRES_URL, "-v", "ON_ERROR_STOP=1", "-q"]
    subprocess.run(
        [*psql, "-v", "owner_password=owner-pw", "-v", "app_password=app-pw", "-f", str(script)],
        check=True,
        capture_output=True,
    )
    host = POSTGRES_URL.split("@", 1)[1].rsplit("/", 1)[0]
    owner = f"postgresql://{name}_owner:owner-pw@{host}/{name}"
    app_url = f"postgresql://{name}_app:app-pw@{host}/{name}"
    superuser = f"{POSTGRES_URL.rsplit('/', 1)[0]}/{name}"
    try:
        run(backend, sys.executable, "-m", "alembic", "upgrade", "head", DATABASE_URL=owner)
        assert asyncio.run(_inspect(app_url)) == (0, f"{name}_owner", False)
        # A superuser migrates once: the owner keeps its rights on the migration state.
        run(backend, sys.executable, "-m", "alembic", "upgrade", "head", DATABASE_URL=superuser)
        # Rows of two projects without a body; the body becomes required: the owner's
        # migration fills them all, although row-level security hides them from it.
        notes = (
            "INSERT INTO notes (id, project_id, title, created_at, updated_at) VALUES "
            "(gen_random_uuid(), gen_random_uuid(), 'a', now(), now()), "
            "(gen_random_uuid(), gen_random_uuid(), 'b', now(), now())"
        )
        _superuser_sql(superuser, "SET session_replication_role = replica", notes)
        changed = runner.invoke(
            app, ["change", "field", "Note", "body:text:default=empty", "--path", str(backend)]
        )
        assert changed.exit_code == 0, changed.output
        run(backend, sys.executable, "-m", "alembic", "upgrade", "head", DATABASE_URL=owner)
        assert _superuser_sql(
            superuser,
            "SELECT count(*) FROM notes WHERE body = 'empty'",
            "SELECT relforcerowsecurity FROM pg_class WHERE relname = 'notes'",
        ) == [2, True]
        run(backend, sys.executable, "-m", "alembic", "downgrade", "-1", DATABASE_URL=owner)
        # The two notes share a project and a title, and the title becomes unique: the
        # owner's migration finds them although row-level security hides them from it,
        # and stops naming the column, before the constraint would fail on them.
        _superuser_sql(
            superuser,
            "SET session_replication_role = replica",
            "UPDATE notes SET title = 'twin', project_id = "
            "(SELECT project_id FROM notes ORDER BY title LIMIT 1)",
        )
        changed = runner.invoke(
            app, ["change", "field", "Note", "title:str:unique", "--path", str(backend)]
        )
        assert changed.exit_code == 0, changed.output
        failed = execute(
            backend, sys.executable, "-m", "alembic", "upgrade", "head", DATABASE_URL=owner
        )
        assert failed.returncode != 0
        assert "FAILED: notes.title cannot become unique: 1 value(s)" in failed.stdout
        assert "Traceback" not in failed.stderr, failed.stderr
    finally:
        admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin_sql(f"DROP ROLE IF EXISTS {name}_app")
        admin_sql(f"DROP ROLE IF EXISTS {name}_owner")
