"""Projects and members: only members see a project, roles decide who changes it."""

import uuid
from collections.abc import Callable

from fastapi.testclient import TestClient

from app.tests.conftest import TestUser, register_user

MakeMember = Callable[[str], TestUser]


class TestProjects:
    """/api/v1/projects/"""

    def test_create_list_get_update_delete(
        self, client: TestClient, owner: TestUser
    ) -> None:
        created = client.post(
            "/api/v1/projects/", json={"name": "Second"}, headers=owner.headers
        )
        assert created.status_code == 201
        project = created.json()
        assert project["role"] == "owner"
        listed = client.get("/api/v1/projects/", headers=owner.headers).json()
        assert [p["id"] for p in listed] == [str(owner.project_id), project["id"]]
        url = f"/api/v1/projects/{project['id']}"
        assert client.get(url, headers=owner.headers).json()["name"] == "Second"
        renamed = client.put(url, json={"name": "Renamed"}, headers=owner.headers)
        assert renamed.json()["name"] == "Renamed"
        assert client.delete(url, headers=owner.headers).status_code == 204
        assert client.get(url, headers=owner.headers).status_code == 404

    def test_other_projects_look_like_missing_ones(
        self, client: TestClient, owner: TestUser, outsider: TestUser
    ) -> None:
        for url in (
            f"/api/v1/projects/{owner.project_id}",
            f"/api/v1/projects/{uuid.uuid4()}",
        ):
            assert client.get(url, headers=outsider.headers).json() == {
                "detail": "Project not found",
                "code": "project_not_found",
            }
            assert (
                client.put(
                    url, json={"name": "x"}, headers=outsider.headers
                ).status_code
                == 404
            )
            assert client.delete(url, headers=outsider.headers).status_code == 404
            assert (
                client.get(f"{url}/members", headers=outsider.headers).status_code
                == 404
            )
        assert client.get(
            f"/api/v1/projects/{owner.project_id}", headers=owner.headers
        ).json()["name"]

    def test_roles(
        self, client: TestClient, owner: TestUser, member_of: MakeMember
    ) -> None:
        url = f"/api/v1/projects/{owner.project_id}"
        viewer, admin = member_of("viewer"), member_of("admin")
        assert client.get(url, headers=viewer.headers).json()["role"] == "viewer"
        assert (
            client.put(url, json={"name": "x"}, headers=viewer.headers).status_code
            == 403
        )
        assert (
            client.put(
                url, json={"name": "By admin"}, headers=admin.headers
            ).status_code
            == 200
        )
        assert client.delete(url, headers=admin.headers).status_code == 403

    def test_deleting_a_project_clears_current_project(
        self, client: TestClient, owner: TestUser, member_of: MakeMember
    ) -> None:
        member = member_of("member")
        client.delete(f"/api/v1/projects/{owner.project_id}", headers=owner.headers)
        me = client.get("/api/v1/users/me", headers=member.headers).json()
        assert me["current_project_id"] is None
        response = client.get(
            "/api/v1/users/me/current-project", headers=member.headers
        )
        assert response.status_code == 404

    def test_rejects_bad_input(self, client: TestClient, owner: TestUser) -> None:
        for body in (
            {},
            {"name": ""},
            {"name": "x" * 201},
            {"name": "x", "id": "1"},
            {"name": "nul\x00byte"},
        ):
            response = client.post(
                "/api/v1/projects/", json=body, headers=owner.headers
            )
            assert response.status_code == 422
        response = client.get("/api/v1/projects/not-a-uuid", headers=owner.headers)
        assert response.status_code == 422

    def test_requires_a_token(self, client: TestClient, owner: TestUser) -> None:
        assert client.get("/api/v1/projects/").status_code == 401
        assert client.get(f"/api/v1/projects/{owner.project_id}").status_code == 401


