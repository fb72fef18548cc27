"""Database access for projects (the tenants) and their memberships."""

import re
import uuid
from collections.abc import Sequence

from sqlalchemy import Row, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import StillReferenced
from app.core.sql import Connection, Query
from app.models.membership import Membership, Role
from app.models.project import Project
from app.models.user import User

_MEMBER = Query(
    select(Membership.user_id).where(
        Membership.project_id == bindparam("project_id"),
        Membership.user_id == bindparam("user_id"),
    )
)


async def is_member(db: Connection, project_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    """Whether the user is a member of the project (a prebuilt query)."""
    row = await db.fetch_one(_MEMBER, {"project_id": project_id, "user_id": user_id})
    return row is not None


_FOREIGN_KEY = re.compile("foreign key constraint", re.IGNORECASE)
"""How PostgreSQL and SQLite name a foreign key's refusal (not a unique key's)."""


class ProjectGone(LookupError):
    """The project (or the user) of a new membership was deleted meanwhile."""


class TenantRepository:
    """Projects and memberships, always read through the caller's membership."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def projects_of(
        self, user_id: uuid.UUID
    ) -> Sequence[Row[tuple[Project, Role]]]:
        """Every project the user belongs to, with their role, oldest first."""
        result = await self.session.execute(
            select(Project, Membership.role)
            .join(Membership, Membership.project_id == Project.id)
            .where(Membership.user_id == user_id)
            .order_by(Project.id)
        )
        return result.all()

    async def project_of(
        self, user_id: uuid.UUID, project_id: uuid.UUID
    ) -> Row[tuple[Project, Role]] | None:
        """The project if the user belongs to it, with their role, else None."""
        result = await self.session.execute(
            select(Project, Membership.role)
            .join(Membership, Membership.project_id == Project.id)
            .where(Membership.user_id == user_id, Project.id == project_id)
        )
        return result.first()

    async def create_project(self, name: str, owner_id: uuid.UUID) -> Project:
        """Insert a project and make `owner_id` its owner."""
        project = Project(name=name)
        self.session.add(project)
        await self.session.flush()
        self.session.add(
            Membership(project_id=project.id, user_id=owner_id, role=Role.OWNER)
        )
        await self.session.flush()
        return project

    async def delete_project(self, project: Project) -> None:
        """Delete a project; its memberships and data go with it.

        The project's row is locked first: a user switching to it meanwhile
        (`set_current_project`) either waits and then no longer finds it, or makes
        it current before the update below clears it again.
        """
        await self.session.execute(
            select(Project.id).where(Project.id == project.id).with_for_update()
        )
        await self.session.execute(
            update(User)
            .where(User.current_project_id == project.id)
            .values(current_project_id=None)
        )
        await self.session.delete(project)
        await self.session.flush()

    async def set_current_project(self, user: User, project_id: uuid.UUID) -> bool:
        """Make a project the user's current one; False if it no longer exists.

        On PostgreSQL the project's row is locked as its foreign key would lock it
        (on Citus the key cannot exist, see the first migration): it cannot be
        deleted until this transaction ends, and one deleted meanwhile is not found.
        """
        found = await self.session.scalar(
            select(Project.id)
            .where(Project.id == project_id)
            .with_for_update(key_share=True)
        )
        if found is None:
            return False
        user.current_project_id = project_id
        try:
            await self.session.flush()
        except IntegrityError:  # SQLite takes no row lock: the key finds it deleted
            return False
        return True

    async def membership(
        self, project_id: uuid.UUID, user_id: uuid.UUID
    ) -> Membership | None:
        """The user's membership in the project, or None."""
        return await self.session.get(
            Membership, (project_id, user_id), populate_existing=True
        )

    async def members(
        self, project_id: uuid.UUID
    ) -> Sequence[Row[tuple[Membership, str]]]:
        """The members of a project with their e-mails, oldest first."""
        result = await self.session.execute(
            select(Membership, User.email)
            .join(User, User.id == Membership.user_id)
            .where(Membership.project_id == project_id)
            .order_by(Membership.created_at, Membership.user_id)
        )
        return result.all()

    async def add_member(
        self, project_id: uuid.UUID, user_id: uuid.UUID, role: Role
    ) -> Membership | None:
        """Insert a membership; None if the user is already a member (the key decides).

        Raises `ProjectGone` if the project or the user was deleted meanwhile (their
        foreign keys decide): that is no duplicate.
        """
        membership = Membership(project_id=project_id, user_id=user_id, role=role)
        self.session.add(membership)
        try:
            await self.session.flush()
        except IntegrityError as error:
            if _FOREIGN_KEY.search(str(error.orig)):
                raise ProjectGone from error
            return None
        return membership

    async def remove_member(self, membership: Membership) -> None:
        """Delete a membership; the user's current project is cleared if it was this one."""
        await self.session.execute(
            update(User)
            .where(
                User.id == membership.user_id,
                User.current_project_id == membership.project_id,
            )
            .values(current_project_id=None)
        )
        await self.session.delete(membership)
        try:
            await self.session.flush()
        except IntegrityError as error:
            raise StillReferenced(
                "This member is still referenced by records of the project; "
                "reassign or delete them first"
            ) from error

    async def lock_memberships(self, project_id: uuid.UUID) -> None:
        """Hold the project's row until the transaction ends.

        Changes to a project's members take this lock first, so they run one after
        the other on current data: two owners demoting each other at once cannot
        both see another owner. PostgreSQL locks the row (`SELECT ... FOR UPDATE`);
        SQLite only begins a transaction at the first write and ignores the clause,
        so there the lock is a write that changes nothing, which takes the
        database's write lock before anything is read.
        """
        if self.session.get_bind().dialect.name == "sqlite":
            await self.session.execute(
                update(Project)
                .where(Project.id == project_id)
                .values(id=Project.id)
                .execution_options(synchronize_session=False)
            )
            return
        await self.session.execute(
            select(Project.id).where(Project.id == project_id).with_for_update()
        )

    async def count_owners(self, project_id: uuid.UUID) -> int:
        """How many owners the project has."""
        count = await self.session.scalar(
            select(func.count())
            .select_from(Membership)
            .where(Membership.project_id == project_id, Membership.role == Role.OWNER)
        )
        return count or 0
