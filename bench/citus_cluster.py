"""Bench phase: the generated backend on a three-node Citus cluster, and a tenant moved.

The cluster is the generated backend's own `scripts/citus_cluster.sh`: a coordinator
(port 9700) and two workers (9701, 9702), three PostgreSQL instances on this machine.
The same backend (the Asset backend of the core phases) is migrated into two
databases of the coordinator's instance, which therefore run with the same settings:

  citus   the citus extension installed: the tables distributed by project
  plain   no extension: plain PostgreSQL, the app's one-query path

Each is served by one uvicorn worker as a role without BYPASSRLS, with the same rows
in the benchmark user's project, and measured with list and get, in alternating rounds.
Then, on the cluster:

- round trips: one statement as the app runs it, timed with asyncpg from this process,
  on each database; what the hop from coordinator to worker costs per statement;
- behind PgBouncer (transaction mode), when installed: a list load while a user of
  another project lists theirs, which must stay empty;
- a tenant moved while serving: clients of two projects list and create without pause
  while `citus_move_shard_placement` moves the first project's shard group to the
  other worker, then `isolate_tenant_to_new_shard` gives the second project shards of
  its own; every request must succeed, every created row
  must be there afterwards, and no list may show another project's row.
"""

import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

import dataset
import load
import pgbouncer

CITUS_DATABASE, PLAIN_DATABASE = "bb_bench_citus", "bb_bench_plain"
ROLE = "bb_bench_citus_app"
PORT = 9700
ROWS = 10_000  # assets in the benchmark user's project, in each database
MOVE_CLIENTS = 4  # per project, each alternating list and create without pause
MOVE_WARMUP_S = 2.0  # load before the move starts, and after it ended
MOVE_TIMEOUT_S = 300  # a move that takes longer is cancelled, and the phase fails
ROUND_TRIPS = 2_000
OWNER_EMAIL, OTHER_EMAIL = "citus-owner@example.com", "citus-other@example.com"
PASSWORD = "bench password, long enough"


@dataclass(frozen=True)
class Move:
    """A project's shard group moved while two projects' clients list and create."""

    seconds: float
    isolate_seconds: float  # isolate_tenant_to_new_shard of the second project
    source: int
    target: int
    requests: Counter[str]  # "list" / "create" -> answered
    failures: Counter[str]  # "list" / "create" -> errors or non-2xx answers
    created: int
    lost: int  # created (201) but not in the database afterwards
    leaked: int  # rows of the other project seen in a list
    p99_ms: float
    max_ms: float


@dataclass
class Citus:
    """What the Citus phase measured."""

    version: str = ""
    workers: int = 2
    shards: int = 0
    options: str = ""
    reads: dict[str, dict[str, list[load.LoadResult]]] = field(default_factory=dict)
    round_trip_us: dict[str, float] = field(default_factory=dict)
    statements: dict[str, int] = field(default_factory=dict)
    pooler: tuple[load.LoadResult, load.Probe, int] | None = None
    pooler_version: str = ""
    move: Move | None = None
    checks: list[str] = field(default_factory=list)
    note: str = ""


def _script(bench: Any, *arguments: str) -> str:
    script = bench.backend / "scripts" / "citus_cluster.sh"
    result = subprocess.run(
        ["bash", str(script), *arguments], capture_output=True, text=True, timeout=300
    )
    if result.returncode != 0:
        raise RuntimeError(f"citus_cluster.sh {' '.join(arguments)}: {result.stderr}")
    return result.stdout.strip()


def _dsn(database: str, user: str = "postgres", password: str = "") -> str:
    secret = f":{password}" if password else ""
    return f"postgresql://{user}{secret}@127.0.0.1:{PORT}/{database}"


async def _prepare(password: str) -> None:
    """The plain database (no extension) and the app role, on every node."""
    conn = await asyncpg.connect(_dsn(CITUS_DATABASE))
    try:
        await conn.execute(
            f"DO $$ BEGIN CREATE ROLE {ROLE} LOGIN NOSUPERUSER NOBYPASSRLS; "
            "EXCEPTION WHEN duplicate_object THEN NULL; END $$"
        )
        await conn.execute(f"ALTER ROLE {ROLE} PASSWORD '{password}'")
    finally:
        await conn.close()
    await dataset.recreate_plain_database(_dsn("postgres"), PLAIN_DATABASE)


