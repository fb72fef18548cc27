"""What every resource's API promises: CRUD, tenancy, roles, pages and statements.

Each resource's test module describes itself in a `Resource` and subclasses these
classes with it, next to the cases of its own fields:

    class TestCreate(CreateContract):
        resource = INVOICES

so `pytest app/tests/test_invoices.py` runs the whole contract for invoices, and a
fix made here reaches every resource at once.
"""

import base64
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, ClassVar

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel

from app.core.auth import authorize
from app.core.db import transaction
from app.core.ids import uuid7
from app.repositories.base import ProjectRepository, cursor_signature
from app.tests.conftest import (
    TestUser,
    assert_routed_to_one_shard,
    citus_only,
    count_statements,
    run_async,
    scoped_request_statements,
)
from app.tests.live import operation

Body = dict[str, Any]
MakeBody = Callable[[TestClient, TestUser], Body]
MakeMember = Callable[[str], TestUser]


@dataclass(frozen=True)
class Resource:
    """A resource as its contract tests see it."""

    name: str
    """The class name, as in "Invoice not found"."""
    url: str
    """The collection's URL, with its trailing slash."""
    payload: MakeBody
    """A valid body for a new object in the user's current project."""
    varied: MakeBody
    """Other values of the sortable fields, so that sorts compare values."""
    change: MakeBody
    """A valid change of one field, for PUT and PATCH."""
    create_schema: type[BaseModel]
    response: type[BaseModel]
    update: type[BaseModel]
    repository: type[ProjectRepository]
    """Inserts the objects that other resources' payloads refer to."""
    sorts: tuple[str, ...]
    """Every sort the list accepts (each also descending, with a leading -)."""
    references: tuple[str, ...] = ()
    """Fields whose value is checked against the project with one query each."""
    non_nullable: tuple[str, ...] = ()
    """Fields that an update may leave out but not set to null."""

    def create(self, client: TestClient, user: TestUser, **changes: Any) -> Body:
        """Create an object through the API and return it."""
        body = {**self.payload(client, user), **changes}
        response = client.post(self.url, json=body, headers=user.headers)
        assert response.status_code == 201, response.text
        created: Body = response.json()
        return created

    def referenced(self, client: TestClient, user: TestUser) -> str:
        """The id of one object for `user`'s payloads to refer to, inserted on first use.

        One object of each resource per user is enough for the payloads that name
        it. It is inserted directly, with the objects it refers to in turn, in one
        transaction: a chain of references (an invoice line needs an invoice, which
        needs a customer) costs one round of inserts, not a request per link. The
        objects under test are always created through the API.
        """
        if self.name not in user.referenced:
            _Inserts.of(self, client, user)
        return user.referenced[self.name]

    def page_through(self, client: TestClient, user: TestUser, sort: str) -> list[str]:
        """The ids of every object, one per page, following the `Link` headers."""
        ids: list[str] = []
        params = {"sort": sort, "limit": 1}
        response = client.get(self.url, params=params, headers=user.headers)
        while True:
            assert response.status_code == 200, (sort, response.text)
            ids.extend(item["id"] for item in response.json())
            if "next" not in response.links:
                return ids
            response = client.get(response.links["next"]["url"], headers=user.headers)

    def assert_matches(self, body: Body, payload: Body) -> None:
        """The response holds the values that were sent (compared as Python values)."""
        sent = self.update.model_validate(payload)
        got = self.response.model_validate(body)
        for name in payload:
            assert getattr(got, name) == getattr(sent, name), name


class _Inserts:
    """The objects that one `Resource.referenced` call needs, in the order to insert.

    Building a payload may call `referenced` again for the objects it names: those
    calls join the outermost one's list, with new ids, and it inserts them all.
    """

    current: ClassVar["_Inserts | None"] = None

    def __init__(self) -> None:
        self.rows: list[tuple[Resource, Body]] = []

    @classmethod
    def of(cls, resource: Resource, client: TestClient, user: TestUser) -> None:
        """Queue an object of `resource` for `user`; insert the queue if outermost."""
        outermost = cls.current is None
        inserts = cls.current = cls.current or cls()
        try:
            payload = resource.payload(client, user)  # may queue what it refers to
            values = resource.create_schema.model_validate(payload).model_dump()
            values["id"] = uuid7()
            inserts.rows.append((resource, values))
            if outermost:
                run_async(inserts.insert(user))
        finally:
            if outermost:
                cls.current = None
        user.referenced[resource.name] = str(values["id"])

    async def insert(self, user: TestUser) -> None:
        """Insert the rows in the user's current project, in one transaction."""
        async with transaction() as db:
            scope = await authorize(db, user.access_token)
            for resource, values in self.rows:
                await resource.repository(db, scope.project_id).create(values)


