"""Rules that hold when requests race: each is enforced by the database, not by luck.

The requests of a test run at the same time, each on its own connection and in its
own transaction (`concurrently`), so that each rule meets the interleaving that
broke it when it was only checked in Python. They run on both databases: SQLite
lets one writer at a time, but its readers still interleave with it.
"""

import asyncio
import uuid

import httpx
import pytest
from fastapi.testclient import TestClient

from app.models.refresh_token import RefreshToken
from app.repositories.user_repo import UserRepository
from app.tests.conftest import (
    PASSWORD,
    TestUser,
    add_member,
    concurrently,
    register_user,
)

RACERS = 4
# A race is won by chance: rules that lost it before are raced several times.
ROUNDS = 6


def test_a_refresh_token_presented_at_once_is_used_once(
    client: TestClient, owner: TestUser
) -> None:
    body = {"json": {"refresh_token": owner.refresh_token}}
    responses = concurrently(*[("POST", "/api/v1/auth/refresh", body)] * RACERS)
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] + [401] * (RACERS - 1), [r.text for r in responses]
    # The losers count as reuse: the winner's new pair is revoked with its family.
    winner = next(
        response.json() for response in responses if response.status_code == 200
    )
    again = client.post(
        "/api/v1/auth/refresh", json={"refresh_token": winner["refresh_token"]}
    )
    assert again.status_code == 401
    me = client.get(
        "/api/v1/users/me",
        headers={"Authorization": f"Bearer {winner['access_token']}"},
    )
    assert me.status_code == 401


