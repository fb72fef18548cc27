"""Tests of /api/v1/notifications/: the contract of every resource, and its own cases."""

import json
from typing import Any

from fastapi.testclient import TestClient

from app.repositories.notification_repo import NotificationRepository
from app.schemas.notification import (
    NotificationCreate,
    NotificationResponse,
    NotificationUpdate,
)
from app.tests.conftest import TestUser
from app.tests.contract import (
    ClientContract,
    CreateContract,
    DeleteContract,
    GetContract,
    ListContract,
    MakeMember,
    Resource,
    UpdateContract,
)

URL = "/api/v1/notifications/"


def notification_payload(client: TestClient, user: TestUser) -> dict[str, Any]:
    """A valid body for a new notification in `user`'s current project."""
    return {
        "title": "title one",
        "message": "Some message, first draft.",
        "read": True,
        "user_id": str(user.id),
    }


def varied_notification(client: TestClient, owner: TestUser) -> dict[str, Any]:
    """Other values of the sortable fields, so that sorts compare values, not just ids."""
    return {
        "title": "title two",
        "read": False,
        "user_id": str(owner.id),
    }


def notification_change(client: TestClient, owner: TestUser) -> dict[str, Any]:
    """A valid change of one field, for PUT and PATCH."""
    return {"title": "title two"}


NOTIFICATIONS = Resource(
    name="Notification",
    url=URL,
    payload=notification_payload,
    varied=varied_notification,
    change=notification_change,
    create_schema=NotificationCreate,
    response=NotificationResponse,
    update=NotificationUpdate,
    repository=NotificationRepository,
    sorts=(
        "id",
        "created_at",
        "title",
        "read",
        "user_id",
    ),
    references=("user_id",),
    non_nullable=(
        "title",
        "read",
        "user_id",
    ),
)


def create_notification(
    client: TestClient, user: TestUser, **changes: Any
) -> dict[str, Any]:
    """Create a notification through the API and return it."""
    return NOTIFICATIONS.create(client, user, **changes)


class TestCreate(CreateContract):
    """POST /api/v1/notifications/"""

    resource = NOTIFICATIONS

    def test_rejects_missing_fields(self, client: TestClient, owner: TestUser) -> None:
        response = client.post(URL, json={}, headers=owner.headers)
        assert response.status_code == 422
        missing = {error["loc"][-1] for error in response.json()["detail"]}
        assert missing == {"title", "user_id"}

    def test_rejects_wrong_types(self, client: TestClient, owner: TestUser) -> None:
        payload = notification_payload(client, owner)
        payload["title"] = {"not": "valid"}
        response = client.post(URL, json=payload, headers=owner.headers)
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "title"]

    def test_refuses_text_a_database_cannot_store(
        self, client: TestClient, owner: TestUser
    ) -> None:
        payload = notification_payload(client, owner)
        for name in (
            "title",
            "message",
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

    def test_user_id_must_be_in_the_project(
        self, client: TestClient, owner: TestUser, outsider: TestUser
    ) -> None:
        payload = {**notification_payload(client, owner), "user_id": str(outsider.id)}
        response = client.post(URL, json=payload, headers=owner.headers)
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "user_id"]


class TestList(ListContract):
    """GET /api/v1/notifications/"""

    resource = NOTIFICATIONS

    def test_filters_by_equality(self, client: TestClient, owner: TestUser) -> None:
        create_notification(client, owner)
        wanted = create_notification(client, owner, title="title two")
        response = client.get(
            URL, params={"title": wanted["title"]}, headers=owner.headers
        )
        assert [item["id"] for item in response.json()] == [wanted["id"]]


class TestGet(GetContract):
    """GET /api/v1/notifications/{id}"""

    resource = NOTIFICATIONS


class TestUpdate(UpdateContract):
    """PUT and PATCH /api/v1/notifications/{id}"""

    resource = NOTIFICATIONS

    def test_user_id_cannot_move_out_of_the_project(
        self, client: TestClient, owner: TestUser, outsider: TestUser
    ) -> None:
        created = create_notification(client, owner)
        change = {"user_id": str(outsider.id)}
        response = client.patch(
            f"{URL}{created['id']}", json=change, headers=owner.headers
        )
        assert response.status_code == 422


class TestDelete(DeleteContract):
    """DELETE /api/v1/notifications/{id}"""

    resource = NOTIFICATIONS

    def test_a_referenced_member_stays_in_the_project(
        self, client: TestClient, owner: TestUser, member_of: MakeMember
    ) -> None:
        member = member_of("member")
        create_notification(client, owner, user_id=str(member.id))
        url = f"/api/v1/projects/{owner.project_id}/members/{member.id}"
        response = client.delete(url, headers=owner.headers)
        assert response.status_code == 409


class TestThroughTheClient(ClientContract):
    """The endpoints through the generated Python client, over HTTP."""

    resource = NOTIFICATIONS
