"""Schemas of invoices: what the API accepts and returns."""

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, StringConstraints
from pydantic.json_schema import SkipJsonSchema

from app.models.invoice import InvoiceStatus
from app.schemas.base import (
    InputSchema,
    IsoDate,
    ListParams,
    OutputSchema,
    RefersTo,
    Text,
    UpdateSchema,
    decimal_schema,
    sort_order,
)


class InvoiceBase(InputSchema):
    """Fields a client sets on an invoice."""

    number: Annotated[Text, StringConstraints(min_length=1, max_length=255)]

    amount: Annotated[
        Decimal,
        Field(max_digits=12, decimal_places=2, allow_inf_nan=False),
        decimal_schema(12, 2),
    ]

    status: InvoiceStatus = InvoiceStatus.DRAFT

    due_on: IsoDate | None = None

    customer_id: Annotated[uuid.UUID, RefersTo("a customer")]


class InvoiceCreate(InvoiceBase):
    """A new invoice."""


class InvoiceUpdate(UpdateSchema):
    """Changes to an invoice: only the fields sent are applied."""

    non_nullable = frozenset({"number", "amount", "status", "customer_id"})

    number: (
        Annotated[Text, StringConstraints(min_length=1, max_length=255)]
        | SkipJsonSchema[None]
    ) = None

    amount: (
        Annotated[
            Decimal,
            Field(max_digits=12, decimal_places=2, allow_inf_nan=False),
            decimal_schema(12, 2),
        ]
        | SkipJsonSchema[None]
    ) = None

    status: InvoiceStatus | SkipJsonSchema[None] = None

    due_on: IsoDate | None = None

    customer_id: Annotated[uuid.UUID, RefersTo("a customer")] | SkipJsonSchema[None] = (
        None
    )


class InvoiceResponse(OutputSchema):
    """An invoice as the API returns it."""

    id: uuid.UUID
    project_id: uuid.UUID

    number: str

    amount: Decimal

    status: InvoiceStatus

    due_on: date | None

    customer_id: uuid.UUID

    created_at: datetime
    updated_at: datetime


class InvoiceListParams(ListParams):
    """Query parameters of the list: page, sort order and equality filters."""

    sort: Literal[
        "id",
        "-id",
        "created_at",
        "-created_at",
        "number",
        "-number",
        "amount",
        "-amount",
        "status",
        "-status",
        "customer_id",
        "-customer_id",
    ] = sort_order()

    number: Text | SkipJsonSchema[None] = None

    amount: (
        Annotated[
            Decimal,
            Field(max_digits=12, decimal_places=2, allow_inf_nan=False),
            decimal_schema(12, 2),
        ]
        | SkipJsonSchema[None]
    ) = None

    status: InvoiceStatus | SkipJsonSchema[None] = None

    due_on: IsoDate | SkipJsonSchema[None] = None

    customer_id: uuid.UUID | SkipJsonSchema[None] = None
