"""Dependencies of the endpoints, with `Annotated` aliases that read like prose.

`get_db` and `get_current_user` keep the names and import path that existing code
uses: `from app.api.deps import get_db, get_current_user`.
"""

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import Identity, authenticate, get_current_user
from app.core.db import get_db
from app.core.errors import NoCurrentProject, PermissionDenied
from app.core.tenancy import ProjectScope, activate
from app.models.membership import Role
from app.models.user import User

__all__ = [
    "AdminScope",
    "CurrentUser",
    "ReaderScope",
    "SessionDep",
    "WriterScope",
    "get_current_user",
    "get_db",
    "get_project_scope",
    "require_role",
]

SessionDep = Annotated[AsyncSession, Depends(get_db, scope="function")]
CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_project_scope(
    identity: Annotated[Identity, Depends(authenticate)], db: SessionDep
) -> ProjectScope:
    """The caller's current project and role, checked against their membership.

    A user removed from the project loses access on their next request (404, as
    for a project that does not exist). The
    project is put in context for the ORM guard and for row-level security.
    """
    membership = identity.membership
    if membership is None:  # no current project, or removed from it: looks missing
        raise NoCurrentProject()
    await activate(db, membership.project_id)
    return ProjectScope(
        project_id=membership.project_id,
        user_id=membership.user_id,
        role=membership.role,
    )


def require_role(role: Role) -> Callable[..., Awaitable[ProjectScope]]:
    """A dependency that lets through callers with at least `role`, else 403."""

    async def check_role(
        scope: Annotated[ProjectScope, Depends(get_project_scope)],
    ) -> ProjectScope:
        if not scope.role.allows(role):
            raise PermissionDenied(f"This action needs the {role} role or higher")
        return scope

    return check_role


ReaderScope = Annotated[ProjectScope, Depends(require_role(Role.VIEWER))]
WriterScope = Annotated[ProjectScope, Depends(require_role(Role.MEMBER))]
AdminScope = Annotated[ProjectScope, Depends(require_role(Role.ADMIN))]
