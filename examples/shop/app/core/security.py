"""Password hashing and JSON Web Tokens.

Hashing runs on threads of its own so that Argon2 never blocks the event loop, and
at most PASSWORD_HASH_CONCURRENCY hashes run at once per worker: each takes 64 MiB
and most of a CPU core or more, so a flood of logins must queue, briefly, and then
get 503 rather than take the memory and the CPU from every other request. Tokens
are signed with HS256 only; the audience tells access tokens from refresh tokens,
so one can never be used as the other.
"""

import asyncio
import functools
import os
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar
from weakref import WeakKeyDictionary

import jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from app.core.config import settings
from app.core.errors import ServiceUnavailable

ALGORITHM = "HS256"
TokenKind = Literal["access", "refresh"]
T = TypeVar("T")

_password_hash = PasswordHash((Argon2Hasher(**settings.argon2_parameters),))


@functools.cache
def dummy_hash() -> str:
    """The hash of a random password, checked when the user is unknown.

    Made once per process when first needed (the app makes it as it starts), not on
    import: migrations and scripts that import the app pay for no Argon2 hash.
    """
    return _password_hash.hash(uuid.uuid4().hex)


_holds_slot: ContextVar[bool] = ContextVar("holds_password_hash_slot", default=False)


class HashingSlots:
    """At most `size` password hashes at once; beyond, a short wait and then 503.

    Hashes run on `size` threads of their own which, on Linux, yield the CPU to
    the event loop (a higher nice value): under a flood of logins, the other
    requests keep the CPU they need and the logins wait. Waiting for a slot is
    counted per event loop, that is per worker process in production (tests may
    run several loops, one after the other, in one process).
    """

    def __init__(self, size: int, wait_seconds: float) -> None:
        self.size = size
        self.wait_seconds = wait_seconds
        self._threads = ThreadPoolExecutor(
            size, thread_name_prefix="password-hash", initializer=_yield_cpu
        )
        self._slots: WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]
        self._slots = WeakKeyDictionary()

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        slots = self._slots.get(loop)
        if slots is None:
            slots = self._slots[loop] = asyncio.Semaphore(self.size)
        return slots

    @asynccontextmanager
    async def reserved(self) -> AsyncIterator[None]:
        """Hold a slot for the block, or raise `ServiceUnavailable` after the wait.

        A login takes its slot before it takes a database connection
        (`reserve_hashing_slot`), so that the logins waiting for a slot do not hold
        connections that every other request needs. `run` within the block uses it.
        """
        slots = self._semaphore()
        try:
            async with asyncio.timeout(self.wait_seconds):
                await slots.acquire()
        except TimeoutError:
            raise ServiceUnavailable(
                retry_after=1, detail="Too many logins at once; retry shortly"
            ) from None
        _holds_slot.set(True)
        try:
            yield
        finally:
            _holds_slot.set(False)
            slots.release()

    async def run(self, function: Callable[..., T], *args: str | None) -> T:
        """Run a hashing function on a hashing thread, within a slot."""
        loop = asyncio.get_running_loop()
        if _holds_slot.get():
            return await loop.run_in_executor(self._threads, function, *args)
        async with self.reserved():
            return await loop.run_in_executor(self._threads, function, *args)


def _yield_cpu() -> None:
    """Lower the calling thread's CPU priority (Linux: nice is per thread)."""
    if sys.platform == "linux":
        thread = threading.get_native_id()
        with suppress(OSError):
            niceness = os.getpriority(os.PRIO_PROCESS, thread)
            os.setpriority(os.PRIO_PROCESS, thread, min(niceness + 10, 19))


password_hashing = HashingSlots(
    settings.password_hash_concurrency, settings.password_hash_queue_seconds
)


async def reserve_hashing_slot() -> AsyncIterator[None]:
    """A dependency: wait for a hashing slot before the request's database work."""
    async with password_hashing.reserved():
        yield


