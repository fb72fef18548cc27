"""Projects and memberships: who may see, change and manage which project."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Conflict, InvalidField, NotFound, PermissionDenied
from app.models.membership import Membership, Role
from app.models.project import Project
from app.models.user import User
from app.repositories.tenant_repo import ProjectGone, TenantRepository
from app.repositories.user_repo import UserRepository
from app.schemas.project import (
    MemberCreate,
    MemberResponse,
    MemberUpdate,
    ProjectCreate,
    ProjectResponse,
    ProjectUpdate,
)


class ProjectNotFound(NotFound):
    """No such project, or the caller is not a member: the two look the same."""

    default_detail = "Project not found"
    code = "project_not_found"


class MemberNotFound(NotFound):
    """No such member in this project."""

    default_detail = "Member not found"
    code = "member_not_found"


class UnknownUser(InvalidField):
    """The e-mail of a member to add is not an active user's (a body error: 422)."""

    def __init__(self) -> None:
        super().__init__("email", "no active user with this email", "unknown_user")


class AlreadyMember(Conflict):
    """The user is already a member of the project."""

    default_detail = "This user is already a member of the project"
    code = "already_member"


class LastOwner(Conflict):
    """A project must keep at least one owner."""

    default_detail = "A project must keep at least one owner"
    code = "last_owner"


def _project_response(project: Project, role: Role) -> ProjectResponse:
    return ProjectResponse(
        id=project.id,
        name=project.name,
        role=role,
        created_at=project.created_at,
        updated_at=project.updated_at,
    )


class ProjectService:
    """The projects of one user, and their members."""

    def __init__(self, session: AsyncSession, user: User) -> None:
        self.user = user
        self.tenants = TenantRepository(session)
        self.users = UserRepository(session)

    async def all(self) -> list[ProjectResponse]:
        """The user's projects."""
        return [
            _project_response(project, role)
            for project, role in await self.tenants.projects_of(self.user.id)
        ]

    async def create(self, data: ProjectCreate) -> ProjectResponse:
        """Create a project owned by the user."""
        project = await self.tenants.create_project(data.name, owner_id=self.user.id)
        return _project_response(project, Role.OWNER)

    async def get(self, project_id: uuid.UUID) -> ProjectResponse:
        """One of the user's projects, or 404."""
        project, role = await self._project(project_id)
        return _project_response(project, role)

    async def update(
        self, project_id: uuid.UUID, data: ProjectUpdate
    ) -> ProjectResponse:
        """Rename a project: admins and owners."""
        project, role = await self._project(project_id, Role.ADMIN)
        project.name = data.name
        await self.tenants.session.flush()
        return _project_response(project, role)

    async def delete(self, project_id: uuid.UUID) -> None:
        """Delete a project and all its data: owners only."""
        project, _ = await self._project(project_id, Role.OWNER)
        await self.tenants.delete_project(project)

    async def switch_to(self, project_id: uuid.UUID) -> User:
        """Make one of the user's projects their current one; 404 if not a member."""
        await self._project(project_id)
        if not await self.tenants.set_current_project(self.user, project_id):
            raise ProjectNotFound()  # deleted by a concurrent request meanwhile
        return self.user

    async def list_members(self, project_id: uuid.UUID) -> list[MemberResponse]:
        """The members of one of the user's projects."""
        await self._project(project_id)
        return [
            MemberResponse(
                user_id=membership.user_id,
                email=email,
                role=membership.role,
                created_at=membership.created_at,
            )
            for membership, email in await self.tenants.members(project_id)
        ]

    async def add_member(
        self, project_id: uuid.UUID, data: MemberCreate
    ) -> MemberResponse:
        """Add an existing user by e-mail: admins and owners; only owners grant owner."""
        _, role = await self._project(project_id, Role.ADMIN)
        self._check_can_grant(role, data.role)
        user = await self.users.get_by_email(data.email)
        if user is None or not user.is_active:
            raise UnknownUser()
        if await self.tenants.membership(project_id, user.id) is not None:
            raise AlreadyMember()
        try:
            membership = await self.tenants.add_member(project_id, user.id, data.role)
        except ProjectGone:  # deleted by a concurrent request meanwhile
            raise ProjectNotFound() from None
        if membership is None:  # added by a concurrent request meanwhile
            raise AlreadyMember()
        return MemberResponse(
            user_id=user.id,
            email=user.email,
            role=data.role,
            created_at=membership.created_at,
        )

    async def update_member(
        self, project_id: uuid.UUID, user_id: uuid.UUID, data: MemberUpdate
    ) -> MemberResponse:
        """Change a member's role: admins and owners; only owners touch owners."""
        # Ownership changes run one at a time per project, on current data.
        await self.tenants.lock_memberships(project_id)
        _, role = await self._project(project_id, Role.ADMIN)
        membership = await self._membership(project_id, user_id)
        self._check_can_grant(role, data.role)
        self._check_can_grant(role, membership.role)
        if membership.role == Role.OWNER and data.role != Role.OWNER:
            await self._check_not_last_owner(project_id)
        membership.role = data.role
        await self.tenants.session.flush()
        return MemberResponse(
            user_id=user_id,
            email=await self.users.email_of(user_id),
            role=data.role,
            created_at=membership.created_at,
        )

    async def remove_member(self, project_id: uuid.UUID, user_id: uuid.UUID) -> None:
        """Remove a member: admins and owners; only owners remove owners. Any member
        may leave: remove themselves."""
        # Ownership changes run one at a time per project, on current data.
        await self.tenants.lock_memberships(project_id)
        leaving = user_id == self.user.id
        _, role = await self._project(
            project_id, Role.VIEWER if leaving else Role.ADMIN
        )
        membership = await self._membership(project_id, user_id)
        if not leaving:
            self._check_can_grant(role, membership.role)
        if membership.role == Role.OWNER:
            await self._check_not_last_owner(project_id)
        await self.tenants.remove_member(membership)

    async def _project(
        self, project_id: uuid.UUID, required: Role = Role.VIEWER
    ) -> tuple[Project, Role]:
        found = await self.tenants.project_of(self.user.id, project_id)
        if found is None:
            raise ProjectNotFound()
        project, role = found
        if not role.allows(required):
            raise PermissionDenied(f"This action needs the {required} role or higher")
        return project, role

    async def _membership(
        self, project_id: uuid.UUID, user_id: uuid.UUID
    ) -> Membership:
        membership = await self.tenants.membership(project_id, user_id)
        if membership is None:
            raise MemberNotFound()
        return membership

    @staticmethod
    def _check_can_grant(actor: Role, role: Role) -> None:
        if role == Role.OWNER and actor != Role.OWNER:
            raise PermissionDenied(
                "Only an owner can grant, change or remove the owner role"
            )

    async def _check_not_last_owner(self, project_id: uuid.UUID) -> None:
        """Refuse to take away the last owner (under `lock_memberships`)."""
        if await self.tenants.count_owners(project_id) <= 1:
            raise LastOwner()
