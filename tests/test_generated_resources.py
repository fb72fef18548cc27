"""The seed's examples, generated verbatim, give a backend whose linters, migrations and
tests are green on SQLite and PostgreSQL without a single hand edit."""

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from backend_builder.cli import app
from tests.backend_checks import lint, migrations_round_trip, run_some_tests, run_tests

pytestmark = pytest.mark.slow

COMMANDS = [
    "Notification title:str message:text:optional read:bool:default=false user:ref",
    "Customer name:str email:email:optional",
    "Invoice number:str:unique amount:decimal status:enum:draft,sent,paid:default=draft "
    "due_on:date:optional customer:ref",
    "Asset name:str description:text:optional",
    "Category name:str parent:ref:category:optional",
    # every type and modifier at least once
    "Gadget label:str:index count:int:default=3 big:bigint:optional price:float "
    "score:decimal:10,4:optional day:date:optional at:datetime:optional ref_code:uuid:unique "
    "meta:json:optional contact:email:unique site:url:optional level:enum:low,high:optional "
    "owner:ref:users:optional maker:ref:customer:optional",
    # every sortable type required, so that each one is paged through by a cursor
    "Shipment ships_on:date departs_at:datetime weight:decimal:8,3 size:bigint fragile:bool "
    "kind:enum:small,large tracking:uuid site:url customer:ref",
]

# The seed's "Test Template", verbatim, with {resource} placeholders filled for Asset.
SEED_TEST_TEMPLATE = """# tests/test_{resource}.py
import pytest
from fastapi.testclient import TestClient
from uuid import uuid4

from app.main import app
from app.tests.conftest import get_test_user_token

client = TestClient(app)

@pytest.fixture
def auth_headers():
    token = get_test_user_token()
    return {"Authorization": f"Bearer {token}"}

def test_create_{resource}(auth_headers):
    response = client.post(
        "/api/v1/{resources}/",
        json={"name": "Test {Resource}"},
        headers=auth_headers
    )
    assert response.status_code == 201
    assert response.json()["name"] == "Test {Resource}"

def test_list_{resources}(auth_headers):
    response = client.get("/api/v1/{resources}/", headers=auth_headers)
    assert response.status_code == 200
    assert isinstance(response.json(), list)
"""

GENERATED = re.compile(
    r"^app/(models/\w+\.py|schemas/\w+\.py|repositories/\w+_repo\.py|"
    r"services/\w+_service\.py|api/v1/endpoints/\w+\.py)\s+\d+\s+\d+\s+(\d+)%",
    re.MULTILINE,
)


def _generate(backend: Path, commands: list[str]) -> None:
    """Run `generate resource` for each `Name field...` command."""
    runner = CliRunner()
    for command in commands:
        name, *fields = command.split()
        result = runner.invoke(app, ["generate", "resource", name, *fields, "--path", str(backend)])
        assert result.exit_code == 0, result.output


def _add_seed_test(backend: Path) -> None:
    source = (
        SEED_TEST_TEMPLATE.replace("{resources}", "assets")
        .replace("{resource}", "asset")
        .replace("{Resource}", "Asset")
    )
    (backend / "app" / "tests" / "test_seed_template_assets.py").write_text(source)


def _check_suite(output: str) -> None:
    assert re.search(r"\d+ passed", output) and " failed" not in output
    assert "test_seed_template_assets.py" not in output or "FAILED" not in output
    for module, cover in GENERATED.findall(output):
        assert int(cover) >= 95, f"app/{module} has {cover}% coverage"


def test_seed_examples_on_sqlite(backend: Path) -> None:
    _generate(backend, COMMANDS)
    lint(backend)
    _add_seed_test(backend)
    migrations_round_trip(backend, f"sqlite:///{backend / 'check.db'}")
    _check_suite(run_tests(backend))


