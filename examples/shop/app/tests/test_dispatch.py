"""Dispatch: a request's route is found among its own router's routes only.

FastAPI alone tries every route in turn, so a backend's last resource would wait
behind all the others. `app/core/routing.py` files the routes by path prefix; these
tests count the routes tried per request, which a linear search would make grow
with the number of routers.
"""

import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Match

from app.core.routing import ApiRouter, RouteIndex, add_route_index, include_routers
from app.main import app

HTTP_METHODS = {"get", "put", "post", "delete", "patch"}


def router_prefix(path: str) -> str:
    """The prefix a router's routes share: `/api/v1/<router>`, or the path itself."""
    parts = path.split("/")
    return "/".join(parts[:4]) if path.startswith("/api/v1/") else path


def operations() -> list[tuple[str, str]]:
    """Every operation of the OpenAPI document, as (method, path with ids filled)."""
    found = []
    for path, item in app.openapi()["paths"].items():
        concrete = path
        while "{" in concrete:
            start, end = concrete.index("{"), concrete.index("}")
            concrete = concrete[:start] + str(uuid.uuid4()) + concrete[end + 1 :]
        found += [(method, concrete) for method in item if method in HTTP_METHODS]
    return found


@pytest.fixture
def tried(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """The number of times each request path was tried against an API route."""
    counts: Counter[str] = Counter()
    matches = APIRoute.matches

    def counting(route: APIRoute, scope: dict[str, Any]) -> tuple[Match, Any]:
        counts[scope["path"]] += 1
        return matches(route, scope)

    monkeypatch.setattr(APIRoute, "matches", counting)
    yield counts


def test_a_request_tries_only_the_routes_of_its_router(
    client: TestClient, tried: Counter[str]
) -> None:
    everything = operations()
    per_router = Counter(router_prefix(path) for _, path in everything)
    assert len(per_router) > 2
    for method, path in everything:
        tried.clear()
        response = client.request(method, path)
        assert response.status_code not in {404, 405}, (method, path)
        # Matched once by the index, once more within the router: at most twice
        # the router's routes, however many routers come before it.
        assert 0 < tried[path] <= 2 * per_router[router_prefix(path)], (method, path)


def test_what_the_index_does_not_settle_is_answered_as_before(
    client: TestClient,
) -> None:
    assert client.get("/api/v1/auth/token").status_code == 405
    assert client.get("/api/v1/no-such-router/").status_code == 404
    moved = client.get("/api/v1/users/me/", follow_redirects=False)
    assert moved.status_code == 307
    assert moved.headers["location"].endswith("/api/v1/users/me")


def test_routes_added_to_the_api_router_itself_are_served() -> None:
    api_router = ApiRouter()

    @api_router.get("/ping")
    async def ping() -> dict[str, str]:
        return {"ping": "pong"}

    nested = ApiRouter()

    @nested.get("/{name}")
    async def hello(name: str) -> dict[str, str]:
        return {"hello": name}

    api_router.include_router(nested, prefix="/hello", tags=["hello"])
    application = FastAPI()
    add_route_index(
        application,
        include_routers(application, api_router, prefix="/v1"),
    )
    assert isinstance(application.router.routes[0], RouteIndex)
    client = TestClient(application, root_path="/behind/a/proxy")
    assert client.get("/v1/ping").json() == {"ping": "pong"}
    assert client.get("/v1/hello/you").json() == {"hello": "you"}
    assert client.get("/v1/hello/").status_code == 404
    assert application.url_path_for("hello", name="me") == "/v1/hello/me"
    paths = application.openapi()["paths"]
    assert paths["/v1/hello/{name}"]["get"]["tags"] == ["hello"]


def test_a_method_the_path_does_not_take_names_the_ones_it_does(
    client: TestClient,
) -> None:
    for method, path, allowed in (
        ("GET", "/api/v1/auth/token", "POST"),
        ("DELETE", "/api/v1/projects/", "GET, POST"),
        ("POST", "/api/v1/users/me", "GET"),
    ):
        response = client.request(method, path)
        assert response.status_code == 405, (method, path)
        assert response.headers["Allow"] == allowed, (method, path)
        assert response.json()["code"] == "method_not_allowed"
