"""Bench phase: authenticated requests keep their latency while logins flood the server.

The generated server runs as in production: 2 workers, rate limits in Redis (if one
is reachable, else in memory, noted), the default limits and hashing cap, behind a
"proxy" (uvicorn trusts X-Forwarded-For from 127.0.0.1). One client GETs
/api/v1/users/me one request at a time, idle, then during two floods of logins from
FLOOD_CLIENTS concurrent clients:

  one client    every attempt from one address, wrong passwords for the benchmark
                user: the per-client and per-account limits answer 429
  distributed   every attempt from a new address, for a new e-mail (credential
                stuffing from a botnet): no rate limit binds, the hashing cap answers 503

It reports the GET's p50/p99 in each case, the flood's answers by status, and the
peak memory of the server's processes.
"""

import asyncio
import os
import random
import socket
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from load import Probe

FLOOD_CLIENTS = 32
ME_PATH = "/api/v1/users/me"
LOGIN_PATH = "/api/v1/auth/token"
OPTIONS = ("--workers", "2", "--proxy-headers", "--forwarded-allow-ips", "127.0.0.1")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
P99_FACTOR = 5.0  # the target: p99 of the GET during a flood within 5x its idle p99
P99_FLOOR_MS = 20.0  # ... or within this, when idle latencies are tiny


@dataclass(frozen=True)
class Flood:
    """One flood of logins, and the authenticated GET's latencies meanwhile."""

    name: str
    get: Probe
    statuses: dict[int, int]
    failures: int  # attempts that got no HTTP answer
    peak_rss_mb: float

    @property
    def attempts(self) -> int:
        """Login attempts answered, whatever the status."""
        return sum(self.statuses.values())


@dataclass(frozen=True)
class LoginFlood:
    """The phase's results: the GET idle, then beside each flood."""

    workers: int
    clients: int
    storage: str
    idle: Probe
    idle_rss_mb: float
    floods: list[Flood] = field(default_factory=list)

    def p99_limit_ms(self) -> float:
        """The flood's GET p99 must stay within this (the target)."""
        return max(P99_FACTOR * self.idle.p99_ms, P99_FLOOR_MS)


def redis_reachable(url: str) -> bool:
    """Whether something accepts connections at the Redis URL's address."""
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname, parts.port or 6379), 2).close()
    except OSError:
        return False
    return True


