"""The tests' client runs the application as a server would, on a thread of its own."""

import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest
from fastapi import FastAPI, Request

from app.tests.app_client import AppClient


def application(events: list[str], *, fail_at_startup: bool = False) -> FastAPI:
    """An application that records its lifespan and the thread of its requests."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        events.append("startup")
        if fail_at_startup:
            raise OSError("no database")
        yield
        events.append("shutdown")

    served = FastAPI(lifespan=lifespan)

    @served.post("/echo")
    async def echo(request: Request) -> dict[str, object]:
        body = await request.body()
        events.append(threading.current_thread().name)
        return {"length": len(body), "client": request.client and request.client.host}

    @served.get("/broken")
    async def broken() -> None:
        raise LookupError("a bug")

    return served


def test_the_lifespan_runs_while_the_client_is_open() -> None:
    events: list[str] = []
    with AppClient(application(events)) as client:
        assert events == ["startup"]
        response = client.post("/echo", content=b"12345")
        assert response.json() == {"length": 5, "client": "testclient"}
    assert events == ["startup", "app", "shutdown"]
    assert threading.current_thread().name != "app"


def test_a_body_sent_in_chunks_arrives_whole() -> None:
    def chunks() -> Iterator[bytes]:
        yield b"abc"
        yield b"defg"

    with AppClient(application([])) as client:
        assert client.post("/echo", content=chunks()).json()["length"] == 7


def test_an_unhandled_error_is_raised_in_the_test() -> None:
    with (
        AppClient(application([])) as client,
        pytest.raises(LookupError, match="a bug"),
    ):
        client.get("/broken")


def test_a_client_that_is_not_open_says_so() -> None:
    with pytest.raises(RuntimeError, match="the client is not open"):
        AppClient(application([])).get("/broken")


def test_a_failed_startup_is_raised_not_waited_for() -> None:
    events: list[str] = []
    failing = application(events, fail_at_startup=True)
    expected = r"lifespan\.startup failed: OSError\('no database'\)"
    with pytest.raises(RuntimeError, match=expected), AppClient(failing):
        pass
    assert events == ["startup"]
