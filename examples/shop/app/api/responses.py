"""JSON responses written straight from response schemas.

Endpoints that return these skip FastAPI's second validation of the result: the
schemas were validated when they were built from the database rows. Their
`response_model` still documents them in OpenAPI.
"""

from collections.abc import Sequence

from fastapi import Request, Response
from pydantic import BaseModel

from app.schemas.base import list_adapter


def json_response(
    content: BaseModel | Sequence[BaseModel],
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """Serialize validated schemas (one, or a list of one kind) to a JSON response."""
    if isinstance(content, BaseModel):
        body = content.__pydantic_serializer__.to_json(content)
    elif content:
        body = list_adapter(type(content[0])).dump_json(content)
    else:
        body = b"[]"
    return Response(body, status_code, headers, media_type="application/json")


def next_page_link(request: Request, cursor: str | None) -> dict[str, str] | None:
    """The `Link` header to the next page of a list, if there is one.

    The link is relative (RFC 8288 resolves it against the request's URL), so the
    `Host` header, which a client chooses, is never written into a response.
    """
    if cursor is None:
        return None
    next_url = request.url.include_query_params(cursor=cursor)
    return {"Link": f'<{next_url.path}?{next_url.query}>; rel="next"'}
