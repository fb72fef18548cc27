"""Property-based API tests: schemathesis against a live server of this application.

Every default check runs, in every phase (coverage, fuzzing, stateful sequences),
as two users of two different projects. Its object-level authorization check
replays one user's reads as the other, who must never get the object. The server
must accept both users' tokens before the run and still after it: a run whose users
are refused would test nothing behind the login, and schemathesis only warns of it.
The size of the run is SCHEMATHESIS_MAX_EXAMPLES examples per operation (default 10).
The runs of a session go to one process that keeps schemathesis loaded (`fuzzing.py`).

What the schema admits, the API accepts: schemathesis.toml lists the refusals of
valid input that no schema can express, and 422 is not among them but for the
operations whose bodies hold a reference (`x-reference`: the id must be one of the
project's) or a json value (no NUL characters in its text): `_refusing_operations`.
Most of a run's references name objects of the first user's project (`_references`),
so that its creates succeed and the reads, updates and deletes that follow them
find an object: a random id would only ever be refused.

There is one run per tag of the OpenAPI document, so each resource's operations are
a test of their own (`pytest -k invoices`) and the runs can go to several workers;
the account and project operations, and any operation without a tag, are the `base`
run. Together the runs cover every operation once, but logging out (`NOT_RUN`).
"""

import importlib
import json
import multiprocessing
import os
import pkgutil
import re
import tomllib
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from app.main import app
from app.tests.conftest import ROOT, TestUser, create_user
from app.tests.contract import Resource
from app.tests.fuzzing import Run, run

MAX_EXAMPLES = os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "10")
NOT_RUN = frozenset({"/api/v1/auth/logout"})
"""Logging out would end the users' sessions: the rest of the run would be refused."""
BASE_TAGS = frozenset({"auth", "users", "projects", "health"})
OTHER_TAGS = sorted(
    {
        tag
        for operations in app.openapi()["paths"].values()
        for operation in operations.values()
        for tag in operation.get("tags", ())
    }
    - BASE_TAGS
)


def _in_run(operation: dict[str, Any], group: str) -> bool:
    tags = set(operation.get("tags", ()))
    return group in tags if group != "base" else not tags & set(OTHER_TAGS)


def _document(live: httpx.Client, group: str) -> dict[str, Any]:
    """The server's OpenAPI document with only the operations of one run.

    Each run loads only its own operations, so its cost does not grow with the
    number of resources in the backend.
    """
    document: dict[str, Any] = live.get("/openapi.json").json()
    paths = {
        path: {method: op for method, op in operations.items() if _in_run(op, group)}
        for path, operations in document["paths"].items()
    }
    document["paths"] = {
        path: operations
        for path, operations in paths.items()
        if operations and path not in NOT_RUN
    }
    return document


def _has_unexpressed_rule(
    node: Any, components: dict[str, Any], seen: set[str]
) -> bool:
    """Whether a schema holds a reference field or a free-form (json) object."""
    if isinstance(node, list):
        return any(_has_unexpressed_rule(item, components, seen) for item in node)
    if not isinstance(node, dict):
        return False
    if "x-reference" in node or (
        node.get("type") == "object" and node.get("additionalProperties") is True
    ):
        return True
    target = node.get("$ref")
    if isinstance(target, str):
        name = target.rsplit("/", 1)[-1]
        if name in seen:
            return False
        seen.add(name)
        return _has_unexpressed_rule(components.get(name), components, seen)
    return any(
        _has_unexpressed_rule(value, components, seen) for value in node.values()
    )


def _refusing_operations(document: dict[str, Any]) -> list[str]:
    """The operations that may answer 422 to a body their schema admits."""
    components = document.get("components", {}).get("schemas", {})
    return sorted(
        operation["operationId"]
        for operations in document["paths"].values()
        for operation in operations.values()
        if _has_unexpressed_rule(operation.get("requestBody"), components, set())
    )


@cache
def _resources() -> dict[str, Resource]:
    """Every resource that a test module of this package describes, by URL."""
    package = Path(__file__).parent
    modules = [
        importlib.import_module(f"{__package__}.{module.name}")
        for module in pkgutil.iter_modules([str(package)])
        if module.name.startswith("test_")
    ]
    return {
        value.url: value
        for module in modules
        for value in vars(module).values()
        if isinstance(value, Resource)
    }


def _references(
    client: TestClient, user: TestUser, document: dict[str, Any]
) -> dict[str, str]:
    """Ids of objects in `user`'s project for the reference fields of a run's bodies.

    Each resource's test module makes a valid body (`Resource.payload`), inserting
    the objects it refers to: its references are the ids to send.
    """
    ids: dict[str, str] = {}
    for url, resource in _resources().items():
        if url in document["paths"]:
            payload = resource.payload(client, user)
            ids |= {
                name: payload[name] for name in resource.references if payload[name]
            }
    return ids


REFERENCE_PROBABILITY = 0.8
"""How often a reference field is sent an id of the user's project, not a random one."""


