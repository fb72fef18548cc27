"""Projects (the tenants) and their members."""

import uuid
from typing import Any

from fastapi import APIRouter, status

from app.api.deps import CurrentUser, SessionDep
from app.core.errors import (
    NotAuthenticated,
    PermissionDenied,
    StillReferenced,
    error_responses,
)
from app.schemas.project import (
    MemberCreate,
    MemberResponse,
    MemberUpdate,
    ProjectCreate,
    ProjectResponse,
    ProjectUpdate,
)
from app.services.project_service import (
    AlreadyMember,
    LastOwner,
    MemberNotFound,
    ProjectNotFound,
    ProjectService,
)

router = APIRouter(responses=error_responses(NotAuthenticated))

# OpenAPI links: where the id an operation returns is used next. Tools that chain
# calls (schemathesis's stateful tests, Swagger UI's "Links") follow them.
PROJECT_CREATED: dict[int | str, dict[str, Any]] = {
    201: {
        "links": {
            "set_current_project": {
                "operationId": "users_set_current_project",
                "requestBody": {"project_id": "$response.body#/id"},
                "description": "Work in the new project.",
            }
        }
    }
}
NEW_MEMBER = {
    "project_id": "$request.path.project_id",
    "user_id": "$response.body#/user_id",
}
MEMBER_ADDED: dict[int | str, dict[str, Any]] = {
    201: {
        "links": {
            "change_role": {
                "operationId": "projects_members_update",
                "parameters": NEW_MEMBER,
                "description": "Change the new member's role.",
            },
            "remove": {
                "operationId": "projects_members_remove",
                "parameters": NEW_MEMBER,
                "description": "Remove the new member.",
            },
        }
    }
}


@router.get(
    "/",
    name="list",
    summary="List your projects",
    response_model=list[ProjectResponse],
    responses=error_responses(),
)
async def list_projects(
    current_user: CurrentUser, db: SessionDep
) -> list[ProjectResponse]:
    """The projects you belong to, with your role in each."""
    return await ProjectService(db, current_user).all()


@router.post(
    "/",
    name="create",
    summary="Create a project",
    response_model=ProjectResponse,
    status_code=status.HTTP_201_CREATED,
    responses={**error_responses(body=True), **PROJECT_CREATED},
)
async def create_project(
    data: ProjectCreate, current_user: CurrentUser, db: SessionDep
) -> ProjectResponse:
    """Create a project; you become its owner."""
    return await ProjectService(db, current_user).create(data)


@router.get(
    "/{project_id}",
    name="get",
    summary="Get a project",
    response_model=ProjectResponse,
    responses=error_responses(ProjectNotFound),
)
async def get_project(
    project_id: uuid.UUID, current_user: CurrentUser, db: SessionDep
) -> ProjectResponse:
    """One of your projects."""
    return await ProjectService(db, current_user).get(project_id)


@router.put(
    "/{project_id}",
    name="update",
    summary="Rename a project",
    response_model=ProjectResponse,
    responses=error_responses(PermissionDenied, ProjectNotFound, body=True),
)
async def update_project(
    project_id: uuid.UUID,
    data: ProjectUpdate,
    current_user: CurrentUser,
    db: SessionDep,
) -> ProjectResponse:
    """Rename a project (admins and owners)."""
    return await ProjectService(db, current_user).update(project_id, data)


@router.delete(
    "/{project_id}",
    name="delete",
    summary="Delete a project",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(PermissionDenied, ProjectNotFound),
)
async def delete_project(
    project_id: uuid.UUID, current_user: CurrentUser, db: SessionDep
) -> None:
    """Delete a project and everything in it (owners only)."""
    await ProjectService(db, current_user).delete(project_id)


@router.get(
    "/{project_id}/members",
    name="members_list",
    summary="List a project's members",
    response_model=list[MemberResponse],
    responses=error_responses(ProjectNotFound),
)
async def list_members(
    project_id: uuid.UUID, current_user: CurrentUser, db: SessionDep
) -> list[MemberResponse]:
    """The members of one of your projects."""
    return await ProjectService(db, current_user).list_members(project_id)


@router.post(
    "/{project_id}/members",
    name="members_add",
    summary="Add a member",
    response_model=MemberResponse,
    status_code=status.HTTP_201_CREATED,
    responses={
        **error_responses(PermissionDenied, ProjectNotFound, AlreadyMember, body=True),
        **MEMBER_ADDED,
    },
)
async def add_member(
    project_id: uuid.UUID, data: MemberCreate, current_user: CurrentUser, db: SessionDep
) -> MemberResponse:
    """Add an existing user, by e-mail, with a role (admins and owners)."""
    return await ProjectService(db, current_user).add_member(project_id, data)


@router.put(
    "/{project_id}/members/{user_id}",
    name="members_update",
    summary="Change a member's role",
    response_model=MemberResponse,
    responses=error_responses(
        PermissionDenied, ProjectNotFound, MemberNotFound, LastOwner, body=True
    ),
)
async def update_member(
    project_id: uuid.UUID,
    user_id: uuid.UUID,
    data: MemberUpdate,
    current_user: CurrentUser,
    db: SessionDep,
) -> MemberResponse:
    """Change a member's role (admins and owners; the last owner stays an owner)."""
    return await ProjectService(db, current_user).update_member(
        project_id, user_id, data
    )


@router.delete(
    "/{project_id}/members/{user_id}",
    name="members_remove",
    summary="Remove a member",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(
        PermissionDenied, ProjectNotFound, MemberNotFound, LastOwner, StillReferenced
    ),
)
async def remove_member(
    project_id: uuid.UUID, user_id: uuid.UUID, current_user: CurrentUser, db: SessionDep
) -> None:
    """Remove a member (admins and owners), or leave: remove yourself (any member).

    The last owner cannot be removed, nor leave.
    """
    await ProjectService(db, current_user).remove_member(project_id, user_id)
