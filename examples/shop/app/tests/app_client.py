"""The tests' HTTP client: a `TestClient` that hands each request over once.

Starlette's `TestClient` runs the application on an event loop in another thread and
streams each response back through it: about ten hand-overs between the two threads
per request, which cost more than most requests themselves (2.6 ms against 0.9 ms
for `/health` on a 2-core machine). `AppClient` keeps the application on a thread of
its own, as a server would (with a server's headroom on the stack), and sends it
each request whole through `ASGITransport`: one hand-over there, one back.

As with `TestClient`, the application's lifespan runs while the client is open
(`with AppClient(app) as client:`), an error the application does not handle is
raised in the test, and redirects are followed. It speaks HTTP only: no WebSocket.
"""

import asyncio
import threading
from collections.abc import AsyncIterator, Coroutine, Iterable
from concurrent.futures import Future
from types import TracebackType
from typing import Any, Self, TypeVar

from starlette import testclient
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Message

http = testclient.httpx
"""The HTTP package that `TestClient` is built on: httpx2, or httpx before it."""
T = TypeVar("T")


class _Chunks(http.AsyncByteStream):
    """A request body given as an iterator of bytes, sent chunk by chunk."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks:
            yield chunk


class _Transport(http.BaseTransport):
    """Send each request to the application on the client's event loop."""

    def __init__(self, client: "AppClient") -> None:
        self._client = client
        self._app = http.ASGITransport(app=client.app, client=("testclient", 50000))

    def handle_request(self, request: http.Request) -> http.Response:
        if not isinstance(request.stream, http.AsyncByteStream):
            request.stream = _Chunks(request.stream)

        async def send() -> http.Response:
            response = await self._app.handle_async_request(request)
            body = b"".join([part async for part in response.stream])
            return http.Response(
                response.status_code,
                headers=response.headers,
                content=body,
                extensions=response.extensions,
            )

        return self._client.run(send())


class AppClient(TestClient):
    """A `TestClient` of `app` that sends each request whole; open it with `with`."""

    def __init__(self, app: ASGIApp) -> None:
        # Not TestClient.__init__: it would set up the transport this class replaces.
        self.app = app
        self.app_state: dict[str, Any] = {}
        self._loop: asyncio.AbstractEventLoop | None = None  # while open
        self._thread: threading.Thread | None = None  # runs the loop while open
        self._lifespan: asyncio.Task[None] | None = None
        self._messages: asyncio.Queue[Message] = asyncio.Queue()
        self._replies: asyncio.Queue[Message] = asyncio.Queue()
        super(TestClient, self).__init__(
            transport=_Transport(self),
            base_url="http://testserver",
            headers={"user-agent": "testclient"},
            follow_redirects=True,
        )

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the application's event loop and return its result."""
        if self._loop is None:
            coroutine.close()
            raise RuntimeError(
                "the client is not open: use `with AppClient(app) as client:`"
            )
        future: Future[T] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result()

    def __enter__(self) -> Self:
        super(TestClient, self).__enter__()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="app", daemon=True
        )
        self._thread.start()
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}

        async def start() -> asyncio.Task[None]:
            return asyncio.create_task(
                self.app(scope, self._messages.get, self._replies.put)
            )

        self._lifespan = self.run(start())
        try:
            self._lifespan_step("startup")
        except BaseException:
            self._close()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None = None,
        error: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        try:
            self._lifespan_step("shutdown")
        finally:
            self._close(kind, error, traceback)

    def _close(
        self,
        kind: type[BaseException] | None = None,
        error: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        """Stop the application's thread and close the client."""
        loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        assert loop is not None and thread is not None
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()
        super(TestClient, self).__exit__(kind, error, traceback)

    def _lifespan_step(self, step: str) -> None:
        """Send `lifespan.<step>` and return once the application has done it.

        Raise if it failed, or if the application ended without an answer.
        """
        lifespan = self._lifespan
        assert lifespan is not None

        async def answer() -> Message | None:
            await self._messages.put({"type": f"lifespan.{step}"})
            reply = asyncio.ensure_future(self._replies.get())
            await asyncio.wait({reply, lifespan}, return_when=asyncio.FIRST_COMPLETED)
            if reply.done():
                return reply.result()
            reply.cancel()
            return None

        reply = self.run(answer())
        if reply is not None and reply["type"] == f"lifespan.{step}.complete":
            return
        raised = lifespan.exception() if lifespan.done() else None
        if raised is not None:
            detail = repr(raised)
        else:
            detail = reply.get("message", "") if reply is not None else "no answer"
        raise RuntimeError(
            f"the application's lifespan.{step} failed: {detail}"
        ) from raised
