"""Login abuse: rate limits per account and per client, and the password hashing cap.

The rate limits are tested on both stores: the process's memory and Redis, at
TEST_REDIS_URL (default redis://127.0.0.1:6379/0; each test uses its own key
prefix). Redis tests skip when it is unreachable, unless TEST_REDIS_URL is set.
Each scenario runs on one event loop, with clients at distinct IP addresses.
"""

import asyncio
import logging
import os
import socket
import sys
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import event
from starlette.requests import Request

from app.core import security
from app.core.config import InsecureSettings, Settings
from app.core.db import engine
from app.core.ratelimit import RateLimiter, client_address, get_rate_limiter
from app.main import app
from app.tests.conftest import PASSWORD, TestUser

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
Scenario = Callable[[Callable[[str], httpx.AsyncClient]], Awaitable[None]]


def redis_reachable(url: str) -> bool:
    """Whether something accepts connections at the Redis URL's address."""
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname, parts.port or 6379), 2).close()
    except OSError:
        return False
    return True


@pytest.fixture(params=["memory://", "redis"])
def storage_url(request: pytest.FixtureRequest) -> str:
    """Each rate limit test runs on the in-process store and on Redis."""
    if request.param == "redis" and not redis_reachable(REDIS_URL):
        if "TEST_REDIS_URL" in os.environ:
            pytest.fail(f"Redis is not reachable at TEST_REDIS_URL={REDIS_URL}")
        pytest.skip(f"Redis is not reachable at {REDIS_URL}; set TEST_REDIS_URL")
    return REDIS_URL if request.param == "redis" else request.param


@pytest.fixture
def limits(storage_url: str) -> Iterator[None]:
    """From now on: 1 attempt per account and 2 per client, per action and minute.

    Users that a test needs are registered first: list this fixture after them.
    """
    limiter = RateLimiter(
        Settings(
            rate_limit_storage_url=storage_url,
            rate_limit_key_prefix=f"test-{uuid.uuid4().hex}",
            rate_limit_per_account="1/minute",
            rate_limit_per_client="2/minute",
        )
    )
    app.dependency_overrides[get_rate_limiter] = lambda: limiter
    yield
    del app.dependency_overrides[get_rate_limiter]


def run(scenario: Scenario) -> None:
    """Run a scenario on one event loop; `connect(address)` gives a client there."""

    async def main() -> None:
        clients: list[httpx.AsyncClient] = []

        def connect(address: str) -> httpx.AsyncClient:
            transport = httpx.ASGITransport(app=app, client=(address, 50000))
            clients.append(
                httpx.AsyncClient(transport=transport, base_url="http://test")
            )
            return clients[-1]

        try:
            await scenario(connect)
        finally:
            for client in clients:
                await client.aclose()

    asyncio.run(main())


async def log_in(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD
) -> httpx.Response:
    """Try to log in."""
    return await client.post(
        "/api/v1/auth/token", data={"username": email, "password": password}
    )


def assert_limited(response: httpx.Response) -> None:
    """A 429 that says when to come back (within the minute of the limit)."""
    assert response.status_code == 429, response.text
    assert 1 <= int(response.headers["retry-after"]) <= 60


def test_login_is_limited_per_account(
    owner: TestUser, outsider: TestUser, limits: None
) -> None:
    async def scenario(connect: Callable[[str], httpx.AsyncClient]) -> None:
        first, second = connect("10.0.0.1"), connect("10.0.0.2")
        assert (await log_in(first, owner.email, "wrong-password")).status_code == 401
        # Another client, and even the right password: the account is at its limit.
        assert_limited(await log_in(second, owner.email.upper()))
        assert (await log_in(second, outsider.email)).status_code == 200

    run(scenario)


@pytest.mark.usefixtures("limits")
def test_login_is_limited_per_client() -> None:
    async def scenario(connect: Callable[[str], httpx.AsyncClient]) -> None:
        attacker, bystander = connect("10.0.0.1"), connect("10.0.0.2")
        for number in range(2):
            response = await log_in(attacker, f"victim-{number}@example.com", "guess")
            assert response.status_code == 401
        assert_limited(await log_in(attacker, "victim-2@example.com", "guess"))
        response = await log_in(bystander, "victim-2@example.com", "guess")
        assert response.status_code == 401

    run(scenario)


@pytest.mark.usefixtures("limits")
def test_registration_is_limited_per_email_and_per_client() -> None:
    def account(email: str) -> dict[str, str]:
        return {"email": email, "password": PASSWORD}

    async def scenario(connect: Callable[[str], httpx.AsyncClient]) -> None:
        first, second = connect("10.0.0.1"), connect("10.0.0.2")
        email = f"new-{uuid.uuid4().hex[:8]}@example.com"
        url = "/api/v1/auth/register"
        assert (await first.post(url, json=account(email))).status_code == 201
        # Limited before the duplicate is even looked up (that would be 409).
        assert_limited(await second.post(url, json=account(email.upper())))
        other = f"other-{uuid.uuid4().hex[:8]}@example.com"
        assert (await first.post(url, json=account(other))).status_code == 201
        assert_limited(await first.post(url, json=account(f"x-{other}")))

    run(scenario)