def test_a_refresh_token_reused_while_it_rotates_is_refused_without_a_deadlock(
    client: TestClient, owner: TestUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The interleaving that deadlocked two reuses of one token (a 500), forced by pauses.

    The token is the second of its family. The winner rotates it and pauses before
    its commit; a second request waits for the token in its claim, loses it, and
    pauses; a third arrives after the winner's commit and revokes the family, whose
    first token it would lock before the one the second request still holds.
    """
    rotated = client.post(
        "/api/v1/auth/refresh", json={"refresh_token": owner.refresh_token}
    )
    assert rotated.status_code == 200
    claim, stored = UserRepository.claim_refresh_token, UserRepository.get_refresh_token
    claims, lookups = 0, 0

    async def claim_with_pauses(
        repository: UserRepository, token_id: uuid.UUID
    ) -> uuid.UUID | None:
        nonlocal claims
        claims += 1
        if claims == 3:  # the third request, after the winner's commit
            await asyncio.sleep(0.3)
        family = await claim(repository, token_id)
        if family is not None:  # the winner, holding the token, before its commit
            await asyncio.sleep(0.15)
        return family

    async def first_lookup_pauses(
        repository: UserRepository, token_id: uuid.UUID
    ) -> RefreshToken | None:
        nonlocal lookups
        lookups += 1
        if lookups == 1:  # the first loser, while the third revokes the family
            await asyncio.sleep(0.4)
        return await stored(repository, token_id)

    monkeypatch.setattr(UserRepository, "claim_refresh_token", claim_with_pauses)
    monkeypatch.setattr(UserRepository, "get_refresh_token", first_lookup_pauses)
    body = {"json": {"refresh_token": rotated.json()["refresh_token"]}}
    responses = concurrently(*[("POST", "/api/v1/auth/refresh", body)] * 3)
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200, 401, 401], [r.text for r in responses]
    assert claims == 3 and lookups == 2


@pytest.fixture
def co_owner(client: TestClient, owner: TestUser) -> TestUser:
    """A second owner of the owner's project."""
    other = register_user(client)
    add_member(client, owner, other, "owner")
    return other


def _one_won(
    client: TestClient,
    responses: list[httpx.Response],
    success: int,
    authors: tuple[TestUser, TestUser],
) -> tuple[TestUser, TestUser]:
    """The author of the request that won, and the other; the project has one owner.

    The other request was answered as if it had come second: its author was demoted
    (403: only owners touch owners) or removed (404: no longer a member), or it ran
    into the last owner (409).
    """
    statuses = sorted(response.status_code for response in responses)
    assert statuses[0] == success, [r.text for r in responses]
    assert statuses[1] in {403, 404, 409}, [r.text for r in responses]
    first, second = authors
    winner, loser = (
        (first, second) if responses[0].status_code == success else (second, first)
    )
    members = client.get(
        f"/api/v1/projects/{first.project_id}/members", headers=winner.headers
    )
    owners = [
        member["user_id"] for member in members.json() if member["role"] == "owner"
    ]
    assert owners == [str(winner.id)]
    return winner, loser


def test_two_owners_demoting_each_other_leave_one_owner(
    client: TestClient, owner: TestUser, co_owner: TestUser
) -> None:
    members = f"/api/v1/projects/{owner.project_id}/members"
    demote = {"role": "admin"}
    for _ in range(ROUNDS):
        responses = concurrently(
            (
                "PUT",
                f"{members}/{co_owner.id}",
                {"json": demote, "headers": owner.headers},
            ),
            (
                "PUT",
                f"{members}/{owner.id}",
                {"json": demote, "headers": co_owner.headers},
            ),
        )
        winner, demoted = _one_won(client, responses, 200, (owner, co_owner))
        promote = client.put(
            f"{members}/{demoted.id}", json={"role": "owner"}, headers=winner.headers
        )
        assert promote.status_code == 200


def test_two_owners_removing_each_other_leave_one_owner(
    client: TestClient, owner: TestUser, co_owner: TestUser
) -> None:
    members = f"/api/v1/projects/{owner.project_id}/members"
    for _ in range(ROUNDS):
        responses = concurrently(
            ("DELETE", f"{members}/{co_owner.id}", {"headers": owner.headers}),
            ("DELETE", f"{members}/{owner.id}", {"headers": co_owner.headers}),
        )
        winner, removed = _one_won(client, responses, 204, (owner, co_owner))
        again = {"email": removed.email, "role": "owner"}
        assert (
            client.post(members, json=again, headers=winner.headers).status_code == 201
        )


def test_two_owners_leaving_at_once_leave_one_owner(
    client: TestClient, owner: TestUser, co_owner: TestUser
) -> None:
    members = f"/api/v1/projects/{owner.project_id}/members"
    for _ in range(ROUNDS):
        responses = concurrently(
            ("DELETE", f"{members}/{owner.id}", {"headers": owner.headers}),
            ("DELETE", f"{members}/{co_owner.id}", {"headers": co_owner.headers}),
        )
        statuses = sorted(response.status_code for response in responses)
        assert statuses == [204, 409], [response.text for response in responses]
        left, stayed = (
            (owner, co_owner) if responses[0].status_code == 204 else (co_owner, owner)
        )
        listed = client.get(members, headers=stayed.headers).json()
        assert [(m["user_id"], m["role"]) for m in listed] == [
            (str(stayed.id), "owner")
        ]
        again = {"email": left.email, "role": "owner"}
        assert (
            client.post(members, json=again, headers=stayed.headers).status_code == 201
        )


def test_one_email_registered_at_once_is_one_user() -> None:
    email = f"racer-{uuid.uuid4().hex[:12]}@example.com"
    body = {"json": {"email": email, "password": PASSWORD}}
    responses = concurrently(*[("POST", "/api/v1/auth/register", body)] * 2)
    assert sorted(response.status_code for response in responses) == [201, 409]
    conflict = next(response for response in responses if response.status_code == 409)
    assert conflict.json() == {
        "detail": "A user with this email already exists",
        "code": "duplicate_email",
    }


def test_one_member_added_at_once_is_one_membership(
    client: TestClient, owner: TestUser
) -> None:
    user = register_user(client)
    members = f"/api/v1/projects/{owner.project_id}/members"
    add = (
        "POST",
        members,
        {"json": {"email": user.email, "role": "member"}, "headers": owner.headers},
    )
    for _ in range(ROUNDS):
        responses = concurrently(add, add)
        assert sorted(response.status_code for response in responses) == [201, 409]
        listed = client.get(members, headers=owner.headers).json()
        assert [member["user_id"] for member in listed].count(str(user.id)) == 1
        assert (
            client.delete(f"{members}/{user.id}", headers=owner.headers).status_code
            == 204
        )


def test_switching_to_a_project_deleted_at_once_is_404_or_done(
    client: TestClient, owner: TestUser
) -> None:
    for round_number in range(ROUNDS):
        created = client.post(
            "/api/v1/projects/",
            json={"name": f"short-lived {round_number}"},
            headers=owner.headers,
        )
        project = created.json()["id"]
        responses = concurrently(
            (
                "PUT",
                "/api/v1/users/me/current-project",
                {"json": {"project_id": project}, "headers": owner.headers},
            ),
            ("DELETE", f"/api/v1/projects/{project}", {"headers": owner.headers}),
        )
        assert responses[0].status_code in {200, 404}, responses[0].text
        assert responses[1].status_code == 204, responses[1].text
        me = client.get("/api/v1/users/me", headers=owner.headers).json()
        assert me["current_project_id"] != project
