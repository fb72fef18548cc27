"""The FastAPI application."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.api.v1.api import api_router
from app.core.config import settings
from app.core.db import engine
from app.core.errors import (
    MalformedRequest,
    PayloadTooLarge,
    error_responses,
    register_exception_handlers,
)
from app.core.limits import RequestLimits


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    """Release the database connections when the server stops."""
    yield
    await engine.dispose()


def create_app() -> FastAPI:
    """Build the application: routers, error handlers and the health check."""
    application = FastAPI(
        title="Shop",
        version="0.1.0",
        lifespan=lifespan,
        docs_url="/docs" if settings.environment != "production" else None,
    )
    register_exception_handlers(application)
    application.add_middleware(RequestLimits)
    application.include_router(
        api_router,
        prefix="/api/v1",
        responses=error_responses(MalformedRequest, PayloadTooLarge),
    )

    @application.get("/health", tags=["health"])
    async def health() -> dict[str, str]:
        """Liveness probe; does not touch the database."""
        return {"status": "ok"}

    return application


app = create_app()
