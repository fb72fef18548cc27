"""Typed application errors and the one handler that turns them into responses."""

import math
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute


class AppError(Exception):
    """An error the client caused or must know about; rendered as `{"detail": ...}`."""

    status_code: ClassVar[int] = 400
    default_detail: ClassVar[str] = "Bad request"
    default_headers: ClassVar[dict[str, str] | None] = None
    keeps_writes: ClassVar[bool] = False
    """Whether the request's writes are committed all the same (a revocation)."""

    def __init__(self, detail: str | None = None) -> None:
        self.detail: str | list[dict[str, Any]] = detail or self.default_detail
        self.headers: dict[str, str] | None = self.default_headers
        super().__init__(self.detail)


def keeps_writes(error: BaseException) -> bool:
    """Whether the transaction commits although the request fails with `error`."""
    return isinstance(error, AppError) and error.keeps_writes


class MalformedRequest(AppError):
    """The request could not be read (a body that is not JSON, say)."""

    default_detail = "There was an error parsing the body"


class PayloadTooLarge(AppError):
    """The request body is over the configured limit (answered by `RequestLimits`)."""

    status_code = 413
    default_detail = "Request body too large"


class NotAuthenticated(AppError):
    """No valid credentials were presented."""

    status_code = 401
    default_detail = "Could not validate credentials"
    default_headers: ClassVar[dict[str, str] | None] = {"WWW-Authenticate": "Bearer"}


class PermissionDenied(AppError):
    """The caller is known but their role does not allow this."""

    status_code = 403
    default_detail = "Your role in this project does not allow this action"


class NotFound(AppError):
    """The object does not exist, or belongs to another project: both look the same."""

    status_code = 404
    default_detail = "Not found"


class NoCurrentProject(NotFound):
    """The caller has no current project, or is no longer a member of it."""

    default_detail = "No current project: choose one of yours with PUT /api/v1/users/me/current-project"


class Conflict(AppError):
    """The request conflicts with existing data (a duplicate, the last owner...)."""

    status_code = 409
    default_detail = "Conflict with existing data"


class RetryLater(AppError):
    """The request may succeed later: answered with a `Retry-After` header (seconds)."""

    def __init__(self, retry_after: int, detail: str | None = None) -> None:
        super().__init__(detail)
        self.retry_after = max(1, retry_after)
        self.headers = {"Retry-After": str(self.retry_after)}


class TooManyRequests(RetryLater):
    """A rate limit was reached (per account or per client)."""

    status_code = 429
    default_detail = "Too many requests; retry later"


class ServiceUnavailable(RetryLater):
    """The server cannot take the request now (busy, or its database is unreachable)."""

    status_code = 503
    default_detail = "Service temporarily unavailable; retry later"


class InvalidField(AppError):
    """A body field that is well-formed but unacceptable: a 422 shaped like FastAPI's."""

    status_code = 422
    default_detail = "Invalid field"

    def __init__(self, field: str, message: str, kind: str = "value_error") -> None:
        super().__init__(message)
        self.detail = [{"type": kind, "loc": ["body", field], "msg": message}]


class InvalidReference(InvalidField):
    """A reference to an object that is not in the current project."""

    def __init__(self, field: str, target: str) -> None:
        super().__init__(
            field,
            f"no {target} with this id in the current project",
            "invalid_reference",
        )


def error_responses(*errors: type[AppError]) -> dict[int | str, dict[str, object]]:
    """Describe errors for a route's `responses=` so that OpenAPI lists them."""
    return {
        error.status_code: {
            "description": error.default_detail,
            "content": {
                "application/json": {"example": {"detail": error.default_detail}}
            },
        }
        for error in errors
    }


async def _handle_app_error(_request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, AppError):  # pragma: no cover - registered for AppError only
        raise exc
    return JSONResponse(
        {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
    )


_ECHO_DEPTH = 8


def _printable(value: Any, depth: int = 0) -> Any:
    """`value` made safe to echo back as JSON, whatever a client sent.

    Bytes and lone surrogates become escaped text, NaN and infinities become text,
    and what nests deeper than a few levels is cut (a deep json input must not
    exhaust the recursion of the encoder).
    """
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict | list | tuple) and depth >= _ECHO_DEPTH:
        return "..."
    if isinstance(value, dict):
        return {
            _printable(key, depth + 1): _printable(item, depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_printable(item, depth + 1) for item in value]
    return value


async def _invalid_request(_request: Request, exc: Exception) -> JSONResponse:
    """422 as FastAPI answers it, made safe for any input (see `_printable`)."""
    if not isinstance(
        exc, RequestValidationError
    ):  # pragma: no cover - registered for it
        raise exc
    errors = [
        {**error, "input": _printable(error["input"])} if "input" in error else error
        for error in exc.errors()
    ]
    return JSONResponse({"detail": jsonable_encoder(errors)}, status_code=422)


async def _method_not_allowed(request: Request, _exc: Exception) -> JSONResponse:
    """405 with an `Allow` header that lists every method of the path, not just one."""
    allowed = sorted(
        {
            method
            for route in request.app.routes
            if isinstance(route, APIRoute) and route.path_regex.match(request.url.path)
            for method in route.methods
        }
    )
    return JSONResponse(
        {"detail": "Method Not Allowed"},
        status_code=405,
        headers={"Allow": ", ".join(allowed)},
    )


def register_exception_handlers(app: FastAPI) -> None:
    """Install the handlers of `AppError`, of invalid requests and of 405."""
    app.add_exception_handler(AppError, _handle_app_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(405, _method_not_allowed)
