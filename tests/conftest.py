"""Shared fixtures: generated backends and throw-away PostgreSQL databases."""

import asyncio
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

POSTGRES_URL = os.environ.get(
    "BB_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def admin_sql(statement: str, *arguments: object) -> list[dict[str, object]]:
    """Run a statement on the test server's `postgres` database; its rows, if any."""
    import asyncpg

    async def run() -> list[dict[str, object]]:
        connection = await asyncpg.connect(POSTGRES_URL, timeout=5)
        try:
            if not arguments:  # DDL such as CREATE DATABASE: the simple protocol
                await connection.execute(statement)
                return []
            return [dict(row) for row in await connection.fetch(statement, *arguments)]
        finally:
            await connection.close()

    return asyncio.run(run())


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped afterwards.

    Skips when no server is reachable, unless BB_REQUIRE_POSTGRES is set (CI).
    """
    name = f"bb_test_{uuid.uuid4().hex[:12]}"
    try:
        admin_sql(f'CREATE DATABASE "{name}"')
    except (TimeoutError, OSError, Exception) as error:
        message = f"PostgreSQL is not reachable at {POSTGRES_URL}: {error}"
        if os.environ.get("BB_REQUIRE_POSTGRES"):
            pytest.fail(message)
        pytest.skip(message)
    base = POSTGRES_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


CITUS_SCRIPT = (
    Path(__file__).parents[1]
    / "src/backend_builder/templates/project/scripts/citus_cluster.sh.jinja"
)
"""The generated backends' `scripts/citus_cluster.sh` (a template with nothing to fill in)."""


def citus_cluster_command(*arguments: str) -> str:
    """Run the cluster script with `arguments`; its output, or a failure naming the cause."""
    result = subprocess.run(
        ["bash", str(CITUS_SCRIPT), *arguments],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"citus_cluster.sh {' '.join(arguments)}: {result.stderr.strip()}")
    return result.stdout


def _citus_installed() -> bool:
    try:
        libdir = subprocess.run(
            ["pg_config", "--pkglibdir"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return False
    return (Path(libdir) / "citus.so").exists()


@pytest.fixture(scope="session")
def citus_cluster() -> None:
    """A Citus coordinator and two workers on ports 9700-9702, started if need be.

    Skips when Citus is not installed (../shared/citus/build.sh installs it), unless
    BB_REQUIRE_CITUS is set (CI). Left running: the next run starts in a second.
    """
    if not _citus_installed():
        message = "the Citus extension is not installed (../shared/citus/build.sh builds it)"
        if os.environ.get("BB_REQUIRE_CITUS"):
            pytest.fail(message)
        pytest.skip(message)
    citus_cluster_command("up")


@pytest.fixture
def citus_database(citus_cluster: None) -> Iterator[str]:
    """The coordinator URL of a new database on the cluster, dropped afterwards."""
    name = f"bb_citus_{uuid.uuid4().hex[:12]}"
    citus_cluster_command("up", name)
    try:
        yield citus_cluster_command("url", name).strip()
    finally:
        citus_cluster_command("dropdb", name)


@pytest.fixture
def backend(tmp_path: Path) -> Path:
    """A new base backend, generated in a temporary folder."""
    from backend_builder.plan import apply_plan
    from backend_builder.project import plan_new

    root = tmp_path / "shop-api"
    apply_plan(plan_new(root))
    return root


# The longest tests (each runs a generated backend's whole suite) start first, in an
# order that alternates them between two workers: `pytest -n auto --maxschedchunk 1`
# hands each worker two tests to begin with, then one test at a time, so that the
# workers end together instead of one of them running a two-minute test alone at the end.
_LONGEST_FIRST = (
    "test_generated_resources.py::test_seed_examples_on_sqlite",
    "test_mcp.py",
    "test_citus.py::test_the_generated_suite_passes_on_citus",
    "test_generated_resources.py::test_seed_examples_on_postgresql",
    "test_check.py::test_every_check_passes",
    "test_evolve.py::test_five_changes",
    "test_citus.py",
    "test_evolve.py",
    "test_clients.py",
)


def _cost_rank(item: pytest.Item) -> int:
    for rank, prefix in enumerate(_LONGEST_FIRST):
        if item.nodeid.removeprefix("tests/").startswith(prefix):
            return rank
    return len(_LONGEST_FIRST) + (0 if item.get_closest_marker("slow") else 1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Order the tests by cost, the longest first (stable within each rank)."""
    items.sort(key=_cost_rank)


def pytest_sessionfinish() -> None:
    """End the process that ran the generated backends' commands (tests/zygote.py)."""
    from tests.backend_checks import ZYGOTE

    if ZYGOTE is not None:
        ZYGOTE.close()
