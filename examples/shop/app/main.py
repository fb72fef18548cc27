"""The FastAPI application."""

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from app.api.v1.api import api_router
from app.core.config import settings
from app.core.db import engine
from app.core.errors import register_exception_handlers
from app.core.limits import RequestLimits, ResponseHeaders
from app.core.routing import add_route_index, include_routers, operation_id
from app.core.security import dummy_hash


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    """Settle the heap at start-up; release the database connections at shutdown.

    What exists once the app is built (models, schemas, routes) lives as long as
    the process: `gc.freeze()` takes it out of the garbage collector's sight, so
    that full collections stay short and do not stall requests (p99 latency). The
    dummy password hash is made first, so that the first login of an unknown user
    takes as long as any other.
    """
    dummy_hash()
    gc.collect()
    gc.freeze()
    yield
    await engine.dispose()


_BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")


def _exact_integer_bounds(node: Any) -> None:
    """Write the bounds of integer schemas as integers, in place.

    FastAPI's OpenAPI models hold bounds as floats: 2**63 would be written
    9.223372036854776e+18, which a client may read as another number.
    """
    if isinstance(node, dict):
        if node.get("type") == "integer":
            for key in _BOUNDS:
                if isinstance(node.get(key), float) and node[key].is_integer():
                    node[key] = int(node[key])
        for child in node.values():
            _exact_integer_bounds(child)
    elif isinstance(node, list):
        for child in node:
            _exact_integer_bounds(child)


def _write_integers_exactly(application: FastAPI) -> None:
    """Make `application.openapi` write the bounds of integers as integers."""
    build = application.openapi

    def openapi() -> dict[str, Any]:
        """The OpenAPI document, built on the first call as FastAPI builds it."""
        fresh = application.openapi_schema is None
        document = build()
        if fresh:
            _exact_integer_bounds(document)
        return document

    application.openapi = openapi  # type: ignore[method-assign]


def create_app() -> FastAPI:
    """Build the application: routers, error handlers and the health check.

    Each resource's router is included directly, behind a `RouteIndex`: finding a
    request's route costs the same however many resources there are.

    Elsewhere than in production, `/docs` (Swagger UI) and `/redoc` serve their
    scripts and styles from the `fastapi-offline` package, under `/docs/assets`, so
    they work on a machine without internet access. In production the API describes
    itself nowhere: no Swagger UI, no ReDoc and no OpenAPI document. A weak
    `SECRET_KEY` outside a local environment stops it here (`InsecureSettings`),
    before it can sign a token.
    """
    settings.ensure_safe_to_serve()
    described = {
        "title": "Shop",
        "version": "0.1.0",
        "lifespan": lifespan,
        "generate_unique_id_function": operation_id,
    }
    if settings.environment == "production":
        application = FastAPI(
            **described, docs_url=None, redoc_url=None, openapi_url=None
        )
    else:
        application = FastAPIOffline(**described, static_url="/docs/assets")
    register_exception_handlers(application)
    application.add_middleware(RequestLimits)
    application.add_middleware(ResponseHeaders)
    prefixes = include_routers(application, api_router, prefix="/api/v1")

    @application.get("/health", tags=["health"], name="check", summary="Check health")
    async def health() -> dict[str, str]:
        """Liveness probe; does not touch the database."""
        return {"status": "ok"}

    add_route_index(application, prefixes)
    _write_integers_exactly(application)
    return application


app = create_app()