async def _grant(database: str) -> None:
    conn = await asyncpg.connect(_dsn(database))
    try:
        if database == CITUS_DATABASE:  # one connection per node: DDL after reference DML
            await conn.execute("SET citus.multi_shard_modify_mode TO 'sequential'")
        await conn.execute(f"GRANT USAGE ON SCHEMA public TO {ROLE}")
        await conn.execute(
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {ROLE}"
        )
    finally:
        await conn.close()


def _sign_up(url: str, email: str) -> tuple[uuid.UUID, str]:
    response = httpx.post(
        f"{url}/api/v1/auth/register", json={"email": email, "password": PASSWORD}, timeout=30
    )
    if response.status_code != 201:
        raise RuntimeError(f"register {email} at {url}: {response.status_code} {response.text}")
    project = uuid.UUID(response.json()["current_project_id"])
    response = httpx.post(
        f"{url}/api/v1/auth/token", data={"username": email, "password": PASSWORD}, timeout=30
    )
    if response.status_code != 200:
        raise RuntimeError(f"log {email} in at {url}: {response.status_code} {response.text}")
    return project, str(response.json()["access_token"])


async def _round_trips(app_dsn: str, project: uuid.UUID, asset: str) -> dict[str, float]:
    """Median microseconds of one statement as the app sends them, sequentially."""
    conn = await asyncpg.connect(app_dsn)
    try:
        distributed = await conn.fetchval(
            "SELECT EXISTS (SELECT FROM pg_extension WHERE extname = 'citus')"
        )
        get = "SELECT id, name FROM assets WHERE project_id = $1 AND id = $2"
        timings: dict[str, list[float]] = {"SELECT 1": [], "get by id": [], "set project": []}
        for _ in range(ROUND_TRIPS):
            async with conn.transaction():
                started = time.perf_counter_ns()
                await conn.fetchval("SELECT 1")
                timings["SELECT 1"].append(time.perf_counter_ns() - started)
                started = time.perf_counter_ns()
                if distributed:
                    await conn.execute("SET LOCAL citus.propagate_set_commands = 'local'")
                    await conn.execute(f"SET LOCAL app.project_id = '{project}'")
                else:
                    await conn.fetchval(
                        "SELECT set_config('app.project_id', $1, true)", str(project)
                    )
                timings["set project"].append(time.perf_counter_ns() - started)
                started = time.perf_counter_ns()
                row = await conn.fetchrow(get, project, uuid.UUID(asset))
                timings["get by id"].append(time.perf_counter_ns() - started)
                assert row is not None, "the asset is not visible with its project set"
    finally:
        await conn.close()
    return {name: statistics.median(values) / 1000 for name, values in timings.items()}


async def _placement(project: uuid.UUID) -> tuple[int, int]:
    """The shard of `project` in the projects table, and the port of its worker."""
    conn = await asyncpg.connect(_dsn(CITUS_DATABASE))
    try:
        shard = await conn.fetchval(
            "SELECT get_shard_id_for_distribution_column('projects', $1::uuid)", project
        )
        port = await conn.fetchval(
            "SELECT nodeport FROM pg_dist_placement JOIN pg_dist_node USING (groupid) "
            "WHERE shardid = $1",
            shard,
        )
    finally:
        await conn.close()
    return int(shard), int(port)


async def _alone_in_its_shard(project: uuid.UUID) -> bool:
    """Whether the shard of `project` in every table holds that project's hash alone."""
    conn = await asyncpg.connect(_dsn(CITUS_DATABASE))
    try:
        return bool(
            await conn.fetchval(
                "SELECT bool_and(shardminvalue = shardmaxvalue) FROM pg_dist_shard "
                "WHERE shardid IN (SELECT get_shard_id_for_distribution_column("
                "logicalrelid, $1::uuid) FROM pg_dist_partition WHERE partmethod = 'h')",
                project,
            )
        )
    finally:
        await conn.close()


