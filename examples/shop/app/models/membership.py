"""Memberships: which user belongs to which project, with which role."""

import enum
import uuid

from sqlalchemy import Enum, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, TimestampMixin, enum_values


class Role(enum.StrEnum):
    """Roles in a project, from most to least powerful: owner > admin > member > viewer."""

    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"
    VIEWER = "viewer"

    @property
    def rank(self) -> int:
        """A number that grows with the role's power."""
        return _RANKS[self]

    def allows(self, required: "Role") -> bool:
        """Whether this role has at least the power of `required`."""
        return self.rank >= required.rank


_RANKS = {Role.VIEWER: 0, Role.MEMBER: 1, Role.ADMIN: 2, Role.OWNER: 3}


class Membership(TimestampMixin, Base):
    """A user's role in a project. The key `(project_id, user_id)` leads by project."""

    __tablename__ = "memberships"

    project_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[Role] = mapped_column(
        Enum(
            Role,
            name="role",
            native_enum=False,
            create_constraint=True,
            length=16,
            values_callable=enum_values,
        )
    )