def _config(
    folder: Path, document: dict[str, Any], users: Path, references: dict[str, str]
) -> Path:
    """schemathesis.toml, with the two users, the ids their references may name and
    the operations that may answer 422."""
    text = (ROOT / "schemathesis.toml").read_text()
    expected = tomllib.loads(text)["checks"]["positive_data_acceptance"][
        "expected-statuses"
    ]
    text += f'\n[auth.wfc]\npath = "{users}"\npeers = ["alice", "bob"]\n'
    for name, value in references.items():
        text += (
            f'\n[dictionaries.{name}]\nvalues = ["{value}"]\n'
            f'\n[parameters."body.{name}"]\ndictionary = "{name}"\n'
            f"probability = {REFERENCE_PROBABILITY}\n"
        )
    refusing = _refusing_operations(document)
    if refusing:
        text += (
            f"\n[[operations]]\ninclude-operation-id = {json.dumps(refusing)}\n"
            "checks.positive_data_acceptance.expected-statuses = "
            f"{json.dumps([*expected, '422'])}\n"
        )
    config = folder / "schemathesis.toml"
    config.write_text(text)
    return config


INTERNAL_ERRORS = (
    "Test Execution Error",
    "Schemathesis encountered an unexpected issue",
)


def _an_error_of_its_own(result: Run) -> bool:
    """Whether schemathesis stopped on an error in its own code (exit 2 and its traceback).

    That says nothing of the API, and a second run may pass; a failure it found is
    exit 1, and a broken API fails the second run too.
    """
    return result.exit_code == 2 and any(
        error in result.stdout for error in INTERNAL_ERRORS
    )


def _summary(failures: str) -> str:
    """The first line of a failed run's message: what failed, and where."""
    operations = re.findall(r"^_+ (\S+ /\S*) _+$", failures, re.MULTILINE)
    checks = sorted(set(re.findall(r"^\s*- (ST\d+ .+?)\s*$", failures, re.MULTILINE)))
    if not operations:
        return "schemathesis did not complete its run"
    return f"{'; '.join(checks) or 'failures'} in {', '.join(operations)}"


def _assert_signed_in(
    live: httpx.Client, users: dict[str, TestUser], when: str
) -> None:
    """The server accepts each user's token: else the run tests nothing behind the login."""
    refused = [
        name
        for name, user in users.items()
        if not live.get("/api/v1/users/me", headers=user.headers).is_success
    ]
    assert not refused, (
        f"the server refuses the token of {', '.join(refused)} {when}: "
        "the run tests nothing behind the login"
    )


@pytest.fixture(scope="session")
def live(server: str) -> Iterator[httpx.Client]:
    """A client of the live server, for what the tests ask it around the runs."""
    with httpx.Client(base_url=server) as http:
        yield http


@pytest.fixture(scope="session")
def fuzzer() -> Iterator[ProcessPoolExecutor]:
    """The process that runs schemathesis (`fuzzing.py`): a new interpreter, untraced."""
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
        yield pool


@pytest.mark.parametrize("group", ["base", *OTHER_TAGS])
def test_schemathesis_finds_no_failure(
    server: str,
    live: httpx.Client,
    client: TestClient,
    fuzzer: ProcessPoolExecutor,
    tmp_path: Path,
    group: str,
) -> None:
    users = {"alice": create_user(), "bob": create_user()}
    _assert_signed_in(live, users, "before the run")
    auth = {
        "auth": [
            {
                "name": name,
                "fixedHeaders": [
                    {"name": "Authorization", "value": f"Bearer {user.access_token}"}
                ],
            }
            for name, user in users.items()
        ]
    }
    (tmp_path / "users.json").write_text(json.dumps(auth))
    document = _document(live, group)
    (tmp_path / "openapi.json").write_text(json.dumps(document))
    references = _references(client, users["alice"], document)
    config = _config(tmp_path, document, tmp_path / "users.json", references)
    arguments = [
        "--config-file",
        str(config),
        "run",
        str(tmp_path / "openapi.json"),
        "--url",
        server,
        "--max-examples",
        MAX_EXAMPLES,
    ]
    for _ in range(2):  # once more only after an error of schemathesis itself
        result = fuzzer.submit(run, arguments).result()
        if not _an_error_of_its_own(result):
            break
    start = result.stdout.find("FAILURES")
    failures = result.stdout[start:] if start >= 0 else result.stdout[-30_000:]
    assert result.exit_code == 0, (
        _summary(failures)
        + "\n"
        + failures[:30_000]
        + result.stderr[-5_000:]
        + result.crash
    )
    # `pytest -rP` shows the report: the phases, the links followed, any warnings.
    print(result.stdout)
    _assert_signed_in(live, users, "after the run")


def test_a_failed_run_says_first_what_failed_where() -> None:
    report = (
        "=== FAILURES ===\n"
        "______ PUT /api/v1/notes/{note_id} ______\n"
        "1. Test Case ID: V5G2Sb\n\n"
        "- ST204 Unsupported methods\n\n"
        "______ POST /api/v1/notes/ ______\n"
        "- ST202 Schema-valid request rejected\n"
    )
    assert _summary(report) == (
        "ST202 Schema-valid request rejected; ST204 Unsupported methods "
        "in PUT /api/v1/notes/{note_id}, POST /api/v1/notes/"
    )
    assert _summary("Traceback ...") == "schemathesis did not complete its run"
