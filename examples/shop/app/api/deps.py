"""Dependencies of the endpoints, with `Annotated` aliases that read like prose.

`get_db` and `get_current_user` keep the names and import path that existing code
uses: `from app.api.deps import get_db, get_current_user`.
"""

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import authorize, get_current_user, oauth2_scheme
from app.core.db import get_connection, get_db
from app.core.errors import PermissionDenied
from app.core.sql import Connection
from app.core.tenancy import ProjectScope
from app.models.membership import Role
from app.models.user import User

__all__ = [
    "AdminScope",
    "ConnectionDep",
    "CurrentUser",
    "ReaderScope",
    "SessionDep",
    "WriterScope",
    "get_current_user",
    "get_db",
    "require_role",
]

ConnectionDep = Annotated[Connection, Depends(get_connection, scope="function")]
SessionDep = Annotated[AsyncSession, Depends(get_db, scope="function")]
CurrentUser = Annotated[User, Depends(get_current_user)]


def require_role(role: Role) -> Callable[..., Awaitable[ProjectScope]]:
    """A dependency: the caller's project scope if their role is at least `role`.

    The token, the user and their membership of their current project are checked
    (`app.core.auth.authorize`); a too-low role gets 403.
    """

    async def check_role(
        token: Annotated[str | None, Depends(oauth2_scheme)], db: ConnectionDep
    ) -> ProjectScope:
        scope = await authorize(db, token)
        if not scope.role.allows(role):
            raise PermissionDenied(f"This action needs the {role} role or higher")
        return scope

    return check_role


ReaderScope = Annotated[ProjectScope, Depends(require_role(Role.VIEWER))]
WriterScope = Annotated[ProjectScope, Depends(require_role(Role.MEMBER))]
AdminScope = Annotated[ProjectScope, Depends(require_role(Role.ADMIN))]
