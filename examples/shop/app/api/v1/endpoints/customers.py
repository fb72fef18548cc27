"""Endpoints of customers, scoped to the caller's current project."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from app.api.deps import AdminScope, ConnectionDep, ReaderScope, WriterScope
from app.api.responses import NEXT_PAGE, json_response, next_page_link
from app.core.errors import (
    MissingReference,
    NoCurrentProject,
    NotAuthenticated,
    PermissionDenied,
    StillReferenced,
    error_responses,
)
from app.repositories.base import InvalidCursor
from app.schemas.customer import (
    CustomerCreate,
    CustomerListParams,
    CustomerResponse,
    CustomerUpdate,
)
from app.services.customer_service import CustomerNotFound, CustomerService

router = APIRouter()


@router.get(
    "/",
    name="list",
    summary="List customers",
    response_model=list[CustomerResponse],
    responses={
        **NEXT_PAGE,
        **error_responses(NotAuthenticated, NoCurrentProject, InvalidCursor),
    },
)
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
    name="get",
    summary="Get a customer",
    response_model=CustomerResponse,
    responses=error_responses(NotAuthenticated, NoCurrentProject, CustomerNotFound),
)
async def get_customer(
    customer_id: uuid.UUID, scope: ReaderScope, db: ConnectionDep
) -> Response:
    """Get a customer of the current project."""
    return json_response(await CustomerService(db, scope).get(customer_id))


@router.post(
    "/",
    name="create",
    summary="Create a customer",
    response_model=CustomerResponse,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(
        NotAuthenticated,
        PermissionDenied,
        NoCurrentProject,
        MissingReference,
        body=True,
    ),
)
async def create_customer(
    data: CustomerCreate, scope: WriterScope, db: ConnectionDep
) -> Response:
    """Create a customer in the current project (members and above)."""
    created = await CustomerService(db, scope).create(data)
    return json_response(created, status_code=status.HTTP_201_CREATED)


@router.put(
    "/{customer_id}",
    name="update",
    summary="Update a customer",
    response_model=CustomerResponse,
    responses=error_responses(
        NotAuthenticated,
        PermissionDenied,
        NoCurrentProject,
        CustomerNotFound,
        body=True,
    ),
)
@router.patch(
    "/{customer_id}",
    name="patch",
    summary="Patch a customer",
    response_model=CustomerResponse,
    responses=error_responses(
        NotAuthenticated,
        PermissionDenied,
        NoCurrentProject,
        CustomerNotFound,
        body=True,
    ),
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
    name="delete",
    summary="Delete a customer",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(
        NotAuthenticated,
        PermissionDenied,
        NoCurrentProject,
        CustomerNotFound,
        StillReferenced,
    ),
)
async def delete_customer(
    customer_id: uuid.UUID, scope: AdminScope, db: ConnectionDep
) -> None:
    """Delete a customer (admins and owners)."""
    await CustomerService(db, scope).delete(customer_id)
