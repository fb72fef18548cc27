"""Typed application errors, how OpenAPI describes them, and their handlers."""

import math
from http import HTTPStatus
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.routing import Match


class AppError(Exception):
    """An error the client caused or must know about.

    Rendered as an `ErrorResponse`: `{"detail": "...", "code": "..."}`. Subclasses
    set the status, the message and the code that clients branch on.
    """

    status_code: ClassVar[int] = 400
    default_detail: ClassVar[str] = "Bad request"
    code: ClassVar[str] = "bad_request"
    """The kind of error for programs: stable, unlike the message."""
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
    code = "bad_request"  # as FastAPI's own answer (see `_http_error`)


class PayloadTooLarge(AppError):
    """The request body is over the configured limit (answered by `RequestLimits`)."""

    status_code = 413
    default_detail = "Request body too large"
    code = "payload_too_large"


class NotAuthenticated(AppError):
    """No valid credentials were presented."""

    status_code = 401
    default_detail = "Could not validate credentials"
    code = "not_authenticated"
    default_headers: ClassVar[dict[str, str] | None] = {"WWW-Authenticate": "Bearer"}


class PermissionDenied(AppError):
    """The caller is known but their role does not allow this."""

    status_code = 403
    default_detail = "Your role in this project does not allow this action"
    code = "permission_denied"


class NotFound(AppError):
    """The object does not exist, or belongs to another project: both look the same."""

    status_code = 404
    default_detail = "Not found"
    code = "not_found"


class NoCurrentProject(NotFound):
    """The caller has no current project, or is no longer a member of it."""

    default_detail = "No current project: choose one of yours with PUT /api/v1/users/me/current-project"
    code = "no_current_project"


class Conflict(AppError):
    """The request conflicts with existing data (a duplicate, the last owner...)."""

    status_code = 409
    default_detail = "Conflict with existing data"
    code = "conflict"


class AlreadyExists(Conflict):
    """A unique value is taken in the project (enforced by a unique index)."""

    default_detail = "A row with these values already exists in the project"
    code = "already_exists"


class StillReferenced(Conflict):
    """A row cannot go while other rows refer to it (enforced by a foreign key)."""

    default_detail = "This row is still referenced by other records"
    code = "still_referenced"


class MissingReference(Conflict):
    """A row refers to one that was deleted meanwhile (enforced by a foreign key)."""

    default_detail = "This row refers to a record that does not exist"
    code = "missing_reference"


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
    code = "too_many_requests"


class ServiceUnavailable(RetryLater):
    """The server cannot take the request now (busy, or its database is unreachable)."""

    status_code = 503
    default_detail = "Service temporarily unavailable; retry later"
    code = "service_unavailable"


class InvalidField(AppError):
    """A body field that is well-formed but unacceptable: a 422 shaped like FastAPI's.

    Its body is FastAPI's `HTTPValidationError`: the kind is each error's `type`.
    """

    status_code = 422
    default_detail = "Invalid field"
    code = "invalid_field"

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


class ErrorResponse(BaseModel):
    """The body of every error but 422 (which is FastAPI's `HTTPValidationError`)."""

    detail: str = Field(description="What went wrong, for people.")
    code: str = Field(
        description="What went wrong, for programs: `not_found`, `conflict`, ...; "
        "stable, unlike `detail`.",
        examples=["not_found"],
    )


_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 1},
    }
}


def error_responses(
    *errors: type[AppError], body: bool = False
) -> dict[int | str, dict[str, Any]]:
    """Describe a route's errors for its `responses=`, each status with its examples.

    Every route of the API uses the database, so 503 is always listed; `body=True`
    adds what a route that reads a request body may answer: 400 and 413. 422 is
    left to FastAPI, which documents it for every route that validates input.
    """
    listed = [*errors, *((MalformedRequest, PayloadTooLarge) if body else ())]
    by_status: dict[int, list[type[AppError]]] = {}
    for error in (*listed, ServiceUnavailable):
        if error.status_code != 422 and error not in by_status.get(
            error.status_code, []
        ):
            by_status.setdefault(error.status_code, []).append(error)
    responses: dict[int | str, dict[str, Any]] = {}
    for status_code, group in sorted(by_status.items()):
        response: dict[str, Any] = {
            "model": ErrorResponse,
            "description": "\n".join(
                f"- `{error.code}`: {error.default_detail}" for error in group
            ),
            "content": {
                "application/json": {
                    "examples": {
                        error.code: {
                            "summary": error.default_detail,
                            "value": {
                                "detail": error.default_detail,
                                "code": error.code,
                            },
                        }
                        for error in group
                    }
                }
            },
        }
        if any(issubclass(error, RetryLater) for error in group):
            response["headers"] = _RETRY_AFTER
        responses[status_code] = response
    return responses