class TestMembers:
    """/api/v1/projects/{id}/members"""

    def test_add_list_change_remove(self, client: TestClient, owner: TestUser) -> None:
        user = register_user(client)
        url = f"/api/v1/projects/{owner.project_id}/members"
        added = client.post(
            url, json={"email": user.email, "role": "viewer"}, headers=owner.headers
        )
        assert added.status_code == 201
        assert added.json()["role"] == "viewer"
        members = client.get(url, headers=owner.headers).json()
        assert [(m["email"], m["role"]) for m in members] == [
            (owner.email, "owner"),
            (user.email, "viewer"),
        ]
        changed = client.put(
            f"{url}/{user.id}", json={"role": "admin"}, headers=owner.headers
        )
        assert changed.json()["role"] == "admin"
        assert (
            client.delete(f"{url}/{user.id}", headers=owner.headers).status_code == 204
        )
        assert len(client.get(url, headers=owner.headers).json()) == 1

    def test_errors(self, client: TestClient, owner: TestUser) -> None:
        url = f"/api/v1/projects/{owner.project_id}/members"
        unknown = client.post(
            url, json={"email": "nobody@example.com"}, headers=owner.headers
        )
        assert unknown.status_code == 422
        assert unknown.json()["detail"][0]["loc"] == ["body", "email"]
        again = client.post(url, json={"email": owner.email}, headers=owner.headers)
        assert again.status_code == 409
        missing = client.put(
            f"{url}/{uuid.uuid4()}", json={"role": "admin"}, headers=owner.headers
        )
        assert missing.status_code == 404
        bad_role = client.post(
            url, json={"email": owner.email, "role": "god"}, headers=owner.headers
        )
        assert bad_role.status_code == 422

    def test_last_owner_stays(self, client: TestClient, owner: TestUser) -> None:
        url = f"/api/v1/projects/{owner.project_id}/members/{owner.id}"
        assert client.delete(url, headers=owner.headers).status_code == 409
        demote = client.put(url, json={"role": "admin"}, headers=owner.headers)
        assert demote.status_code == 409
        assert demote.json() == {
            "detail": "A project must keep at least one owner",
            "code": "last_owner",
        }

    def test_second_owner_can_be_demoted(
        self, client: TestClient, owner: TestUser
    ) -> None:
        other = register_user(client)
        url = f"/api/v1/projects/{owner.project_id}/members"
        client.post(
            url, json={"email": other.email, "role": "owner"}, headers=owner.headers
        )
        response = client.put(
            f"{url}/{owner.id}", json={"role": "admin"}, headers=owner.headers
        )
        assert response.status_code == 200

    def test_only_admins_manage_and_only_owners_grant_owner(
        self, client: TestClient, owner: TestUser, member_of: MakeMember
    ) -> None:
        url = f"/api/v1/projects/{owner.project_id}/members"
        member, admin = member_of("member"), member_of("admin")
        newcomer = register_user(client)
        by_member = client.post(
            url, json={"email": newcomer.email}, headers=member.headers
        )
        assert by_member.status_code == 403
        grant_owner = client.post(
            url, json={"email": newcomer.email, "role": "owner"}, headers=admin.headers
        )
        assert grant_owner.status_code == 403
        remove_owner = client.delete(f"{url}/{owner.id}", headers=admin.headers)
        assert remove_owner.status_code == 403
        assert (
            client.delete(f"{url}/{admin.id}", headers=member.headers).status_code
            == 403
        )
        assert (
            client.delete(f"{url}/{member.id}", headers=admin.headers).status_code
            == 204
        )

    def test_any_member_may_leave_but_the_last_owner(
        self, client: TestClient, owner: TestUser, member_of: MakeMember
    ) -> None:
        url = f"/api/v1/projects/{owner.project_id}/members"
        for role in ("viewer", "member", "admin"):
            user = member_of(role)
            assert (
                client.delete(f"{url}/{user.id}", headers=user.headers).status_code
                == 204
            )
            current = client.get(
                "/api/v1/users/me/current-project", headers=user.headers
            )
            assert current.status_code == 404
        other = member_of("owner")
        assert (
            client.delete(f"{url}/{owner.id}", headers=owner.headers).status_code == 204
        )
        assert (
            client.delete(f"{url}/{other.id}", headers=other.headers).status_code == 409
        )
        members = client.get(url, headers=other.headers).json()
        assert [(m["email"], m["role"]) for m in members] == [(other.email, "owner")]

    def test_removed_member_loses_access_at_once(
        self, client: TestClient, owner: TestUser, member_of: MakeMember
    ) -> None:
        member = member_of("member")
        assert (
            client.get(
                "/api/v1/users/me/current-project", headers=member.headers
            ).status_code
            == 200
        )
        client.delete(
            f"/api/v1/projects/{owner.project_id}/members/{member.id}",
            headers=owner.headers,
        )
        assert (
            client.get(
                "/api/v1/users/me/current-project", headers=member.headers
            ).status_code
            == 404
        )
        project = client.get(
            f"/api/v1/projects/{owner.project_id}", headers=member.headers
        )
        assert project.status_code == 404
