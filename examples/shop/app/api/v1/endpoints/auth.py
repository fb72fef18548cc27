"""Registration, login, token refresh and logout.

Registration, login and refresh are rate limited per account and per client
(`app.core.ratelimit`): the limits are checked before the database is touched
and before any password is hashed.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response, status

from app.api.deps import CurrentUser, SessionDep
from app.core.errors import NotAuthenticated, TooManyRequests, error_responses
from app.core.ratelimit import RateLimiterDep, client_address
from app.core.security import InvalidToken, decode_token, reserve_hashing_slot
from app.schemas.auth import RefreshRequest, RegisterRequest, TokenPair
from app.schemas.user import UserResponse
from app.services.auth_service import (
    AuthService,
    DuplicateEmail,
    InvalidCredentials,
    RefreshTokenReused,
)

router = APIRouter()

LoginEmail = Annotated[
    str,
    Form(
        min_length=1,
        max_length=320,
        pattern=r"^[^\x00]*$",
        description="The user's e-mail",
    ),
]


async def limit_register(
    request: Request, data: RegisterRequest, limiter: RateLimiterDep
) -> None:
    """Count a registration against the client's and the e-mail's limits."""
    await limiter.hit("register", client=client_address(request), account=data.email)


async def limit_login(
    request: Request, username: LoginEmail, limiter: RateLimiterDep
) -> None:
    """Count a login attempt against the client's and the account's limits."""
    await limiter.hit("login", client=client_address(request), account=username.lower())


async def limit_refresh(
    request: Request, data: RefreshRequest, limiter: RateLimiterDep
) -> None:
    """Count a refresh against the client's limits and, if valid, its user's."""
    try:
        account = str(decode_token(data.refresh_token, "refresh").user_id)
    except InvalidToken:
        account = None
    await limiter.hit("refresh", client=client_address(request), account=account)


def no_store(response: Response) -> None:
    """A response that holds tokens must not be cached (RFC 6749, section 5.1)."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"


@router.post(
    "/register",
    name="register",
    summary="Register",
    response_model=UserResponse,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(DuplicateEmail, TooManyRequests, body=True),
    dependencies=[Depends(limit_register), Depends(reserve_hashing_slot)],
)
async def register(data: RegisterRequest, db: SessionDep) -> UserResponse:
    """Create an account and a first project that the new user owns."""
    user = await AuthService(db).register(data)
    return UserResponse.model_validate(user)


@router.post(
    "/token",
    name="token",
    summary="Log in",
    response_model=TokenPair,
    responses=error_responses(InvalidCredentials, TooManyRequests, body=True),
    dependencies=[
        Depends(limit_login),
        Depends(reserve_hashing_slot),
        Depends(no_store),
    ],
)
async def login(
    username: LoginEmail,
    password: Annotated[str, Form(min_length=1, max_length=128, pattern=r"^[^\x00]*$")],
    db: SessionDep,
) -> TokenPair:
    """Log in with e-mail (as `username`) and password (OAuth2 password flow)."""
    return await AuthService(db).login(username, password)


@router.post(
    "/refresh",
    name="refresh",
    summary="Refresh the tokens",
    response_model=TokenPair,
    responses=error_responses(
        NotAuthenticated, RefreshTokenReused, TooManyRequests, body=True
    ),
    dependencies=[Depends(limit_refresh), Depends(no_store)],
)
async def refresh(data: RefreshRequest, db: SessionDep) -> TokenPair:
    """Exchange a refresh token for a new pair; the old one stops working."""
    return await AuthService(db).refresh(data.refresh_token)


@router.post(
    "/logout",
    name="logout",
    summary="Log out",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(NotAuthenticated),
)
async def logout(current_user: CurrentUser, db: SessionDep) -> None:
    """Log out everywhere: every access and refresh token of the user stops working."""
    await AuthService(db).logout(current_user)
