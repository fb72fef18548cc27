"""Endpoints of assets, scoped to the caller's current project."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from app.api.deps import AdminScope, ConnectionDep, ReaderScope, WriterScope
from app.api.responses import NEXT_PAGE, json_response, next_page_link
from app.core.errors import (
    MissingReference,
    NoCurrentProject,
    NotAuthenticated,
    PermissionDenied,
    StillReferenced,
    error_responses,
)
from app.repositories.base import InvalidCursor
from app.schemas.asset import AssetCreate, AssetListParams, AssetResponse, AssetUpdate
from app.services.asset_service import AssetNotFound, AssetService

router = APIRouter()


@router.get(
    "/",
    name="list",
    summary="List assets",
    response_model=list[AssetResponse],
    responses={
        **NEXT_PAGE,
        **error_responses(NotAuthenticated, NoCurrentProject, InvalidCursor),
    },
)
async def list_assets(
    params: Annotated[AssetListParams, Query()],
    request: Request,
    scope: ReaderScope,
    db: ConnectionDep,
) -> Response:
    """List assets of the current project, a page at a time.

    The next page, if any, is in the `Link` header (`rel="next"`).
    """
    page = await AssetService(db, scope).list_page(params)
    return json_response(page.items, headers=next_page_link(request, page.next_cursor))


@router.get(
    "/{asset_id}",
    name="get",
    summary="Get an asset",
    response_model=AssetResponse,
    responses=error_responses(NotAuthenticated, NoCurrentProject, AssetNotFound),
)
async def get_asset(
    asset_id: uuid.UUID, scope: ReaderScope, db: ConnectionDep
) -> Response:
    """Get an asset of the current project."""
    return json_response(await AssetService(db, scope).get(asset_id))


@router.post(
    "/",
    name="create",
    summary="Create an asset",
    response_model=AssetResponse,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(
        NotAuthenticated,
        PermissionDenied,
        NoCurrentProject,
        MissingReference,
        body=True,
    ),
)
async def create_asset(
    data: AssetCreate, scope: WriterScope, db: ConnectionDep
) -> Response:
    """Create an asset in the current project (members and above)."""
    created = await AssetService(db, scope).create(data)
    return json_response(created, status_code=status.HTTP_201_CREATED)


@router.put(
    "/{asset_id}",
    name="update",
    summary="Update an asset",
    response_model=AssetResponse,
    responses=error_responses(
        NotAuthenticated, PermissionDenied, NoCurrentProject, AssetNotFound, body=True
    ),
)
@router.patch(
    "/{asset_id}",
    name="patch",
    summary="Patch an asset",
    response_model=AssetResponse,
    responses=error_responses(
        NotAuthenticated, PermissionDenied, NoCurrentProject, AssetNotFound, body=True
    ),
)
async def update_asset(
    asset_id: uuid.UUID,
    data: AssetUpdate,
    scope: WriterScope,
    db: ConnectionDep,
) -> Response:
    """Update an asset: only the fields sent change (members and above)."""
    service = AssetService(db, scope)
    return json_response(await service.update(asset_id, data))


@router.delete(
    "/{asset_id}",
    name="delete",
    summary="Delete an asset",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(
        NotAuthenticated,
        PermissionDenied,
        NoCurrentProject,
        AssetNotFound,
        StillReferenced,
    ),
)
async def delete_asset(
    asset_id: uuid.UUID, scope: AdminScope, db: ConnectionDep
) -> None:
    """Delete an asset (admins and owners)."""
    await AssetService(db, scope).delete(asset_id)
