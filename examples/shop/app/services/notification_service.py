"""Business logic of notifications."""

import uuid
from typing import Any

from app.core.errors import InvalidReference, NotFound
from app.core.sql import Connection
from app.core.tenancy import ProjectScope
from app.repositories.base import Page, SortOrder
from app.repositories.notification_repo import NotificationRepository
from app.repositories.tenant_repo import is_member
from app.schemas.notification import (
    NotificationCreate,
    NotificationListParams,
    NotificationResponse,
    NotificationUpdate,
)


class NotificationNotFound(NotFound):
    """No such notification in the current project."""

    default_detail = "Notification not found"
    code = "notification_not_found"


class NotificationService:
    """Notifications of the caller's current project."""

    def __init__(self, db: Connection, scope: ProjectScope) -> None:
        self.db = db
        self.scope = scope
        self.repository = NotificationRepository(db, scope.project_id)

    async def list_page(
        self, params: NotificationListParams
    ) -> Page[NotificationResponse]:
        """One page of notifications, filtered and sorted."""
        page = await self.repository.page(
            limit=params.limit,
            sort=SortOrder.parse(params.sort),
            cursor=params.cursor,
            filters=params.filters(),
        )
        return Page(NotificationResponse.from_rows(page.items), page.next_cursor)

    async def get(self, notification_id: uuid.UUID) -> NotificationResponse:
        """The notification with this id, or 404."""
        row = await self.repository.get(notification_id)
        if row is None:
            raise NotificationNotFound()
        return NotificationResponse.model_validate(row)

    async def create(self, data: NotificationCreate) -> NotificationResponse:
        """Create a notification in the current project."""
        values = data.model_dump()

        await self._check_references(values)

        return NotificationResponse.model_validate(await self.repository.create(values))

    async def update(
        self, notification_id: uuid.UUID, data: NotificationUpdate
    ) -> NotificationResponse:
        """Apply the fields sent to a notification."""
        values = data.model_dump(exclude_unset=True)

        await self._check_references(values)

        row = await self.repository.update(notification_id, values)
        if row is None:
            raise NotificationNotFound()
        return NotificationResponse.model_validate(row)

    async def delete(self, notification_id: uuid.UUID) -> None:
        """Delete a notification."""
        if not await self.repository.delete(notification_id):
            raise NotificationNotFound()

    async def _check_references(self, values: dict[str, Any]) -> None:
        """Refuse references to anything outside the current project."""

        user_id = values.get("user_id")
        if user_id is not None and not await is_member(
            self.db, self.scope.project_id, user_id
        ):
            raise InvalidReference("user_id", "member")
