"""Tests of /api/v1/invoices/: CRUD, tenancy, roles, validation and pages."""

import base64
import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from fastapi.testclient import TestClient

from app.repositories.base import cursor_signature
from app.schemas.invoice import InvoiceResponse, InvoiceUpdate
from app.tests.conftest import (
    SCOPED_REQUEST_STATEMENTS,
    TestUser,
    concurrently,
    count_statements,
    referenced,
)
from app.tests.test_customers import create_customer

URL = "/api/v1/invoices/"
# Every sort the list accepts (each also descending, with a leading -).
SORTS = (
    "id",
    "created_at",
    "number",
    "amount",
    "status",
    "customer_id",
)
MakeMember = Callable[[str], TestUser]
# Fields whose value is checked against the project with one query each.
REFERENCES: tuple[str, ...] = ("customer_id",)


def invoice_payload(client: TestClient, user: TestUser) -> dict[str, Any]:
    """A valid body for a new invoice in `user`'s current project."""
    return {
        "number": f"number {uuid.uuid4().hex[:12]}",
        "amount": "1.55",
        "status": "draft",
        "due_on": "2030-01-31",
        "customer_id": referenced(client, user, create_customer),
    }


def create_invoice(
    client: TestClient, user: TestUser, **changes: Any
) -> dict[str, Any]:
    """Create an invoice through the API and return it."""
    body = {**invoice_payload(client, user), **changes}
    response = client.post(URL, json=body, headers=user.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def varied_invoice(client: TestClient, owner: TestUser) -> dict[str, Any]:
    """Other values of the sortable fields, so that sorts compare values, not just ids."""
    return {
        "number": f"number {uuid.uuid4().hex[:12]}",
        "amount": "7.55",
        "status": "paid",
        "customer_id": create_customer(client, owner)["id"],
    }


def page_through(client: TestClient, user: TestUser, sort: str) -> list[str]:
    """The ids of every invoice, one per page, following the `Link` headers."""
    ids: list[str] = []
    response = client.get(URL, params={"sort": sort, "limit": 1}, headers=user.headers)
    while True:
        assert response.status_code == 200, (sort, response.text)
        ids.extend(item["id"] for item in response.json())
        if "next" not in response.links:
            return ids
        response = client.get(response.links["next"]["url"], headers=user.headers)


def assert_matches(body: dict[str, Any], payload: dict[str, Any]) -> None:
    """The response holds the values that were sent (compared as Python values)."""
    sent = InvoiceUpdate.model_validate(payload)
    got = InvoiceResponse.model_validate(body)
    for name in payload:
        assert getattr(got, name) == getattr(sent, name), name


class TestCreate:
    """POST /api/v1/invoices/"""

    def test_creates_in_the_current_project(
        self, client: TestClient, owner: TestUser
    ) -> None:
        payload = invoice_payload(client, owner)
        response = client.post(URL, json=payload, headers=owner.headers)
        assert response.status_code == 201
        assert response.json()["project_id"] == str(owner.project_id)
        assert_matches(response.json(), payload)

    def test_requires_a_token(self, client: TestClient) -> None:
        assert client.post(URL, json={}).status_code == 401

    def test_members_create_viewers_cannot(
        self, client: TestClient, owner: TestUser, member_of: MakeMember
    ) -> None:
        member, viewer = member_of("member"), member_of("viewer")
        payload = invoice_payload(client, owner)
        assert client.post(URL, json=payload, headers=viewer.headers).status_code == 403
        assert client.post(URL, json=payload, headers=member.headers).status_code == 201

    def test_runs_a_fixed_number_of_statements(
        self, client: TestClient, owner: TestUser
    ) -> None:
        payload = invoice_payload(client, owner)
        checked = [name for name in REFERENCES if payload[name] is not None]
        with count_statements() as statements:
            response = client.post(URL, json=payload, headers=owner.headers)
        assert response.status_code == 201, response.text
        assert len(statements) == SCOPED_REQUEST_STATEMENTS + len(checked) + 1

    def test_rejects_unknown_fields(self, client: TestClient, owner: TestUser) -> None:
        payload = invoice_payload(client, owner)
        for extra in (
            {"project_id": str(owner.project_id)},
            {"id": str(uuid.uuid4())},
            {"role": "owner"},
        ):
            response = client.post(
                URL, json={**payload, **extra}, headers=owner.headers
            )
            assert response.status_code == 422, extra

    def test_rejects_missing_fields(self, client: TestClient, owner: TestUser) -> None:
        response = client.post(URL, json={}, headers=owner.headers)
        assert response.status_code == 422
        missing = {error["loc"][-1] for error in response.json()["detail"]}
        assert missing == {"number", "amount", "customer_id"}

    def test_rejects_wrong_types(self, client: TestClient, owner: TestUser) -> None:
        payload = invoice_payload(client, owner)
        payload["number"] = {"not": "valid"}
        response = client.post(URL, json=payload, headers=owner.headers)
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "number"]

    def test_refuses_text_a_database_cannot_store(
        self, client: TestClient, owner: TestUser
    ) -> None:
        payload = invoice_payload(client, owner)
        for name in ("number",):
            for raw in (r"\ud800", r"a \udfff b", r"nul \u0000"):
                body = json.dumps({**payload, name: "<text>"}).replace(
                    '"<text>"', f'"{raw}"'
                )
                response = client.post(
                    URL,
                    content=body,
                    headers={**owner.headers, "Content-Type": "application/json"},
                )
                assert response.status_code == 422, (name, raw, response.text)
                assert response.json()["detail"][0]["loc"] == ["body", name]

    def test_number_is_unique_per_project(
        self, client: TestClient, owner: TestUser, outsider: TestUser
    ) -> None:
        first = create_invoice(client, owner)
        duplicate = {**invoice_payload(client, owner), "number": first["number"]}
        response = client.post(URL, json=duplicate, headers=owner.headers)
        assert response.status_code == 409
        assert "number" in response.json()["detail"]
        elsewhere = {**invoice_payload(client, outsider), "number": first["number"]}
        assert (
            client.post(URL, json=elsewhere, headers=outsider.headers).status_code
            == 201
        )

    def test_number_is_unique_when_created_at_once(
        self, client: TestClient, owner: TestUser
    ) -> None:
        payload = invoice_payload(client, owner)
        responses = concurrently(
            *[("POST", URL, {"json": payload, "headers": owner.headers})] * 3
        )
        assert sorted(response.status_code for response in responses) == [201, 409, 409]

    def test_customer_id_must_be_in_the_project(
        self, client: TestClient, owner: TestUser, outsider: TestUser
    ) -> None:
        payload = {
            **invoice_payload(client, owner),
            "customer_id": create_customer(client, outsider)["id"],
        }
        response = client.post(URL, json=payload, headers=owner.headers)
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "customer_id"]


