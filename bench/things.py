"""Backends of many resources for the growth phases (issue #12): Thing00, Thing01, ...

`build` generates, in-process, a PostgreSQL backend with resources Thing00, Thing01, ...
in turn, each with the same five fields and, from Thing01 on, a ref to the Thing before,
and copies it aside whenever it has one of the sizes asked for (1, 10, 40 resources).
`load` puts rows into one project of a migrated database; `run_suite` runs a backend's
own tests with a JUnit report; `time_command` and `time_in_process` time generating one
resource more on fresh copies.
"""

import asyncio
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg
from backend_builder.plan import apply_plan
from backend_builder.project import plan_new
from backend_builder.render import forget_formatted
from backend_builder.resource.generate import ALL_LAYERS, plan_generate

from dataset import uuid7_at

FIELDS = ("label:str", "quantity:int", "amount:decimal", "active:bool", "due_on:date")
COLUMNS = ("label", "quantity", "amount", "active", "due_on")
BASE = datetime(2025, 1, 1, tzinfo=UTC)  # rows are created from then on, a second apart


def name(index: int) -> str:
    """The index-th resource's class name: Thing00, Thing01, ..."""
    return f"Thing{index:02d}"


def tokens(index: int) -> list[str]:
    """The fields of the index-th resource: FIELDS, and a ref to the one before."""
    return [*FIELDS, *([f"prev:ref:{name(index - 1)}"] if index else [])]


def table(index: int) -> str:
    """The index-th resource's table (and path segment): thing00s, ..."""
    return f"thing{index:02d}s"


def collection(index: int) -> str:
    """The index-th resource's collection path, e.g. /api/v1/thing00s/."""
    return f"/api/v1/{table(index)}/"


def test_file(index: int) -> str:
    """The index-th resource's generated test file, relative to the backend."""
    return f"app/tests/test_{table(index)}.py"


@dataclass
class Build:
    """The Thing backends built, by number of resources, and the time of each resource."""

    backends: dict[int, Path] = field(default_factory=dict)
    seconds: list[float] = field(default_factory=list)  # generating resource 1, 2, ...


def build(folder: Path, sizes: Iterable[int]) -> Build:
    """Generate Thing00... into folder/things, copied to folder/things-<n> at each size."""
    wanted = sorted(set(sizes))
    root = folder / "things"
    apply_plan(plan_new(root, database="postgresql"))
    built = Build()
    for index in range(max(wanted)):
        started = time.perf_counter()
        apply_plan(plan_generate(root, name(index), tokens(index), layers=ALL_LAYERS).plan)
        built.seconds.append(time.perf_counter() - started)
        if index + 1 in wanted:
            copy = folder / f"things-{index + 1}"
            shutil.copytree(root, copy)
            built.backends[index + 1] = copy
    shutil.rmtree(root)
    return built


# -- databases and rows -------------------------------------------------------------------


async def recreate_databases(
    admin_dsn: str, databases: Iterable[str], role: str, password: str
) -> None:
    """Drop and create the databases and the app's login role, as dataset does for one.

    The role is not a superuser, has no BYPASSRLS and owns nothing: the tables'
    row-level security policies apply to it.
    """
    conn = await asyncpg.connect(admin_dsn)
    try:
        for database in databases:
            await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await conn.execute(f'DROP ROLE IF EXISTS "{role}"')
        await conn.execute(
            f"CREATE ROLE \"{role}\" LOGIN PASSWORD '{password}' "
            "NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS"
        )
        for database in databases:
            await conn.execute(f'CREATE DATABASE "{database}"')
    finally:
        await conn.close()


