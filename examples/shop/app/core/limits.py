"""What is checked or added around the application: path, body size, response headers."""

import json
import re
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.config import settings
from app.core.errors import RESPONSE_HEADERS, NotFound, PayloadTooLarge

_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f]")
_NOT_FOUND = json.dumps({"detail": "Not Found", "code": NotFound.code}).encode()
_TOO_LARGE = json.dumps(
    {"detail": PayloadTooLarge.default_detail, "code": PayloadTooLarge.code}
).encode()


class RequestLimits:
    """ASGI middleware: 404 for a path with control characters, 413 for a big body.

    A path such as `/api/v1/assets/%0A` would otherwise match `/api/v1/assets/`
    (a regex `$` matches before a final newline). A body over
    `settings.max_body_bytes` is refused: a declared Content-Length at once, a
    chunked body as soon as it grows past the limit.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.limit = settings.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse an oversized body with 413; pass everything else through."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _CONTROL_CHARACTERS.search(scope["path"]):
            await _reply(send, 404, _NOT_FOUND)
            return
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if (
            length is None
            and b"transfer-encoding" not in headers
            and scope.get("http_version") != "2"
        ):  # HTTP/1: no body at all (a GET, say)
            await self.app(scope, receive, send)
            return
        if length is not None:
            if not length.isdigit() or int(length) > self.limit:
                await _reply(send, 413, _TOO_LARGE)
                return
            await self.app(scope, receive, send)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if len(body) > self.limit:
                await _reply(send, 413, _TOO_LARGE)
                return
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, replay, send)


async def _reply(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


_ADDED = tuple(
    (name.lower().encode("latin-1"), value.encode("latin-1"))
    for name, value in RESPONSE_HEADERS.items()
)


class ResponseHeaders:
    """ASGI middleware: what every response tells the browsers and proxies it meets.

    - `X-Content-Type-Options: nosniff`: a browser takes a body for what its
      Content-Type says, never for a script or a page it guessed from the bytes.
    - `Cache-Control: no-store`: a project's data and tokens are kept by no browser
      cache and no proxy on the way.
    Neither replaces a header of the same name that a response sets itself. The 500
    of an unexpected error, which Starlette sends outside every middleware, carries
    them too (`app.core.errors.RESPONSE_HEADERS`).
    - Redirects point to a path, never to the `Host` a client sent. Starlette
      answers `/api/v1/assets` with a redirect to `/api/v1/assets/` built from the
      request's `Host` header, which the client chooses: an unknown host would be
      echoed back (open redirects, poisoned caches). The `Location` of every
      redirect is made relative, which browsers and HTTP clients resolve against
      the URL they asked for.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request through; add the headers, make redirect locations relative."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                if 300 <= message["status"] < 400:
                    headers = [
                        (name, _relative(value) if name == b"location" else value)
                        for name, value in headers
                    ]
                names = {name for name, _ in headers}
                headers += [pair for pair in _ADDED if pair[0] not in names]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _relative(location: bytes) -> bytes:
    """`http://host/path?query` as `/path?query`."""
    parts = urlsplit(location.decode("latin-1"))
    path = "/" + parts.path.lstrip("/")  # never `//host`, which is absolute again
    return (f"{path}?{parts.query}" if parts.query else path).encode("latin-1")