class TestList:
    """GET /api/v1/invoices/"""

    def test_lists_only_the_current_project(
        self, client: TestClient, owner: TestUser, outsider: TestUser
    ) -> None:
        mine = create_invoice(client, owner)
        create_invoice(client, outsider)
        response = client.get(URL, headers=owner.headers)
        assert response.status_code == 200
        assert [item["id"] for item in response.json()] == [mine["id"]]

    def test_pages_follow_the_link_header(
        self, client: TestClient, owner: TestUser
    ) -> None:
        created = {create_invoice(client, owner)["id"] for _ in range(3)}
        first = client.get(
            URL, params={"limit": 2}, headers={**owner.headers, "Host": "evil.example"}
        )
        assert first.links["next"]["url"].startswith("/api/v1/invoices/?")
        second = client.get(first.links["next"]["url"], headers=owner.headers)
        first_ids = [item["id"] for item in first.json()]
        second_ids = [item["id"] for item in second.json()]
        assert len(first_ids) == 2 and len(second_ids) == 1
        assert set(first_ids) | set(second_ids) == created
        assert "next" not in second.links

    def test_a_cursor_is_useless_in_another_project(
        self, client: TestClient, owner: TestUser, outsider: TestUser
    ) -> None:
        create_invoice(client, owner)
        create_invoice(client, owner)
        first = client.get(URL, params={"limit": 1}, headers=owner.headers)
        cursor = httpx.URL(first.links["next"]["url"]).params["cursor"]
        response = client.get(URL, params={"cursor": cursor}, headers=outsider.headers)
        assert response.status_code == 400

    def test_every_sort_pages_to_the_end_and_back(
        self, client: TestClient, owner: TestUser
    ) -> None:
        created = [
            create_invoice(client, owner, **changes)
            for changes in (
                {},
                varied_invoice(client, owner),
                {},
                varied_invoice(client, owner),
            )
        ]
        for field in SORTS:
            whole = [
                item["id"]
                for item in client.get(
                    URL, params={"sort": field, "limit": 200}, headers=owner.headers
                ).json()
            ]
            assert sorted(whole) == sorted(item["id"] for item in created), field
            ascending = page_through(client, owner, field)
            descending = page_through(client, owner, f"-{field}")
            assert ascending == whole, field
            assert descending == ascending[::-1], field

    def test_a_signed_cursor_with_a_bad_value_is_refused(
        self, client: TestClient, owner: TestUser
    ) -> None:
        last_id = create_invoice(client, owner)["id"]
        for field in SORTS:
            for sort in (field, f"-{field}"):
                for value in ([], {"a": 1}, None, 2**70, "9" * 300):
                    payload = json.dumps([sort, value, last_id]).encode()
                    encoded = base64.urlsafe_b64encode(payload).decode().rstrip("=")
                    cursor = f"{encoded}.{cursor_signature(owner.project_id, payload)}"
                    params = {"sort": sort, "cursor": cursor}
                    response = client.get(URL, params=params, headers=owner.headers)
                    assert response.status_code in {200, 400}, (
                        sort,
                        value,
                        response.text,
                    )
                    if value is None or isinstance(value, list | dict):
                        assert response.status_code == 400, (sort, value)

    def test_filters_by_equality(self, client: TestClient, owner: TestUser) -> None:
        create_invoice(client, owner)
        wanted = create_invoice(client, owner, number=f"number {uuid.uuid4().hex[:12]}")
        response = client.get(
            URL, params={"number": wanted["number"]}, headers=owner.headers
        )
        assert [item["id"] for item in response.json()] == [wanted["id"]]

    def test_runs_a_fixed_number_of_statements(
        self, client: TestClient, owner: TestUser
    ) -> None:
        create_invoice(client, owner)
        with count_statements() as one_row:
            client.get(URL, headers=owner.headers)
        for _ in range(3):
            create_invoice(client, owner)
        with count_statements() as four_rows:
            client.get(URL, headers=owner.headers)
        assert len(one_row) == len(four_rows) == SCOPED_REQUEST_STATEMENTS + 1

    def test_a_removed_member_loses_access_at_once(
        self, client: TestClient, owner: TestUser, member_of: MakeMember
    ) -> None:
        member = member_of("member")
        assert client.get(URL, headers=member.headers).status_code == 200
        client.delete(
            f"/api/v1/projects/{owner.project_id}/members/{member.id}",
            headers=owner.headers,
        )
        assert client.get(URL, headers=member.headers).status_code == 404

    def test_rejects_bad_parameters(self, client: TestClient, owner: TestUser) -> None:
        for params in (
            {"limit": 0},
            {"limit": 201},
            {"limit": "x"},
            {"limit": "1.0"},
            {"limit": 10**30},
            {"sort": "no_such_field"},
            {"no_such_filter": "1"},
            {"cursor": "x" * 2000},
        ):
            response = client.get(URL, params=params, headers=owner.headers)
            assert response.status_code == 422, params
        response = client.get(
            URL, params={"cursor": "not-a-cursor"}, headers=owner.headers
        )
        assert response.status_code == 400

    def test_requires_a_token(self, client: TestClient) -> None:
        assert client.get(URL).status_code == 401


