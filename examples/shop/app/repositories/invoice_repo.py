"""Database access for invoices.

Queries of your own go in this class: build them once with `scoped_query` and run
them with `self.fetch` (see `app/repositories/base.py` and the README).
"""

from app.models.invoice import Invoice
from app.repositories.base import ProjectRepository


class InvoiceRepository(ProjectRepository):
    """The invoices of one project."""

    model = Invoice
    unique_fields = ("number",)
    noun = "invoice"
    a_noun = "an invoice"
