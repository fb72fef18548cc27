"""The `raw` reference server: Starlette, an asyncpg pool, PyJWT and orjson; no ORM.

It keeps the generated backend's semantics and does the least work it can for them:

- the bearer token is decoded with PyJWT (HS256, audience, required claims);
- one query loads the user, the membership of the user's current project and sets
  `app.project_id` for the transaction (`set_config(..., true)`), so that row-level
  security applies exactly as in the generated app; an unknown or inactive user or a
  stale token version answers 401, a missing membership 404, a too-low role 403;
- then one statement (SELECT, or INSERT/UPDATE/DELETE ... RETURNING), filtered by
  project as well, all in one transaction per request: BEGIN, two statements, COMMIT.

Run with `uvicorn raw:app --app-dir bench/servers`. Environment: DATABASE_URL,
SECRET_KEY, JWT_AUDIENCE, DATABASE_POOL_SIZE (as for the generated backend).
"""

import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

try:
    import orjson

    dumps: Callable[[Any], bytes] = orjson.dumps
    loads: Callable[[bytes], Any] = orjson.loads
except ImportError:  # pragma: no cover - orjson is in the bench extra

    def dumps(value: Any) -> bytes:
        """Serialize to JSON bytes with the standard library."""
        return json.dumps(value, default=str, separators=(",", ":")).encode()

    loads = json.loads


DATABASE_URL = os.environ["DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://")
SECRET_KEY = os.environ["SECRET_KEY"]
AUDIENCE = os.environ["JWT_AUDIENCE"]
POOL_SIZE = int(os.environ.get("DATABASE_POOL_SIZE", "20"))
RANKS = {"viewer": 0, "member": 1, "admin": 2, "owner": 3}
STATUSES = frozenset({"active", "retired"})
COLUMNS = (
    "id::text AS id, project_id::text AS project_id, name, serial, status, created_at, updated_at"
)

AUTH_SQL = """
SELECT u.is_active, u.token_version, m.project_id, m.role,
       set_config('app.project_id', COALESCE(m.project_id::text, ''), true)
FROM users AS u
LEFT JOIN memberships AS m ON m.project_id = u.current_project_id AND m.user_id = u.id
WHERE u.id = $1
"""
LIST_SQL = f"SELECT {COLUMNS} FROM assets WHERE project_id = $1 ORDER BY assets.id LIMIT $2"
LIST_AFTER_SQL = (
    f"SELECT {COLUMNS} FROM assets WHERE project_id = $1 AND assets.id > $3"
    " ORDER BY assets.id LIMIT $2"
)
GET_SQL = f"SELECT {COLUMNS} FROM assets WHERE project_id = $1 AND id = $2"
INSERT_SQL = f"""
INSERT INTO assets (project_id, id, name, serial, status, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, now(), now()) RETURNING {COLUMNS}
"""
UPDATE_SQL = f"""
UPDATE assets SET name = COALESCE($3, name), serial = COALESCE($4, serial),
    status = COALESCE($5, status), updated_at = now()
WHERE project_id = $1 AND id = $2 RETURNING {COLUMNS}
"""
DELETE_SQL = "DELETE FROM assets WHERE project_id = $1 AND id = $2 RETURNING id"


class ApiError(Exception):
    """An error answered as `{"detail": ...}` with a status code."""

    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail


def uuid7() -> uuid.UUID:
    """A time-ordered UUID (version 7), like the generated app's ids."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)
    return uuid.UUID(int=(value & ~(0x3 << 62)) | (0x2 << 62))


def json_response(
    content: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A JSON response serialized with orjson (or json)."""
    return Response(dumps(content), status_code, headers, media_type="application/json")


