"""Projects: the tenants. Every tenant row belongs to one project."""

import uuid

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.ids import uuid7
from app.models.base import Base, TimestampMixin


class Project(TimestampMixin, Base):
    """A tenant: a workspace whose data its members share and nobody else sees."""

    __tablename__ = "projects"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    name: Mapped[str] = mapped_column(String(200))
