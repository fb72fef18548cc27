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
from tests.backend_checks import run
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
        app, ["generate", "resource", "Note", "title:str", "--path", str(backend)]
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
    try:
        run(backend, sys.executable, "-m", "alembic", "upgrade", "head", DATABASE_URL=owner)
        assert asyncio.run(_inspect(app_url)) == (0, f"{name}_owner", False)
    finally:
        admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin_sql(f"DROP ROLE IF EXISTS {name}_app")
        admin_sql(f"DROP ROLE IF EXISTS {name}_owner")
