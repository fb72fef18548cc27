"""Invoices: rows of a project."""

import enum
import uuid
from datetime import date
from decimal import Decimal

from sqlalchemy import (
    Enum,
    ForeignKeyConstraint,
    Index,
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, ProjectScoped, enum_values


class InvoiceStatus(enum.StrEnum):
    """The values of `Invoice.status`."""

    DRAFT = "draft"

    SENT = "sent"

    PAID = "paid"


class Invoice(ProjectScoped, Base):
    """An invoice; it belongs to one project, like every tenant row."""

    __tablename__ = "invoices"

    __table_args__ = (
        UniqueConstraint("project_id", "number"),
        ForeignKeyConstraint(
            ["project_id", "customer_id"], ["customers.project_id", "customers.id"]
        ),
        Index("ix_invoices_project_id_customer_id", "project_id", "customer_id"),
    )

    number: Mapped[str] = mapped_column(String(255))

    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))

    status: Mapped[InvoiceStatus] = mapped_column(
        Enum(
            InvoiceStatus,
            name="status",
            native_enum=False,
            create_constraint=True,
            length=5,
            values_callable=enum_values,
        ),
        default=InvoiceStatus.DRAFT,
    )

    due_on: Mapped[date | None]

    customer_id: Mapped[uuid.UUID]
