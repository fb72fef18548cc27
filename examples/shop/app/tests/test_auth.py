"""Registration, login, token rotation and logout."""

import asyncio
import uuid

from fastapi.testclient import TestClient

from app.core.security import verify_password
from app.main import app
from app.tests.conftest import PASSWORD, TestUser, login, register_user


class TestRegister:
    """POST /api/v1/auth/register"""

    def test_creates_user_and_owned_project(self, client: TestClient) -> None:
        email = f"New-{uuid.uuid4().hex[:8]}@Example.com"
        response = client.post(
            "/api/v1/auth/register",
            json={"email": email, "password": PASSWORD, "project_name": "Acme"},
        )
        assert response.status_code == 201
        body = response.json()
        assert body["email"] == email.lower()
        assert "hashed_password" not in body
        tokens = login(client, email.upper())
        projects = client.get(
            "/api/v1/projects/",
            headers={"Authorization": f"Bearer {tokens['access_token']}"},
        ).json()
        assert [(p["id"], p["name"], p["role"]) for p in projects] == [
            (body["current_project_id"], "Acme", "owner")
        ]

    def test_email_is_unique_ignoring_case(
        self, client: TestClient, owner: TestUser
    ) -> None:
        response = client.post(
            "/api/v1/auth/register",
            json={"email": owner.email.upper(), "password": PASSWORD},
        )
        assert response.status_code == 409
        assert response.json() == {
            "detail": "A user with this email already exists",
            "code": "duplicate_email",
        }

    def test_rejects_unknown_fields(self, client: TestClient) -> None:
        response = client.post(
            "/api/v1/auth/register",
            json={
                "email": f"{uuid.uuid4().hex}@example.com",
                "password": PASSWORD,
                "role": "owner",
                "project_id": str(uuid.uuid4()),
            },
        )
        assert response.status_code == 422
        assert {error["loc"][-1] for error in response.json()["detail"]} == {
            "role",
            "project_id",
        }

    def test_rejects_bad_email_and_short_or_huge_password(
        self, client: TestClient
    ) -> None:
        for payload in (
            {"email": "not-an-email", "password": PASSWORD},
            {"email": "a@example.com", "password": "short"},
            {"email": "a@example.com", "password": "x" * 1_000_000},
        ):
            response = client.post("/api/v1/auth/register", json=payload)
            assert response.status_code == 422

    def test_a_refusal_names_each_error_once_and_echoes_no_password(
        self, client: TestClient
    ) -> None:
        for payload in (
            {"email": "a@example.com", "password": "short-7"},  # too short
            {"email": "not-an-email", "password": "long-enough-secret"},
            {"password": "long-enough-secret"},  # the error's input is the whole body
        ):
            response = client.post("/api/v1/auth/register", json=payload)
            assert response.status_code == 422
            errors = response.json()["detail"]
            assert len(errors) == 1, errors
            assert payload["password"] not in response.text
        refused = client.post(
            "/api/v1/auth/refresh", json={"refresh_token": "x" * 5000}
        )
        assert refused.status_code == 422
        assert "x" * 5000 not in refused.text


class TestLogin:
    """POST /api/v1/auth/token"""

    def test_returns_bearer_token_pair(
        self, client: TestClient, owner: TestUser
    ) -> None:
        tokens = login(client, owner.email)
        assert tokens["token_type"] == "bearer"
        me = client.get(
            "/api/v1/users/me",
            headers={"Authorization": f"Bearer {tokens['access_token']}"},
        )
        assert me.json()["email"] == owner.email

    def test_unknown_email_and_wrong_password_look_the_same(
        self, client: TestClient, owner: TestUser
    ) -> None:
        wrong_password = client.post(
            "/api/v1/auth/token",
            data={"username": owner.email, "password": "wrong-password"},
        )
        unknown_email = client.post(
            "/api/v1/auth/token",
            data={"username": "nobody@example.com", "password": "wrong-password"},
        )
        assert wrong_password.status_code == unknown_email.status_code == 401
        assert wrong_password.json() == unknown_email.json()
        assert wrong_password.headers["www-authenticate"] == "Bearer"

    def test_nul_characters_are_rejected(self, client: TestClient) -> None:
        response = client.post(
            "/api/v1/auth/token",
            data={"username": "a\x00@example.com", "password": "x"},
        )
        assert response.status_code == 422

    def test_an_empty_email_or_password_is_refused_as_the_schema_says(
        self, client: TestClient
    ) -> None:
        form = app.openapi()["components"]["schemas"]["Body_auth_token"]["properties"]
        assert form["username"]["minLength"] == form["password"]["minLength"] == 1
        for data in (
            {"username": "", "password": "x"},
            {"username": "a@example.com", "password": ""},
        ):
            response = client.post("/api/v1/auth/token", data=data)
            assert response.status_code == 422

    def test_huge_password_is_rejected_before_hashing(
        self, client: TestClient, owner: TestUser
    ) -> None:
        response = client.post(
            "/api/v1/auth/token",
            data={"username": owner.email, "password": "x" * 1_000_000},
        )
        assert response.status_code == 422

    def test_deactivated_user_cannot_log_in(self, client: TestClient) -> None:
        from app.tests.conftest import run_sql

        user = register_user(client)
        run_sql(
            "UPDATE users SET is_active = false WHERE email = :email", email=user.email
        )
        response = client.post(
            "/api/v1/auth/token", data={"username": user.email, "password": PASSWORD}
        )
        assert response.status_code == 401

    def test_unknown_user_check_still_hashes(self) -> None:
        assert asyncio.run(verify_password(PASSWORD, None)) is False


