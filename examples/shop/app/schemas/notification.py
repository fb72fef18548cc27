"""Schemas of notifications: what the API accepts and returns."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import StrictBool, StringConstraints
from pydantic.json_schema import SkipJsonSchema

from app.schemas.base import (
    InputSchema,
    ListParams,
    OutputSchema,
    QueryBool,
    RefersTo,
    Text,
    UpdateSchema,
    sort_order,
)


class NotificationBase(InputSchema):
    """Fields a client sets on a notification."""

    title: Annotated[Text, StringConstraints(min_length=1, max_length=255)]

    message: Annotated[Text, StringConstraints(max_length=65_535)] | None = None

    read: StrictBool = False

    user_id: Annotated[uuid.UUID, RefersTo("a member")]


class NotificationCreate(NotificationBase):
    """A new notification."""


class NotificationUpdate(UpdateSchema):
    """Changes to a notification: only the fields sent are applied."""

    non_nullable = frozenset({"title", "read", "user_id"})

    title: (
        Annotated[Text, StringConstraints(min_length=1, max_length=255)]
        | SkipJsonSchema[None]
    ) = None

    message: Annotated[Text, StringConstraints(max_length=65_535)] | None = None

    read: StrictBool | SkipJsonSchema[None] = None

    user_id: Annotated[uuid.UUID, RefersTo("a member")] | SkipJsonSchema[None] = None


class NotificationResponse(OutputSchema):
    """A notification as the API returns it."""

    id: uuid.UUID
    project_id: uuid.UUID

    title: str

    message: str | None

    read: bool

    user_id: uuid.UUID

    created_at: datetime
    updated_at: datetime


class NotificationListParams(ListParams):
    """Query parameters of the list: page, sort order and equality filters."""

    sort: Literal[
        "id",
        "-id",
        "created_at",
        "-created_at",
        "title",
        "-title",
        "read",
        "-read",
        "user_id",
        "-user_id",
    ] = sort_order()

    title: Text | SkipJsonSchema[None] = None

    read: QueryBool | SkipJsonSchema[None] = None

    user_id: uuid.UUID | SkipJsonSchema[None] = None
