"""The benchmark database: creation, roles, bulk load with COPY, and helpers.

Everything here connects as the owner (a superuser, so row-level security does not
hide rows from it) with asyncpg. Ids are version 7 UUIDs whose time part follows the
rows' `created_at`, so that ordering by id, as the app does, is ordering by age.
"""

import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

DAY_MS = 86_400_000


@dataclass(frozen=True)
class Sizes:
    """How much data: projects, asset rows in all, and rows of the benchmark's project."""

    projects: int
    rows: int
    big_rows: int


FULL = Sizes(projects=1_000, rows=1_000_000, big_rows=100_000)
QUICK = Sizes(projects=100, rows=50_000, big_rows=10_000)


def uuid7_at(milliseconds: int, rng: random.Random) -> uuid.UUID:
    """A version 7 UUID for a given Unix time in milliseconds, random bits from `rng`."""
    rand = rng.getrandbits(74)
    value = milliseconds << 80 | 0x7 << 76 | (rand >> 62) << 64 | 0x2 << 62 | rand & (2**62 - 1)
    return uuid.UUID(int=value)


async def recreate_database(admin_dsn: str, database: str, role: str, password: str) -> None:
    """Drop and create `database` (owned by the admin) and the app's login role.

    The role is what the application servers connect as: not a superuser, no
    BYPASSRLS, owns nothing, so the tables' row-level security policies apply to it.
    """
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await conn.execute(f'DROP ROLE IF EXISTS "{role}"')
        await conn.execute(
            f"CREATE ROLE \"{role}\" LOGIN PASSWORD '{password}' "
            "NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS"
        )
        await conn.execute(f'CREATE DATABASE "{database}"')
    finally:
        await conn.close()


async def drop_database(admin_dsn: str, database: str, role: str) -> None:
    """Drop the benchmark database and the app role."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await conn.execute(f'DROP ROLE IF EXISTS "{role}"')
    finally:
        await conn.close()


async def recreate_plain_database(admin_dsn: str, database: str) -> None:
    """Drop and create an empty `database` owned by the admin (for a test suite)."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{database}"')
    finally:
        await conn.close()


async def drop_plain_database(admin_dsn: str, database: str) -> None:
    """Drop a database made by `recreate_plain_database`."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        await conn.close()


async def grant_app_role(owner_dsn: str, role: str) -> None:
    """Give the app role DML on every table (after the migrations ran)."""
    conn = await asyncpg.connect(owner_dsn)
    try:
        await conn.execute(f'GRANT USAGE ON SCHEMA public TO "{role}"')
        await conn.execute(
            f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{role}"'
        )
    finally:
        await conn.close()


def _asset_rows(
    sizes: Sizes, big_project: uuid.UUID, others: list[uuid.UUID], rng: random.Random
) -> Iterator[tuple[object, ...]]:
    """Asset rows in time order over the last year, the big project's spread evenly."""
    now_ms = time.time_ns() // 1_000_000 - 60_000
    start_ms = now_ms - 365 * DAY_MS
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    other = 0
    for index in range(sizes.rows):
        is_big = (index * sizes.big_rows) // sizes.rows != ((index + 1) * sizes.big_rows) // (
            sizes.rows
        )
        if is_big:
            project = big_project
        else:
            project, other = others[other % len(others)], other + 1
        milliseconds = start_ms + index * (365 * DAY_MS) // sizes.rows
        created = epoch + timedelta(milliseconds=milliseconds)
        yield (
            project,
            uuid7_at(milliseconds, rng),
            f"Asset {index}",
            f"SN-{index:08d}",
            "active",
            created,
            created,
        )


