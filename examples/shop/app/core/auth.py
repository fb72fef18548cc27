"""Authentication: from a bearer token to the current user or project scope.

Two ways in, with the same token checks:

- `authorize` answers project-scoped requests with one prebuilt statement that
  loads the user's state and membership and, on PostgreSQL, sets the project for
  row-level security in the same round trip;
- `authenticate` loads the `User` (and membership) as ORM objects, for endpoints
  about the user themselves.
"""

import uuid
from dataclasses import dataclass
from functools import cache
from typing import Annotated

from fastapi import Depends
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import ColumnElement, String, and_, bindparam, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import get_db
from app.core.errors import NoCurrentProject, NotAuthenticated
from app.core.security import InvalidToken, TokenClaims, decode_access_token
from app.core.sql import Connection, Query, Row
from app.core.tenancy import (
    DISTRIBUTED,
    PROJECT_SETTING,
    ProjectScope,
    activate,
    project_setting_statements,
)
from app.models.membership import Membership, Role
from app.models.user import User

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


@dataclass(frozen=True, slots=True)
class Identity:
    """The authenticated user and their membership in their current project, if any."""

    user: User
    membership: Membership | None


def verify_access_token(token: str | None) -> TokenClaims:
    """The claims of a valid access token, or 401."""
    if not token:
        raise NotAuthenticated("Not authenticated")
    try:
        return decode_access_token(token)
    except InvalidToken as error:
        raise NotAuthenticated() from error


def _current_membership() -> ColumnElement[bool]:
    return and_(
        Membership.user_id == User.id,
        Membership.project_id == User.current_project_id,
    )


@cache
def _scope_query(dialect_name: str) -> Query:
    """The user's state and current membership; on PostgreSQL, also set the project."""
    users, memberships = User.__table__, Membership.__table__
    statement = (
        select(
            users.c.is_active,
            users.c.token_version,
            memberships.c.project_id,
            memberships.c.role,
        )
        .select_from(users.outerjoin(memberships, _current_membership()))
        .where(users.c.id == bindparam("user_id"))
    )
    if dialect_name == "postgresql":
        project = func.coalesce(cast(memberships.c.project_id, String), "")
        statement = statement.add_columns(
            func.set_config(PROJECT_SETTING, project, True).label("project_setting")
        )
    return Query(statement)


@cache
def _user_query() -> Query:
    """The user's state and current project (on Citus, where `_scope` needs two queries)."""
    users = User.__table__
    return Query(
        select(
            users.c.is_active, users.c.token_version, users.c.current_project_id
        ).where(users.c.id == bindparam("user_id"))
    )


@cache
def _role_query() -> Query:
    """The user's role in a project: a query routed to the project's shard on Citus."""
    memberships = Membership.__table__
    return Query(
        select(memberships.c.role).where(
            memberships.c.project_id == bindparam("project_id"),
            memberships.c.user_id == bindparam("user_id"),
        )
    )


async def _scope(db: Connection, user_id: uuid.UUID) -> Row | None:
    """The user's state and current membership, with the project set for RLS.

    One query, except on Citus: there, joining users (a reference table) to the
    memberships of their current project would ask every shard, so the user's state
    comes first, then the project is set (`project_setting_statements`), then the
    role, from the one shard that holds the project.
    """
    if not db.distributed:
        return await db.fetch_one(_scope_query(db.dialect.name), {"user_id": user_id})
    user = await db.fetch_one(_user_query(), {"user_id": user_id})
    if user is None:
        return None
    project_id: uuid.UUID | None = user["current_project_id"]
    membership = None
    if project_id is not None:
        for statement in project_setting_statements(project_id):
            await db.run(statement)
        membership = await db.fetch_one(
            _role_query(), {"project_id": project_id, "user_id": user_id}
        )
    if membership is None:
        return {**user, "project_id": None, "role": None}
    return {**user, "project_id": project_id, "role": membership["role"]}


async def authorize(db: Connection, token: str | None) -> ProjectScope:
    """The caller's current project and role, from the token and their membership.

    A token stops working when the user logs out (its version changes) or is
    deactivated; a user removed from the project gets 404, as for a project that
    does not exist. The project is put in context for the ORM guard and, in the
    same statement, for row-level security.
    """
    claims = verify_access_token(token)
    row = await _scope(db, claims.user_id)
    if row is None or not row["is_active"] or row["token_version"] != claims.version:
        raise NotAuthenticated()
    if row["project_id"] is None:
        raise NoCurrentProject()
    project_id: uuid.UUID = row["project_id"]
    activate(project_id)
    return ProjectScope(project_id, claims.user_id, Role(row["role"]))


async def authenticate(
    token: Annotated[str | None, Depends(oauth2_scheme)],
    db: Annotated[AsyncSession, Depends(get_db, scope="function")],
) -> Identity:
    """Check the bearer token, then load the user and membership in one query.

    On Citus, in two (as in `_scope`): the membership is then read from its
    project's shard alone, and the transaction may go on to change the user.
    """
    claims = verify_access_token(token)
    if (await db.connection()).info.get(DISTRIBUTED):
        user = await db.get(User, claims.user_id)
        if user is None:
            raise NotAuthenticated()
        membership = None
        if user.current_project_id is not None:
            membership = await db.get(Membership, (user.current_project_id, user.id))
    else:
        statement = (
            select(User, Membership)
            .outerjoin(Membership, _current_membership())
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
