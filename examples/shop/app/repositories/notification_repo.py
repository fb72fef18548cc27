"""Database access for notifications."""

from app.models.notification import Notification
from app.repositories.base import ProjectRepository


class NotificationRepository(ProjectRepository):
    """The notifications of one project."""

    model = Notification
    unique_fields = ()
