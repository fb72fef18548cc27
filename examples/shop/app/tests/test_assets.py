"""Tests of /api/v1/assets/: the contract of every resource, and its own cases."""

import json
from typing import Any

from fastapi.testclient import TestClient

from app.repositories.asset_repo import AssetRepository
from app.schemas.asset import AssetCreate, AssetResponse, AssetUpdate
from app.tests.conftest import TestUser
from app.tests.contract import (
    ClientContract,
    CreateContract,
    DeleteContract,
    GetContract,
    ListContract,
    Resource,
    UpdateContract,
)

URL = "/api/v1/assets/"


def asset_payload(client: TestClient, user: TestUser) -> dict[str, Any]:
    """A valid body for a new asset in `user`'s current project."""
    return {
        "name": "name one",
        "notes": "Some notes, first draft.",
        "condition": "new",
    }


def varied_asset(client: TestClient, owner: TestUser) -> dict[str, Any]:
    """Other values of the sortable fields, so that sorts compare values, not just ids."""
    return {
        "name": "name two",
        "condition": "broken",
    }


def asset_change(client: TestClient, owner: TestUser) -> dict[str, Any]:
    """A valid change of one field, for PUT and PATCH."""
    return {"name": "name two"}


ASSETS = Resource(
    name="Asset",
    url=URL,
    payload=asset_payload,
    varied=varied_asset,
    change=asset_change,
    create_schema=AssetCreate,
    response=AssetResponse,
    update=AssetUpdate,
    repository=AssetRepository,
    sorts=(
        "id",
        "created_at",
        "name",
        "condition",
    ),
    references=(),
    non_nullable=(
        "name",
        "condition",
    ),
)


def create_asset(client: TestClient, user: TestUser, **changes: Any) -> dict[str, Any]:
    """Create an asset through the API and return it."""
    return ASSETS.create(client, user, **changes)


class TestCreate(CreateContract):
    """POST /api/v1/assets/"""

    resource = ASSETS

    def test_rejects_missing_fields(self, client: TestClient, owner: TestUser) -> None:
        response = client.post(URL, json={}, headers=owner.headers)
        assert response.status_code == 422
        missing = {error["loc"][-1] for error in response.json()["detail"]}
        assert missing == {"name"}

    def test_rejects_wrong_types(self, client: TestClient, owner: TestUser) -> None:
        payload = asset_payload(client, owner)
        payload["name"] = {"not": "valid"}
        response = client.post(URL, json=payload, headers=owner.headers)
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "name"]

    def test_refuses_text_a_database_cannot_store(
        self, client: TestClient, owner: TestUser
    ) -> None:
        payload = asset_payload(client, owner)
        for name in (
            "name",
            "notes",
        ):
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


class TestList(ListContract):
    """GET /api/v1/assets/"""

    resource = ASSETS

    def test_filters_by_equality(self, client: TestClient, owner: TestUser) -> None:
        create_asset(client, owner)
        wanted = create_asset(client, owner, name="name two")
        response = client.get(
            URL, params={"name": wanted["name"]}, headers=owner.headers
        )
        assert [item["id"] for item in response.json()] == [wanted["id"]]


class TestGet(GetContract):
    """GET /api/v1/assets/{id}"""

    resource = ASSETS


class TestUpdate(UpdateContract):
    """PUT and PATCH /api/v1/assets/{id}"""

    resource = ASSETS


class TestDelete(DeleteContract):
    """DELETE /api/v1/assets/{id}"""

    resource = ASSETS


class TestThroughTheClient(ClientContract):
    """The endpoints through the generated Python client, over HTTP."""

    resource = ASSETS