async def drop_databases(admin_dsn: str, databases: Iterable[str], role: str) -> None:
    """Drop the databases, then the role."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        for database in databases:
            await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await conn.execute(f'DROP ROLE IF EXISTS "{role}"')
    finally:
        await conn.close()


def row_counts(resources: int, rows: int) -> list[int]:
    """Rows per Thing: `rows` in the first, second and last, one in each between."""
    full = {0, 1, resources - 1}
    return [rows if index in full else 1 for index in range(resources)]


def _values(index: int, number: int) -> tuple[object, ...]:
    """The five fields of a row: the same for every Thing and every database."""
    return (
        f"{name(index)} row {number}",
        number,
        Decimal(number * 125) / 100,
        number % 2 == 0,
        date(2026, 1, 1) + timedelta(days=number),
    )


async def load(owner_dsn: str, project: uuid.UUID, resources: int, rows: int) -> list[list[str]]:
    """Insert the rows of every Thing into `project` with COPY; their ids, per Thing.

    Ids are UUIDv7 in creation order (a fixed time, a second apart) from a generator
    seeded per table, so that a Thing gets the same ids, values and timestamps in every
    database. Each row of a Thing
    refers to a row of the Thing before (the n-th, or the only one).
    """
    counts = row_counts(resources, rows)
    ids: list[list[str]] = []
    conn = await asyncpg.connect(owner_dsn)
    try:
        async with conn.transaction():
            for index, count in enumerate(counts):
                rng = random.Random(f"thing-{index}")
                records = []
                for number in range(count):
                    when = BASE + timedelta(seconds=number)
                    record: list[object] = [project, uuid7_at(int(when.timestamp() * 1000), rng)]
                    record += _values(index, number)
                    if index:
                        before = ids[index - 1]
                        record.append(uuid.UUID(before[number % len(before)]))
                    records.append((*record, when, when))
                columns = ["project_id", "id", *COLUMNS, *(["prev_id"] if index else [])]
                await conn.copy_records_to_table(
                    table(index), records=records, columns=[*columns, "created_at", "updated_at"]
                )
                ids.append([str(row[1]) for row in records])
        for index in range(resources):
            await conn.execute(f"VACUUM (ANALYZE) {table(index)}")
    finally:
        await conn.close()
    return ids


async def count_rows(app_url: str, table_name: str, project: uuid.UUID | None) -> int:
    """Rows of a table the app role sees, with `app.project_id` set to `project` or not."""
    conn = await asyncpg.connect(app_url)
    try:
        async with conn.transaction():
            if project is not None:
                await conn.execute("SELECT set_config('app.project_id', $1, true)", str(project))
            return int(await conn.fetchval(f"SELECT count(*) FROM {table_name}"))
    finally:
        await conn.close()


def counted(app_url: str, table_name: str, project: uuid.UUID | None) -> int:
    """`count_rows`, from synchronous code."""
    return asyncio.run(count_rows(app_url, table_name, project))


# -- the generated test suite --------------------------------------------------------------


@dataclass(frozen=True)
class SuiteOutput:
    """What a run of a generated suite left: time, exit status, last line, JUnit XML."""

    seconds: float
    returncode: int | None  # None: stopped at the time limit
    summary: str
    junit_xml: str


def run_suite(backend: Path, env: dict[str, str], timeout: float) -> SuiteOutput:
    """Run the backend's own tests as tests/backend_checks.py does, with a JUnit report."""
    with tempfile.TemporaryDirectory(prefix="bb-suite-") as folder:
        junit = Path(folder) / "junit.xml"
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--junitxml={junit}",
            "-o",
            "junit_family=xunit1",
        ]
        started = time.perf_counter()
        try:
            finished = subprocess.run(
                command, cwd=backend, env=env, capture_output=True, text=True, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            return SuiteOutput(time.perf_counter() - started, None, "stopped", "")
        seconds = time.perf_counter() - started
        summary = (finished.stdout.strip().splitlines() or ["no output"])[-1].strip("= ")
        xml = junit.read_text() if junit.exists() else ""
    return SuiteOutput(seconds, finished.returncode, summary, xml)


# -- one resource more ---------------------------------------------------------------------


def next_tokens(resources: int) -> tuple[str, list[str]]:
    """The name and fields of the resource after `resources` Things."""
    return name(resources), tokens(resources)


def command_line(tool: str, backend: Path, resources: int) -> list[str]:
    """`backend-builder generate resource Thing40 ... --path backend`."""
    resource, fields = next_tokens(resources)
    return [tool, "generate", "resource", resource, *fields, "--path", str(backend)]


def time_command(tool: str, backend: Path, resources: int, runs: int) -> list[float]:
    """Wall time of the command generating one resource more, each on a fresh copy."""
    times = []
    with tempfile.TemporaryDirectory(prefix="bb-next-") as folder:
        for run in range(runs):
            copy = Path(folder) / f"backend-{run}"
            shutil.copytree(backend, copy)
            command = command_line(tool, copy, resources)
            started = time.perf_counter()
            finished = subprocess.run(command, capture_output=True, text=True)
            times.append(time.perf_counter() - started)
            if finished.returncode != 0:
                output = finished.stdout[-2000:] + finished.stderr[-2000:]
                raise RuntimeError(f"{' '.join(command)} failed:\n{output}")
            shutil.rmtree(copy)
    return times


def time_in_process(backend: Path, resources: int, runs: int) -> list[float]:
    """`plan_generate` + `apply_plan` of one resource more, after a warm-up, fresh copies."""
    resource, fields = next_tokens(resources)
    times = []
    with tempfile.TemporaryDirectory(prefix="bb-next-") as folder:
        for run in range(-1, runs):  # run -1: the warm-up
            copy = Path(folder) / f"backend-{run}"
            shutil.copytree(backend, copy)
            forget_formatted()
            started = time.perf_counter()
            apply_plan(plan_generate(copy, resource, fields, layers=ALL_LAYERS).plan)
            if run >= 0:
                times.append(time.perf_counter() - started)
            shutil.rmtree(copy)
    return times
