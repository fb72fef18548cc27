"""Schemas of customers: what the API accepts and returns."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import StringConstraints
from pydantic.json_schema import SkipJsonSchema

from app.schemas.base import (
    EmailAddress,
    InputSchema,
    ListParams,
    OutputSchema,
    Text,
    UpdateSchema,
    sort_order,
)


class CustomerBase(InputSchema):
    """Fields a client sets on a customer."""

    name: Annotated[Text, StringConstraints(min_length=1, max_length=255)]

    email: EmailAddress | None = None


class CustomerCreate(CustomerBase):
    """A new customer."""


class CustomerUpdate(UpdateSchema):
    """Changes to a customer: only the fields sent are applied."""

    non_nullable = frozenset({"name"})

    name: (
        Annotated[Text, StringConstraints(min_length=1, max_length=255)]
        | SkipJsonSchema[None]
    ) = None

    email: EmailAddress | None = None


class CustomerResponse(OutputSchema):
    """A customer as the API returns it."""

    id: uuid.UUID
    project_id: uuid.UUID

    name: str

    email: str | None

    created_at: datetime
    updated_at: datetime


class CustomerListParams(ListParams):
    """Query parameters of the list: page, sort order and equality filters."""

    sort: Literal["id", "-id", "created_at", "-created_at", "name", "-name"] = (
        sort_order()
    )

    name: Text | SkipJsonSchema[None] = None

    email: Text | SkipJsonSchema[None] = None