class Contract:
    """A part of the contract, for the resource a subclass names."""

    resource: ClassVar[Resource]

    def assert_routed(
        self,
        client: TestClient,
        owner: TestUser,
        request: tuple[str, str, Body | None],
        status: int,
    ) -> None:
        """On Citus: every statement of the request (method, url, body) hits one shard."""
        method, url, body = request
        with count_statements() as statements:
            response = client.request(method, url, json=body, headers=owner.headers)
        assert response.status_code == status, response.text
        assert_routed_to_one_shard(statements)


class CreateContract(Contract):
    """POST on the collection."""

    def test_creates_in_the_current_project(
        self, client: TestClient, owner: TestUser
    ) -> None:
        payload = self.resource.payload(client, owner)
        response = client.post(self.resource.url, json=payload, headers=owner.headers)
        assert response.status_code == 201
        assert response.json()["project_id"] == str(owner.project_id)
        self.resource.assert_matches(response.json(), payload)

    def test_requires_a_token(self, client: TestClient) -> None:
        assert client.post(self.resource.url, json={}).status_code == 401

    def test_members_create_viewers_cannot(
        self, client: TestClient, owner: TestUser, member_of: MakeMember
    ) -> None:
        member, viewer = member_of("member"), member_of("viewer")
        payload, url = self.resource.payload(client, owner), self.resource.url
        assert client.post(url, json=payload, headers=viewer.headers).status_code == 403
        assert client.post(url, json=payload, headers=member.headers).status_code == 201

    def test_runs_a_fixed_number_of_statements(
        self, client: TestClient, owner: TestUser
    ) -> None:
        payload = self.resource.payload(client, owner)
        checked = [
            name for name in self.resource.references if payload[name] is not None
        ]
        with count_statements() as statements:
            response = client.post(
                self.resource.url, json=payload, headers=owner.headers
            )
        assert response.status_code == 201, response.text
        assert len(statements) == scoped_request_statements() + len(checked) + 1

    @citus_only
    def test_is_routed_to_one_shard(self, client: TestClient, owner: TestUser) -> None:
        payload = self.resource.payload(client, owner)
        self.assert_routed(client, owner, ("POST", self.resource.url, payload), 201)

    def test_omitted_fields_take_their_defaults(
        self, client: TestClient, owner: TestUser
    ) -> None:
        fields = self.resource.create_schema.model_fields
        defaults = {
            name: field.get_default(call_default_factory=True)
            for name, field in fields.items()
            if not field.is_required()
        }
        if not defaults:
            pytest.skip(f"every field of {self.resource.name} is required")
        payload = self.resource.payload(client, owner)
        for name in defaults:
            del payload[name]
        response = client.post(self.resource.url, json=payload, headers=owner.headers)
        assert response.status_code == 201, response.text
        created = self.resource.response.model_validate(response.json())
        assert {name: getattr(created, name) for name in defaults} == defaults

    def test_rejects_unknown_fields(self, client: TestClient, owner: TestUser) -> None:
        payload = self.resource.payload(client, owner)
        for extra in (
            {"project_id": str(owner.project_id)},
            {"id": str(uuid.uuid4())},
            {"role": "owner"},
        ):
            body = {**payload, **extra}
            response = client.post(self.resource.url, json=body, headers=owner.headers)
            assert response.status_code == 422, extra