async def _handle_app_error(_request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, AppError):  # pragma: no cover - registered for AppError only
        raise exc
    content: dict[str, Any] = {"detail": exc.detail}
    if not isinstance(exc, InvalidField):
        content["code"] = exc.code
    return JSONResponse(content, status_code=exc.status_code, headers=exc.headers)


def http_error_code(status_code: int) -> str:
    """The `code` of an error that FastAPI or Starlette raised: its status, in words."""
    try:
        return (
            HTTPStatus(status_code).phrase.lower().replace(" ", "_").replace("-", "_")
        )
    except ValueError:
        return "http_error"


async def _http_error(_request: Request, exc: Exception) -> Response:
    """FastAPI's and Starlette's own errors (404, a body that cannot be parsed, ...)."""
    if not isinstance(exc, HTTPException):  # pragma: no cover - registered for it
        raise exc
    if exc.status_code in (204, 304):  # no body allowed
        return Response(status_code=exc.status_code, headers=exc.headers)
    return JSONResponse(
        {"detail": exc.detail, "code": http_error_code(exc.status_code)},
        status_code=exc.status_code,
        headers=exc.headers,
    )


_ECHO_DEPTH = 8
_SECRETS = frozenset({"password", "refresh_token", "client_secret"})
"""Fields whose values a 422 does not echo: proxies and logs keep response bodies."""
HIDDEN = "[hidden]"


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
            _printable(key, depth + 1): (
                HIDDEN if key in _SECRETS else _printable(item, depth + 1)
            )
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_printable(item, depth + 1) for item in value]
    return value


def _echoed(error: dict[str, Any]) -> dict[str, Any]:
    """One error of a 422, its input made safe to echo and a secret's hidden."""
    if "input" not in error:
        return error
    secret = bool(_SECRETS.intersection(str(part) for part in error["loc"]))
    return {**error, "input": HIDDEN if secret else _printable(error["input"])}


async def _invalid_request(_request: Request, exc: Exception) -> JSONResponse:
    """422 as FastAPI answers it, made safe for any input (see `_printable`), with
    each error once (a body that a dependency reads too is validated twice)."""
    if not isinstance(
        exc, RequestValidationError
    ):  # pragma: no cover - registered for it
        raise exc
    errors: dict[tuple[Any, ...], dict[str, Any]] = {}
    for error in exc.errors():
        key = (error["type"], tuple(error["loc"]), error["msg"])
        errors.setdefault(key, _echoed(error))
    return JSONResponse(
        {"detail": jsonable_encoder(list(errors.values()))}, status_code=422
    )


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


async def _method_not_allowed(request: Request, _exc: Exception) -> JSONResponse:
    """405 with an `Allow` header that lists every method of the path, not just one.

    Each method is asked of the application's routes as a request of it would be,
    so routers included at any depth answer too.
    """
    allowed = [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in request.app.router.routes
        )
    ]
    return JSONResponse(
        {"detail": "Method Not Allowed", "code": http_error_code(405)},
        status_code=405,
        headers={"Allow": ", ".join(allowed)},
    )


RESPONSE_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}
"""What every answer says, unless it says otherwise (`app.core.limits.ResponseHeaders`):
no browser guesses a script from a body, and no cache on the way keeps it."""


async def _unexpected_error(_request: Request, _exc: Exception) -> JSONResponse:
    """500 for an error the application did not expect, written as every error is.

    Starlette sends it outside every middleware, so it carries `RESPONSE_HEADERS`
    itself. Nothing of the error reaches the client: the server logs its traceback.
    """
    return JSONResponse(
        {"detail": "Internal Server Error", "code": http_error_code(500)},
        status_code=500,
        headers=RESPONSE_HEADERS,
    )


def register_exception_handlers(app: FastAPI) -> None:
    """Install the handlers of `AppError`, of invalid requests, of HTTP errors, of 405
    and of unexpected errors (500)."""
    app.add_exception_handler(AppError, _handle_app_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(405, _method_not_allowed)
    app.add_exception_handler(Exception, _unexpected_error)
