"""Schemas of assets: what the API accepts and returns."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import StringConstraints
from pydantic.json_schema import SkipJsonSchema

from app.models.asset import AssetCondition
from app.schemas.base import (
    InputSchema,
    ListParams,
    OutputSchema,
    Text,
    UpdateSchema,
    sort_order,
)


class AssetBase(InputSchema):
    """Fields a client sets on an asset."""

    name: Annotated[Text, StringConstraints(min_length=1, max_length=255)]

    notes: Annotated[Text, StringConstraints(max_length=65_535)] | None = None

    condition: AssetCondition = AssetCondition.NEW


class AssetCreate(AssetBase):
    """A new asset."""


class AssetUpdate(UpdateSchema):
    """Changes to an asset: only the fields sent are applied."""

    non_nullable = frozenset({"name", "condition"})

    name: (
        Annotated[Text, StringConstraints(min_length=1, max_length=255)]
        | SkipJsonSchema[None]
    ) = None

    notes: Annotated[Text, StringConstraints(max_length=65_535)] | None = None

    condition: AssetCondition | SkipJsonSchema[None] = None


class AssetResponse(OutputSchema):
    """An asset as the API returns it."""

    id: uuid.UUID
    project_id: uuid.UUID

    name: str

    notes: str | None

    condition: AssetCondition

    created_at: datetime
    updated_at: datetime


class AssetListParams(ListParams):
    """Query parameters of the list: page, sort order and equality filters."""

    sort: Literal[
        "id",
        "-id",
        "created_at",
        "-created_at",
        "name",
        "-name",
        "condition",
        "-condition",
    ] = sort_order()

    name: Text | SkipJsonSchema[None] = None

    condition: AssetCondition | SkipJsonSchema[None] = None