def user_id_of(request: Request) -> uuid.UUID:
    """Verify the bearer token (signature, algorithm, audience, lifetime); return its user."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, "Not authenticated")
    try:
        claims = jwt.decode(
            token,
            SECRET_KEY,
            algorithms=["HS256"],
            audience=AUDIENCE,
            options={"require": ["exp", "iat", "sub", "aud", "jti", "ver"]},
        )
        request.state.token_version = int(claims["ver"])
        return uuid.UUID(claims["sub"])
    except (jwt.InvalidTokenError, ValueError, TypeError) as error:
        raise ApiError(401, "Could not validate credentials") from error


async def authorize(conn: asyncpg.Connection, request: Request, role: str) -> uuid.UUID:
    """Check user, token version and membership; set `app.project_id`; return the project."""
    row = await conn.fetchrow(AUTH_SQL, user_id_of(request))
    if row is None or not row["is_active"] or row["token_version"] != request.state.token_version:
        raise ApiError(401, "Could not validate credentials")
    if row["project_id"] is None:
        raise ApiError(404, "No current project")
    if RANKS[row["role"]] < RANKS[role]:
        raise ApiError(403, f"This action needs the {role} role or higher")
    project_id: uuid.UUID = row["project_id"]
    return project_id


def path_id(request: Request) -> uuid.UUID:
    """The `{asset_id}` path parameter; a malformed id is a 404 like an unknown one."""
    try:
        return uuid.UUID(request.path_params["asset_id"])
    except ValueError as error:
        raise ApiError(404, "Asset not found") from error


async def body_of(request: Request, *, partial: bool) -> tuple[Any, Any, Any]:
    """Validate a create (all of name/serial) or update (any of them) body."""
    try:
        data = loads(await request.body())
    except ValueError as error:
        raise ApiError(422, "Body is not valid JSON") from error
    if not isinstance(data, dict) or not set(data) <= {"name", "serial", "status"}:
        raise ApiError(422, "Only name, serial and status may be set")
    for field in ("name", "serial"):
        if field not in data:
            if partial:
                continue
            raise ApiError(422, f"{field} is required")
        value = data[field]
        if not isinstance(value, str) or not 1 <= len(value) <= 255 or "\x00" in value:
            raise ApiError(422, f"{field} must be a string of 1 to 255 characters")
    status = data.get("status", None if partial else "active")
    if ("status" in data or not partial) and status not in STATUSES:
        raise ApiError(422, "status must be active or retired")
    return data.get("name"), data.get("serial"), status


async def list_assets(request: Request) -> Response:
    """A page of the current project's assets by id; the next page is in `Link`."""
    try:
        limit = int(request.query_params.get("limit", "50"))
        cursor = request.query_params.get("cursor")
        after = uuid.UUID(cursor) if cursor else None
    except ValueError as error:
        raise ApiError(422, "Invalid limit or cursor") from error
    if not 1 <= limit <= 200:
        raise ApiError(422, "limit must be between 1 and 200")
    pool: asyncpg.Pool = request.app.state.pool
    async with pool.acquire() as conn, conn.transaction():
        project_id = await authorize(conn, request, "viewer")
        if after is None:
            rows = await conn.fetch(LIST_SQL, project_id, limit + 1)
        else:
            rows = await conn.fetch(LIST_AFTER_SQL, project_id, limit + 1, after)
    headers = {}
    if len(rows) > limit:
        rows = rows[:limit]
        next_url = request.url.include_query_params(cursor=rows[-1]["id"])
        headers["Link"] = f'<{next_url}>; rel="next"'
    return json_response([dict(row) for row in rows], headers=headers)


async def get_asset(request: Request) -> Response:
    """One asset of the current project, or 404."""
    asset_id = path_id(request)
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(GET_SQL, await authorize(conn, request, "viewer"), asset_id)
    if row is None:
        raise ApiError(404, "Asset not found")
    return json_response(dict(row))


async def create_asset(request: Request) -> Response:
    """Insert an asset into the current project (members and above); 409 on a taken serial."""
    name, serial, status = await body_of(request, partial=False)
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        project_id = await authorize(conn, request, "member")
        try:
            row = await conn.fetchrow(INSERT_SQL, project_id, uuid7(), name, serial, status)
        except asyncpg.UniqueViolationError as error:
            raise ApiError(409, "An Asset with this serial already exists") from error
    return json_response(dict(row), 201)


async def update_asset(request: Request) -> Response:
    """Change the fields sent (members and above)."""
    asset_id = path_id(request)
    name, serial, status = await body_of(request, partial=True)
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        project_id = await authorize(conn, request, "member")
        try:
            row = await conn.fetchrow(UPDATE_SQL, project_id, asset_id, name, serial, status)
        except asyncpg.UniqueViolationError as error:
            raise ApiError(409, "An Asset with this serial already exists") from error
    if row is None:
        raise ApiError(404, "Asset not found")
    return json_response(dict(row))


async def delete_asset(request: Request) -> Response:
    """Delete an asset (admins and owners)."""
    asset_id = path_id(request)
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        deleted = await conn.fetchval(DELETE_SQL, await authorize(conn, request, "admin"), asset_id)
    if deleted is None:
        raise ApiError(404, "Asset not found")
    return Response(status_code=204)


async def health(_request: Request) -> Response:
    """Liveness probe; does not touch the database."""
    return json_response({"status": "ok"})


async def api_error(_request: Request, error: Exception) -> Response:
    """Answer an `ApiError` as JSON."""
    assert isinstance(error, ApiError)
    return JSONResponse({"detail": error.detail}, error.status_code)


async def keep_session(_conn: asyncpg.Connection) -> None:
    """Reset nothing on release: the app leaves no session state behind.

    `app.project_id` is set with `set_config(..., true)`, local to the transaction,
    which the pool always ends. asyncpg's default reset would send a query
    (`RESET ALL`, `UNLISTEN *`, ...) on every release: one more round trip per request.
    """


@asynccontextmanager
async def lifespan(application: Starlette) -> AsyncIterator[None]:
    """Open the connection pool at start-up and close it at shutdown."""
    application.state.pool = await asyncpg.create_pool(
        DATABASE_URL, min_size=min(4, POOL_SIZE), max_size=POOL_SIZE, reset=keep_session
    )
    yield
    await application.state.pool.close()


app = Starlette(
    routes=[
        Route("/health", health),
        Route("/api/v1/assets/", list_assets, methods=["GET"]),
        Route("/api/v1/assets/", create_asset, methods=["POST"]),
        Route("/api/v1/assets/{asset_id}", get_asset, methods=["GET"]),
        Route("/api/v1/assets/{asset_id}", update_asset, methods=["PATCH"]),
        Route("/api/v1/assets/{asset_id}", delete_asset, methods=["DELETE"]),
    ],
    exception_handlers={ApiError: api_error},
    lifespan=lifespan,
)
