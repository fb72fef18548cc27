"""Database access for invoices."""

from app.models.invoice import Invoice
from app.repositories.base import ProjectRepository


class InvoiceRepository(ProjectRepository):
    """The invoices of one project."""

    model = Invoice
    unique_fields = ("number",)
