"""Database access for customers.

Queries of your own go in this class: build them once with `scoped_query` and run
them with `self.fetch` (see `app/repositories/base.py` and the README).
"""

from app.models.customer import Customer
from app.repositories.base import ProjectRepository


class CustomerRepository(ProjectRepository):
    """The customers of one project."""

    model = Customer
    unique_fields = ()
    noun = "customer"
    a_noun = "a customer"
