"""Endpoints of customers, scoped to the caller's current project."""

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
from app.models.customer import Customer
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
    response: Response,
    scope: ReaderScope,
    db: SessionDep,
) -> list[Customer]:
    """List customers of the current project, a page at a time.

    The next page, if any, is in the `Link` header (`rel="next"`).
    """
    page = await CustomerService(db, scope).list_page(params)
    if page.next_cursor is not None:
        next_url = request.url.include_query_params(cursor=page.next_cursor)
        response.headers["Link"] = f'<{next_url}>; rel="next"'
    return list(page.items)


@router.get(
    "/{customer_id}",
    response_model=CustomerResponse,
    responses=error_responses(CustomerNotFound),
)
async def get_customer(
    customer_id: uuid.UUID, scope: ReaderScope, db: SessionDep
) -> Customer:
    """Get a customer of the current project."""
    return await CustomerService(db, scope).get(customer_id)


@router.post(
    "/",
    response_model=CustomerResponse,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(Conflict),
)
async def create_customer(
    data: CustomerCreate, scope: WriterScope, db: SessionDep
) -> Customer:
    """Create a customer in the current project (members and above)."""
    return await CustomerService(db, scope).create(data)


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
    db: SessionDep,
) -> Customer:
    """Update a customer: only the fields sent change (members and above)."""
    return await CustomerService(db, scope).update(customer_id, data)


@router.delete(
    "/{customer_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(CustomerNotFound, Conflict),
)
async def delete_customer(
    customer_id: uuid.UUID, scope: AdminScope, db: SessionDep
) -> None:
    """Delete a customer (admins and owners)."""
    await CustomerService(db, scope).delete(customer_id)
