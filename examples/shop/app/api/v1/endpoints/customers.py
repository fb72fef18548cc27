"""Endpoints of customers, scoped to the caller's current project."""

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
from app.schemas.customer import (
    CustomerCreate,
    CustomerListParams,
    CustomerResponse,
    CustomerUpdate,
)
from app.services.customer_service import CustomerNotFound, CustomerService

router = APIRouter(
    responses=error_responses(NotAuthenticated, PermissionDenied, NoCurrentProject)
)


@router.get("/", response_model=list[CustomerResponse])
async def list_customers(
    params: Annotated[CustomerListParams, Query()],
    request: Request,
    scope: ReaderScope,
    db: ConnectionDep,
) -> Response:
    """List customers of the current project, a page at a time.

    The next page, if any, is in the `Link` header (`rel="next"`).
    """
    page = await CustomerService(db, scope).list_page(params)
    return json_response(page.items, headers=next_page_link(request, page.next_cursor))


@router.get(
    "/{customer_id}",
    response_model=CustomerResponse,
    responses=error_responses(CustomerNotFound),
)
async def get_customer(
    customer_id: uuid.UUID, scope: ReaderScope, db: ConnectionDep
) -> Response:
    """Get a customer of the current project."""
    return json_response(await CustomerService(db, scope).get(customer_id))


@router.post(
    "/",
    response_model=CustomerResponse,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(Conflict),
)
async def create_customer(
    data: CustomerCreate, scope: WriterScope, db: ConnectionDep
) -> Response:
    """Create a customer in the current project (members and above)."""
    customer = await CustomerService(db, scope).create(data)
    return json_response(customer, status_code=status.HTTP_201_CREATED)


@router.put(
    "/{customer_id}",
    response_model=CustomerResponse,
    responses=error_responses(CustomerNotFound, Conflict),
)
@router.patch(
    "/{customer_id}",
    response_model=CustomerResponse,
    responses=error_responses(CustomerNotFound, Conflict),
)
async def update_customer(
    customer_id: uuid.UUID,
    data: CustomerUpdate,
    scope: WriterScope,
    db: ConnectionDep,
) -> Response:
    """Update a customer: only the fields sent change (members and above)."""
    service = CustomerService(db, scope)
    return json_response(await service.update(customer_id, data))


@router.delete(
    "/{customer_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(CustomerNotFound, Conflict),
)
async def delete_customer(
    customer_id: uuid.UUID, scope: AdminScope, db: ConnectionDep
) -> None:
    """Delete a customer (admins and owners)."""
    await CustomerService(db, scope).delete(customer_id)
