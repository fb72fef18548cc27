"""SQLAlchemy models. Every model is imported here so that Alembic sees it."""

from app.models.asset import Asset
from app.models.base import Base, ProjectScoped
from app.models.customer import Customer
from app.models.invoice import Invoice
from app.models.membership import Membership, Role
from app.models.notification import Notification
from app.models.project import Project
from app.models.refresh_token import RefreshToken
from app.models.user import User

__all__ = [
    "Asset",
    "Base",
    "Customer",
    "Invoice",
    "Membership",
    "Notification",
    "Project",
    "ProjectScoped",
    "RefreshToken",
    "Role",
    "User",
]
