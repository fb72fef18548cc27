"""Property-based API tests: schemathesis against a live server of this application.

Every default check runs, in every phase (coverage, fuzzing, stateful sequences),
as two users of two different projects. Its object-level authorization check
replays one user's reads as the other, who must never get the object. The size of
the run is SCHEMATHESIS_MAX_EXAMPLES examples per operation (default 10).

There is one run per tag of the OpenAPI document, so each resource's operations are
a test of their own (`pytest -k invoices`) and the runs can go to several workers;
the account and project operations, and any operation without a tag, are the `base`
run. Together the runs cover every operation once.
"""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.main import app
from app.tests.conftest import ROOT, create_user

MAX_EXAMPLES = os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "10")
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
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


def _document(server: str, group: str, folder: Path) -> Path:
    """The server's OpenAPI document with only the operations of one run, in a file.

    Each run loads only its own operations, so its cost does not grow with the
    number of resources in the backend.
    """
    document = httpx.get(f"{server}/openapi.json").json()
    paths = {
        path: {method: op for method, op in operations.items() if _in_run(op, group)}
        for path, operations in document["paths"].items()
    }
    document["paths"] = {
        path: operations for path, operations in paths.items() if operations
    }
    written = folder / "openapi.json"
    written.write_text(json.dumps(document))
    return written


@pytest.mark.parametrize("group", ["base", *OTHER_TAGS])
def test_schemathesis_finds_no_failure(server: str, tmp_path: Path, group: str) -> None:
    users = {"alice": create_user(), "bob": create_user()}
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
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        (ROOT / "schemathesis.toml").read_text()
        + f'\n[auth.wfc]\npath = "{tmp_path / "users.json"}"\npeers = ["alice", "bob"]\n'
    )
    result = subprocess.run(  # noqa: S603 - our own tools and arguments
        [
            str(SCHEMATHESIS),
            "--config-file",
            str(config),
            "run",
            str(_document(server, group, tmp_path)),
            "--url",
            server,
            "--max-examples",
            MAX_EXAMPLES,
            "--exclude-path",
            "/api/v1/auth/logout",
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )
    failures = result.stdout[result.stdout.find("FAILURES") :]
    assert result.returncode == 0, failures[:30_000] + result.stderr[-5_000:]