def test_refresh_is_limited_per_user_and_per_client(
    owner: TestUser, limits: None
) -> None:
    async def scenario(connect: Callable[[str], httpx.AsyncClient]) -> None:
        first, second, third = (connect(f"10.0.0.{n}") for n in (1, 2, 3))
        url = "/api/v1/auth/refresh"
        response = await first.post(url, json={"refresh_token": owner.refresh_token})
        assert response.status_code == 200
        rotated = response.json()["refresh_token"]
        assert_limited(await second.post(url, json={"refresh_token": rotated}))
        for _ in range(2):
            response = await third.post(url, json={"refresh_token": "garbage"})
            assert response.status_code == 401
        assert_limited(await third.post(url, json={"refresh_token": "garbage"}))

    run(scenario)


def test_unreachable_storage_lets_logins_through(
    owner: TestUser, caplog: pytest.LogCaptureFixture
) -> None:
    """Fail open: a Redis outage must not turn every login into an error."""
    app.dependency_overrides[get_rate_limiter] = lambda: RateLimiter(
        Settings(
            rate_limit_storage_url="redis://127.0.0.1:1/0",
            rate_limit_per_account="1/minute",
            rate_limit_per_client="1/minute",
        )
    )

    async def scenario(connect: Callable[[str], httpx.AsyncClient]) -> None:
        client = connect("10.0.0.1")
        assert (await log_in(client, owner.email, "wrong")).status_code == 401
        assert (await log_in(client, owner.email)).status_code == 200

    try:
        with caplog.at_level(logging.WARNING, logger="app.core.ratelimit"):
            run(scenario)
    finally:
        del app.dependency_overrides[get_rate_limiter]
    assert "Rate limits not enforced" in caplog.text


def test_a_failed_storage_is_left_alone_for_a_moment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    limiter = RateLimiter(Settings(rate_limit_storage_url="redis://127.0.0.1:1/0"))
    asked: list[object] = []
    ask = limiter.strategy.hit

    async def counted(*args: Any) -> bool:
        asked.append(args)
        return await ask(*args)

    monkeypatch.setattr(limiter.strategy, "hit", counted)

    async def attempts() -> None:
        for _ in range(3):
            await limiter.hit("login", client="10.0.0.1", account="a@example.com")

    asyncio.run(attempts())
    assert len(asked) == 1  # the next attempts did not wait for the dead storage


class BlockingVerify:
    """A password check that waits for `release` (at most 30 s): it holds its slot."""

    def __init__(self, verify: Callable[[str, str], bool]) -> None:
        self.verify = verify
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self, password: str, hashed: str) -> bool:
        self.started.set()
        self.release.wait(30)
        return self.verify(password, hashed)


def test_hashing_beyond_the_cap_is_refused_with_503(
    owner: TestUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    hasher = BlockingVerify(security._password_hash.verify)
    monkeypatch.setattr(security, "password_hashing", security.HashingSlots(1, 0))
    monkeypatch.setattr(security._password_hash, "verify", hasher)

    async def scenario(connect: Callable[[str], httpx.AsyncClient]) -> None:
        client = connect("10.0.0.1")
        holding = asyncio.create_task(log_in(client, owner.email))
        assert await asyncio.to_thread(hasher.started.wait, 30)
        checkouts: list[object] = []

        def checked_out(*args: object) -> None:
            checkouts.append(args)

        event.listen(engine.sync_engine, "checkout", checked_out)
        try:
            refused = await log_in(client, owner.email)
        finally:
            event.remove(engine.sync_engine, "checkout", checked_out)
        hasher.release.set()
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "1"
        assert checkouts == []  # it waited for a slot without a database connection
        assert (await holding).status_code == 200

    run(scenario)


@pytest.mark.skipif(
    sys.platform != "linux", reason="per-thread nice values are Linux's"
)
def test_hashing_threads_yield_the_cpu_to_the_event_loop() -> None:
    def niceness() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    async def on_hashing_thread() -> int:
        return await security.HashingSlots(1, 0).run(niceness)

    assert asyncio.run(on_hashing_thread()) > niceness()


def test_production_on_postgresql_needs_an_explicit_rate_limit_storage(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("RATE_LIMIT_STORAGE_URL")
    monkeypatch.delenv("PASSWORD_HASH_INSECURE_FOR_TESTS")
    production = {
        "environment": "production",
        "secret_key": "s" * 48,
        "database_url": "postgresql://u:p@h/db",
    }
    with pytest.raises(InsecureSettings, match="RATE_LIMIT_STORAGE_URL must be set"):
        Settings(_env_file=None, **production).ensure_safe_to_serve()  # not .env's
    for url in ("redis://cache:6379/0", "memory://"):
        Settings(**production, rate_limit_storage_url=url).ensure_safe_to_serve()


@pytest.mark.parametrize(
    "setting",
    [
        {"rate_limit_storage_url": "http://cache:6379"},
        {"rate_limit_per_account": "ten a minute"},
        {"rate_limit_per_client": ""},
        {"password_hash_concurrency": 0},
    ],
)
def test_bad_abuse_settings_are_refused(setting: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Settings(**setting)


@pytest.mark.parametrize(
    ("host", "counted_as"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("testclient", "testclient"),
    ],
)
def test_clients_are_counted_by_address_and_ipv6_hosts_by_their_network(
    host: str, counted_as: str
) -> None:
    assert (
        client_address(Request({"type": "http", "client": (host, 50000)})) == counted_as
    )
