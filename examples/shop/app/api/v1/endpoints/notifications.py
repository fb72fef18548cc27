"""Endpoints of notifications, scoped to the caller's current project."""

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
from app.schemas.notification import (
    NotificationCreate,
    NotificationListParams,
    NotificationResponse,
    NotificationUpdate,
)
from app.services.notification_service import NotificationNotFound, NotificationService

router = APIRouter()


@router.get(
    "/",
    name="list",
    summary="List notifications",
    response_model=list[NotificationResponse],
    responses={
        **NEXT_PAGE,
        **error_responses(NotAuthenticated, NoCurrentProject, InvalidCursor),
    },
)
async def list_notifications(
    params: Annotated[NotificationListParams, Query()],
    request: Request,
    scope: ReaderScope,
    db: ConnectionDep,
) -> Response:
    """List notifications of the current project, a page at a time.

    The next page, if any, is in the `Link` header (`rel="next"`).
    """
    page = await NotificationService(db, scope).list_page(params)
    return json_response(page.items, headers=next_page_link(request, page.next_cursor))


@router.get(
    "/{notification_id}",
    name="get",
    summary="Get a notification",
    response_model=NotificationResponse,
    responses=error_responses(NotAuthenticated, NoCurrentProject, NotificationNotFound),
)
async def get_notification(
    notification_id: uuid.UUID, scope: ReaderScope, db: ConnectionDep
) -> Response:
    """Get a notification of the current project."""
    return json_response(await NotificationService(db, scope).get(notification_id))


@router.post(
    "/",
    name="create",
    summary="Create a notification",
    response_model=NotificationResponse,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(
        NotAuthenticated,
        PermissionDenied,
        NoCurrentProject,
        MissingReference,
        body=True,
    ),
)
async def create_notification(
    data: NotificationCreate, scope: WriterScope, db: ConnectionDep
) -> Response:
    """Create a notification in the current project (members and above)."""
    created = await NotificationService(db, scope).create(data)
    return json_response(created, status_code=status.HTTP_201_CREATED)


@router.put(
    "/{notification_id}",
    name="update",
    summary="Update a notification",
    response_model=NotificationResponse,
    responses=error_responses(
        NotAuthenticated,
        PermissionDenied,
        NoCurrentProject,
        NotificationNotFound,
        MissingReference,
        body=True,
    ),
)
@router.patch(
    "/{notification_id}",
    name="patch",
    summary="Patch a notification",
    response_model=NotificationResponse,
    responses=error_responses(
        NotAuthenticated,
        PermissionDenied,
        NoCurrentProject,
        NotificationNotFound,
        MissingReference,
        body=True,
    ),
)
async def update_notification(
    notification_id: uuid.UUID,
    data: NotificationUpdate,
    scope: WriterScope,
    db: ConnectionDep,
) -> Response:
    """Update a notification: only the fields sent change (members and above)."""
    service = NotificationService(db, scope)
    return json_response(await service.update(notification_id, data))


@router.delete(
    "/{notification_id}",
    name="delete",
    summary="Delete a notification",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(
        NotAuthenticated,
        PermissionDenied,
        NoCurrentProject,
        NotificationNotFound,
        StillReferenced,
    ),
)
async def delete_notification(
    notification_id: uuid.UUID, scope: AdminScope, db: ConnectionDep
) -> None:
    """Delete a notification (admins and owners)."""
    await NotificationService(db, scope).delete(notification_id)
