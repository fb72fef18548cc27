"""Request dispatch whose cost does not grow with the number of routes.

FastAPI finds a request's route by trying the application's routes one after the
other, and an included router's routes one after the other within it: the more
resources a backend has, the longer the last ones wait. Here every router of
`api_router` is included in the application directly (`include_routers`), and a
`RouteIndex` tried first looks a request's path up by its literal prefix: only
the routes that could match it are tried, in their usual order.

The routes themselves are FastAPI's, included the usual way: the OpenAPI document,
dependencies, dependency overrides and middleware are the same as without the index.
A request the index does not settle (an unknown path, a method the route does not
allow, a redirect to add or remove a trailing slash) goes on to FastAPI's own
search, which answers it exactly as before.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send

_SELECTED = "app.selected_route"
"""The scope key that carries the route `RouteIndex.matches` found to `handle`."""


@dataclass(frozen=True, slots=True)
class Inclusion:
    """One `include_router` call: the router, its prefix and its other options."""

    router: APIRouter
    prefix: str
    options: dict[str, Any] = field(default_factory=dict)


class ApiRouter(APIRouter):
    """An `APIRouter` that remembers the routers it includes, for `include_routers`.

    It takes no options of its own (prefix, tags, dependencies): give them to each
    `include_router` call, or to `include_routers` in `app/main.py`.
    """

    def __init__(self) -> None:
        super().__init__()
        self.inclusions: list[tuple[Inclusion, list[BaseRoute]]] = []

    def include_router(
        self, router: APIRouter, *, prefix: str = "", **options: Any
    ) -> None:
        """Include `router` as `APIRouter` does, and remember how."""
        before = len(self.routes)
        super().include_router(router, prefix=prefix, **options)
        added = self.routes[before:]
        self.inclusions.append((Inclusion(router, prefix, options), added))


def include_routers(
    application: FastAPI,
    api_router: ApiRouter,
    *,
    prefix: str,
) -> dict[int, str]:
    """Include each router of `api_router` in `application`, under `prefix`.

    The same as `application.include_router(api_router, prefix=...)` but one level
    flatter; routes added to `api_router` directly are included too,
    in their place. Returns the path prefix of each route added to the application
    (by `id`), for `RouteIndex`.
    """
    included = {id(route) for _, added in api_router.inclusions for route in added}
    first_of = {
        id(added[0]): inclusion for inclusion, added in api_router.inclusions if added
    }
    prefixes: dict[int, str] = {}
    direct: list[BaseRoute] = []
    for route in api_router.routes:
        if id(route) not in included:
            direct.append(route)
            continue
        inclusion = first_of.get(id(route))
        if inclusion is None:
            continue
        _include_directly(application, direct, prefix)
        direct = []
        before = len(application.router.routes)
        application.include_router(
            inclusion.router, prefix=prefix + inclusion.prefix, **inclusion.options
        )
        if _starts_every_path(inclusion):
            for added in application.router.routes[before:]:
                prefixes[id(added)] = prefix + inclusion.prefix
    _include_directly(application, direct, prefix)
    return prefixes


def operation_id(route: APIRoute) -> str:
    """A route's OpenAPI operation id: its first tag, then its name (`invoices_list`).

    Client generators make method and model names of these, so they are short and
    change only when a route's tag or name does (FastAPI's default also spells the
    path and method: `list_invoices_api_v1_invoices__get`).
    """
    tag = str(route.tags[0]).replace("-", "_") if route.tags else ""
    return f"{tag}_{route.name}" if tag else route.name


def _starts_every_path(inclusion: Inclusion) -> bool:
    """Whether each path of the inclusion is its prefix, or the prefix and `/...`."""
    paths = (getattr(route, "path", "") for route in inclusion.router.routes)
    return all(isinstance(path, str) and path[:1] in ("", "/") for path in paths)


def _include_directly(
    application: FastAPI, routes: list[BaseRoute], prefix: str
) -> None:
    """Include routes that were added to `api_router` itself, not through a router."""
    if routes:
        router = APIRouter()
        router.routes.extend(routes)
        application.include_router(router, prefix=prefix)


def add_route_index(application: FastAPI, prefixes: dict[int, str]) -> None:
    """Put a `RouteIndex` of the application's routes before them all.

    Call it once every route is added: a route added later is still found, by
    FastAPI's own search, unless it would shadow an earlier route.
    """
    routes = application.router.routes
    routes.insert(0, RouteIndex(routes, prefixes))


class RouteIndex(BaseRoute):
    """The application's first route: it finds a request's route by its path prefix.

    Each route the application has when the index is built is filed under the
    literal start of its path, cut at a `/` (`/api/v1/invoices` for the routes of
    the invoices router, `/health` for the health check); a route whose path starts
    with a parameter is filed under `""`, which every path starts with. A request is
    matched against the routes filed under each of its path's prefixes, so the
    work is the same for the first resource and the hundredth.
    """

    def __init__(self, routes: Sequence[BaseRoute], prefixes: dict[int, str]) -> None:
        self._filed: dict[str, list[tuple[int, BaseRoute]]] = {}
        for position, route in enumerate(routes):
            key = prefixes.get(id(route), _literal_prefix(route))
            self._filed.setdefault(key, []).append((position, route))

    def _candidates(self, path: str) -> list[BaseRoute]:
        """The routes that could match `path`, in the application's order."""
        found: list[tuple[int, BaseRoute]] = []
        start = 0
        while (slash := path.find("/", start)) != -1:
            found += self._filed.get(path[:slash], ())
            start = slash + 1
        found += self._filed.get(path, ())
        found.sort(key=lambda item: item[0])
        return [route for _, route in found]

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """A full match of the first candidate that fully matches, else none."""
        if scope["type"] != "http":
            return Match.NONE, {}
        for route in self._candidates(_route_path(scope)):
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                return Match.FULL, {**child_scope, _SELECTED: route}
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Hand the request to the route that `matches` found."""
        route: BaseRoute = scope.pop(_SELECTED)
        await route.handle(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        """The index names no route of its own: the routes it files answer."""
        raise NoMatchFound(name, path_params)


def _literal_prefix(route: BaseRoute) -> str:
    """The start of the paths `route` can match, cut at a `/`; `""` if unknown."""
    path = getattr(route, "path", None)
    if not isinstance(path, str) or not path.startswith("/"):
        return ""
    literal = path.partition("{")[0]
    if literal == path:
        return path  # no parameter: only this path, or below it for a mount
    return literal[: literal.rfind("/")]


def _route_path(scope: Scope) -> str:
    """The request's path within the application, as Starlette's routes see it."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if root_path and path.startswith(root_path):
        rest = path[len(root_path) :]
        if rest == "" or rest.startswith("/"):
            return rest
    return path
