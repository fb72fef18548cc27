"""Business logic of customers."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import NotFound
from app.core.tenancy import ProjectScope
from app.models.customer import Customer
from app.repositories.base import Page, SortOrder
from app.repositories.customer_repo import CustomerRepository
from app.schemas.customer import CustomerCreate, CustomerListParams, CustomerUpdate


class CustomerNotFound(NotFound):
    """No such customer in the current project."""

    default_detail = "Customer not found"


class CustomerService:
    """Customers of the caller's current project."""

    def __init__(self, db: AsyncSession, scope: ProjectScope) -> None:
        self.scope = scope
        self.repository = CustomerRepository(db, scope.project_id)

    async def list_page(self, params: CustomerListParams) -> Page[Customer]:
        """One page of customers, filtered and sorted."""
        return await self.repository.page(
            limit=params.limit,
            sort=SortOrder.parse(params.sort),
            cursor=params.cursor,
            filters=params.filters(),
        )

    async def get(self, customer_id: uuid.UUID) -> Customer:
        """The customer with this id, or 404."""
        customer = await self.repository.get(customer_id)
        if customer is None:
            raise CustomerNotFound()
        return customer

    async def create(self, data: CustomerCreate) -> Customer:
        """Create a customer in the current project."""
        values = data.model_dump()

        return await self.repository.create(values)

    async def update(self, customer_id: uuid.UUID, data: CustomerUpdate) -> Customer:
        """Apply the fields sent to a customer."""
        customer = await self.get(customer_id)
        values = data.model_dump(exclude_unset=True)

        return await self.repository.update(customer, values)

    async def delete(self, customer_id: uuid.UUID) -> None:
        """Delete a customer."""
        await self.repository.delete(await self.get(customer_id))
