"""Business logic of invoices."""

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import InvalidReference, NotFound
from app.core.tenancy import ProjectScope
from app.models.invoice import Invoice
from app.repositories.base import Page, SortOrder
from app.repositories.customer_repo import CustomerRepository
from app.repositories.invoice_repo import InvoiceRepository
from app.schemas.invoice import InvoiceCreate, InvoiceListParams, InvoiceUpdate


class InvoiceNotFound(NotFound):
    """No such invoice in the current project."""

    default_detail = "Invoice not found"


class InvoiceService:
    """Invoices of the caller's current project."""

    def __init__(self, db: AsyncSession, scope: ProjectScope) -> None:
        self.scope = scope
        self.repository = InvoiceRepository(db, scope.project_id)

        self.customer_repository = CustomerRepository(db, scope.project_id)

    async def list_page(self, params: InvoiceListParams) -> Page[Invoice]:
        """One page of invoices, filtered and sorted."""
        return await self.repository.page(
            limit=params.limit,
            sort=SortOrder.parse(params.sort),
            cursor=params.cursor,
            filters=params.filters(),
        )

    async def get(self, invoice_id: uuid.UUID) -> Invoice:
        """The invoice with this id, or 404."""
        invoice = await self.repository.get(invoice_id)
        if invoice is None:
            raise InvoiceNotFound()
        return invoice

    async def create(self, data: InvoiceCreate) -> Invoice:
        """Create a invoice in the current project."""
        values = data.model_dump()

        await self._check_references(values)

        return await self.repository.create(values)

    async def update(self, invoice_id: uuid.UUID, data: InvoiceUpdate) -> Invoice:
        """Apply the fields sent to a invoice."""
        invoice = await self.get(invoice_id)
        values = data.model_dump(exclude_unset=True)

        await self._check_references(values)

        return await self.repository.update(invoice, values)

    async def delete(self, invoice_id: uuid.UUID) -> None:
        """Delete a invoice."""
        await self.repository.delete(await self.get(invoice_id))

    async def _check_references(self, values: dict[str, Any]) -> None:
        """Refuse references to anything outside the current project."""

        customer_id = values.get("customer_id")
        if customer_id is not None and not await self.customer_repository.exists(
            customer_id
        ):
            raise InvalidReference("customer_id", "Customer")
