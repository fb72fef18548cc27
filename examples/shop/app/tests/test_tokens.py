"""Every kind of bad token gets 401 with `WWW-Authenticate: Bearer`, never data."""

import base64
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient

from app.core import security
from app.core.config import settings
from app.core.security import ALGORITHM
from app.main import create_app
from app.tests.conftest import TestUser, run_sql


def _sign(
    claims: dict[str, Any], key: str | None = None, algorithm: str = ALGORITHM
) -> str:
    return jwt.encode(claims, key or settings.secret_key, algorithm=algorithm)


def _claims(user: TestUser, **overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": str(user.id),
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + timedelta(minutes=5),
        "jti": str(uuid.uuid4()),
        "ver": 0,
    }
    claims.update(overrides)
    return {key: value for key, value in claims.items() if value is not None}


def _unsigned(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        raw = json.dumps(data, default=str).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def _assert_rejected(client: TestClient, token: str) -> None:
    response = client.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "email" not in response.text


def test_a_well_formed_token_works(client: TestClient, owner: TestUser) -> None:
    token = _sign(_claims(owner))
    response = client.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200


def test_a_remembered_token_still_expires(
    client: TestClient, owner: TestUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = _sign(_claims(owner))
    response = client.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    later = time.time() + 600
    monkeypatch.setattr(security, "_now", lambda: later)
    _assert_rejected(client, token)


def test_a_forged_copy_of_a_remembered_token_is_refused(
    client: TestClient, owner: TestUser
) -> None:
    claims = _claims(owner)
    token = _sign(claims)
    response = client.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    forged = _sign(claims, key="another key, just as long as the real one is")
    assert forged.rsplit(".", 1)[0] == token.rsplit(".", 1)[0]
    _assert_rejected(client, forged)


def test_missing_token(client: TestClient) -> None:
    response = client.get("/api/v1/users/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "token", ["garbage", "a.b.c", "", "Bearer", "x" * 10_000, "e30.e30.e30"]
)
def test_malformed_token(client: TestClient, owner: TestUser, token: str) -> None:
    _assert_rejected(client, token)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"exp": datetime.now(UTC) - timedelta(seconds=1)}, id="expired"),
        pytest.param({"aud": "someone-else"}, id="another-audience"),
        pytest.param(
            {"aud": f"{settings.jwt_audience}:refresh"}, id="refresh-audience"
        ),
        pytest.param({"sub": str(uuid.uuid4())}, id="unknown-user"),
        pytest.param({"sub": "not-a-uuid"}, id="malformed-subject"),
        pytest.param({"ver": 1}, id="old-version"),
        *(
            pytest.param({claim: None}, id=f"no-{claim}")
            for claim in ("exp", "iat", "aud", "sub")
        ),
    ],
)
def test_bad_claims(
    client: TestClient, owner: TestUser, change: dict[str, Any]
) -> None:
    _assert_rejected(client, _sign(_claims(owner, **change)))


def test_wrong_key(client: TestClient, owner: TestUser) -> None:
    _assert_rejected(client, _sign(_claims(owner), key="another-key-" * 4))


def test_algorithm_none(client: TestClient, owner: TestUser) -> None:
    _assert_rejected(client, _unsigned(_claims(owner)))


def test_algorithm_swap(client: TestClient, owner: TestUser) -> None:
    _assert_rejected(client, _sign(_claims(owner), algorithm="HS512"))


def test_refresh_token_is_not_an_access_token(
    client: TestClient, owner: TestUser
) -> None:
    _assert_rejected(client, owner.refresh_token)


def test_huge_token_header(client: TestClient) -> None:
    response = client.get(
        "/api/v1/users/me", headers={"Authorization": "Bearer " + "x" * 65_536}
    )
    assert response.status_code == 401


def test_huge_bodies_are_refused_before_reading(
    client: TestClient, owner: TestUser
) -> None:
    huge = b'{"name": "' + b"x" * 10_000_000 + b'"}'
    response = client.post("/api/v1/projects/", content=huge, headers=owner.headers)
    assert response.status_code == 413

    def chunks():  # no Content-Length: the bytes are counted as they arrive
        yield b'{"name": "'
        for _ in range(50):
            yield b"x" * 100_000
        yield b'"}'

    response = client.post("/api/v1/projects/", content=chunks(), headers=owner.headers)
    assert response.status_code == 413


