"""The backend that `new` creates is lint-clean, migrates without drift, and passes its tests.

On SQLite, `check` does all of it: tests/test_check.py (with `SEED_TEST` below). On
PostgreSQL, its whole suite runs in the seed examples' backend
(tests/test_generated_resources.py), which holds every base test beside seven resources;
here the base backend alone migrates, and the seed's style of test passes.
"""

from pathlib import Path

import pytest

from tests.backend_checks import PYTEST, execute, migrations_round_trip, run_some_tests
from tests.conftest import admin_sql

pytestmark = pytest.mark.slow

SEED_TEST = """\
from fastapi.testclient import TestClient

from app.main import app
from app.tests.conftest import get_test_user_token

client = TestClient(app)


def test_seed_style_token_works():
    token = get_test_user_token()
    response = client.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
"""


@pytest.mark.postgres
def test_base_backend_on_postgresql(backend: Path, postgres_database: str) -> None:
    (backend / "app" / "tests" / "test_seed_style.py").write_text(SEED_TEST)
    migrations_round_trip(backend, postgres_database)
    output = run_some_tests(
        backend, "app/tests/test_seed_style.py", TEST_DATABASE_URL=postgres_database
    )
    assert "1 passed" in output


@pytest.mark.postgres
def test_each_xdist_worker_makes_a_database_of_its_own(
    backend: Path, postgres_database: str
) -> None:
    """`make test` is `pytest -n auto`: on one database, the workers would wipe each
    other's tables; each makes its own beside TEST_DATABASE_URL's instead."""
    name = postgres_database.rsplit("/", 1)[1]
    try:
        output = run_some_tests(
            backend,
            "-n",
            "2",
            "app/tests/test_projects.py",
            "app/tests/test_users.py",
            TEST_DATABASE_URL=postgres_database,
        )
        assert " passed" in output
        databases = admin_sql(
            "SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY 1",
            f"{name}_",
        )
        assert [row["datname"] for row in databases] == [f"{name}_gw0", f"{name}_gw1"]
    finally:
        for worker in ("gw0", "gw1"):
            admin_sql(f'DROP DATABASE IF EXISTS "{name}_{worker}" WITH (FORCE)')


REFUSED_TOKENS = """\
\"\"\"A pytest plugin: the schemathesis run's users present tokens the API refuses.\"\"\"

import dataclasses

import pytest


@pytest.fixture(autouse=True)
def refused_tokens(monkeypatch):
    from app.tests import test_schemathesis  # after conftest.py has set up the tests

    real = test_schemathesis.create_user

    def create_user(*args, **kwargs):
        return dataclasses.replace(real(*args, **kwargs), access_token="refused")

    monkeypatch.setattr(test_schemathesis, "create_user", create_user)
"""


def test_a_schemathesis_run_whose_users_are_refused_fails(backend: Path) -> None:
    """A run whose tokens the server refuses is a failure, not a quiet pass.

    schemathesis itself only warns (missing_auth) and exits 0: such a run would test
    nothing behind the login and pass.
    """
    (backend / "refused_tokens.py").write_text(REFUSED_TOKENS)
    result = execute(backend, *PYTEST, "-p", "refused_tokens", "app/tests/test_schemathesis.py")
    assert result.returncode == 1, result.stdout[-5000:] + result.stderr[-3000:]
    assert "1 failed" in result.stdout
    assert (
        "the server refuses the token of alice, bob before the run: "
        "the run tests nothing behind the login"
    ) in result.stdout
