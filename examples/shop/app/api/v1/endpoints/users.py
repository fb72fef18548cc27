"""The current user."""

from fastapi import APIRouter

from app.api.deps import CurrentUser, ReaderScope, SessionDep
from app.core.errors import NoCurrentProject, NotAuthenticated, error_responses
from app.schemas.project import ProjectResponse
from app.schemas.user import CurrentProjectUpdate, UserResponse
from app.services.project_service import ProjectNotFound, ProjectService

router = APIRouter()


@router.get(
    "/me",
    name="me",
    summary="Get the current user",
    response_model=UserResponse,
    responses=error_responses(NotAuthenticated),
)
async def read_me(current_user: CurrentUser) -> UserResponse:
    """The user the token belongs to."""
    return UserResponse.model_validate(current_user)


@router.get(
    "/me/current-project",
    name="current_project",
    summary="Get the current project",
    response_model=ProjectResponse,
    responses=error_responses(NotAuthenticated, NoCurrentProject),
)
async def get_current_project(
    scope: ReaderScope, current_user: CurrentUser, db: SessionDep
) -> ProjectResponse:
    """The project you work in (404 if you have none, or are no longer a member)."""
    return await ProjectService(db, current_user).get(scope.project_id)


@router.put(
    "/me/current-project",
    name="set_current_project",
    summary="Choose the current project",
    response_model=UserResponse,
    responses=error_responses(NotAuthenticated, ProjectNotFound, body=True),
)
async def set_current_project(
    data: CurrentProjectUpdate, current_user: CurrentUser, db: SessionDep
) -> UserResponse:
    """Choose the project that project-scoped endpoints work in."""
    user = await ProjectService(db, current_user).switch_to(data.project_id)
    return UserResponse.model_validate(user)
