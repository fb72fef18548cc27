"""The OpenAPI document as client generators read it: valid, well named and honest."""

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from email_validator import SPECIAL_USE_DOMAIN_NAMES
from fastapi.testclient import TestClient
from openapi_spec_validator import validate
from pydantic import TypeAdapter, ValidationError

from app.core.errors import ErrorResponse
from app.main import app
from app.openapi import write
from app.schemas.base import EMAIL_ADDRESS, NOT_EMAIL_ADDRESS, NUL, EmailAddress
from app.tests.live import ROOT

DOCUMENT = app.openapi()
OPERATIONS = [
    (f"{method.upper()} {path}", operation)
    for path, item in DOCUMENT["paths"].items()
    for method, operation in item.items()
]
ERROR_MODEL = {"$ref": "#/components/schemas/ErrorResponse"}


def json_schema(response: dict[str, Any]) -> Any:
    """The schema of a documented response's JSON body, if it has one."""
    return response.get("content", {}).get("application/json", {}).get("schema")


def input_schemas() -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema, nested ones included, that a client's parameters and bodies meet."""
    components = DOCUMENT["components"]["schemas"]
    for name, operation in OPERATIONS:
        pending: list[Any] = [p["schema"] for p in operation.get("parameters", [])]
        pending += [
            media["schema"]
            for media in operation.get("requestBody", {}).get("content", {}).values()
        ]
        seen: set[str] = set()
        while pending:
            node = pending.pop()
            if isinstance(node, list):
                pending += node
            elif isinstance(node, dict):
                target = node.get("$ref")
                if isinstance(target, str):
                    if target not in seen:
                        seen.add(target)
                        pending.append(components[target.rsplit("/", 1)[-1]])
                    continue
                yield name, node
                pending += [
                    value
                    for key, value in node.items()
                    if key not in ("default", "examples")
                ]


def test_the_document_is_valid_openapi() -> None:
    validate(DOCUMENT)


def test_operation_ids_are_short_readable_and_unique() -> None:
    ids = [operation["operationId"] for _, operation in OPERATIONS]
    assert len(ids) == len(set(ids))
    for operation_id in ids:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", operation_id), operation_id
        assert "api_v1" not in operation_id, operation_id
    assert {
        "auth_register",
        "auth_token",
        "auth_refresh",
        "auth_logout",
        "users_me",
        "projects_list",
        "projects_members_add",
        "health_check",
    } <= set(ids)


def _properties(schema: dict[str, Any]) -> set[str]:
    """The property names of a component schema, given as its `$ref`."""
    name = schema["$ref"].rsplit("/", 1)[-1]
    return set(DOCUMENT["components"]["schemas"][name]["properties"])


def test_every_link_leads_to_an_operation_and_its_parameters() -> None:
    """Each link names an operation, fills only its parameters and body fields, and
    takes its values from fields that its own response has."""
    by_id = {operation["operationId"]: operation for _, operation in OPERATIONS}
    links = [
        (name, response, link)
        for name, operation in OPERATIONS
        for response in operation["responses"].values()
        for link in response.get("links", {}).values()
    ]
    assert {link["operationId"] for _, _, link in links} >= {
        "users_set_current_project",
        "projects_members_update",
        "projects_members_remove",
    }
    for name, response, link in links:
        target = by_id[link["operationId"]]
        parameters = {parameter["name"] for parameter in target.get("parameters", [])}
        assert set(link.get("parameters", {})) <= parameters, name
        if "requestBody" in link:
            assert set(link["requestBody"]) <= _properties(
                json_schema(target["requestBody"])
            ), name
        values = [
            *link.get("parameters", {}).values(),
            *link.get("requestBody", {}).values(),
        ]
        fields = {
            value.removeprefix("$response.body#/")
            for value in values
            if value.startswith("$response.body#/")
        }
        assert fields <= _properties(json_schema(response)), name


@pytest.mark.parametrize(
    ("name", "operation"), OPERATIONS, ids=[n for n, _ in OPERATIONS]
)
def test_every_error_has_a_schema_and_examples(
    name: str, operation: dict[str, Any]
) -> None:
    for status, response in operation["responses"].items():
        if status == "422":
            assert json_schema(response) == {
                "$ref": "#/components/schemas/HTTPValidationError"
            }
        elif status >= "400":
            assert json_schema(response) == ERROR_MODEL, (name, status)
            examples = response["content"]["application/json"]["examples"]
            assert examples, (name, status)
            for example in examples.values():
                ErrorResponse.model_validate(example["value"])


@pytest.mark.parametrize(
    ("name", "operation"), OPERATIONS, ids=[n for n, _ in OPERATIONS]
)
def test_only_operations_with_a_body_document_body_errors(
    name: str, operation: dict[str, Any]
) -> None:
    responses = operation["responses"]
    parsing = "There was an error parsing the body"
    if "requestBody" in operation:
        assert "413" in responses, name
        assert parsing in responses["400"]["description"], name
    else:
        assert "413" not in responses, name
        assert parsing not in responses.get("400", {}).get("description", ""), name


def test_lists_declare_their_link_header() -> None:
    paged = [
        (name, operation)
        for name, operation in OPERATIONS
        if any(
            parameter["name"] == "cursor"
            for parameter in operation.get("parameters", [])
        )
    ]
    for name, operation in paged:
        assert "Link" in operation["responses"]["200"]["headers"], name
        cursor = next(p for p in operation["parameters"] if p["name"] == "cursor")
        assert cursor["description"], name