class TestGet:
    """GET /api/v1/invoices/{id}"""

    def test_gets_one(
        self, client: TestClient, owner: TestUser, member_of: MakeMember
    ) -> None:
        created = create_invoice(client, owner)
        viewer = member_of("viewer")
        response = client.get(f"{URL}{created['id']}", headers=viewer.headers)
        assert response.status_code == 200
        assert response.json() == created

    def test_another_projects_object_looks_missing(
        self, client: TestClient, owner: TestUser, outsider: TestUser
    ) -> None:
        theirs = create_invoice(client, outsider)
        response = client.get(f"{URL}{theirs['id']}", headers=owner.headers)
        assert response.status_code == 404
        assert response.json() == {"detail": "Invoice not found"}
        missing = client.get(f"{URL}{uuid.uuid4()}", headers=owner.headers)
        assert missing.json() == response.json()

    def test_runs_a_fixed_number_of_statements(
        self, client: TestClient, owner: TestUser
    ) -> None:
        created = create_invoice(client, owner)
        with count_statements() as statements:
            client.get(f"{URL}{created['id']}", headers=owner.headers)
        assert len(statements) == SCOPED_REQUEST_STATEMENTS + 1

    def test_rejects_a_malformed_id(self, client: TestClient, owner: TestUser) -> None:
        assert client.get(f"{URL}not-an-id", headers=owner.headers).status_code == 422

    def test_requires_a_token(self, client: TestClient) -> None:
        assert client.get(f"{URL}{uuid.uuid4()}").status_code == 401


