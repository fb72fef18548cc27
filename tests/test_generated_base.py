"""The backend that `new` creates is lint-clean, migrates without drift, and passes its tests.

On SQLite, `check` does all of it: tests/test_check.py (with `SEED_TEST` below). On
PostgreSQL, its whole suite runs in the seed examples' backend
(tests/test_generated_resources.py), which holds every base test beside seven resources;
here the base backend alone migrates, and the seed's style of test passes.
"""

from pathlib import Path

import pytest

from tests.backend_checks import migrations_round_trip, run_some_tests

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