@pytest.mark.postgres
def test_seed_examples_on_postgresql(backend: Path, postgres_database: str) -> None:
    _generate(backend, COMMANDS)
    _add_seed_test(backend)
    migrations_round_trip(backend, postgres_database)
    _check_suite(run_tests(backend, TEST_DATABASE_URL=postgres_database))


# Definitions whose generated code once failed its own tests or answered 500.
UNUSUAL = [
    # its endpoints import fastapi's `status`, which a local variable would hide
    "Status name:str",
    # a reserved word whose table is not one (orders), and a ref to it (order_id)
    "Order number:str",
    "Ticket title:str status:ref order:ref:optional",
    # defaults of every kind, omitted in a create; integer bounds past a float's
    # precision; decimals without whole digits (where "0" is one)
    "Preset ext:uuid:default=12345678-1234-5678-1234-567812345678 "
    "at:datetime:default=2024-01-31T09:30:00 big:bigint:default=9000000000 "
    "ratio:decimal:38,38:default=0.5 whole:decimal:38,0:optional "
    "mail:email:default=Team@EXAMPLE.com",
    # unique values of every kind the tests must vary; one name the start of another
    "Badge ratio:float:unique body:text:unique day:date:unique at:datetime:unique "
    "code:str:unique code_alt:str:unique",
    # pytest must not take its helpers (testimonial_payload) for tests
    "Testimonial body:text",
    # two refs to one target, each with a test of its own
    "Transfer source:ref:status target:ref:status:optional owner:ref:users "
    "approver:ref:users:optional",
]
UNUSUAL_TESTS = [
    "app/tests/test_statuses.py",
    "app/tests/test_orders.py",
    "app/tests/test_tickets.py",
    "app/tests/test_presets.py",
    "app/tests/test_badges.py",
    "app/tests/test_testimonials.py",
    "app/tests/test_transfers.py",
]


def test_unusual_definitions_pass_their_own_tests(backend: Path) -> None:
    """Their tests pass, and so does their fuzzing; a resource whose references are
    required (transfers) is created by the fuzzer, and then read, changed and deleted."""
    _generate(backend, UNUSUAL)
    lint(backend)
    schemathesis = "app/tests/test_schemathesis.py::test_schemathesis_finds_no_failure"
    runs = [f"{schemathesis}[{group}]" for group in ("presets", "badges", "transfers")]
    output = run_some_tests(backend, *UNUSUAL_TESTS, *runs, "-rP")
    assert re.search(r"\d+ passed", output), output[-3000:]
    assert not re.search(r"\d+ (failed|errors?)\b", output), output[-3000:]
    report = output[output.index("test_schemathesis_finds_no_failure[transfers] _") :]
    followed = re.search(r"API Links: +(\d+) covered", report)
    assert followed and int(followed[1]) > 0, report[:3000]
    assert "Missing test data" not in report, report[:3000]


@pytest.mark.postgres
def test_unusual_definitions_on_postgresql(backend: Path, postgres_database: str) -> None:
    """The unique fields of one resource each answer 409 naming themselves, by their
    constraint's name (`code`'s is the start of `code_alt`'s)."""
    _generate(backend, UNUSUAL)
    migrations_round_trip(backend, postgres_database)
    tests = ("app/tests/test_badges.py", "app/tests/test_presets.py")
    output = run_some_tests(backend, *tests, TEST_DATABASE_URL=postgres_database)
    assert re.search(r"\d+ passed", output), output[-3000:]
    assert " failed" not in output and " error" not in output, output[-3000:]


@pytest.mark.postgres
def test_long_names_migrate_on_postgresql(backend: Path, postgres_database: str) -> None:
    """An index name over PostgreSQL's 63 characters is cut as the foreign keys' are."""
    commands = [
        "SubscriptionPlan name:str",
        "SubscriptionPlanPriceTier subscription_plan:ref amount:int "
        "internal_accounting_category_code:str:index:optional",
    ]
    _generate(backend, commands)
    lint(backend)
    migrations_round_trip(backend, postgres_database)