class TestRefresh:
    """POST /api/v1/auth/refresh"""

    def test_rotates_the_pair(self, client: TestClient, owner: TestUser) -> None:
        response = client.post(
            "/api/v1/auth/refresh", json={"refresh_token": owner.refresh_token}
        )
        assert response.status_code == 200
        new = response.json()
        assert new["refresh_token"] != owner.refresh_token
        me = client.get(
            "/api/v1/users/me",
            headers={"Authorization": f"Bearer {new['access_token']}"},
        )
        assert me.status_code == 200

    def test_old_refresh_token_stops_working_and_reuse_revokes_family(
        self, client: TestClient, owner: TestUser
    ) -> None:
        first = client.post(
            "/api/v1/auth/refresh", json={"refresh_token": owner.refresh_token}
        )
        rotated = first.json()["refresh_token"]
        replay = client.post(
            "/api/v1/auth/refresh", json={"refresh_token": owner.refresh_token}
        )
        assert replay.status_code == 401
        after_reuse = client.post(
            "/api/v1/auth/refresh", json={"refresh_token": rotated}
        )
        assert after_reuse.status_code == 401

    def test_reuse_also_ends_the_access_tokens(
        self, client: TestClient, owner: TestUser
    ) -> None:
        rotated = client.post(
            "/api/v1/auth/refresh", json={"refresh_token": owner.refresh_token}
        ).json()
        assert (
            client.get(
                "/api/v1/users/me",
                headers={"Authorization": f"Bearer {rotated['access_token']}"},
            ).status_code
            == 200
        )
        replay = client.post(
            "/api/v1/auth/refresh", json={"refresh_token": owner.refresh_token}
        )
        assert replay.json() == {
            "detail": "Refresh token reuse detected; please log in again",
            "code": "refresh_token_reused",
        }
        for access in (owner.access_token, rotated["access_token"]):
            me = client.get(
                "/api/v1/users/me", headers={"Authorization": f"Bearer {access}"}
            )
            assert me.status_code == 401
        assert login(client, owner.email)["access_token"]

    def test_tokens_are_never_cached(self, client: TestClient, owner: TestUser) -> None:
        responses = [
            client.post(
                "/api/v1/auth/token",
                data={"username": owner.email, "password": PASSWORD},
            ),
            client.post(
                "/api/v1/auth/refresh", json={"refresh_token": owner.refresh_token}
            ),
        ]
        for response in responses:
            assert response.status_code == 200, response.text
            assert response.headers["cache-control"] == "no-store"
            assert response.headers["pragma"] == "no-cache"

    def test_access_token_is_not_a_refresh_token(
        self, client: TestClient, owner: TestUser
    ) -> None:
        response = client.post(
            "/api/v1/auth/refresh", json={"refresh_token": owner.access_token}
        )
        assert response.status_code == 401

    def test_garbage_is_rejected(self, client: TestClient) -> None:
        response = client.post(
            "/api/v1/auth/refresh", json={"refresh_token": "garbage"}
        )
        assert response.status_code == 401


class TestLogout:
    """POST /api/v1/auth/logout"""

    def test_every_token_stops_working(
        self, client: TestClient, owner: TestUser
    ) -> None:
        other_session = login(client, owner.email)
        assert (
            client.post("/api/v1/auth/logout", headers=owner.headers).status_code == 204
        )
        for access in (owner.access_token, other_session["access_token"]):
            response = client.get(
                "/api/v1/users/me", headers={"Authorization": f"Bearer {access}"}
            )
            assert response.status_code == 401
        for refresh in (owner.refresh_token, other_session["refresh_token"]):
            response = client.post(
                "/api/v1/auth/refresh", json={"refresh_token": refresh}
            )
            assert response.status_code == 401
        assert login(client, owner.email)["access_token"]

    def test_requires_a_token(self, client: TestClient) -> None:
        assert client.post("/api/v1/auth/logout").status_code == 401
