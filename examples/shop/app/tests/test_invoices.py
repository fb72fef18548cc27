"""Tests of /api/v1/invoices/: the contract of every resource, and its own cases."""

import json
import uuid
from typing import Any

from fastapi.testclient import TestClient

from app.repositories.invoice_repo import InvoiceRepository
from app.schemas.invoice import InvoiceCreate, InvoiceResponse, InvoiceUpdate
from app.tests.conftest import TestUser, concurrently
from app.tests.contract import (
    ClientContract,
    CreateContract,
    DeleteContract,
    GetContract,
    ListContract,
    Resource,
    UpdateContract,
)
from app.tests.test_customers import CUSTOMERS, create_customer

URL = "/api/v1/invoices/"


def invoice_payload(client: TestClient, user: TestUser) -> dict[str, Any]:
    """A valid body for a new invoice in `user`'s current project."""
    return {
        "number": f"number {uuid.uuid4().hex[:12]}",
        "amount": "1.25",
        "status": "draft",
        "due_on": "2030-01-31",
        "customer_id": CUSTOMERS.referenced(client, user),
    }


def varied_invoice(client: TestClient, owner: TestUser) -> dict[str, Any]:
    """Other values of the sortable fields, so that sorts compare values, not just ids."""
    return {
        "number": f"number {uuid.uuid4().hex[:12]}",
        "amount": "7.75",
        "status": "paid",
        "customer_id": create_customer(client, owner)["id"],
    }


def invoice_change(client: TestClient, owner: TestUser) -> dict[str, Any]:
    """A valid change of one field, for PUT and PATCH."""
    return {"number": f"number {uuid.uuid4().hex[:12]}"}


INVOICES = Resource(
    name="Invoice",
    url=URL,
    payload=invoice_payload,
    varied=varied_invoice,
    change=invoice_change,
    create_schema=InvoiceCreate,
    response=InvoiceResponse,
    update=InvoiceUpdate,
    repository=InvoiceRepository,
    sorts=(
        "id",
        "created_at",
        "number",
        "amount",
        "status",
        "customer_id",
    ),
    references=("customer_id",),
    non_nullable=(
        "number",
        "amount",
        "status",
        "customer_id",
    ),
)


def create_invoice(
    client: TestClient, user: TestUser, **changes: Any
) -> dict[str, Any]:
    """Create an invoice through the API and return it."""
    return INVOICES.create(client, user, **changes)


class TestCreate(CreateContract):
    """POST /api/v1/invoices/"""

    resource = INVOICES

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
        assert response.json()["detail"] == (
            "An invoice with this number already exists in the project"
        )
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
            "customer_id": CUSTOMERS.referenced(client, outsider),
        }
        response = client.post(URL, json=payload, headers=owner.headers)
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "customer_id"]


class TestList(ListContract):
    """GET /api/v1/invoices/"""

    resource = INVOICES

    def test_filters_by_equality(self, client: TestClient, owner: TestUser) -> None:
        create_invoice(client, owner)
        wanted = create_invoice(client, owner, number=f"number {uuid.uuid4().hex[:12]}")
        response = client.get(
            URL, params={"number": wanted["number"]}, headers=owner.headers
        )
        assert [item["id"] for item in response.json()] == [wanted["id"]]


class TestGet(GetContract):
    """GET /api/v1/invoices/{id}"""

    resource = INVOICES


class TestUpdate(UpdateContract):
    """PUT and PATCH /api/v1/invoices/{id}"""

    resource = INVOICES

    def test_customer_id_cannot_move_out_of_the_project(
        self, client: TestClient, owner: TestUser, outsider: TestUser
    ) -> None:
        created = create_invoice(client, owner)
        change = {"customer_id": CUSTOMERS.referenced(client, outsider)}
        response = client.patch(
            f"{URL}{created['id']}", json=change, headers=owner.headers
        )
        assert response.status_code == 422


class TestDelete(DeleteContract):
    """DELETE /api/v1/invoices/{id}"""

    resource = INVOICES

    def test_a_referenced_customer_is_kept(
        self, client: TestClient, owner: TestUser
    ) -> None:
        target = create_customer(client, owner)["id"]
        create_invoice(client, owner, customer_id=target)
        response = client.delete(f"/api/v1/customers/{target}", headers=owner.headers)
        assert response.status_code == 409
        assert "still referenced" in response.json()["detail"]


class TestThroughTheClient(ClientContract):
    """The endpoints through the generated Python client, over HTTP."""

    resource = INVOICES
