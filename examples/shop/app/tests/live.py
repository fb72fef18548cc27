"""The application over real HTTP: a uvicorn server, and the Python client made for it."""

import importlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from app.openapi import write

ROOT = Path(__file__).resolve().parents[2]
CLIENT_GENERATOR = ROOT / "clients" / ".tools" / "bin" / "openapi-python-client"
"""openapi-python-client, in the environment of its own that `make client` makes."""
CLIENT_PACKAGE = "api_client"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def serve() -> Iterator[str]:
    """Serve the application with uvicorn on a free port until the block ends; its URL."""
    port = _free_port()
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-m", "uvicorn", "app.main:app", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        with httpx.Client() as http:
            while time.monotonic() < deadline:
                try:
                    if http.get(f"{url}/health").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            else:  # pragma: no cover - only when the server cannot start
                pytest.fail("the server did not start")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def generated_client(folder: Path) -> ModuleType:
    """Generate the Python client of the API as it is now into `folder`, and import it.

    The client is made from the current OpenAPI document, as `make client` makes
    `clients/python/`, so it always matches the code under test. Until `make client`
    has installed the generator, the tests that need it skip and say so.
    """
    if not CLIENT_GENERATOR.exists():
        pytest.skip("openapi-python-client is not installed: run `make client` once")
    document = folder / "openapi.json"
    write(document)
    result = subprocess.run(  # noqa: S603 - our own tool and arguments
        [
            str(CLIENT_GENERATOR),
            "generate",
            "--path",
            str(document),
            "--output-path",
            str(folder / CLIENT_PACKAGE),
            "--meta",
            "none",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    sys.path.insert(0, str(folder))
    importlib.import_module(f"{CLIENT_PACKAGE}.models")  # now `api_client.models`
    return importlib.import_module(CLIENT_PACKAGE)


def operation(api_client: ModuleType, tag: str, name: str) -> ModuleType:
    """The module of one operation of the client: `sync`, `sync_detailed`, ..."""
    return importlib.import_module(f"{api_client.__name__}.api.{tag}.{tag}_{name}")
