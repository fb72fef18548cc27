"""Database access for customers."""

from app.models.customer import Customer
from app.repositories.base import ProjectRepository


class CustomerRepository(ProjectRepository):
    """The customers of one project."""

    model = Customer
    unique_fields = ()
