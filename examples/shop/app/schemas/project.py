"""Schemas of projects and their members."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field

from app.models.membership import Role
from app.schemas.auth import Email, ProjectName
from app.schemas.base import InputSchema, OutputSchema


class ProjectCreate(InputSchema):
    """A new project; its creator becomes its owner."""

    name: ProjectName


class ProjectUpdate(InputSchema):
    """Changes to a project."""

    name: ProjectName


class ProjectResponse(OutputSchema):
    """A project, with the caller's role in it."""

    id: uuid.UUID
    name: str
    role: Role
    created_at: datetime
    updated_at: datetime


class MemberCreate(InputSchema):
    """An existing user to add to the project, by e-mail."""

    email: Annotated[
        Email,
        Field(
            description="The e-mail of a registered user",
            json_schema_extra={"x-reference": "a user"},
        ),
    ]
    role: Role = Role.MEMBER


class MemberUpdate(InputSchema):
    """A member's new role."""

    role: Role


class MemberResponse(OutputSchema):
    """A member of a project."""

    user_id: uuid.UUID
    email: str
    role: Role
    created_at: datetime
