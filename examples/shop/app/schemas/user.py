"""Schemas of the current user."""

import uuid
from datetime import datetime

from app.schemas.base import InputSchema, OutputSchema


class UserResponse(OutputSchema):
    """A user as they see themselves."""

    id: uuid.UUID
    email: str
    is_active: bool
    current_project_id: uuid.UUID | None
    created_at: datetime


class CurrentProjectUpdate(InputSchema):
    """The project to work in from now on; the user must be a member."""

    project_id: uuid.UUID
