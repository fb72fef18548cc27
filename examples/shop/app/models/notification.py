"""Notifications: rows of a project."""

import uuid

from sqlalchemy import ForeignKeyConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, ProjectScoped


class Notification(ProjectScoped, Base):
    """A notification; it belongs to one project, like every tenant row."""

    __tablename__ = "notifications"

    __table_args__ = (
        ForeignKeyConstraint(
            ["project_id", "user_id"], ["memberships.project_id", "memberships.user_id"]
        ),
        Index("ix_notifications_project_id_user_id", "project_id", "user_id"),
    )

    title: Mapped[str] = mapped_column(String(255))

    message: Mapped[str | None] = mapped_column(Text)

    read: Mapped[bool] = mapped_column(default=False)

    user_id: Mapped[uuid.UUID]
