"""Rate limits kept in Redis hold across the workers of a generated backend's server.

A generated backend runs under `uvicorn --workers 2` with its limits in Redis. The
test keeps one connection to each worker (each worker logs its process id with
every request), spreads failed logins over both, and the attempt after the
per-account limit is refused, whichever worker takes it.
"""

import json
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.backend_checks import run

pytestmark = pytest.mark.slow

REDIS_URL = os.environ.get("BB_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PER_ACCOUNT = 4
PASSWORD = "correct horse battery staple"
LOG_CONFIG = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "access": {
            "()": "uvicorn.logging.AccessFormatter",
            "fmt": "%(process)d %(client_addr)s %(status_code)s",
            "use_colors": False,
        }
    },
    "handlers": {
        "access": {
            "class": "logging.StreamHandler",
            "formatter": "access",
            "stream": "ext://sys.stdout",
        }
    },
    "loggers": {"uvicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False}},
}


@pytest.fixture
def redis_url() -> str:
    """The Redis to keep the limits in; skips if unreachable, unless BB_REQUIRE_REDIS (CI)."""
    parts = urlsplit(REDIS_URL)
    try:
        socket.create_connection((parts.hostname, parts.port or 6379), 2).close()
    except OSError as error:
        message = f"Redis is not reachable at {REDIS_URL}: {error}"
        if os.environ.get("BB_REQUIRE_REDIS"):
            pytest.fail(message)
        pytest.skip(message)
    return REDIS_URL


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def server(backend: Path, redis_url: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The backend under `uvicorn --workers 2`, limits in Redis: its URL and its log."""
    database = f"sqlite:///{tmp_path / 'app.db'}"
    run(backend, sys.executable, "-m", "alembic", "upgrade", "head", DATABASE_URL=database)
    log_config, log = tmp_path / "log.json", tmp_path / "server.log"
    log_config.write_text(json.dumps(LOG_CONFIG))
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_"))},
        "DATABASE_URL": database,
        "RATE_LIMIT_STORAGE_URL": redis_url,
        "RATE_LIMIT_KEY_PREFIX": f"bb-test-{uuid.uuid4().hex}",
        "RATE_LIMIT_PER_ACCOUNT": f"{PER_ACCOUNT}/minute",
        "RATE_LIMIT_PER_CLIENT": "1000/minute",
    }
    command = [sys.executable, "-m", "uvicorn", "app.main:app", "--workers", "2"]
    command += ["--port", str(port), "--timeout-keep-alive", "120"]
    command += ["--log-config", str(log_config)]
    with log.open("w") as output:
        process = subprocess.Popen(
            command, cwd=backend, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{url}/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            pytest.fail(f"the server did not start:\n{log.read_text()}")
        yield url, log
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def local_port(response: httpx.Response) -> int:
    """The client-side port of the connection that carried the response."""
    return int(response.extensions["network_stream"].get_extra_info("client_addr")[1])


def worker_of(log: Path, port: int) -> int:
    """The process id of the worker that logged a request from `port`."""
    pattern = re.compile(rf"^(\d+) 127\.0\.0\.1:{port} ", re.MULTILINE)
    for _ in range(50):
        if found := pattern.search(log.read_text()):
            return int(found.group(1))
        time.sleep(0.1)
    raise AssertionError(f"no request from port {port} in the log:\n{log.read_text()}")


def test_per_account_limit_holds_across_two_workers(server: tuple[str, Path]) -> None:
    url, log = server
    clients: list[httpx.Client] = []
    workers: dict[int, httpx.Client] = {}
    try:
        # Connections stay open (so their ports stay unique) until one reaches each worker.
        while len(workers) < 2 and len(clients) < 50:
            clients.append(httpx.Client(base_url=url))
            worker = worker_of(log, local_port(clients[-1].get("/health")))
            workers.setdefault(worker, clients[-1])
        assert len(workers) == 2, "every connection went to the same worker"
        first, second = workers.values()
        email = f"user-{uuid.uuid4().hex[:8]}@example.com"
        response = first.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD})
        assert response.status_code == 201, response.text
        seen: set[int] = set()
        for attempt in range(PER_ACCOUNT):
            client = (first, second)[attempt % 2]
            response = client.post(
                "/api/v1/auth/token", data={"username": email, "password": "wrong-password"}
            )
            assert response.status_code == 401, response.text
            seen.add(worker_of(log, local_port(response)))
        assert seen == set(workers), "the failed logins did not reach both workers"
        for client in (first, second):
            response = client.post(
                "/api/v1/auth/token", data={"username": email, "password": PASSWORD}
            )
            assert response.status_code == 429, response.text
            assert 1 <= int(response.headers["retry-after"]) <= 60
    finally:
        for client in clients:
            client.close()
