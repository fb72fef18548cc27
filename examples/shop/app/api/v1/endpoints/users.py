"""The current user."""

from fastapi import APIRouter

from app.api.deps import CurrentUser, SessionDep
from app.core.errors import NotAuthenticated, NotFound, error_responses
from app.schemas.user import CurrentProjectUpdate, UserResponse
from app.services.project_service import ProjectService

router = APIRouter()


@router.get(
    "/me", response_model=UserResponse, responses=error_responses(NotAuthenticated)
)
async def read_me(current_user: CurrentUser) -> UserResponse:
    """The user the token belongs to."""
    return UserResponse.model_validate(current_user)


@router.put(
    "/me/current-project",
    response_model=UserResponse,
    responses=error_responses(NotAuthenticated, NotFound),
)
async def set_current_project(
    data: CurrentProjectUpdate, current_user: CurrentUser, db: SessionDep
) -> UserResponse:
    """Choose the project that project-scoped endpoints work in."""
    user = await ProjectService(db, current_user).switch_to(data.project_id)
    return UserResponse.model_validate(user)
