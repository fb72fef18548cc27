"""Endpoints of assets, scoped to the caller's current project."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from app.api.deps import AdminScope, ReaderScope, SessionDep, WriterScope
from app.core.errors import (
    Conflict,
    NoCurrentProject,
    NotAuthenticated,
    PermissionDenied,
    error_responses,
)
from app.models.asset import Asset
from app.schemas.asset import AssetCreate, AssetListParams, AssetResponse, AssetUpdate
from app.services.asset_service import AssetNotFound, AssetService

router = APIRouter(
    responses=error_responses(NotAuthenticated, PermissionDenied, NoCurrentProject)
)


@router.get("/", response_model=list[AssetResponse])
async def list_assets(
    params: Annotated[AssetListParams, Query()],
    request: Request,
    response: Response,
    scope: ReaderScope,
    db: SessionDep,
) -> list[Asset]:
    """List assets of the current project, a page at a time.

    The next page, if any, is in the `Link` header (`rel="next"`).
    """
    page = await AssetService(db, scope).list_page(params)
    if page.next_cursor is not None:
        next_url = request.url.include_query_params(cursor=page.next_cursor)
        response.headers["Link"] = f'<{next_url}>; rel="next"'
    return list(page.items)


@router.get(
    "/{asset_id}",
    response_model=AssetResponse,
    responses=error_responses(AssetNotFound),
)
async def get_asset(asset_id: uuid.UUID, scope: ReaderScope, db: SessionDep) -> Asset:
    """Get a asset of the current project."""
    return await AssetService(db, scope).get(asset_id)


@router.post(
    "/",
    response_model=AssetResponse,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(Conflict),
)
async def create_asset(data: AssetCreate, scope: WriterScope, db: SessionDep) -> Asset:
    """Create a asset in the current project (members and above)."""
    return await AssetService(db, scope).create(data)


@router.put(
    "/{asset_id}",
    response_model=AssetResponse,
    responses=error_responses(AssetNotFound, Conflict),
)
@router.patch(
    "/{asset_id}",
    response_model=AssetResponse,
    responses=error_responses(AssetNotFound, Conflict),
)
async def update_asset(
    asset_id: uuid.UUID,
    data: AssetUpdate,
    scope: WriterScope,
    db: SessionDep,
) -> Asset:
    """Update a asset: only the fields sent change (members and above)."""
    return await AssetService(db, scope).update(asset_id, data)


@router.delete(
    "/{asset_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(AssetNotFound, Conflict),
)
async def delete_asset(asset_id: uuid.UUID, scope: AdminScope, db: SessionDep) -> None:
    """Delete a asset (admins and owners)."""
    await AssetService(db, scope).delete(asset_id)