class ListContract(Contract):
    """GET on the collection: one project's objects, a page at a time."""

    def test_lists_only_the_current_project(
        self, client: TestClient, owner: TestUser, outsider: TestUser
    ) -> None:
        mine = self.resource.create(client, owner)
        self.resource.create(client, outsider)
        response = client.get(self.resource.url, headers=owner.headers)
        assert response.status_code == 200
        assert [item["id"] for item in response.json()] == [mine["id"]]

    def test_pages_follow_the_link_header(
        self, client: TestClient, owner: TestUser
    ) -> None:
        created = {self.resource.create(client, owner)["id"] for _ in range(3)}
        first = client.get(
            self.resource.url,
            params={"limit": 2},
            headers={**owner.headers, "Host": "evil.example"},
        )
        assert first.links["next"]["url"].startswith(f"{self.resource.url}?")
        second = client.get(first.links["next"]["url"], headers=owner.headers)
        first_ids = [item["id"] for item in first.json()]
        second_ids = [item["id"] for item in second.json()]
        assert len(first_ids) == 2 and len(second_ids) == 1
        assert set(first_ids) | set(second_ids) == created
        assert "next" not in second.links

    def test_a_cursor_is_useless_in_another_project(
        self, client: TestClient, owner: TestUser, outsider: TestUser
    ) -> None:
        self.resource.create(client, owner)
        self.resource.create(client, owner)
        url = self.resource.url
        first = client.get(url, params={"limit": 1}, headers=owner.headers)
        cursor = httpx.URL(first.links["next"]["url"]).params["cursor"]
        response = client.get(url, params={"cursor": cursor}, headers=outsider.headers)
        assert response.status_code == 400

    def test_every_sort_pages_to_the_end_and_back(
        self, client: TestClient, owner: TestUser
    ) -> None:
        resource = self.resource
        created = [
            resource.create(client, owner, **changes)
            for changes in (
                {},
                resource.varied(client, owner),
                {},
                resource.varied(client, owner),
            )
        ]
        for field in resource.sorts:
            params = {"sort": field, "limit": 200}
            listed = client.get(resource.url, params=params, headers=owner.headers)
            whole = [item["id"] for item in listed.json()]
            assert sorted(whole) == sorted(item["id"] for item in created), field
            ascending = resource.page_through(client, owner, field)
            descending = resource.page_through(client, owner, f"-{field}")
            assert ascending == whole, field
            assert descending == ascending[::-1], field

    def test_a_signed_cursor_with_a_bad_value_is_refused(
        self, client: TestClient, owner: TestUser
    ) -> None:
        last_id = self.resource.create(client, owner)["id"]
        for field in self.resource.sorts:
            for sort in (field, f"-{field}"):
                for value in ([], {"a": 1}, None, 2**70, "9" * 300):
                    payload = json.dumps([sort, value, last_id]).encode()
                    encoded = base64.urlsafe_b64encode(payload).decode().rstrip("=")
                    cursor = f"{encoded}.{cursor_signature(owner.project_id, payload)}"
                    params = {"sort": sort, "cursor": cursor}
                    response = client.get(
                        self.resource.url, params=params, headers=owner.headers
                    )
                    assert response.status_code in {200, 400}, (
                        sort,
                        value,
                        response.text,
                    )
                    if value is None or isinstance(value, list | dict):
                        assert response.status_code == 400, (sort, value)

    def test_runs_a_fixed_number_of_statements(
        self, client: TestClient, owner: TestUser
    ) -> None:
        self.resource.create(client, owner)
        with count_statements() as one_row:
            client.get(self.resource.url, headers=owner.headers)
        for _ in range(3):
            self.resource.create(client, owner)
        with count_statements() as four_rows:
            client.get(self.resource.url, headers=owner.headers)
        assert len(one_row) == len(four_rows) == scoped_request_statements() + 1

    @citus_only
    def test_is_routed_to_one_shard(self, client: TestClient, owner: TestUser) -> None:
        self.resource.create(client, owner)
        self.assert_routed(client, owner, ("GET", self.resource.url, None), 200)

    def test_a_removed_member_loses_access_at_once(
        self, client: TestClient, owner: TestUser, member_of: MakeMember
    ) -> None:
        member = member_of("member")
        assert client.get(self.resource.url, headers=member.headers).status_code == 200
        client.delete(
            f"/api/v1/projects/{owner.project_id}/members/{member.id}",
            headers=owner.headers,
        )
        assert client.get(self.resource.url, headers=member.headers).status_code == 404

    def test_rejects_bad_parameters(self, client: TestClient, owner: TestUser) -> None:
        for params in (
            {"limit": 0},
            {"limit": 201},
            {"limit": "x"},
            {"limit": "1.5"},
            {"limit": 10**30},
            {"sort": "no_such_field"},
            {"no_such_filter": "1"},
            {"cursor": "x" * 2000},
        ):
            response = client.get(
                self.resource.url, params=params, headers=owner.headers
            )
            assert response.status_code == 422, params
        params = {"cursor": "not-a-cursor"}
        response = client.get(self.resource.url, params=params, headers=owner.headers)
        assert response.status_code == 400

    def test_requires_a_token(self, client: TestClient) -> None:
        assert client.get(self.resource.url).status_code == 401