class TestUpdate:
    """PUT and PATCH /api/v1/invoices/{id}"""

    def test_applies_only_the_fields_sent(
        self, client: TestClient, owner: TestUser
    ) -> None:
        created = create_invoice(client, owner)
        change = {"number": f"number {uuid.uuid4().hex[:12]}"}
        for method in ("PUT", "PATCH"):
            response = client.request(
                method, f"{URL}{created['id']}", json=change, headers=owner.headers
            )
            assert response.status_code == 200, response.text
            body = response.json()
            assert_matches(body, change)
            for key, value in created.items():
                if key not in change and key != "updated_at":
                    assert body[key] == value, key

    def test_another_projects_object_is_404_and_unchanged(
        self, client: TestClient, owner: TestUser, outsider: TestUser
    ) -> None:
        theirs = create_invoice(client, outsider)
        change = {"number": f"number {uuid.uuid4().hex[:12]}"}
        for method in ("PUT", "PATCH"):
            response = client.request(
                method, f"{URL}{theirs['id']}", json=change, headers=owner.headers
            )
            assert response.status_code == 404
        assert (
            client.get(f"{URL}{theirs['id']}", headers=outsider.headers).json()
            == theirs
        )

    def test_runs_a_fixed_number_of_statements(
        self, client: TestClient, owner: TestUser
    ) -> None:
        created = create_invoice(client, owner)
        with count_statements() as statements:
            response = client.patch(
                f"{URL}{created['id']}", json={}, headers=owner.headers
            )
        assert response.status_code == 200, response.text
        assert len(statements) == SCOPED_REQUEST_STATEMENTS + 1

    def test_viewers_cannot_update(
        self, client: TestClient, owner: TestUser, member_of: MakeMember
    ) -> None:
        created = create_invoice(client, owner)
        viewer = member_of("viewer")
        response = client.patch(
            f"{URL}{created['id']}", json={}, headers=viewer.headers
        )
        assert response.status_code == 403

    def test_rejects_unknown_fields_and_nulls(
        self, client: TestClient, owner: TestUser
    ) -> None:
        created = create_invoice(client, owner)
        url = f"{URL}{created['id']}"
        assert (
            client.patch(
                url, json={"project_id": str(uuid.uuid4())}, headers=owner.headers
            ).status_code
            == 422
        )

        assert (
            client.patch(url, json={"number": None}, headers=owner.headers).status_code
            == 422
        )

        assert (
            client.patch(url, json={"amount": None}, headers=owner.headers).status_code
            == 422
        )

        assert (
            client.patch(url, json={"status": None}, headers=owner.headers).status_code
            == 422
        )

        assert (
            client.patch(
                url, json={"customer_id": None}, headers=owner.headers
            ).status_code
            == 422
        )

    def test_customer_id_cannot_move_out_of_the_project(
        self, client: TestClient, owner: TestUser, outsider: TestUser
    ) -> None:
        created = create_invoice(client, owner)
        change = {"customer_id": create_customer(client, outsider)["id"]}
        response = client.patch(
            f"{URL}{created['id']}", json=change, headers=owner.headers
        )
        assert response.status_code == 422


class TestDelete:
    """DELETE /api/v1/invoices/{id}"""

    def test_admins_delete_members_cannot(
        self, client: TestClient, owner: TestUser, member_of: MakeMember
    ) -> None:
        created = create_invoice(client, owner)
        url = f"{URL}{created['id']}"
        assert (
            client.delete(url, headers=member_of("member").headers).status_code == 403
        )
        assert client.delete(url, headers=member_of("admin").headers).status_code == 204
        assert client.get(url, headers=owner.headers).status_code == 404

    def test_another_projects_object_is_404_and_kept(
        self, client: TestClient, owner: TestUser, outsider: TestUser
    ) -> None:
        theirs = create_invoice(client, outsider)
        assert (
            client.delete(f"{URL}{theirs['id']}", headers=owner.headers).status_code
            == 404
        )
        assert (
            client.get(f"{URL}{theirs['id']}", headers=outsider.headers).status_code
            == 200
        )

    def test_runs_a_fixed_number_of_statements(
        self, client: TestClient, owner: TestUser
    ) -> None:
        created = create_invoice(client, owner)
        with count_statements() as statements:
            response = client.delete(f"{URL}{created['id']}", headers=owner.headers)
        assert response.status_code == 204
        assert len(statements) == SCOPED_REQUEST_STATEMENTS + 1

    def test_requires_a_token(self, client: TestClient) -> None:
        assert client.delete(f"{URL}{uuid.uuid4()}").status_code == 401

    def test_a_referenced_customer_is_kept(
        self, client: TestClient, owner: TestUser
    ) -> None:
        target = create_customer(client, owner)["id"]
        create_invoice(client, owner, customer_id=target)
        response = client.delete(f"/api/v1/customers/{target}", headers=owner.headers)
        assert response.status_code == 409
        assert "still referenced" in response.json()["detail"]