async def _move_under_load(
    url: str, projects: dict[str, tuple[uuid.UUID, str]], worker_ports: list[int]
) -> Move:
    """Two projects' clients list and create while the first project's shards move."""
    first, second = (project for project, _ in projects.values())
    shard, source = await _placement(first)
    target = next(port for port in worker_ports if port != source)
    requests: Counter[str] = Counter()
    failures: Counter[str] = Counter()
    created: dict[str, set[str]] = {name: set() for name in projects}
    seen: dict[str, set[str]] = {name: set() for name in projects}
    latencies: list[float] = []
    stop = asyncio.Event()

    async def client(name: str, token: str, number: int) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30.0) as http:
            n = 0
            while not stop.is_set():
                n += 1
                kind = "create" if n % 2 else "list"
                started = time.perf_counter()
                try:
                    if kind == "create":
                        body = {"name": "moved", "serial": f"move-{name}-{number}-{n}"}
                        response = await http.post(load.ASSETS, json=body)
                        if response.status_code == 201:
                            created[name].add(response.json()["id"])
                    else:
                        response = await http.get(f"{load.ASSETS}?limit=50")
                        if response.status_code == 200:
                            seen[name].update(row["id"] for row in response.json())
                    failures[kind] += response.status_code >= 300
                except httpx.HTTPError:
                    failures[kind] += 1
                requests[kind] += 1
                latencies.append(time.perf_counter() - started)

    async def move() -> tuple[float, float]:
        """Move the first project's shard group, then isolate the second project."""
        await asyncio.sleep(MOVE_WARMUP_S)
        conn = await asyncpg.connect(_dsn(CITUS_DATABASE))
        try:
            await conn.execute(f"SET statement_timeout = '{MOVE_TIMEOUT_S}s'")
            started = time.perf_counter()
            await conn.execute(
                "SELECT citus_move_shard_placement($1, '127.0.0.1', $2, '127.0.0.1', $3, "
                "shard_transfer_mode => 'block_writes')",
                shard,
                source,
                target,
            )
            moved = time.perf_counter() - started
            await asyncio.sleep(MOVE_WARMUP_S)
            started = time.perf_counter()
            await conn.execute(
                "SELECT isolate_tenant_to_new_shard('projects', $1::uuid, 'CASCADE', "
                "shard_transfer_mode => 'block_writes')",
                second,
            )
            isolated = time.perf_counter() - started
        finally:
            await conn.close()
        await asyncio.sleep(MOVE_WARMUP_S)
        stop.set()
        return moved, isolated

    tasks = [
        client(name, token, number)
        for name, (_, token) in projects.items()
        for number in range(MOVE_CLIENTS)
    ]
    (seconds, isolate_seconds), *_ = await asyncio.gather(move(), *tasks)
    if not await _alone_in_its_shard(second):
        raise RuntimeError(f"project {second} does not have a shard of its own")
    _, now_at = await _placement(first)
    if now_at != target:
        raise RuntimeError(f"the shard group of {first} is on {now_at}, not {target}")
    stored: dict[str, set[str]] = {}
    conn = await asyncpg.connect(_dsn(CITUS_DATABASE))
    try:
        for name, (project, _) in projects.items():
            rows = await conn.fetch("SELECT id::text FROM assets WHERE project_id = $1", project)
            stored[name] = {row[0] for row in rows}
    finally:
        await conn.close()
    lost = sum(len(created[name] - stored[name]) for name in projects)
    leaked = sum(
        len(seen[name] & stored[other]) for name in projects for other in projects if other != name
    )
    ordered = sorted(latencies)
    return Move(
        seconds=seconds,
        isolate_seconds=isolate_seconds,
        source=source,
        target=target,
        requests=requests,
        failures=failures,
        created=sum(len(ids) for ids in created.values()),
        lost=lost,
        leaked=leaked,
        p99_ms=ordered[int(len(ordered) * 0.99)] * 1000 if ordered else 0.0,
        max_ms=ordered[-1] * 1000 if ordered else 0.0,
    )


