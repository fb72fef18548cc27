"""Business logic of notifications."""

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import InvalidReference, NotFound
from app.core.tenancy import ProjectScope
from app.models.notification import Notification
from app.repositories.base import Page, SortOrder
from app.repositories.notification_repo import NotificationRepository
from app.repositories.tenant_repo import TenantRepository
from app.schemas.notification import (
    NotificationCreate,
    NotificationListParams,
    NotificationUpdate,
)


class NotificationNotFound(NotFound):
    """No such notification in the current project."""

    default_detail = "Notification not found"


class NotificationService:
    """Notifications of the caller's current project."""

    def __init__(self, db: AsyncSession, scope: ProjectScope) -> None:
        self.scope = scope
        self.repository = NotificationRepository(db, scope.project_id)

        self.tenants = TenantRepository(db)

    async def list_page(self, params: NotificationListParams) -> Page[Notification]:
        """One page of notifications, filtered and sorted."""
        return await self.repository.page(
            limit=params.limit,
            sort=SortOrder.parse(params.sort),
            cursor=params.cursor,
            filters=params.filters(),
        )

    async def get(self, notification_id: uuid.UUID) -> Notification:
        """The notification with this id, or 404."""
        notification = await self.repository.get(notification_id)
        if notification is None:
            raise NotificationNotFound()
        return notification

    async def create(self, data: NotificationCreate) -> Notification:
        """Create a notification in the current project."""
        values = data.model_dump()

        await self._check_references(values)

        return await self.repository.create(values)

    async def update(
        self, notification_id: uuid.UUID, data: NotificationUpdate
    ) -> Notification:
        """Apply the fields sent to a notification."""
        notification = await self.get(notification_id)
        values = data.model_dump(exclude_unset=True)

        await self._check_references(values)

        return await self.repository.update(notification, values)

    async def delete(self, notification_id: uuid.UUID) -> None:
        """Delete a notification."""
        await self.repository.delete(await self.get(notification_id))

    async def _check_references(self, values: dict[str, Any]) -> None:
        """Refuse references to anything outside the current project."""

        user_id = values.get("user_id")
        if user_id is not None and not await self.tenants.membership(
            self.scope.project_id, user_id
        ):
            raise InvalidReference("user_id", "member")
