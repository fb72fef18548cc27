"""Generated backends on a three-node Citus cluster (a coordinator and two workers).

The cluster comes from the generated `scripts/citus_cluster.sh` (`citus_cluster` in
conftest.py); these tests skip when Citus is not installed, and fail then in CI.
"""

import asyncio
import os
import re
import subprocess
import uuid
from pathlib import Path

import asyncpg
import pytest

from backend_builder.check import run_checks
from tests.backend_checks import (
    PYTEST,
    alembic,
    execute,
    lint,
    migrations_round_trip,
    run_some_tests,
)
from tests.conftest import CITUS_SCRIPT
from tests.test_evolve import _cli, _every_change

pytestmark = pytest.mark.slow

RESOURCES = (
    "Customer name:str email:email:unique:optional tier:enum:free,pro:default=free",
    "Invoice customer:ref:Customer number:int:unique total:decimal:10,2 "
    "author:ref:users:optional paid:bool:default=false",
)


def test_the_generated_suite_passes_on_citus(backend: Path, citus_database: str) -> None:
    for resource in RESOURCES:
        _cli(backend, "generate", "resource", *resource.split())
    lint(backend)
    migrations_round_trip(backend, citus_database)
    # The whole suite (its coverage is measured on SQLite and PostgreSQL); -rs: every
    # skipped test and its reason, so that a skipped Citus test shows.
    output = run_some_tests(backend, "-rs", TEST_DATABASE_URL=citus_database)
    assert "SKIPPED" in output, "no skip reported: -rs had no effect"
    assert "not a Citus coordinator" not in output
    assert " failed" not in output and " passed" in output


def test_the_suite_refuses_xdist_workers_on_citus(backend: Path, citus_database: str) -> None:
    """A database of a cluster is made on every node (scripts/citus_cluster.sh up NAME):
    pytest-xdist's workers cannot make their own, so `-n` is a usage error there."""
    result = execute(backend, *PYTEST, "-n", "2", TEST_DATABASE_URL=citus_database)
    assert result.returncode == 4, result.stdout[-3000:] + result.stderr[-3000:]
    assert (
        "on Citus, run the tests in one process (without -n): each pytest-xdist worker "
        "would need a Citus database of its own"
    ) in result.stderr


def test_a_database_of_the_local_cluster_has_few_shards_per_table(citus_database: str) -> None:
    """scripts/citus_cluster.sh makes each table of its databases 4 shards (CITUS_SHARDS),
    not Citus's 32: a test suite's migrations and its statements to every shard cost an
    eighth. A number of shards that is no number is refused."""
    name = citus_database.rsplit("/", 1)[1]
    assert _sql(citus_database, "SHOW citus.shard_count") == {"4"}
    refused = subprocess.run(
        ["bash", str(CITUS_SCRIPT), "up", name],
        env={**os.environ, "CITUS_SHARDS": "many"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode == 1
    assert "CITUS_SHARDS is a number of shards, not 'many'" in refused.stderr


def test_every_kind_of_change_on_citus(backend: Path, citus_database: str) -> None:
    _every_change(backend, citus_database)


DISTRIBUTE_EXISTING = """\
\"\"\"Distribute the tables of the earlier migrations (on Citus).

Revision ID: 0004_distribute
Revises: 0003_invoices
\"\"\"

from app.core.distribution import distribute_existing_tables

revision = "0004_distribute"
down_revision = "0003_invoices"
branch_labels = None
depends_on = None


def upgrade() -> None:
    distribute_existing_tables()


def downgrade() -> None:
    pass
"""


def _sql(url: str, *statements: str) -> set[str]:
    """Run statements as the owner; the first column of the last one's rows."""

    async def go() -> set[str]:
        connection = await asyncpg.connect(url)
        try:
            rows = []
            for statement in statements:
                rows = await connection.fetch(statement)
            return {row[0] for row in rows}
        finally:
            await connection.close()

    return asyncio.run(go())


def _as_generated_before_distribution(backend: Path) -> None:
    """Rewrite the migrations as backend-builder wrote them before they distributed tables."""
    for path in sorted((backend / "alembic/versions").glob("*.py")):
        source = path.read_text()
        source = re.sub(r"\nfrom app\.core\.distribution import [^\n]+\n", "\n", source)
        source = re.sub(r"\n *# On Citus, the table's shards[^\n]*", "", source)
        source = re.sub(r"\n *(distribute|replicate)\([^\n]*\)", "", source)
        source = source.replace("if migrating_citus()", "if False")
        assert not re.search(r"distribute\(|replicate\(|migrating_citus", source), path
        path.write_text(source)


@pytest.mark.parametrize("how", ["a migration by hand", "the next resource generated"])
def test_a_backend_generated_before_distribution_moves_to_citus(
    backend: Path, citus_database: str, how: str
) -> None:
    """Its tables are distributed by `distribute_existing_tables()` in a new migration,
    written by hand (as the generated README says) or by `generate resource`."""
    for resource in RESOURCES:
        _cli(backend, "generate", "resource", *resource.split())
    _as_generated_before_distribution(backend)
    tables = {"users", "refresh_tokens", "projects", "memberships", "customers", "invoices"}
    tests = ["app/tests/test_customers.py", "app/tests/test_invoices.py"]
    if how == "a migration by hand":
        (backend / "alembic/versions/0004_distribute.py").write_text(DISTRIBUTE_EXISTING)
    else:
        _cli(backend, "generate", "resource", "Note", "title:str", "customer:ref")
        assert (
            "distribute_existing_tables()"
            in (backend / "alembic/versions/0004_create_notes.py").read_text()
        )
        tables.add("notes")
        tests.append("app/tests/test_notes.py")
    assert run_checks(backend, checks=("tenancy",)).passed
    # The tables exist, with rows, on the coordinator alone; then the new migration.
    alembic(backend, citus_database, "upgrade 0003_invoices")
    project, customer = uuid.uuid4(), uuid.uuid4()
    _sql(
        citus_database,
        f"INSERT INTO projects (id, name) VALUES ('{project}', 'p')",
        "INSERT INTO customers (project_id, id, name, tier) "
        f"VALUES ('{project}', '{customer}', 'c', 'free')",
    )
    alembic(backend, citus_database, "upgrade head", "check")
    assert _sql(citus_database, "SELECT logicalrelid::text FROM pg_dist_partition") >= tables
    assert _sql(citus_database, "SELECT id::text FROM customers") == {str(customer)}
    run_some_tests(
        backend,
        "app/tests/test_distribution.py",
        *tests,
        "app/tests/test_isolation.py",
        "-k",
        "distribution or routed or RowLevelSecurity",
        TEST_DATABASE_URL=citus_database,
    )