class GetContract(Contract):
    """GET on one object."""

    def test_gets_one(
        self, client: TestClient, owner: TestUser, member_of: MakeMember
    ) -> None:
        created = self.resource.create(client, owner)
        viewer = member_of("viewer")
        response = client.get(
            f"{self.resource.url}{created['id']}", headers=viewer.headers
        )
        assert response.status_code == 200
        assert response.json() == created

    def test_another_projects_object_looks_missing(
        self, client: TestClient, owner: TestUser, outsider: TestUser
    ) -> None:
        theirs = self.resource.create(client, outsider)
        url = self.resource.url
        response = client.get(f"{url}{theirs['id']}", headers=owner.headers)
        assert response.status_code == 404
        assert response.json()["detail"] == f"{self.resource.name} not found"
        assert response.json()["code"].endswith("_not_found")
        missing = client.get(f"{url}{uuid.uuid4()}", headers=owner.headers)
        assert missing.json() == response.json()

    def test_runs_a_fixed_number_of_statements(
        self, client: TestClient, owner: TestUser
    ) -> None:
        created = self.resource.create(client, owner)
        with count_statements() as statements:
            client.get(f"{self.resource.url}{created['id']}", headers=owner.headers)
        assert len(statements) == scoped_request_statements() + 1

    @citus_only
    def test_is_routed_to_one_shard(self, client: TestClient, owner: TestUser) -> None:
        created = self.resource.create(client, owner)
        url = f"{self.resource.url}{created['id']}"
        self.assert_routed(client, owner, ("GET", url, None), 200)

    def test_rejects_a_malformed_id(self, client: TestClient, owner: TestUser) -> None:
        url = f"{self.resource.url}not-an-id"
        assert client.get(url, headers=owner.headers).status_code == 422

    def test_requires_a_token(self, client: TestClient) -> None:
        assert client.get(f"{self.resource.url}{uuid.uuid4()}").status_code == 401


class UpdateContract(Contract):
    """PUT and PATCH on one object."""

    def test_applies_only_the_fields_sent(
        self, client: TestClient, owner: TestUser
    ) -> None:
        created = self.resource.create(client, owner)
        change = self.resource.change(client, owner)
        for method in ("PUT", "PATCH"):
            response = client.request(
                method,
                f"{self.resource.url}{created['id']}",
                json=change,
                headers=owner.headers,
            )
            assert response.status_code == 200, response.text
            body = response.json()
            self.resource.assert_matches(body, change)
            for key, value in created.items():
                if key not in change and key != "updated_at":
                    assert body[key] == value, key

    def test_another_projects_object_is_404_and_unchanged(
        self, client: TestClient, owner: TestUser, outsider: TestUser
    ) -> None:
        theirs = self.resource.create(client, outsider)
        url = f"{self.resource.url}{theirs['id']}"
        change = self.resource.change(client, owner)
        for method in ("PUT", "PATCH"):
            response = client.request(method, url, json=change, headers=owner.headers)
            assert response.status_code == 404
        assert client.get(url, headers=outsider.headers).json() == theirs

    def test_runs_a_fixed_number_of_statements(
        self, client: TestClient, owner: TestUser
    ) -> None:
        created = self.resource.create(client, owner)
        url = f"{self.resource.url}{created['id']}"
        with count_statements() as statements:
            response = client.patch(url, json={}, headers=owner.headers)
        assert response.status_code == 200, response.text
        assert len(statements) == scoped_request_statements() + 1

    @citus_only
    def test_is_routed_to_one_shard(self, client: TestClient, owner: TestUser) -> None:
        created = self.resource.create(client, owner)
        url = f"{self.resource.url}{created['id']}"
        change = self.resource.change(client, owner)
        self.assert_routed(client, owner, ("PATCH", url, change), 200)

    def test_viewers_cannot_update(
        self, client: TestClient, owner: TestUser, member_of: MakeMember
    ) -> None:
        created = self.resource.create(client, owner)
        viewer = member_of("viewer")
        url = f"{self.resource.url}{created['id']}"
        assert client.patch(url, json={}, headers=viewer.headers).status_code == 403

    def test_rejects_unknown_fields_and_nulls(
        self, client: TestClient, owner: TestUser
    ) -> None:
        created = self.resource.create(client, owner)
        url = f"{self.resource.url}{created['id']}"
        for body in (
            {"project_id": str(uuid.uuid4())},
            *({name: None} for name in self.resource.non_nullable),
        ):
            response = client.patch(url, json=body, headers=owner.headers)
            assert response.status_code == 422, body


