"""Rate limits of login, registration and token refresh, per account and per client.

Each action has its own counters, one per account (the e-mail, lower-cased, or the
user of a refresh token) and one per client (its IP address). An attempt over a
limit is answered 429 with `Retry-After`, before any password is hashed.

The counters live where RATE_LIMIT_STORAGE_URL says: Redis, so that the limits hold
across every worker of every machine, or the memory of the process (`memory://`,
the default for the embedded SQLite setup, which runs as one process). The windows
are moving windows: at most N attempts in any period of the given length.

If Redis cannot be reached, requests are let through, a warning is logged and Redis
is left alone for a few seconds (fail open): an outage of the counters must not lock every user out, and the cap on
concurrent password hashing (`app.core.security`) still bounds what a flood costs.
"""

import ipaddress
import logging
import math
import time
from typing import Annotated

from fastapi import Depends, Request
from limits import RateLimitItem, WindowStats, parse_many, strategies
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from limits.storage import MemoryStorage, storage_from_string

from app.core.config import Settings, settings
from app.core.errors import TooManyRequests

logger = logging.getLogger(__name__)

REDIS_TIMEOUT_SECONDS = 0.5
STORAGE_RETRY_SECONDS = 5.0
"""After the storage fails, how long attempts go through without asking it."""


class InProcessWindows:
    """Moving windows in this process's memory, behind the asynchronous interface.

    Counting in memory takes microseconds and never waits, so it runs on the event
    loop. (limits' asynchronous memory storage hands every key it holds to a thread
    on each sweep of expired windows: a cost that grows with every account seen.)
    """

    def __init__(self) -> None:
        self._windows = strategies.MovingWindowRateLimiter(MemoryStorage())

    async def hit(self, limit: RateLimitItem, *identifiers: str) -> bool:
        """Count one attempt; False if it is over `limit`."""
        return self._windows.hit(limit, *identifiers)

    async def get_window_stats(
        self, limit: RateLimitItem, *identifiers: str
    ) -> WindowStats:
        """When the window of `limit` frees a place, and how many are left."""
        return self._windows.get_window_stats(limit, *identifiers)


class RateLimiter:
    """Counts attempts per action, account and client; refuses those over a limit."""

    def __init__(self, config: Settings) -> None:
        url = config.rate_limit_storage_url
        self.strategy: MovingWindowRateLimiter | InProcessWindows
        if url.startswith("memory://"):
            self.strategy = InProcessWindows()
        else:
            storage = storage_from_string(
                f"async+{url}",
                wrap_exceptions=True,
                key_prefix=config.rate_limit_key_prefix,
                connect_timeout=REDIS_TIMEOUT_SECONDS,
                stream_timeout=REDIS_TIMEOUT_SECONDS,
            )
            self.strategy = MovingWindowRateLimiter(storage)
        self.per_account = parse_many(config.rate_limit_per_account)
        self.per_client = parse_many(config.rate_limit_per_client)
        self._storage_down_until = 0.0

    async def hit(self, action: str, *, client: str, account: str | None) -> None:
        """Count one attempt at `action`; raise `TooManyRequests` if over a limit.

        The client's limits are checked first: attempts that a client makes over
        its own limits do not count against the account they aim at. After the
        storage fails, it is left alone for `STORAGE_RETRY_SECONDS`: attempts go
        through at once instead of each waiting for its timeout.
        """
        if time.monotonic() < self._storage_down_until:
            return
        try:
            await self._hit(self.per_client, action, "client", client)
            if account is not None:
                await self._hit(self.per_account, action, "account", account)
        except StorageError as error:
            self._storage_down_until = time.monotonic() + STORAGE_RETRY_SECONDS
            logger.warning(
                "Rate limits not enforced for %.0f s, storage failed: %s",
                STORAGE_RETRY_SECONDS,
                error,
            )

    async def _hit(
        self, limits: list[RateLimitItem], action: str, scope: str, identity: str
    ) -> None:
        for limit in limits:
            if not await self.strategy.hit(limit, action, scope, identity):
                stats = await self.strategy.get_window_stats(
                    limit, action, scope, identity
                )
                raise TooManyRequests(math.ceil(stats.reset_time - time.time()))


rate_limiter = RateLimiter(settings)
"""The process's rate limiter; its storage connects on first use."""


async def get_rate_limiter() -> RateLimiter:
    """The process's rate limiter, as a dependency that tests can override."""
    return rate_limiter


def client_address(request: Request) -> str:
    """The client's IP address, as the server saw it; for IPv6, its /64 network.

    One IPv6 host usually holds a whole /64 (2**64 addresses): counted per address,
    it could start afresh with every request. Behind a reverse proxy, run uvicorn
    with `--proxy-headers` and `--forwarded-allow-ips` set to the proxy's address,
    so that this is the address the proxy received the request from.
    """
    host = request.client.host if request.client is not None else "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


RateLimiterDep = Annotated[RateLimiter, Depends(get_rate_limiter)]
