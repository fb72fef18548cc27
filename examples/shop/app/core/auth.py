"""Authentication: from a bearer token to the current user."""

from typing import Annotated

from fastapi import Depends
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import get_db
from app.core.errors import NotAuthenticated
from app.core.security import InvalidToken, decode_token
from app.models.user import User

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


async def get_current_user(
    token: Annotated[str | None, Depends(oauth2_scheme)],
    db: Annotated[AsyncSession, Depends(get_db, scope="function")],
) -> User:
    """The user whose valid access token came with the request, or 401.

    A token stops working when the user logs out (its version changes) or is
    deactivated.
    """
    if not token:
        raise NotAuthenticated("Not authenticated")
    try:
        claims = decode_token(token, "access")
    except InvalidToken as error:
        raise NotAuthenticated() from error
    user = await db.get(User, claims.user_id)
    if user is None or not user.is_active or user.token_version != claims.version:
        raise NotAuthenticated()
    return user