def test_a_chunked_body_within_the_limit_is_read_whole(
    client: TestClient, owner: TestUser
) -> None:
    def chunks():  # no Content-Length: counted as it arrives, then handed on whole
        yield b'{"name": '
        yield b'"Chunked"}'

    headers = {**owner.headers, "Content-Type": "application/json"}
    response = client.post("/api/v1/projects/", content=chunks(), headers=headers)
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "Chunked"


def test_control_characters_in_paths_are_not_found(
    client: TestClient, owner: TestUser
) -> None:
    for path in (
        "/api/v1/projects/%0A",
        "/api/v1/users/me%0A",
        "/health%0D",
        "/health%00",
    ):
        assert client.get(path, headers=owner.headers).status_code == 404


def test_malformed_ids_and_bodies(client: TestClient, owner: TestUser) -> None:
    for url in ("/api/v1/projects/" + "9" * 5000, "/api/v1/projects/-1"):
        assert client.get(url, headers=owner.headers).status_code == 422
    for body in (b"{", b"\xff\xfe", b"[]", b"null", b'{"name": 1}'):
        response = client.post("/api/v1/projects/", content=body, headers=owner.headers)
        assert response.status_code in (400, 422), body


def test_deactivated_user_loses_access(client: TestClient, owner: TestUser) -> None:
    run_sql(
        "UPDATE users SET is_active = false WHERE email = :email", email=owner.email
    )
    _assert_rejected(client, owner.access_token)


def test_redirects_never_name_the_host_a_client_sent(
    client: TestClient, owner: TestUser
) -> None:
    for host in ("evil.example", "evil.example:8443"):
        response = client.get(
            "/api/v1/projects",
            headers={**owner.headers, "Host": host},
            follow_redirects=False,
        )
        assert response.status_code == 307
        assert response.headers["location"] == "/api/v1/projects/"


def test_no_response_is_sniffed_or_stored(client: TestClient, owner: TestUser) -> None:
    """Answers of every kind: data, a redirect, errors of the app and of the middleware."""
    responses = [
        client.get("/api/v1/projects/", headers=owner.headers),
        client.get("/api/v1/projects", headers=owner.headers, follow_redirects=False),
        client.get("/api/v1/projects/"),
        client.get("/api/v1/projects/%0A", headers=owner.headers),
        client.post(
            "/api/v1/projects/", content=b"x" * 10_000_000, headers=owner.headers
        ),
        client.get("/health"),
    ]
    assert [r.status_code for r in responses] == [200, 307, 401, 404, 413, 200]
    for response in responses:
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers.get_list("cache-control") == ["no-store"]


def test_an_unexpected_error_is_a_500_that_says_nothing_of_it() -> None:
    application = create_app()

    @application.get("/boom")
    async def boom() -> None:
        raise RuntimeError("the secret is 42")

    response = TestClient(application, raise_server_exceptions=False).get("/boom")
    assert response.status_code == 500
    assert response.json() == {
        "detail": "Internal Server Error",
        "code": "internal_server_error",
    }
    assert "42" not in response.text
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers.get_list("cache-control") == ["no-store"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        (
            "POST",
            "/api/v1/auth/register",
            '{"email": "a@example.com", "password": "<text>"}',
        ),
        (
            "POST",
            "/api/v1/auth/register",
            '{"email": "<text>@example.com", "password": "a long password"}',
        ),
        (
            "POST",
            "/api/v1/auth/register",
            '{"email": "b@example.com", "password": "a long password", "project_name": "<text>"}',
        ),
        ("POST", "/api/v1/projects/", '{"name": "<text>"}'),
        (
            "POST",
            "/api/v1/projects/{project}/members",
            '{"email": "<text>@example.com"}',
        ),
    ],
)
def test_unpaired_surrogates_are_refused_everywhere(
    client: TestClient, owner: TestUser, method: str, path: str, body: str
) -> None:
    for text in (r"\ud800", r"x\udfffx"):
        response = client.request(
            method,
            path.format(project=owner.project_id),
            content=body.replace("<text>", text),
            headers={**owner.headers, "Content-Type": "application/json"},
        )
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["type"]
