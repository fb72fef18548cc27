"""Schemas of registration, login and token refresh."""

from typing import Annotated, Literal

from pydantic import AfterValidator, StringConstraints

from app.schemas.base import EmailAddress, InputSchema, OutputSchema, Text

Email = Annotated[EmailAddress, AfterValidator(str.lower)]
Password = Annotated[Text, StringConstraints(min_length=8, max_length=128)]
ProjectName = Annotated[Text, StringConstraints(min_length=1, max_length=200)]


class RegisterRequest(InputSchema):
    """A new account: the user and a first project they own."""

    email: Email
    password: Password
    project_name: ProjectName | None = None


class RefreshRequest(InputSchema):
    """A refresh token to exchange for a new token pair."""

    refresh_token: Annotated[Text, StringConstraints(max_length=4096)]


class TokenPair(OutputSchema):
    """An access token for the API and a refresh token to renew it."""

    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - not a secret
