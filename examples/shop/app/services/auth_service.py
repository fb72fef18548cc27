"""Registration, login, token rotation and logout."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Conflict, NotAuthenticated
from app.core.security import (
    InvalidToken,
    create_token,
    decode_token,
    hash_password,
    verify_password,
)
from app.models.user import User
from app.repositories.tenant_repo import TenantRepository
from app.repositories.user_repo import UserRepository
from app.schemas.auth import RegisterRequest, TokenPair


class RefreshTokenReused(NotAuthenticated):
    """A refresh token was presented twice: its family is revoked, and that stays."""

    default_detail = "Refresh token reuse detected; please log in again"
    code = "refresh_token_reused"
    keeps_writes = True


class DuplicateEmail(Conflict):
    """The e-mail is already registered (checked first, enforced by a unique index)."""

    default_detail = "A user with this email already exists"
    code = "duplicate_email"


class InvalidCredentials(NotAuthenticated):
    """Unknown e-mail or wrong password: the two are not told apart."""

    default_detail = "Incorrect email or password"
    code = "invalid_credentials"


class AuthService:
    """Accounts and tokens."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.users = UserRepository(session)
        self.tenants = TenantRepository(session)

    async def register(self, data: RegisterRequest) -> User:
        """Create a user and a first project they own, set as their current one."""
        if await self.users.get_by_email(data.email) is not None:
            raise DuplicateEmail()
        hashed = await hash_password(data.password)
        user = await self.users.create(data.email, hashed)
        if user is None:  # registered by a concurrent request meanwhile
            raise DuplicateEmail()
        project_name = data.project_name or f"{data.email.split('@')[0]}'s project"
        project = await self.tenants.create_project(project_name, owner_id=user.id)
        user.current_project_id = project.id
        return user

    async def login(self, email: str, password: str) -> TokenPair:
        """Check credentials and issue a token pair; same answer for either mistake."""
        user = await self.users.get_by_email(email)
        hashed = user.hashed_password if user is not None else None
        if (
            not await verify_password(password, hashed)
            or user is None
            or not user.is_active
        ):
            raise InvalidCredentials()
        return await self._issue(user, family_id=uuid.uuid4())

    async def refresh(self, refresh_token: str) -> TokenPair:
        """Exchange a refresh token for a new pair; each token works once.

        The token is claimed with one conditional update, so that of two requests
        racing with the same token exactly one wins. Presenting a token that was
        already used means it was stolen or replayed: its whole family is revoked
        and the user's token version moves on, so that every access token issued
        so far stops working too; the thief and the victim must log in again.

        The user's row is locked first, as logging out locks it first: the changes
        to one user's tokens then wait for each other in one order. Without it, a
        request that lost the claim keeps its lock on the token while another
        revokes the family row by row, and the two deadlock.
        """
        try:
            claims = decode_token(refresh_token, "refresh")
        except InvalidToken as error:
            raise NotAuthenticated("Invalid refresh token") from error
        user = await self.users.get(claims.user_id, lock=True)
        family_id = await self.users.claim_refresh_token(claims.token_id)
        if family_id is None:
            stored = await self.users.get_refresh_token(claims.token_id)
            if stored is None or stored.revoked or stored.used_at is None:
                raise NotAuthenticated("Invalid refresh token")
            await self.users.revoke_family(stored.family_id)
            await self.users.bump_token_version(stored.user_id)
            # The revocation must outlive the error response, which rolls back.
            raise RefreshTokenReused()
        if user is None or not user.is_active or user.token_version != claims.version:
            raise NotAuthenticated("Invalid refresh token")
        return await self._issue(user, family_id=family_id)

    async def logout(self, user: User) -> None:
        """Make every token of the user stop working."""
        await self.users.bump_token_version(user.id)
        await self.users.revoke_all(user.id)

    async def _issue(self, user: User, family_id: uuid.UUID) -> TokenPair:
        access, _ = create_token("access", user.id, user.token_version)
        token_id = uuid.uuid4()
        refresh, expires_at = create_token(
            "refresh",
            user.id,
            user.token_version,
            token_id=token_id,
            family_id=family_id,
        )
        await self.users.add_refresh_token(token_id, user.id, family_id, expires_at)
        return TokenPair(access_token=access, refresh_token=refresh)
