"""Endpoints of invoices, scoped to the caller's current project."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from app.api.deps import AdminScope, ConnectionDep, ReaderScope, WriterScope
from app.api.responses import NEXT_PAGE, json_response, next_page_link
from app.core.errors import (
    AlreadyExists,
    MissingReference,
    NoCurrentProject,
    NotAuthenticated,
    PermissionDenied,
    StillReferenced,
    error_responses,
)
from app.repositories.base import InvalidCursor
from app.schemas.invoice import (
    InvoiceCreate,
    InvoiceListParams,
    InvoiceResponse,
    InvoiceUpdate,
)
from app.services.invoice_service import InvoiceNotFound, InvoiceService

router = APIRouter()


@router.get(
    "/",
    name="list",
    summary="List invoices",
    response_model=list[InvoiceResponse],
    responses={
        **NEXT_PAGE,
        **error_responses(NotAuthenticated, NoCurrentProject, InvalidCursor),
    },
)
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
    name="get",
    summary="Get an invoice",
    response_model=InvoiceResponse,
    responses=error_responses(NotAuthenticated, NoCurrentProject, InvoiceNotFound),
)
async def get_invoice(
    invoice_id: uuid.UUID, scope: ReaderScope, db: ConnectionDep
) -> Response:
    """Get an invoice of the current project."""
    return json_response(await InvoiceService(db, scope).get(invoice_id))


@router.post(
    "/",
    name="create",
    summary="Create an invoice",
    response_model=InvoiceResponse,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(
        NotAuthenticated,
        PermissionDenied,
        NoCurrentProject,
        AlreadyExists,
        MissingReference,
        body=True,
    ),
)
async def create_invoice(
    data: InvoiceCreate, scope: WriterScope, db: ConnectionDep
) -> Response:
    """Create an invoice in the current project (members and above)."""
    created = await InvoiceService(db, scope).create(data)
    return json_response(created, status_code=status.HTTP_201_CREATED)


@router.put(
    "/{invoice_id}",
    name="update",
    summary="Update an invoice",
    response_model=InvoiceResponse,
    responses=error_responses(
        NotAuthenticated,
        PermissionDenied,
        NoCurrentProject,
        InvoiceNotFound,
        AlreadyExists,
        MissingReference,
        body=True,
    ),
)
@router.patch(
    "/{invoice_id}",
    name="patch",
    summary="Patch an invoice",
    response_model=InvoiceResponse,
    responses=error_responses(
        NotAuthenticated,
        PermissionDenied,
        NoCurrentProject,
        InvoiceNotFound,
        AlreadyExists,
        MissingReference,
        body=True,
    ),
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
    name="delete",
    summary="Delete an invoice",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(
        NotAuthenticated,
        PermissionDenied,
        NoCurrentProject,
        InvoiceNotFound,
        StillReferenced,
    ),
)
async def delete_invoice(
    invoice_id: uuid.UUID, scope: AdminScope, db: ConnectionDep
) -> None:
    """Delete an invoice (admins and owners)."""
    await InvoiceService(db, scope).delete(invoice_id)
