"""Property-based tests generated from the OpenAPI schema by schemathesis.

Every operation is called with generated data, as a member of a project, and every
default check must hold: no server error, documented status codes and content
types, responses that match their schema, invalid data refused. The number of
examples per operation is SCHEMATHESIS_MAX_EXAMPLES (default 8).
"""

import os
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.config import SchemathesisConfig

from app.main import app
from app.tests.conftest import TestUser, register_user

ROOT = Path(__file__).resolve().parents[2]
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "8"))

schema = schemathesis.openapi.from_asgi(
    "/openapi.json",
    app,
    config=SchemathesisConfig.from_path(str(ROOT / "schemathesis.toml")),
).exclude(path="/api/v1/auth/logout")


@pytest.fixture(scope="module")
def member() -> TestUser:
    """The user the generated requests act as."""
    return register_user()


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck)
)
def test_api(case: Case, member: TestUser) -> None:
    """Every operation honours its schema for any input."""
    case.call_and_validate(headers=member.headers)
