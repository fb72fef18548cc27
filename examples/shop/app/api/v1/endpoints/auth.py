"""Registration, login, token refresh and logout."""

from typing import Annotated

from fastapi import APIRouter, Form, status

from app.api.deps import CurrentUser, SessionDep
from app.core.errors import Conflict, NotAuthenticated, error_responses
from app.schemas.auth import RefreshRequest, RegisterRequest, TokenPair
from app.schemas.user import UserResponse
from app.services.auth_service import AuthService

router = APIRouter()


@router.post(
    "/register",
    response_model=UserResponse,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(Conflict),
)
async def register(data: RegisterRequest, db: SessionDep) -> UserResponse:
    """Create an account and a first project that the new user owns."""
    user = await AuthService(db).register(data)
    return UserResponse.model_validate(user)


@router.post(
    "/token", response_model=TokenPair, responses=error_responses(NotAuthenticated)
)
async def login(
    username: Annotated[
        str,
        Form(max_length=320, pattern=r"^[^\x00]*$", description="The user's e-mail"),
    ],
    password: Annotated[str, Form(max_length=128, pattern=r"^[^\x00]*$")],
    db: SessionDep,
) -> TokenPair:
    """Log in with e-mail (as `username`) and password (OAuth2 password flow)."""
    return await AuthService(db).login(username, password)


@router.post(
    "/refresh", response_model=TokenPair, responses=error_responses(NotAuthenticated)
)
async def refresh(data: RefreshRequest, db: SessionDep) -> TokenPair:
    """Exchange a refresh token for a new pair; the old one stops working."""
    return await AuthService(db).refresh(data.refresh_token)


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(NotAuthenticated),
)
async def logout(current_user: CurrentUser, db: SessionDep) -> None:
    """Log out everywhere: every access and refresh token of the user stops working."""
    await AuthService(db).logout(current_user)
