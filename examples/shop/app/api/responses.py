"""JSON responses written straight from response schemas.

Endpoints that return these skip FastAPI's second validation of the result: the
schemas were validated when they were built from the database rows. Their
`response_model` still documents them in OpenAPI.

A plain schema (see `plain_output`) is written by orjson from its validated values,
several times faster than pydantic's serializer for a page of rows, with the same
bytes: UTC times end in `Z`, UUIDs and decimals are strings, enums are their values.
A schema that shapes its own output (serializers, computed fields, aliases, excluded
fields, output settings) is written by pydantic, and so is any value orjson cannot
write as pydantic would (an integer beyond 64 bits in a json field, a nested model).
When `ENVIRONMENT` is `test`, every body written by orjson is also written by
pydantic, and a difference is an error, so the test suite proves them equal.
"""

import uuid
from collections.abc import Sequence
from decimal import Decimal
from functools import cache
from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi import Request, Response
from pydantic import BaseModel, PlainSerializer, WrapSerializer

from app.core.config import settings
from app.schemas.base import list_adapter

PLAIN_SETTINGS = frozenset({"from_attributes", "frozen", "title"})
"""Model settings that leave a schema's JSON as its fields' values."""


class SerializationMismatch(RuntimeError):
    """orjson and pydantic wrote a response body differently (tests only)."""


def json_response(
    content: BaseModel | Sequence[BaseModel],
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """Serialize validated schemas (one, or a list of one kind) to a JSON response."""
    body = _json(content) if content else b"[]"
    return Response(body, status_code, headers, media_type="application/json")


@cache
def plain_output(schema: type[BaseModel]) -> bool:
    """Whether `schema`'s JSON is its fields' values, with nothing to shape it."""
    decorators = schema.__pydantic_decorators__
    if (
        decorators.field_serializers
        or decorators.model_serializers
        or decorators.computed_fields
        or not set(schema.model_config) <= PLAIN_SETTINGS
    ):
        return False
    return all(
        field.alias is None
        and field.serialization_alias is None
        and not field.exclude
        and not any(
            isinstance(meta, PlainSerializer | WrapSerializer)
            for meta in field.metadata
        )
        for field in schema.model_fields.values()
    )


def _json(content: BaseModel | Sequence[BaseModel]) -> bytes:
    single = isinstance(content, BaseModel)
    schema = type(content) if single else type(content[0])
    if plain_output(schema):
        values = content.__dict__ if single else [item.__dict__ for item in content]
        try:
            body = orjson.dumps(values, default=_string, option=orjson.OPT_UTC_Z)
        except TypeError:  # orjson.JSONEncodeError: pydantic writes it instead
            pass
        else:
            if settings.environment == "test":
                _check(content, body)
            return body
    return _pydantic_json(content)


STRING_TYPES = (Decimal, uuid.UUID)
"""What orjson leaves to `_string` and pydantic writes as a string. The driver's own
UUID type is not uuid.UUID itself, so each id of a page comes here: a tuple is
checked faster than a union."""


def _string(value: Any) -> str:
    """What orjson leaves to its caller and pydantic writes as a string."""
    if isinstance(value, STRING_TYPES):
        return str(value)
    raise TypeError


def _pydantic_json(content: BaseModel | Sequence[BaseModel]) -> bytes:
    if isinstance(content, BaseModel):
        return content.__pydantic_serializer__.to_json(content)
    return list_adapter(type(content[0])).dump_json(content)


def _check(content: BaseModel | Sequence[BaseModel], body: bytes) -> None:
    expected = _pydantic_json(content)
    if body != expected:
        raise SerializationMismatch(
            f"orjson wrote {body[:500]!r}, pydantic {expected[:500]!r}"
        )


NEXT_PAGE: dict[int | str, dict[str, Any]] = {
    200: {
        "headers": {
            "Link": {
                "description": "The next page, if there is one (RFC 8288): "
                '`</api/v1/...?cursor=...>; rel="next"`, relative to the request\'s '
                "URL. Absent on the last page.",
                "schema": {"type": "string"},
            }
        }
    }
}
"""A list's `responses=` entry for its 200: the `Link` header of `next_page_link`."""


def next_page_link(request: Request, cursor: str | None) -> dict[str, str] | None:
    """The `Link` header to the next page of a list, if there is one.

    The link is relative (RFC 8288 resolves it against the request's URL), so the
    `Host` header, which a client chooses, is never written into a response. It
    keeps the request's query parameters in their order, with the new cursor last.
    """
    if cursor is None:
        return None
    query = [item for item in request.query_params.multi_items() if item[0] != "cursor"]
    query.append(("cursor", cursor))
    return {"Link": f'<{request.url.path}?{urlencode(query)}>; rel="next"'}
