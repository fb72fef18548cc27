"""Authentication: from a bearer token to the current user and their membership."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import get_db
from app.core.errors import NotAuthenticated
from app.core.security import InvalidToken, decode_token
from app.models.membership import Membership
from app.models.user import User

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


@dataclass(frozen=True, slots=True)
class Identity:
    """The authenticated user and their membership in their current project, if any."""

    user: User
    membership: Membership | None


async def authenticate(
    token: Annotated[str | None, Depends(oauth2_scheme)],
    db: Annotated[AsyncSession, Depends(get_db, scope="function")],
) -> Identity:
    """Check the bearer token, then load the user and membership in one query.

    A token stops working when the user logs out (its version changes) or is
    deactivated.
    """
    if not token:
        raise NotAuthenticated("Not authenticated")
    try:
        claims = decode_token(token, "access")
    except InvalidToken as error:
        raise NotAuthenticated() from error
    statement = (
        select(User, Membership)
        .outerjoin(
            Membership,
            and_(
                Membership.user_id == User.id,
                Membership.project_id == User.current_project_id,
            ),
        )
        .where(User.id == claims.user_id)
    )
    row = (await db.execute(statement)).first()
    if row is None:
        raise NotAuthenticated()
    user, membership = row
    if not user.is_active or user.token_version != claims.version:
        raise NotAuthenticated()
    return Identity(user, membership)


async def get_current_user(
    identity: Annotated[Identity, Depends(authenticate)],
) -> User:
    """The user whose valid access token came with the request, or 401."""
    return identity.user
