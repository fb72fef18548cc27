"""Generated backends on a three-node Citus cluster (a coordinator and two workers).

The cluster comes from the generated `scripts/citus_cluster.sh` (`citus_cluster` in
conftest.py); these tests skip when Citus is not installed, and fail then in CI.
"""

from pathlib import Path

import pytest

from tests.backend_checks import lint, migrations_round_trip, run_tests
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
    # -rs: every skipped test and its reason, so that a skipped Citus test shows.
    output = run_tests(backend, TEST_DATABASE_URL=citus_database, PYTEST_ADDOPTS="-rs")
    assert "SKIPPED" in output, "no skip reported: -rs had no effect"
    assert "not a Citus coordinator" not in output
    assert " failed" not in output and " passed" in output


def test_every_kind_of_change_on_citus(backend: Path, citus_database: str) -> None:
    _every_change(backend, citus_database)