def run(bench: Any) -> Citus:
    """The phase: cluster, two databases, servers, reads, round trips, PgBouncer, move."""
    results = Citus()
    _script(bench, "up")  # started first: dropdb needs the nodes running
    _script(bench, "dropdb", CITUS_DATABASE)
    _script(bench, "up", CITUS_DATABASE)
    password = uuid.uuid4().hex
    asyncio.run(_prepare(password))
    servers: dict[str, Any] = {}
    data: dict[str, tuple[uuid.UUID, str, list[str]]] = {}
    try:
        for offset, (label, database) in enumerate(
            (("plain", PLAIN_DATABASE), ("citus", CITUS_DATABASE))
        ):
            owner, app = _dsn(database), _dsn(database, ROLE, password)
            env = {**bench.env, "DATABASE_URL": app, "MIGRATION_DATABASE_URL": owner}
            subprocess.run(
                [sys.executable, "-m", "alembic", "upgrade", "head"],
                cwd=bench.backend,
                env=env,
                check=True,
                capture_output=True,
            )
            asyncio.run(_grant(database))
            server = bench._server(
                "generated", bench.args.base_port + 200 + offset, env, f"-{label}"
            )
            servers[label] = server
            server.start()
            server.wait_ready()
            project, token = _sign_up(server.url, OWNER_EMAIL)
            ids = asyncio.run(dataset.add_rows(owner, project, ROWS, "citus"))
            asyncio.run(_vacuum(owner))
            data[label] = (project, token, ids)
        results.version = str(
            asyncio.run(
                dataset.fetch_value(
                    _dsn(CITUS_DATABASE),
                    "SELECT extversion FROM pg_extension WHERE extname = 'citus'",
                )
            )
        )
        results.shards = int(
            asyncio.run(
                dataset.fetch_value(
                    _dsn(CITUS_DATABASE),
                    "SELECT count(*) FROM pg_dist_shard WHERE logicalrelid = 'assets'::regclass",
                )
            )
        )
        results.options = "uvicorn " + " ".join(servers["plain"].options)
        _check(results, password, data)
        for round_number in range(bench.args.rounds):
            order = ("plain", "citus") if round_number % 2 == 0 else ("citus", "plain")
            for kind in ("list", "get"):
                for label in order:
                    project, token, ids = data[label]
                    scenario = load.Scenario(kind, servers[label].url, token, tuple(ids[:1000]))
                    if round_number == 0:
                        load.run_load(scenario, 2.0, bench.args.connections)  # warm-up
                    result = load.run_load(scenario, bench.args.duration, bench.args.connections)
                    results.reads.setdefault(label, {}).setdefault(kind, []).append(result)
                    bench_log(f"citus phase, {label} {kind}: {result.rps:,.0f} req/s")
        for label in ("plain", "citus"):
            project, _, ids = data[label]
            app = _dsn(CITUS_DATABASE if label == "citus" else PLAIN_DATABASE, ROLE, password)
            trips = asyncio.run(_round_trips(app, project, ids[0]))
            for name, value in trips.items():
                results.round_trip_us[f"{label}: {name}"] = value
        results.statements = {"plain": 1 + 1, "citus": 4 + 1}
        for server in servers.values():
            server.stop()
        citus_server = servers["citus"]
        _pooled(bench, results, password, data["citus"])
        with citus_server.running():
            other = _sign_up(citus_server.url, OTHER_EMAIL)
            projects = {"first": data["citus"][:2], "second": other}
            workers = [PORT + 1, PORT + 2]
            results.move = asyncio.run(_move_under_load(citus_server.url, projects, workers))
            move = results.move
            bench_log(
                f"citus phase, move: {move.seconds:.1f} s, {sum(move.requests.values())} requests, "
                f"{sum(move.failures.values())} failed, {move.lost} lost, {move.leaked} leaked"
            )
    finally:
        for server in servers.values():
            server.stop()
    return results


async def _vacuum(owner: str) -> None:
    conn = await asyncpg.connect(owner)
    try:
        await conn.execute("VACUUM (ANALYZE) assets")
    finally:
        await conn.close()


def _check(
    results: Citus, password: str, data: dict[str, tuple[uuid.UUID, str, list[str]]]
) -> None:
    """Before measuring: row-level security binds the role on both databases."""

    async def counts(database: str, project: uuid.UUID) -> tuple[int, int]:
        conn = await asyncpg.connect(_dsn(database, ROLE, password))
        try:
            hidden = await conn.fetchval("SELECT count(*) FROM assets")
            async with conn.transaction():
                if database == CITUS_DATABASE:
                    await conn.execute("SET LOCAL citus.propagate_set_commands = 'local'")
                    await conn.execute(f"SET LOCAL app.project_id = '{project}'")
                else:
                    await conn.execute(f"SELECT set_config('app.project_id', '{project}', true)")
                visible = await conn.fetchval("SELECT count(*) FROM assets")
        finally:
            await conn.close()
        return int(hidden), int(visible)

    for label, database in (("plain", PLAIN_DATABASE), ("citus", CITUS_DATABASE)):
        hidden, visible = asyncio.run(counts(database, data[label][0]))
        if hidden != 0 or visible != ROWS:
            raise RuntimeError(f"{label}: {hidden} rows without a project, {visible} with it")
    results.checks.append(
        f"Row-level security binds `{ROLE}` on both databases: `SELECT count(*) FROM assets` "
        f"sees 0 rows without a project, {ROWS:,} with the benchmark project's (on Citus, "
        "set with the two `SET LOCAL`s the app sends)."
    )


