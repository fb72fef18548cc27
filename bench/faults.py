"""Faults: PostgreSQL restarted under a write load, in a throw-away cluster of its own.

The benchmark's PostgreSQL (--admin-dsn) may be shared, so this phase never restarts
it: it starts a cluster of its own (initdb in a temporary directory, trust
authentication on 127.0.0.1, its own port), where the generated backend is migrated
and served. Writers create assets while the cluster restarts with a fast shutdown
(`pg_ctl restart -m fast`, what a minor upgrade or a failover does to clients). Every
response is recorded; afterwards every acknowledged write (201) is looked up in the
database, and the server's log is searched for tracebacks and outage lines.
"""

import asyncio
import glob
import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

import report

ASSETS = "/api/v1/assets/"
OUTAGE_LINE = "Database unavailable"  # the generated app's warning, one per failed request
SYSTEM_USER = "postgres"  # initdb and postgres refuse to run as root: run them as this user


def find_bindir() -> Path | None:
    """The directory of PostgreSQL's initdb and pg_ctl, or None if they are missing."""
    candidates = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        found = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        candidates.append(found.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(str(Path(initdb).resolve().parent))
    for candidate in candidates:
        if candidate and all((Path(candidate) / tool).exists() for tool in ("initdb", "pg_ctl")):
            return Path(candidate)
    return None


@dataclass
class Cluster:
    """A throw-away PostgreSQL cluster: its own data directory, port and log."""

    bindir: Path
    directory: Path
    port: int

    @property
    def admin_dsn(self) -> str:
        """A superuser connection to the cluster (trust authentication)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @classmethod
    @contextmanager
    def running(cls, bindir: Path, port: int) -> Iterator["Cluster"]:
        """Create and start a cluster; stop it and delete its files after the block."""
        directory = Path(tempfile.mkdtemp(prefix="bb-faults-pg-"))
        if os.geteuid() == 0:
            shutil.chown(directory, SYSTEM_USER)
        cluster = cls(bindir, directory, port)
        try:
            cluster._run(
                "initdb", "-D", str(cluster.data), "-U", "postgres", "-A", "trust", "--no-sync"
            )
            # fsync=off: a fast shutdown still checkpoints every committed write; only
            # a crash, not measured here, would lose them.
            cluster._pg_ctl(
                "start",
                "-o",
                f"-p {port} -c listen_addresses=127.0.0.1 -k {directory} -c fsync=off",
            )
            yield cluster
        finally:
            stop = cluster._command("pg_ctl", "-D", str(cluster.data), "-m", "immediate", "stop")
            subprocess.run(stop, capture_output=True)
            shutil.rmtree(directory, ignore_errors=True)

    def restart(self) -> float:
        """Restart with a fast shutdown (clients are disconnected); the seconds it took."""
        started = time.perf_counter()
        self._pg_ctl("restart", "-m", "fast")
        return time.perf_counter() - started

    def _pg_ctl(self, action: str, *options: str) -> None:
        """pg_ctl, waiting until done; the server logs to a file, not to our pipes."""
        log = str(self.directory / "postgresql.log")
        self._run("pg_ctl", "-D", str(self.data), "-l", log, "-w", *options, action)

    def _command(self, tool: str, *args: str) -> list[str]:
        command = [str(self.bindir / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", SYSTEM_USER, "--", *command]
        return command

    def _run(self, tool: str, *args: str) -> None:
        finished = subprocess.run(
            self._command(tool, *args), capture_output=True, text=True, timeout=120
        )
        if finished.returncode != 0:
            raise RuntimeError(f"{tool} failed: {finished.stdout[-1500:]}{finished.stderr[-1500:]}")


@dataclass
class _Record:
    """What the writers saw: (started, ended, outcome) per request, and the ids acknowledged."""

    requests: list[tuple[float, float, str]] = field(default_factory=list)
    acknowledged: list[str] = field(default_factory=list)


async def _writer(client: httpx.AsyncClient, tag: str, deadline: float, record: _Record) -> None:
    """Create assets one after another until the deadline."""
    number = 0
    while time.perf_counter() < deadline:
        number += 1
        started = time.perf_counter()
        body = {"name": "fault asset", "serial": f"{tag}-{number}"}
        try:
            response = await client.post(ASSETS, json=body)
        except httpx.HTTPError as error:
            outcome = type(error).__name__
        else:
            outcome = str(response.status_code)
            if response.status_code == 201:
                record.acknowledged.append(response.json()["id"])
        record.requests.append((started, time.perf_counter(), outcome))


def _recovery(
    requests: list[tuple[float, float, str]], restart_started: float, restart_ended: float
) -> float | None:
    """Seconds from the restart's start to the first success once failures ended."""
    failed_until = max(
        [ended for _, ended, outcome in requests if not outcome.startswith("2")],
        default=restart_ended,
    )
    successes = [
        ended
        for started, ended, outcome in requests
        if outcome.startswith("2") and started >= failed_until
    ]
    return min(successes) - restart_started if successes else None


async def _lost(owner_dsn: str, acknowledged: list[str]) -> int:
    """How many acknowledged assets are not in the database."""
    conn = await asyncpg.connect(owner_dsn)
    try:
        found = await conn.fetchval(
            "SELECT count(*) FROM assets WHERE id = ANY($1::uuid[])",
            [uuid.UUID(value) for value in acknowledged],
        )
    finally:
        await conn.close()
    return len(acknowledged) - int(found)


def measure(
    cluster: Cluster,
    base_url: str,
    token: str,
    owner_dsn: str,
    log_path: Path,
    writers: int = 8,
    seconds: float = 6.0,
    restart_at: float = 2.0,
) -> report.Faults:
    """Writers create assets for `seconds`; the cluster restarts `restart_at` seconds in."""
    log_start = log_path.stat().st_size
    record = _Record()
    restart: dict[str, float] = {}

    def restart_later() -> None:
        time.sleep(restart_at)
        restart["started"] = time.perf_counter()
        restart["seconds"] = cluster.restart()
        restart["ended"] = time.perf_counter()

    async def write() -> None:
        deadline = time.perf_counter() + seconds
        headers = {"Authorization": f"Bearer {token}"}
        tag = uuid.uuid4().hex[:8]
        async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30) as client:
            await asyncio.gather(
                *(_writer(client, f"{tag}-{n}", deadline, record) for n in range(writers))
            )

    restarter = threading.Thread(target=restart_later)
    restarter.start()
    asyncio.run(write())
    restarter.join()
    log_text = log_path.read_bytes()[log_start:].decode(errors="replace")
    return report.Faults(
        writers=writers,
        seconds=seconds,
        restart_s=restart["seconds"],
        outcomes=dict(Counter(outcome for _, _, outcome in record.requests)),
        acknowledged=len(record.acknowledged),
        lost=asyncio.run(_lost(owner_dsn, record.acknowledged)),
        recovery_s=_recovery(record.requests, restart["started"], restart["ended"]),
        tracebacks=log_text.count("Traceback"),
        outage_lines=log_text.count(OUTAGE_LINE),
    )
