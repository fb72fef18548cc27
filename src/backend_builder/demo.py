"""`backend-builder demo`: a seeded backend on embedded SQLite, served locally."""

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from backend_builder.console import console, show_plan
from backend_builder.errors import BuilderError
from backend_builder.manifest import MANIFEST
from backend_builder.plan import apply_plan
from backend_builder.project import plan_new
from backend_builder.resource.generate import ALL_LAYERS, plan_generate

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo-password"
DEMO_PROJECTS = ("Acme", "Globex")
DEMO_RESOURCES = (
    ("Asset", ["name:str", "serial:str:unique", "status:enum:active,retired:default=active"]),
    (
        "Notification",
        ["title:str", "message:text:optional", "read:bool:default=false", "user:ref"],
    ),
)


def run_demo(path: Path, *, host: str, port: int, serve: bool) -> None:
    """Create the demo backend if needed, migrate, seed it, and serve it."""
    container = next(
        (folder for folder in path.resolve().parents if (folder / MANIFEST).is_file()), None
    )
    if container is not None and not (path / MANIFEST).is_file():
        raise BuilderError(
            f"{path} is inside the backend at {container}; the demo is a backend of its own "
            "and would be created within this one",
            hint="serve this backend with `make run`, or give the demo a --path outside it",
            code="demo_inside_a_backend",
            path=str(path),
        )
    if (path / MANIFEST).is_file():
        console.print(f"Reusing the demo backend in [bold]{path}[/].")
    else:
        console.print(f"Creating a demo backend in [bold]{path}[/]:")
        plan = plan_new(path)
        show_plan(plan, dry_run=False)
        apply_plan(plan)
        for name, fields in DEMO_RESOURCES:
            generation = plan_generate(path, name, fields, layers=ALL_LAYERS)
            show_plan(generation.plan, dry_run=False)
            apply_plan(generation.plan)
    env = _environment(path)
    _run([sys.executable, "-m", "alembic", "upgrade", "head"], path, env, "migrations")
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:app", "--host", host, "--port", str(port)],
        cwd=path,
        env=env,
    )
    base_url = f"http://{host}:{port}"
    stopping = _stop_on_sigterm()
    try:
        _wait_until_up(server, base_url)
        _seed(base_url)
        console.print(
            f"\n[bold green]The demo API is up[/] at [bold]{base_url}[/] "
            f"(Swagger UI: [bold]{base_url}/docs[/]).\n"
            f"Log in with [bold]{DEMO_EMAIL}[/] / [bold]{DEMO_PASSWORD}[/] "
            "(in Swagger UI: Authorize, then username and password).\n"
            f"The user has two projects, {' and '.join(DEMO_PROJECTS)}, each with assets "
            "and a notification: try GET /api/v1/assets/, then switch project with "
            "PUT /api/v1/users/me/current-project."
        )
        if serve:
            console.print("[dim]Press Ctrl+C to stop.[/]")
            server.wait()
    except KeyboardInterrupt:
        console.print("\nStopped.")
    finally:
        server.terminate()
        server.wait(timeout=10)
        if stopping is not None:
            signal.signal(signal.SIGTERM, stopping)


def _stop_on_sigterm() -> Any:
    """Have `kill` (SIGTERM) stop the demo as Ctrl+C does, the server with it.

    Python's default for SIGTERM ends the process at once, leaving the server
    running. The previous handler is returned, to be put back (None off the main
    thread, where no handler can be set).
    """
    if threading.current_thread() is not threading.main_thread():
        return None

    def interrupt(_signal: int, _frame: object) -> None:
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, interrupt)


def _environment(path: Path) -> dict[str, str]:
    """The demo's environment, with a secret key kept in the demo's `.env`."""
    dotenv = path / ".env"
    if not dotenv.exists():
        dotenv.write_text(f"SECRET_KEY={secrets.token_urlsafe(48)}\n", encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env["ENVIRONMENT"] = "development"
    return env


def _run(command: list[str], cwd: Path, env: dict[str, str], what: str) -> None:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BuilderError(f"{what} failed:\n{result.stderr.strip()}")


def _wait_until_up(server: subprocess.Popen[bytes], base_url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise BuilderError(
                f"the server stopped at start-up (exit code {server.returncode})",
                hint="is the port already in use? choose another with --port",
            )
        try:
            if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise BuilderError(f"the server did not answer at {base_url} within 30 seconds")


def _seed(base_url: str) -> None:
    """Register the demo user and their projects through the API; idempotent."""
    with httpx.Client(base_url=f"{base_url}/api/v1", timeout=30) as client:
        registered = client.post(
            "/auth/register",
            json={
                "email": DEMO_EMAIL,
                "password": DEMO_PASSWORD,
                "project_name": DEMO_PROJECTS[0],
            },
        )
        if registered.status_code not in (201, 409):
            raise BuilderError(f"could not register the demo user: {registered.text}")
        login = client.post("/auth/token", data={"username": DEMO_EMAIL, "password": DEMO_PASSWORD})
        if login.status_code != 200:
            raise BuilderError(f"could not log in as the demo user: {login.text}")
        client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        user_id = client.get("/users/me").json()["id"]
        projects = {project["name"]: project["id"] for project in client.get("/projects/").json()}
        for name in DEMO_PROJECTS:
            if name not in projects:
                created = client.post("/projects/", json={"name": name})
                created.raise_for_status()
                projects[name] = created.json()["id"]
        for name in DEMO_PROJECTS:
            client.put("/users/me/current-project", json={"project_id": projects[name]})
            if not client.get("/assets/").json():
                for number in (1, 2):
                    client.post(
                        "/assets/",
                        json={"name": f"{name} laptop {number}", "serial": f"{name[:3]}-{number}"},
                    ).raise_for_status()
                client.post(
                    "/notifications/",
                    json={"title": f"Welcome to {name}", "user_id": user_id},
                ).raise_for_status()
        client.put("/users/me/current-project", json={"project_id": projects[DEMO_PROJECTS[0]]})