def test_put_and_patch_read_differently() -> None:
    for path, item in DOCUMENT["paths"].items():
        if "put" in item and "patch" in item:
            assert item["put"]["summary"] != item["patch"]["summary"], path
            assert item["put"]["operationId"] != item["patch"]["operationId"], path


def test_error_bodies_carry_a_code(client: TestClient) -> None:
    for response, code in (
        (client.get("/api/v1/users/me"), "not_authenticated"),
        (client.get("/api/v1/no-such-path"), "not_found"),
        (client.delete("/api/v1/auth/register"), "method_not_allowed"),
        (
            client.post(
                "/api/v1/auth/register",
                content=b'{"a":' * 5000,
                headers={"Content-Type": "application/json"},
            ),
            "bad_request",
        ),
    ):
        body = ErrorResponse.model_validate(response.json())
        assert body.code == code, response.text
        assert set(response.json()) == {"detail", "code"}


def test_the_document_can_be_written_for_client_generators(tmp_path: Path) -> None:
    path = tmp_path / "clients" / "openapi.json"
    write(path)
    assert json.loads(path.read_text(encoding="utf-8")) == DOCUMENT


def test_the_clients_in_the_repository_match_the_api() -> None:
    """`make client` and `make client-ts` keep the document they were made from.

    After a change of the API (a `generate`, a field added), they must run again.
    """
    written = ROOT / "clients" / "openapi.json"
    if not written.exists():
        pytest.skip("no client made yet: `make client` or `make client-ts` makes one")
    assert json.loads(written.read_text(encoding="utf-8")) == DOCUMENT, (
        "the API changed since its clients were made: run `make client` "
        "(and `make client-ts` for TypeScript)"
    )


def test_text_inputs_state_the_characters_the_api_refuses() -> None:
    """What the schema admits, the API accepts: no string input goes without a pattern.

    The API refuses NUL characters in every string (`check_text`), which a pattern
    says (`not` NUL, or one of the whole string); uuids, dates and enumerations are
    exact by their format.
    """
    exact = {"uuid", "date", "date-time", "binary"}
    loose = [
        (name, schema)
        for name, schema in input_schemas()
        if schema.get("type") == "string"
        and not schema.keys() & {"pattern", "enum", "const"}
        and schema.get("not") != {"pattern": NUL}
        and schema.get("format") not in exact
    ]
    assert loose == []


def test_bounds_use_json_schema_keywords() -> None:
    """`minimum` and `exclusiveMaximum`, never pydantic's own `ge` or `lt`."""
    for name, schema in input_schemas():
        assert not schema.keys() & {"ge", "gt", "le", "lt"}, (name, schema)


def test_decimal_numbers_state_their_decimal_places() -> None:
    decimals = [
        (name, branch)
        for name, schema in input_schemas()
        for branch in schema.get("anyOf", [])
        if branch.get("type") == "number" and "exclusiveMaximum" in branch
    ]
    for name, number in decimals:
        assert "multipleOf" in number, name


def _admitted(address: str) -> bool:
    """Whether the schema of an e-mail address admits `address`."""
    schema = TypeAdapter(EmailAddress).json_schema()
    assert schema["pattern"] == EMAIL_ADDRESS
    assert schema["not"] == {"pattern": NOT_EMAIL_ADDRESS}
    return bool(
        re.fullmatch(EMAIL_ADDRESS, address)
        and not re.search(NOT_EMAIL_ADDRESS, address)
    )


@pytest.mark.parametrize("domain", SPECIAL_USE_DOMAIN_NAMES)
def test_reserved_email_domains_are_refused_as_the_schema_says(domain: str) -> None:
    addresses = TypeAdapter(EmailAddress)
    for address in (f"someone@mail.{domain}", f"someone@MAIL.{domain.upper()}"):
        assert not _admitted(address)
        with pytest.raises(ValidationError):
            addresses.validate_python(address)
    for address in (f"someone@{domain}.example.com", f"{domain}@example.org"):
        assert _admitted(address)
        assert addresses.validate_python(address) == address


@pytest.mark.parametrize(
    ("address", "accepted"),
    [
        ("o'brien+tag@mail.example.co.uk", True),
        ("First.Last@Example.COM", True),
        ("x@a-b.example.org", True),
        ("a" * 64 + "@example.com", True),
        ("a" * 65 + "@example.com", False),  # a local part of 64 at most
        ("a@b", False),  # a domain without a dot
        ("a@[127.0.0.1]", False),  # a domain literal
        ('"a b"@example.com', False),  # a quoted local part
        ("a@example.com.", False),  # a trailing dot
        ("a..b@example.com", False),
        ("a@ab--cd.example.com", False),  # two hyphens where punycode puts them
        ("ab--cd@example.com", True),  # but a name may hold them
        ("a@example.xn--p1ai", False),  # and a domain in punycode is refused whole
        ("a@-ab.example.com", False),
        ("a@example.123", False),  # a top-level domain of digits
        ("jöhn@example.com", False),  # not ASCII: the pattern says so
        ("a@example.com\n", False),
    ],
)
def test_an_email_address_is_accepted_as_the_schema_says(
    address: str, accepted: bool
) -> None:
    """The schema of `EmailAddress` and its validation agree, both ways."""
    assert _admitted(address) is accepted
    if accepted:
        TypeAdapter(EmailAddress).validate_python(address)
    else:
        with pytest.raises(ValidationError):
            TypeAdapter(EmailAddress).validate_python(address)
