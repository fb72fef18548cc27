"""The current user and their current project."""

import uuid

from fastapi.testclient import TestClient

from app.tests.conftest import TestUser, run_sql


def test_me(client: TestClient, owner: TestUser) -> None:
    response = client.get("/api/v1/users/me", headers=owner.headers)
    assert response.status_code == 200
    assert response.json()["id"] == str(owner.id)
    assert response.json()["current_project_id"] == str(owner.project_id)


def test_switch_to_own_project(client: TestClient, owner: TestUser) -> None:
    second = client.post(
        "/api/v1/projects/", json={"name": "B"}, headers=owner.headers
    ).json()
    response = client.put(
        "/api/v1/users/me/current-project",
        json={"project_id": second["id"]},
        headers=owner.headers,
    )
    assert response.json()["current_project_id"] == second["id"]
    current = client.get(
        "/api/v1/users/me/current-project", headers=owner.headers
    ).json()
    assert current["id"] == second["id"]


def test_switch_to_a_project_you_are_not_in_is_404(
    client: TestClient, owner: TestUser, outsider: TestUser
) -> None:
    for project_id in (owner.project_id, uuid.uuid4()):
        response = client.put(
            "/api/v1/users/me/current-project",
            json={"project_id": str(project_id)},
            headers=outsider.headers,
        )
        assert response.status_code == 404


def test_no_current_project(client: TestClient, owner: TestUser) -> None:
    run_sql(
        "UPDATE users SET current_project_id = NULL WHERE email = :email",
        email=owner.email,
    )
    response = client.get("/api/v1/users/me/current-project", headers=owner.headers)
    assert response.status_code == 404
    assert "current-project" in response.json()["detail"]


def test_health(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
