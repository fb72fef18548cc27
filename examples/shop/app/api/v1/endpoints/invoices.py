"""Endpoints of invoices, scoped to the caller's current project."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from app.api.deps import AdminScope, ReaderScope, SessionDep, WriterScope
from app.core.errors import (
    Conflict,
    NoCurrentProject,
    NotAuthenticated,
    PermissionDenied,
    error_responses,
)
from app.models.invoice import Invoice
from app.schemas.invoice import (
    InvoiceCreate,
    InvoiceListParams,
    InvoiceResponse,
    InvoiceUpdate,
)
from app.services.invoice_service import InvoiceNotFound, InvoiceService

router = APIRouter(
    responses=error_responses(NotAuthenticated, PermissionDenied, NoCurrentProject)
)


@router.get("/", response_model=list[InvoiceResponse])
async def list_invoices(
    params: Annotated[InvoiceListParams, Query()],
    request: Request,
    response: Response,
    scope: ReaderScope,
    db: SessionDep,
) -> list[Invoice]:
    """List invoices of the current project, a page at a time.

    The next page, if any, is in the `Link` header (`rel="next"`).
    """
    page = await InvoiceService(db, scope).list_page(params)
    if page.next_cursor is not None:
        next_url = request.url.include_query_params(cursor=page.next_cursor)
        response.headers["Link"] = f'<{next_url}>; rel="next"'
    return list(page.items)


@router.get(
    "/{invoice_id}",
    response_model=InvoiceResponse,
    responses=error_responses(InvoiceNotFound),
)
async def get_invoice(
    invoice_id: uuid.UUID, scope: ReaderScope, db: SessionDep
) -> Invoice:
    """Get a invoice of the current project."""
    return await InvoiceService(db, scope).get(invoice_id)


@router.post(
    "/",
    response_model=InvoiceResponse,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(Conflict),
)
async def create_invoice(
    data: InvoiceCreate, scope: WriterScope, db: SessionDep
) -> Invoice:
    """Create a invoice in the current project (members and above)."""
    return await InvoiceService(db, scope).create(data)


@router.put(
    "/{invoice_id}",
    response_model=InvoiceResponse,
    responses=error_responses(InvoiceNotFound, Conflict),
)
@router.patch(
    "/{invoice_id}",
    response_model=InvoiceResponse,
    responses=error_responses(InvoiceNotFound, Conflict),
)
async def update_invoice(
    invoice_id: uuid.UUID,
    data: InvoiceUpdate,
    scope: WriterScope,
    db: SessionDep,
) -> Invoice:
    """Update a invoice: only the fields sent change (members and above)."""
    return await InvoiceService(db, scope).update(invoice_id, data)


@router.delete(
    "/{invoice_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(InvoiceNotFound, Conflict),
)
async def delete_invoice(
    invoice_id: uuid.UUID, scope: AdminScope, db: SessionDep
) -> None:
    """Delete a invoice (admins and owners)."""
    await InvoiceService(db, scope).delete(invoice_id)
