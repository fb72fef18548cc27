"""Customers: rows of a project."""

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, ProjectScoped


class Customer(ProjectScoped, Base):
    """A customer; it belongs to one project, like every tenant row."""

    __tablename__ = "customers"

    name: Mapped[str] = mapped_column(String(255))

    email: Mapped[str | None] = mapped_column(String(320))
