"""Endpoints of invoices, scoped to the caller's current project."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from app.api.deps import AdminScope, ConnectionDep, ReaderScope, WriterScope
from app.api.responses import json_response, next_page_link
from app.core.errors import (
    Conflict,
    NoCurrentProject,
    NotAuthenticated,
    PermissionDenied,
    error_responses,
)
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
    scope: ReaderScope,
    db: ConnectionDep,
) -> Response:
    """List invoices of the current project, a page at a time.

    The next page, if any, is in the `Link` header (`rel="next"`).
    """
    page = await InvoiceService(db, scope).list_page(params)
    return json_response(page.items, headers=next_page_link(request, page.next_cursor))


@router.get(
    "/{invoice_id}",
    response_model=InvoiceResponse,
    responses=error_responses(InvoiceNotFound),
)
async def get_invoice(
    invoice_id: uuid.UUID, scope: ReaderScope, db: ConnectionDep
) -> Response:
    """Get an invoice of the current project."""
    return json_response(await InvoiceService(db, scope).get(invoice_id))


@router.post(
    "/",
    response_model=InvoiceResponse,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(Conflict),
)
async def create_invoice(
    data: InvoiceCreate, scope: WriterScope, db: ConnectionDep
) -> Response:
    """Create an invoice in the current project (members and above)."""
    invoice = await InvoiceService(db, scope).create(data)
    return json_response(invoice, status_code=status.HTTP_201_CREATED)


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
    db: ConnectionDep,
) -> Response:
    """Update an invoice: only the fields sent change (members and above)."""
    service = InvoiceService(db, scope)
    return json_response(await service.update(invoice_id, data))


@router.delete(
    "/{invoice_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(InvoiceNotFound, Conflict),
)
async def delete_invoice(
    invoice_id: uuid.UUID, scope: AdminScope, db: ConnectionDep
) -> None:
    """Delete an invoice (admins and owners)."""
    await InvoiceService(db, scope).delete(invoice_id)