async def _run_hash(function: Callable[..., T], *args: str | None) -> T:
    """Run a hashing function off the event loop, within the hashing cap."""
    return await password_hashing.run(function, *args)


class InvalidToken(Exception):
    """The token is missing, malformed, expired, badly signed or of the wrong kind."""


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """The claims this application reads from a verified token."""

    user_id: uuid.UUID
    version: int
    token_id: uuid.UUID
    family_id: uuid.UUID | None
    expires_at: int


async def hash_password(password: str) -> str:
    """Hash a password with Argon2, off the event loop (503 if too many at once)."""
    return await _run_hash(_password_hash.hash, password)


async def verify_password(password: str, hashed: str | None) -> bool:
    """Check a password against its hash, off the event loop (503 if too many at once).

    With no hash (unknown user) a dummy hash is checked anyway, so that the answer
    takes as long as for a wrong password.
    """
    return await _run_hash(_verify, password, hashed)


def _verify(password: str, hashed: str | None) -> bool:
    """Check a password against its hash, or against the dummy hash if there is none."""
    valid = _password_hash.verify(password, hashed or dummy_hash())
    return valid and hashed is not None


def _audience(kind: TokenKind) -> str:
    return (
        settings.jwt_audience
        if kind == "access"
        else f"{settings.jwt_audience}:refresh"
    )


def create_token(
    kind: TokenKind,
    user_id: uuid.UUID,
    version: int,
    *,
    token_id: uuid.UUID | None = None,
    family_id: uuid.UUID | None = None,
) -> tuple[str, datetime]:
    """Sign a token of the given kind; return it with its expiry time."""
    now = datetime.now(UTC)
    lifetime = (
        timedelta(minutes=settings.access_token_expire_minutes)
        if kind == "access"
        else timedelta(days=settings.refresh_token_expire_days)
    )
    expires_at = now + lifetime
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "aud": _audience(kind),
        "iat": now,
        "exp": expires_at,
        "jti": str(token_id or uuid.uuid4()),
        "ver": version,
    }
    if family_id is not None:
        claims["fam"] = str(family_id)
    return jwt.encode(claims, settings.secret_key, algorithm=ALGORITHM), expires_at


def decode_token(token: str, kind: TokenKind) -> TokenClaims:
    """Verify a token's signature, algorithm, audience and lifetime; return its claims."""
    try:
        claims = jwt.decode(
            token,
            settings.secret_key,
            algorithms=[ALGORITHM],
            audience=_audience(kind),
            options={"require": ["exp", "iat", "sub", "aud", "jti", "ver"]},
        )
        family = claims.get("fam")
        return TokenClaims(
            user_id=uuid.UUID(claims["sub"]),
            version=int(claims["ver"]),
            token_id=uuid.UUID(claims["jti"]),
            family_id=uuid.UUID(family) if family is not None else None,
            expires_at=int(claims["exp"]),
        )
    except (jwt.InvalidTokenError, ValueError, TypeError) as exc:
        raise InvalidToken(str(exc)) from exc


_VERIFIED_CACHE_SIZE = 4096
_verified_access_tokens: dict[str, TokenClaims] = {}


def _now() -> float:
    return time.time()


def decode_access_token(token: str) -> TokenClaims:
    """`decode_token(token, "access")`, remembering the tokens already verified.

    A client sends the same access token with every request until it expires. The
    first time, the token is verified in full (signature, algorithm, audience, claims);
    after that, the very same string only needs its expiry checked. Logout and
    deactivation are checked in the database on every request, so nothing is missed.
    """
    claims = _verified_access_tokens.get(token)
    if claims is None:
        claims = decode_token(token, "access")
        if len(_verified_access_tokens) >= _VERIFIED_CACHE_SIZE:
            del _verified_access_tokens[next(iter(_verified_access_tokens))]
        _verified_access_tokens[token] = claims
    if claims.expires_at <= _now():
        _verified_access_tokens.pop(token, None)
        raise InvalidToken("Signature has expired")
    return claims