async def load(owner_dsn: str, sizes: Sizes, big_project: uuid.UUID, seed: int = 7) -> float:
    """Bulk-load projects, their owners and assets with COPY, then VACUUM ANALYZE.

    `big_project` (the benchmark user's, already registered) gets `sizes.big_rows`
    rows; the other `sizes.projects - 1` projects, each with an owner, share the rest.
    Returns the seconds taken.
    """
    started = time.perf_counter()
    rng = random.Random(seed)
    now = datetime.now(UTC)
    base_ms = time.time_ns() // 1_000_000 - 400 * DAY_MS
    others = [uuid7_at(base_ms + i, rng) for i in range(sizes.projects - 1)]
    users = [uuid7_at(base_ms + i, rng) for i in range(sizes.projects - 1)]
    conn = await asyncpg.connect(owner_dsn)
    try:
        await conn.execute("SET synchronous_commit = off")
        async with conn.transaction():
            await conn.copy_records_to_table(
                "projects",
                records=[(p, f"Project {i}", now, now) for i, p in enumerate(others)],
                columns=["id", "name", "created_at", "updated_at"],
            )
            await conn.copy_records_to_table(
                "users",
                records=[
                    (u, f"owner-{i}@bench.example", "!", True, p, 0, now, now)
                    for i, (u, p) in enumerate(zip(users, others, strict=True))
                ],
                columns=[
                    "id",
                    "email",
                    "hashed_password",
                    "is_active",
                    "current_project_id",
                    "token_version",
                    "created_at",
                    "updated_at",
                ],
            )
            await conn.copy_records_to_table(
                "memberships",
                records=[(p, u, "owner", now, now) for u, p in zip(users, others, strict=True)],
                columns=["project_id", "user_id", "role", "created_at", "updated_at"],
            )
            await conn.copy_records_to_table(
                "assets",
                records=_asset_rows(sizes, big_project, others, rng),
                columns=[
                    "project_id",
                    "id",
                    "name",
                    "serial",
                    "status",
                    "created_at",
                    "updated_at",
                ],
            )
        for table in ("projects", "users", "memberships", "assets"):
            await conn.execute(f"VACUUM (ANALYZE) {table}")
    finally:
        await conn.close()
    return time.perf_counter() - started


async def sample_ids(owner_dsn: str, project: uuid.UUID, count: int, seed: int = 11) -> list[str]:
    """`count` ids of the project's assets, a reproducible random sample."""
    conn = await asyncpg.connect(owner_dsn)
    try:
        await conn.execute("SELECT setseed($1)", (seed % 1000) / 1000)
        rows = await conn.fetch(
            "SELECT id::text FROM assets WHERE project_id = $1 ORDER BY random() LIMIT $2",
            project,
            count,
        )
    finally:
        await conn.close()
    return [row[0] for row in rows]


async def add_rows(owner_dsn: str, project: uuid.UUID, count: int, prefix: str) -> list[str]:
    """Insert `count` new assets (serials `prefix-N`) into the project; return their ids."""
    rng = random.Random(prefix)
    now = datetime.now(UTC)
    now_ms = time.time_ns() // 1_000_000
    records = [
        (project, uuid7_at(now_ms, rng), "bench asset", f"{prefix}-{i}", "active", now, now)
        for i in range(count)
    ]
    conn = await asyncpg.connect(owner_dsn)
    try:
        await conn.copy_records_to_table(
            "assets",
            records=records,
            columns=["project_id", "id", "name", "serial", "status", "created_at", "updated_at"],
        )
    finally:
        await conn.close()
    return [str(record[1]) for record in records]


async def ids_with_prefix(owner_dsn: str, project: uuid.UUID, prefix: str) -> list[str]:
    """Ids of the project's assets whose serial starts with `prefix-`, oldest first."""
    conn = await asyncpg.connect(owner_dsn)
    try:
        rows = await conn.fetch(
            "SELECT id::text FROM assets WHERE project_id = $1 AND serial LIKE $2 ORDER BY id",
            project,
            f"{prefix}-%",
        )
    finally:
        await conn.close()
    return [row[0] for row in rows]


async def delete_prefix(owner_dsn: str, project: uuid.UUID, prefix: str) -> int:
    """Delete the project's assets whose serial starts with `prefix-`; return how many."""
    conn = await asyncpg.connect(owner_dsn)
    try:
        status = await conn.execute(
            "DELETE FROM assets WHERE project_id = $1 AND serial LIKE $2", project, f"{prefix}-%"
        )
    finally:
        await conn.close()
    return int(status.split()[-1])


async def fetch_value(dsn: str, query: str, *args: object) -> object:
    """One value from one query (a short-lived connection)."""
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(query, *args)
    finally:
        await conn.close()
