"""The `seed_literal` reference server: the seed document's template, taken literally.

`async def` endpoints over a synchronous SQLAlchemy `Session` (psycopg 3), with
`db: Session = Depends(get_db)` and `current_user = Depends(get_current_user)` as in
the seed's router template. Every database call blocks the event loop, so requests are
served one at a time whatever the concurrency. For a fair comparison it keeps the
other servers' semantics: a page of 50 rows (the template lists everything), the
membership check, and `set_config('app.project_id', ..., true)` so that row-level
security lets it see the project's rows.

Run with `uvicorn seed_literal:app --app-dir bench/servers`. Environment: DATABASE_URL,
SECRET_KEY, JWT_AUDIENCE, DATABASE_POOL_SIZE (as for the generated backend).
"""

# ruff: noqa: B008  - `Depends(...)` in argument defaults is the template's own style

import os
import uuid
from collections.abc import Iterator
from datetime import datetime

import jwt
from fastapi import Depends, FastAPI, HTTPException
from fastapi.security import OAuth2PasswordBearer
from pydantic import BaseModel, ConfigDict
from sqlalchemy import String, create_engine, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

DATABASE_URL = os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://")
SECRET_KEY = os.environ["SECRET_KEY"]
AUDIENCE = os.environ["JWT_AUDIENCE"]
POOL_SIZE = int(os.environ.get("DATABASE_POOL_SIZE", "20"))

engine = create_engine(DATABASE_URL, pool_size=POOL_SIZE)
SessionLocal = sessionmaker(engine)
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token")
app = FastAPI()


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


def get_db() -> Iterator[Session]:
    """The seed's session dependency: commit at the end, always close."""
    db = SessionLocal()
    try:
        yield db
        db.commit()
    finally:
        db.close()


async def get_current_user(
    token: str = Depends(oauth2_scheme), db: Session = Depends(get_db)
) -> User:
    """The token's user, checked, with the current project set for RLS (blocking calls)."""
    try:
        claims = jwt.decode(
            token,
            SECRET_KEY,
            algorithms=["HS256"],
            audience=AUDIENCE,
            options={"require": ["exp", "iat", "sub", "aud", "jti", "ver"]},
        )
        user = db.get(User, uuid.UUID(claims["sub"]))
    except (jwt.InvalidTokenError, ValueError) as error:
        raise HTTPException(401, "Could not validate credentials") from error
    if user is None or not user.is_active or user.token_version != claims["ver"]:
        raise HTTPException(401, "Could not validate credentials")
    membership = (
        db.get(Membership, (user.current_project_id, user.id)) if user.current_project_id else None
    )
    if membership is None:
        raise HTTPException(404, "No current project")
    db.execute(select(func.set_config("app.project_id", str(membership.project_id), True)))
    return user


@app.get("/health")
async def health() -> dict[str, str]:
    """Liveness probe; does not touch the database."""
    return {"status": "ok"}


@app.get("/api/v1/assets/", response_model=list[AssetResponse])
async def list_assets(
    limit: int = 50,
    db: Session = Depends(get_db),
    current_user: User = Depends(get_current_user),
) -> list[Asset]:
    """List assets for the current project (the template's query, with a page size)."""
    return list(
        db.query(Asset)
        .filter(Asset.project_id == current_user.current_project_id)
        .order_by(Asset.id)
        .limit(min(max(limit, 1), 200))
        .all()
    )


@app.get("/api/v1/assets/{id}", response_model=AssetResponse)
async def get_asset(
    id: uuid.UUID,
    db: Session = Depends(get_db),
    current_user: User = Depends(get_current_user),
) -> Asset:
    """Get a specific asset."""
    asset = (
        db.query(Asset)
        .filter(Asset.id == id, Asset.project_id == current_user.current_project_id)
        .first()
    )
    if not asset:
        raise HTTPException(status_code=404, detail="Asset not found")
    return asset
