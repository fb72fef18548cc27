"""Assets: rows of a project."""

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, ProjectScoped


class Asset(ProjectScoped, Base):
    """A asset; it belongs to one project, like every tenant row."""

    __tablename__ = "assets"

    name: Mapped[str] = mapped_column(String(255))

    description: Mapped[str | None] = mapped_column(Text)
