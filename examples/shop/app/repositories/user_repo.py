"""Database access for users and their refresh tokens."""

import uuid
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.refresh_token import RefreshToken
from app.models.user import User


class UserRepository:
    """Users are global: they are not scoped to a project."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: uuid.UUID, *, lock: bool = False) -> User | None:
        """The user with this id, or None.

        With `lock`, the user's row stays locked until the transaction ends (FOR NO
        KEY UPDATE: other changes of the user wait, while rows that refer to it, such
        as a new refresh token, can still be inserted).
        """
        return await self.session.get(
            User, user_id, with_for_update={"key_share": True} if lock else None
        )

    async def email_of(self, user_id: uuid.UUID) -> str:
        """The e-mail of an existing user."""
        email = await self.session.scalar(select(User.email).where(User.id == user_id))
        return str(email)

    async def get_by_email(self, email: str) -> User | None:
        """The user with this e-mail (compared lower-cased), or None."""
        return await self.session.scalar(
            select(User).where(User.email == email.lower())
        )

    async def create(self, email: str, hashed_password: str) -> User | None:
        """Insert a user; None if the e-mail is taken (its unique index decides)."""
        user = User(email=email.lower(), hashed_password=hashed_password)
        self.session.add(user)
        try:
            await self.session.flush()
        except IntegrityError:
            return None
        return user

    async def add_refresh_token(
        self,
        token_id: uuid.UUID,
        user_id: uuid.UUID,
        family_id: uuid.UUID,
        expires_at: datetime,
    ) -> None:
        """Record an issued refresh token."""
        self.session.add(
            RefreshToken(
                id=token_id, user_id=user_id, family_id=family_id, expires_at=expires_at
            )
        )
        await self.session.flush()

    async def get_refresh_token(self, token_id: uuid.UUID) -> RefreshToken | None:
        """The refresh token with this id, or None."""
        return await self.session.get(RefreshToken, token_id)

    async def claim_refresh_token(self, token_id: uuid.UUID) -> uuid.UUID | None:
        """Mark a usable refresh token used, atomically; return its family, or None.

        The row is updated only if it is neither used nor revoked: of two requests
        presenting the same token at once, the database lets exactly one claim it.
        """
        return await self.session.scalar(
            update(RefreshToken)
            .where(
                RefreshToken.id == token_id,
                RefreshToken.used_at.is_(None),
                RefreshToken.revoked.is_(False),
            )
            .values(used_at=datetime.now(UTC))
            .returning(RefreshToken.family_id)
        )

    async def bump_token_version(self, user_id: uuid.UUID) -> None:
        """End every token of a user: their version no longer matches."""
        await self.session.execute(
            update(User)
            .where(User.id == user_id)
            .values(token_version=User.token_version + 1)
        )

    async def revoke_family(self, family_id: uuid.UUID) -> None:
        """Revoke every refresh token rotated from the same login."""
        await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == family_id)
            .values(revoked=True)
        )

    async def revoke_all(self, user_id: uuid.UUID) -> None:
        """Revoke every refresh token of a user."""
        await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.user_id == user_id)
            .values(revoked=True)
        )