class DeleteContract(Contract):
    """DELETE on one object."""

    def test_admins_delete_members_cannot(
        self, client: TestClient, owner: TestUser, member_of: MakeMember
    ) -> None:
        created = self.resource.create(client, owner)
        url = f"{self.resource.url}{created['id']}"
        assert (
            client.delete(url, headers=member_of("member").headers).status_code == 403
        )
        assert client.delete(url, headers=member_of("admin").headers).status_code == 204
        assert client.get(url, headers=owner.headers).status_code == 404

    def test_another_projects_object_is_404_and_kept(
        self, client: TestClient, owner: TestUser, outsider: TestUser
    ) -> None:
        theirs = self.resource.create(client, outsider)
        url = f"{self.resource.url}{theirs['id']}"
        assert client.delete(url, headers=owner.headers).status_code == 404
        assert client.get(url, headers=outsider.headers).status_code == 200

    def test_runs_a_fixed_number_of_statements(
        self, client: TestClient, owner: TestUser
    ) -> None:
        created = self.resource.create(client, owner)
        url = f"{self.resource.url}{created['id']}"
        with count_statements() as statements:
            response = client.delete(url, headers=owner.headers)
        assert response.status_code == 204
        assert len(statements) == scoped_request_statements() + 1

    @citus_only
    def test_is_routed_to_one_shard(self, client: TestClient, owner: TestUser) -> None:
        created = self.resource.create(client, owner)
        url = f"{self.resource.url}{created['id']}"
        self.assert_routed(client, owner, ("DELETE", url, None), 204)

    def test_requires_a_token(self, client: TestClient) -> None:
        assert client.delete(f"{self.resource.url}{uuid.uuid4()}").status_code == 401


class ClientContract(Contract):
    """The endpoints through the Python client generated from the API, over HTTP."""

    def test_through_the_generated_client(
        self, client: TestClient, owner: TestUser, api_client: ModuleType, server: str
    ) -> None:
        resource, models = self.resource, api_client.models
        tag = resource.url.strip("/").rsplit("/", 1)[-1].replace("-", "_")

        def call(name: str) -> Any:
            return operation(api_client, tag, name)

        new = getattr(models, resource.create_schema.__name__)
        change = getattr(models, resource.update.__name__)
        user = api_client.AuthenticatedClient(base_url=server, token=owner.access_token)
        ids = []
        for _ in range(3):
            body = new.from_dict(resource.payload(client, owner))
            created = call("create").sync_detailed(client=user, body=body)
            assert created.status_code == 201, created.content
            ids.append(created.parsed.id)

        listed, page = [], {"limit": 1}
        while True:
            response = call("list").sync_detailed(client=user, **page)
            assert response.status_code == 200, response.content
            listed.extend(item.id for item in response.parsed)
            link = httpx.Response(200, headers=response.headers).links.get("next")
            if link is None:
                break
            page = {"limit": 1, "cursor": httpx.URL(link["url"]).params["cursor"]}
        assert listed == ids  # by id, the default order: ids grow with time

        body = change.from_dict(resource.change(client, owner))
        patched = call("patch").sync_detailed(ids[0], client=user, body=body)
        assert patched.status_code == 200, patched.content
        assert call("get").sync(ids[0], client=user) == patched.parsed
        assert call("delete").sync_detailed(ids[0], client=user).status_code == 204
        missing = call("get").sync_detailed(ids[0], client=user)
        assert missing.status_code == 404
        assert isinstance(missing.parsed, models.ErrorResponse)
        assert missing.parsed.code.endswith("_not_found")
