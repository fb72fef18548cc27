"""`backend-builder demo` builds, migrates, seeds and serves a backend, and reuses it."""

import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from backend_builder.demo import DEMO_EMAIL, run_demo

pytestmark = pytest.mark.slow


def _count(database: Path, table: str) -> int:
    with sqlite3.connect(database) as connection:
        return connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_demo_seeds_and_is_idempotent(tmp_path: Path, free_tcp_port: int) -> None:
    target = tmp_path / "demo"
    run_demo(target, host="127.0.0.1", port=free_tcp_port, serve=False)
    database = target / "app.db"
    assert (target / "app" / "api" / "v1" / "endpoints" / "assets.py").is_file()
    counts = {t: _count(database, t) for t in ("users", "projects", "assets", "notifications")}
    assert counts == {"users": 1, "projects": 2, "assets": 4, "notifications": 2}
    run_demo(target, host="127.0.0.1", port=free_tcp_port, serve=False)
    assert {t: _count(database, t) for t in counts} == counts
    with sqlite3.connect(database) as connection:
        assert connection.execute("SELECT email FROM users").fetchone()[0] == DEMO_EMAIL


def test_demo_inside_a_backend_says_so_and_creates_nothing(backend: Path) -> None:
    from typer.testing import CliRunner

    from backend_builder.cli import app

    before = sorted(backend.rglob("*"))
    result = CliRunner().invoke(app, ["demo", "--path", str(backend / "demo"), "--no-serve"])
    assert result.exit_code == 1
    assert f"is inside the backend at {backend.resolve()}" in " ".join(result.output.split())
    assert "make run" in result.output and "Traceback" not in result.output
    assert sorted(backend.rglob("*")) == before


def test_a_demo_stopped_by_kill_stops_its_server(tmp_path: Path, free_tcp_port: int) -> None:
    """SIGTERM (`kill`, a process manager, an IDE's stop button) stops the server too."""
    url = f"http://127.0.0.1:{free_tcp_port}/health"
    command = [str(Path(sys.executable).parent / "backend-builder"), "demo"]
    demo = subprocess.Popen(
        [*command, "--path", str(tmp_path / "demo"), "--port", str(free_tcp_port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert demo.stdout is not None
        for line in demo.stdout:  # until the demo is up and seeded
            if "The demo API is up" in line:
                break
        assert httpx.get(url).status_code == 200
        demo.send_signal(signal.SIGTERM)
        output, _ = demo.communicate(timeout=30)
    finally:
        demo.kill()
    assert demo.returncode == 0 and "Stopped." in output
    with pytest.raises(httpx.ConnectError):
        httpx.get(url, timeout=2)
