"""Database access for notifications.

Queries of your own go in this class: build them once with `scoped_query` and run
them with `self.fetch` (see `app/repositories/base.py` and the README).
"""

from app.models.notification import Notification
from app.repositories.base import ProjectRepository


class NotificationRepository(ProjectRepository):
    """The notifications of one project."""

    model = Notification
    unique_fields = ()
    noun = "notification"
    a_noun = "a notification"
