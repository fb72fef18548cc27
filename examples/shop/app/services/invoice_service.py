"""Business logic of invoices."""

import uuid
from typing import Any

from app.core.errors import InvalidReference, NotFound
from app.core.sql import Connection
from app.core.tenancy import ProjectScope
from app.repositories.base import Page, SortOrder
from app.repositories.customer_repo import CustomerRepository
from app.repositories.invoice_repo import InvoiceRepository
from app.schemas.invoice import (
    InvoiceCreate,
    InvoiceListParams,
    InvoiceResponse,
    InvoiceUpdate,
)


class InvoiceNotFound(NotFound):
    """No such invoice in the current project."""

    default_detail = "Invoice not found"
    code = "invoice_not_found"


class InvoiceService:
    """Invoices of the caller's current project."""

    def __init__(self, db: Connection, scope: ProjectScope) -> None:
        self.db = db
        self.scope = scope
        self.repository = InvoiceRepository(db, scope.project_id)

        self.customer_repository = CustomerRepository(db, scope.project_id)

    async def list_page(self, params: InvoiceListParams) -> Page[InvoiceResponse]:
        """One page of invoices, filtered and sorted."""
        page = await self.repository.page(
            limit=params.limit,
            sort=SortOrder.parse(params.sort),
            cursor=params.cursor,
            filters=params.filters(),
        )
        return Page(InvoiceResponse.from_rows(page.items), page.next_cursor)

    async def get(self, invoice_id: uuid.UUID) -> InvoiceResponse:
        """The invoice with this id, or 404."""
        row = await self.repository.get(invoice_id)
        if row is None:
            raise InvoiceNotFound()
        return InvoiceResponse.model_validate(row)

    async def create(self, data: InvoiceCreate) -> InvoiceResponse:
        """Create an invoice in the current project."""
        values = data.model_dump()

        await self._check_references(values)

        return InvoiceResponse.model_validate(await self.repository.create(values))

    async def update(
        self, invoice_id: uuid.UUID, data: InvoiceUpdate
    ) -> InvoiceResponse:
        """Apply the fields sent to an invoice."""
        values = data.model_dump(exclude_unset=True)

        await self._check_references(values)

        row = await self.repository.update(invoice_id, values)
        if row is None:
            raise InvoiceNotFound()
        return InvoiceResponse.model_validate(row)

    async def delete(self, invoice_id: uuid.UUID) -> None:
        """Delete an invoice."""
        if not await self.repository.delete(invoice_id):
            raise InvoiceNotFound()

    async def _check_references(self, values: dict[str, Any]) -> None:
        """Refuse references to anything outside the current project."""

        customer_id = values.get("customer_id")
        if customer_id is not None and not await self.customer_repository.exists(
            customer_id
        ):
            raise InvalidReference("customer_id", "Customer")