def rss_mb(group: int) -> float:
    """Resident memory of every process in a process group, in MiB (Linux; else 0)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[2]) != group:
                continue
            status = (stat.parent / "status").read_text()
        except (OSError, IndexError, ValueError):
            continue
        total += next(
            (int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")),
            0,
        )
    return total / 1024


async def probe_get(base_url: str, token: str, seconds: float, interval: float = 0.02) -> Probe:
    """GET /api/v1/users/me one request at a time, every `interval` seconds."""
    latencies: list[float] = []
    errors = 0
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30.0) as client:
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                errors += (await client.get(ME_PATH)).status_code != 200
            except httpx.HTTPError:
                errors += 1
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(interval)
    return Probe.of(latencies, errors)


async def flood(
    base_url: str, email: str, seconds: float, distributed: bool
) -> tuple[Counter[int], int]:
    """Log in from FLOOD_CLIENTS clients at once, over and over; statuses and failures."""
    statuses: Counter[int] = Counter()
    failures = 0
    limits = httpx.Limits(max_connections=FLOOD_CLIENTS)
    async with httpx.AsyncClient(base_url=base_url, timeout=60.0, limits=limits) as client:

        async def attacker(deadline: float) -> None:
            nonlocal failures
            while time.perf_counter() < deadline:
                headers, username = {}, email
                if distributed:
                    address = ".".join(str(random.randint(1, 254)) for _ in range(4))
                    headers["X-Forwarded-For"] = address
                    username = f"stuffed-{uuid.uuid4().hex[:12]}@example.com"
                form = {"username": username, "password": "a guessed password"}
                try:
                    response = await client.post(LOGIN_PATH, data=form, headers=headers)
                    statuses[response.status_code] += 1
                except httpx.HTTPError:
                    failures += 1

        deadline = time.perf_counter() + seconds
        await asyncio.gather(*(attacker(deadline) for _ in range(FLOOD_CLIENTS)))
    return statuses, failures


async def _beside_flood(
    url: str, token: str, email: str, seconds: float, distributed: bool, group: int
) -> Flood:
    peak = 0.0

    async def watch_memory() -> None:
        nonlocal peak
        while True:
            peak = max(peak, rss_mb(group))
            await asyncio.sleep(0.2)

    watcher = asyncio.create_task(watch_memory())
    attacks = asyncio.create_task(flood(url, email, seconds, distributed))
    await asyncio.sleep(0.5)  # the flood first, so that the GETs meet it at full strength
    get = await probe_get(url, token, seconds - 1.0)
    statuses, failures = await attacks
    watcher.cancel()
    name = "distributed" if distributed else "one client"
    return Flood(name, get, dict(sorted(statuses.items())), failures, peak)


def measure(server: Any, token: str, email: str, seconds: float) -> LoginFlood:
    """Run the phase against a started server (bench/run.py's `Server`)."""
    group = server.process.pid
    asyncio.run(probe_get(server.url, token, 1.0))  # warm-up: first requests take cold paths
    idle = asyncio.run(probe_get(server.url, token, 2.0))
    result = LoginFlood(
        workers=int(OPTIONS[1]),
        clients=FLOOD_CLIENTS,
        storage=server.env["RATE_LIMIT_STORAGE_URL"].split("://")[0],
        idle=idle,
        idle_rss_mb=rss_mb(group),
    )
    for distributed in (False, True):
        result.floods.append(
            asyncio.run(_beside_flood(server.url, token, email, seconds, distributed, group))
        )
    return result


def run(bench: Any, email: str) -> LoginFlood:
    """The phase, for bench/run.py: its own server instance, then the main one again."""
    main = bench.servers["generated"]
    storage = REDIS_URL if redis_reachable(REDIS_URL) else "memory://"
    if storage == "memory://":
        bench.results.notes.append(
            f"Login flood: no Redis at {REDIS_URL} (BENCH_REDIS_URL), limits kept in memory."
        )
    env = {
        **bench.env,
        "RATE_LIMIT_STORAGE_URL": storage,
        "RATE_LIMIT_KEY_PREFIX": f"bb-bench-{uuid.uuid4().hex}",
    }
    for name in ("RATE_LIMIT_PER_ACCOUNT", "RATE_LIMIT_PER_CLIENT", "PASSWORD_HASH_CONCURRENCY"):
        env.pop(name, None)  # the generated defaults
    server = replace(main, port=main.port + 90, options=OPTIONS, env=env, process=None)
    main.stop()
    try:
        with server.running():
            return measure(server, bench.token, email, bench.args.write_duration)
    finally:
        main.start()
        main.wait_ready()


def targets(result: LoginFlood | None) -> list[tuple[str, str, str]]:
    """The phase's targets: name, what was measured, PASS/FAIL (n/a if not run)."""
    latency = f"login flood: GET p99 within {P99_FACTOR:.0f}x idle (or {P99_FLOOR_MS:.0f} ms)"
    answers = "login flood: every login answered 200/401/429/503, every GET 200"
    defenses = "login flood: 429 from one client, 503 beyond the hashing cap"
    if result is None or not result.floods:
        return [(name, "not measured", "n/a") for name in (latency, answers, defenses)]
    limit = result.p99_limit_ms()
    shown = "; ".join(f"{f.name} {f.get.p99_ms:.1f} ms" for f in result.floods)
    within = all(f.get.p99_ms <= limit for f in result.floods)
    expected = {200, 401, 429, 503}
    unexpected = sum(
        count
        for f in result.floods
        for status, count in f.statuses.items()
        if status not in expected
    )
    broken = unexpected + sum(f.failures + f.get.errors for f in result.floods)
    floods = {f.name: f.statuses for f in result.floods}
    limited = floods.get("one client", {}).get(429, 0)
    capped = floods.get("distributed", {}).get(503, 0)
    return [
        (
            latency,
            f"{shown} (idle {result.idle.p99_ms:.1f} ms, limit {limit:.1f} ms)",
            "PASS" if within else "FAIL",
        ),
        (answers, f"{broken} other answers or failures", "PASS" if broken == 0 else "FAIL"),
        (
            defenses,
            f"{limited:,} x 429 from one client; {capped:,} x 503 distributed",
            "PASS" if limited and capped else "FAIL",
        ),
    ]


def section(result: LoginFlood | None) -> list[str]:
    """The phase's part of RESULTS.md."""
    if result is None:
        return []
    lines = [
        "## Login flood: authenticated requests beside it",
        "",
        f"The generated server ({result.workers} workers, rate limits in {result.storage}, "
        "the default limits and hashing cap) answered `GET /api/v1/users/me` one request "
        f"at a time, idle and while {result.clients} clients tried to log in over and over: "
        "first all from one address with wrong passwords for one account, then each "
        "attempt from a new address for a new e-mail (credential stuffing).",
        "",
        "| GET /api/v1/users/me | requests | failed | p50 ms | p99 ms | login answers "
        "| peak RSS, all workers |",
        "|---|---:|---:|---:|---:|---|---:|",
        f"| idle | {result.idle.requests:,} | {result.idle.errors} | {result.idle.p50_ms:.1f} "
        f"| {result.idle.p99_ms:.1f} | | {result.idle_rss_mb:.0f} MiB |",
    ]
    for f in result.floods:
        answers = ", ".join(f"{count:,} x {status}" for status, count in f.statuses.items())
        if f.failures:
            answers += f", {f.failures} without answer"
        lines.append(
            f"| beside the {f.name} flood | {f.get.requests:,} | {f.get.errors} "
            f"| {f.get.p50_ms:.1f} | {f.get.p99_ms:.1f} | {answers} | {f.peak_rss_mb:.0f} MiB |"
        )
    lines += [
        "",
        "429: a rate limit (per account, per client) refused the attempt before any "
        "hashing; 503: the worker was already hashing as many passwords as its cap "
        "(PASSWORD_HASH_CONCURRENCY) allows, and none freed within "
        "PASSWORD_HASH_QUEUE_SECONDS.",
        "",
    ]
    return lines