def _pooled(
    bench: Any, results: Citus, password: str, citus: tuple[uuid.UUID, str, list[str]]
) -> None:
    """The generated app on the cluster behind PgBouncer in transaction mode."""
    bouncer = pgbouncer.find()
    if bouncer is None:
        results.note = "Not measured behind PgBouncer: no pgbouncer (apt-get install pgbouncer)."
        return
    port = bench.args.base_port + 260
    with (
        tempfile.TemporaryDirectory(prefix="bb-pgbouncer-citus-") as folder,
        pgbouncer.running(
            bouncer,
            Path(folder),
            listen_port=port,
            upstream=("127.0.0.1", PORT),
            database=CITUS_DATABASE,
            user=ROLE,
            password=password,
            pool_size=int(bench.env["DATABASE_POOL_SIZE"]),
        ) as version,
    ):
        results.pooler_version = version
        url = f"postgresql://{ROLE}:{password}@127.0.0.1:{port}/{CITUS_DATABASE}"
        env = {**bench.env, "DATABASE_URL": url, "DATABASE_PREPARED_STATEMENTS": "false"}
        server = bench._server("generated", bench.args.base_port + 261, env, "-citus-pgbouncer")
        with server.running():
            _, other = _sign_up(server.url, f"pooled-{uuid.uuid4().hex[:8]}@example.com")
            scenario = load.Scenario("list", server.url, citus[1], tuple(citus[2][:1000]))
            results.pooler = load.list_watched(
                scenario, other, bench.args.duration, bench.args.connections
            )


