"""Business logic of customers."""

import uuid

from app.core.errors import NotFound
from app.core.sql import Connection
from app.core.tenancy import ProjectScope
from app.repositories.base import Page, SortOrder
from app.repositories.customer_repo import CustomerRepository
from app.schemas.customer import (
    CustomerCreate,
    CustomerListParams,
    CustomerResponse,
    CustomerUpdate,
)


class CustomerNotFound(NotFound):
    """No such customer in the current project."""

    default_detail = "Customer not found"
    code = "customer_not_found"


class CustomerService:
    """Customers of the caller's current project."""

    def __init__(self, db: Connection, scope: ProjectScope) -> None:
        self.db = db
        self.scope = scope
        self.repository = CustomerRepository(db, scope.project_id)

    async def list_page(self, params: CustomerListParams) -> Page[CustomerResponse]:
        """One page of customers, filtered and sorted."""
        page = await self.repository.page(
            limit=params.limit,
            sort=SortOrder.parse(params.sort),
            cursor=params.cursor,
            filters=params.filters(),
        )
        return Page(CustomerResponse.from_rows(page.items), page.next_cursor)

    async def get(self, customer_id: uuid.UUID) -> CustomerResponse:
        """The customer with this id, or 404."""
        row = await self.repository.get(customer_id)
        if row is None:
            raise CustomerNotFound()
        return CustomerResponse.model_validate(row)

    async def create(self, data: CustomerCreate) -> CustomerResponse:
        """Create a customer in the current project."""
        values = data.model_dump()

        return CustomerResponse.model_validate(await self.repository.create(values))

    async def update(
        self, customer_id: uuid.UUID, data: CustomerUpdate
    ) -> CustomerResponse:
        """Apply the fields sent to a customer."""
        values = data.model_dump(exclude_unset=True)

        row = await self.repository.update(customer_id, values)
        if row is None:
            raise CustomerNotFound()
        return CustomerResponse.model_validate(row)

    async def delete(self, customer_id: uuid.UUID) -> None:
        """Delete a customer."""
        if not await self.repository.delete(customer_id):
            raise CustomerNotFound()
