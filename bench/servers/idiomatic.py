"""The `idiomatic` reference server: FastAPI and the SQLAlchemy async ORM, done plainly.

What a careful developer writes without special effort for speed: `Annotated`
dependencies, one session and transaction per request, `session.get` for the user
and for the membership of the user's current project, `set_config('app.project_id',
..., true)` for row-level security, a `select()` of the page, and a `response_model`.

Run with `uvicorn idiomatic:app --app-dir bench/servers`. Environment: DATABASE_URL,
SECRET_KEY, JWT_AUDIENCE, DATABASE_POOL_SIZE (as for the generated backend).
"""

import os
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Annotated

import jwt
from fastapi import Depends, FastAPI, HTTPException, Query
from fastapi.security import OAuth2PasswordBearer
from pydantic import BaseModel, ConfigDict
from sqlalchemy import String, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

DATABASE_URL = os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+asyncpg://")
SECRET_KEY = os.environ["SECRET_KEY"]
AUDIENCE = os.environ["JWT_AUDIENCE"]
POOL_SIZE = int(os.environ.get("DATABASE_POOL_SIZE", "20"))

engine = create_async_engine(DATABASE_URL, pool_size=POOL_SIZE)
SessionLocal = async_sessionmaker(engine, expire_on_commit=False)
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token")


class Base(DeclarativeBase):
    """Declarative base of the few tables this server reads."""


class User(Base):
    """The columns of `users` that authentication reads."""

    __tablename__ = "users"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    is_active: Mapped[bool]
    current_project_id: Mapped[uuid.UUID | None]
    token_version: Mapped[int]


class Membership(Base):
    """A user's role in a project."""

    __tablename__ = "memberships"
    project_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    role: Mapped[str] = mapped_column(String(16))


class Asset(Base):
    """A row of `assets`."""

    __tablename__ = "assets"
    project_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    serial: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(7))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AssetResponse(BaseModel):
    """An asset as the API returns it."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    project_id: uuid.UUID
    name: str
    serial: str
    status: str
    created_at: datetime
    updated_at: datetime


async def get_db() -> AsyncIterator[AsyncSession]:
    """A session whose transaction commits when the request succeeds."""
    async with SessionLocal() as session, session.begin():
        yield session


# scope="function": commit before the response is sent, so that a failed commit is an
# error for the client (as in the generated app), not a log line after a 200.
SessionDep = Annotated[AsyncSession, Depends(get_db, scope="function")]


async def get_current_user(token: Annotated[str, Depends(oauth2_scheme)], db: SessionDep) -> User:
    """The active user of a valid access token whose version is current, or 401."""
    try:
        claims = jwt.decode(
            token,
            SECRET_KEY,
            algorithms=["HS256"],
            audience=AUDIENCE,
            options={"require": ["exp", "iat", "sub", "aud", "jti", "ver"]},
        )
        user = await db.get(User, uuid.UUID(claims["sub"]))
    except (jwt.InvalidTokenError, ValueError) as error:
        raise HTTPException(401, "Could not validate credentials") from error
    if user is None or not user.is_active or user.token_version != claims["ver"]:
        raise HTTPException(401, "Could not validate credentials")
    return user


async def get_membership(
    user: Annotated[User, Depends(get_current_user)], db: SessionDep
) -> Membership:
    """The membership of the user's current project; sets `app.project_id` for RLS."""
    membership = (
        await db.get(Membership, (user.current_project_id, user.id))
        if user.current_project_id
        else None
    )
    if membership is None:
        raise HTTPException(404, "No current project")
    await db.execute(select(func.set_config("app.project_id", str(membership.project_id), True)))
    return membership


ScopeDep = Annotated[Membership, Depends(get_membership)]
app = FastAPI()


@app.get("/health")
async def health() -> dict[str, str]:
    """Liveness probe; does not touch the database."""
    return {"status": "ok"}


@app.get("/api/v1/assets/", response_model=list[AssetResponse])
async def list_assets(
    scope: ScopeDep, db: SessionDep, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> Sequence[Asset]:
    """The first `limit` assets of the current project, by id."""
    statement = (
        select(Asset).where(Asset.project_id == scope.project_id).order_by(Asset.id).limit(limit)
    )
    return (await db.scalars(statement)).all()


@app.get("/api/v1/assets/{asset_id}", response_model=AssetResponse)
async def get_asset(asset_id: uuid.UUID, scope: ScopeDep, db: SessionDep) -> Asset:
    """One asset of the current project, or 404."""
    asset = await db.get(Asset, (scope.project_id, asset_id))
    if asset is None:
        raise HTTPException(404, "Asset not found")
    return asset