def bench_log(message: str) -> None:
    """Print a progress line with the time (as bench/run.py does)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def _median(runs: list[load.LoadResult]) -> float:
    return statistics.median(run.rps for run in runs) if runs else 0.0


def section(results: Citus | None) -> list[str]:
    """The Citus section of RESULTS.md."""
    if results is None:
        return []
    lines = [
        "## On a three-node Citus cluster",
        "",
        f"Citus {results.version}, a coordinator and {results.workers} workers: three "
        "PostgreSQL instances on this machine (the generated `scripts/citus_cluster.sh`), "
        f"{results.shards} shards per table. The Asset backend is migrated into two databases "
        "of the coordinator's instance, with the same server settings: `citus` (the tables "
        "distributed by project) and `plain` (no extension). Each is served by one worker "
        f"(`{results.options}`) as a role without BYPASSRLS; the benchmark project holds "
        f"{ROWS:,} assets in each.",
        "",
        *(f"- {check}" for check in results.checks),
        "",
        "| endpoint | plain PostgreSQL req/s | Citus req/s | Citus / plain "
        "| p50 plain / Citus (ms) |",
        "|---|---:|---:|---:|---:|",
    ]
    for kind in ("list", "get"):
        plain = results.reads.get("plain", {}).get(kind, [])
        citus = results.reads.get("citus", {}).get(kind, [])
        if not plain or not citus:
            continue
        ratio = _median(citus) / _median(plain) if _median(plain) else 0.0
        p50_plain = statistics.median(run.p50_ms for run in plain)
        p50_citus = statistics.median(run.p50_ms for run in citus)
        lines.append(
            f"| {kind} | {_median(plain):,.0f} | {_median(citus):,.0f} | {ratio:.2f}x "
            f"| {p50_plain:.1f} / {p50_citus:.1f} |"
        )
    errors = sum(run.errors for runs in results.reads.values() for r in runs.values() for run in r)
    lines += [
        "",
        f"Medians of {len(next(iter(results.reads.get('plain', {}).values()), []))} rounds; "
        f"{errors} failed requests in all.",
        "",
        "Where the extra hop costs (one statement at a time from this process, as the "
        f"app role, median of {ROUND_TRIPS:,}):",
        "",
        "| statement | plain PostgreSQL (µs) | Citus coordinator (µs) |",
        "|---|---:|---:|",
    ]
    for name in ("SELECT 1", "set project", "get by id"):
        plain = results.round_trip_us.get(f"plain: {name}")
        citus = results.round_trip_us.get(f"citus: {name}")
        if plain is not None and citus is not None:
            lines.append(f"| {name} | {plain:,.0f} | {citus:,.0f} |")
    lines += [
        "",
        "`set project` is `set_config(...)` on plain PostgreSQL and the two `SET LOCAL`s on "
        "Citus. A request on a resource sends "
        f"{results.statements.get('plain', 0)} statements on plain PostgreSQL (the scope query, "
        "which also sets the project, then the resource's) and "
        f"{results.statements.get('citus', 0)} "
        "on Citus (the user's state, two `SET LOCAL`s, the role from the project's shard, then "
        "the resource's): the extra statements and the coordinator's planning and forwarding "
        "of each router query to its worker make the difference. All three nodes share this "
        "machine's 2 cores, so adding workers here adds no capacity: on separate machines each "
        "worker serves the projects whose shards it holds, the coordinator only plans and "
        "forwards, and the per-request cost above stays flat as workers are added.",
        "",
    ]
    if results.pooler is not None:
        result, seen, leaks = results.pooler
        lines += [
            f"Behind {results.pooler_version} in transaction mode "
            "(`DATABASE_PREPARED_STATEMENTS=false`), on the cluster: list "
            f"{result.rps:,.0f} req/s, {result.errors} failed; meanwhile a user of another "
            f"project listed theirs {seen.requests:,} times ({seen.errors} failed), and "
            f"{leaks} answers held rows (0: the project set per transaction never crossed "
            "to another client on PgBouncer's shared connections).",
            "",
        ]
    elif results.note:
        lines += [results.note, ""]
    move = results.move
    if move is not None:
        total = sum(move.requests.values())
        failed = sum(move.failures.values())
        lines += [
            "### A tenant moved while serving",
            "",
            f"{MOVE_CLIENTS} clients per project, for two projects, each alternating list and "
            f"create without pause; {MOVE_WARMUP_S:.0f} s in, `citus_move_shard_placement` "
            "(`shard_transfer_mode => 'block_writes'`: writes to the moving shards wait for "
            "the copy, reads go on) moved the first project's shard group (projects, memberships, "
            f"assets) from the worker on port {move.source} to the one on {move.target}; "
            f"{MOVE_WARMUP_S:.0f} s later `isolate_tenant_to_new_shard` (`CASCADE`, "
            "`block_writes`) gave the second project shards of its own in every co-located "
            f"table (checked afterwards); the load went on {MOVE_WARMUP_S:.0f} s more.",
            "",
            "| measure | value |",
            "|---|---:|",
            f"| the move took | {move.seconds:.1f} s |",
            f"| isolating the second project took | {move.isolate_seconds:.1f} s |",
            "| requests (list / create) "
            f"| {move.requests['list']:,} / {move.requests['create']:,} |",
            f"| failed requests | {failed} |",
            f"| rows created (201) | {move.created:,} |",
            f"| created rows missing afterwards | {move.lost} |",
            f"| another project's rows seen in a list | {move.leaked} |",
            f"| request latency p99 / max | {move.p99_ms:.0f} / {move.max_ms:.0f} ms |",
            "",
            "Logical replication (`force_logical`, the default `auto` for tables with keys) "
            "moves no shard of these tables on PostgreSQL 15: the subscription's apply worker "
            "stops at once with `cannot replicate into relation with row-level security "
            "enabled`, because row-level security is forced on every shard: the move "
            "waited over 14 minutes until cancelled. `block_writes` copies instead.",
            "",
            "Verdict: "
            + (
                "nothing failed, lost or leaked."
                if failed == 0 and move.lost == 0 and move.leaked == 0 and total > 0
                else f"FAILED: {failed} failed, {move.lost} lost, {move.leaked} leaked."
            ),
            "",
        ]
    return lines
