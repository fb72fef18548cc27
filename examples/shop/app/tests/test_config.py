"""Settings fail fast, accept the URLs people paste, and reach the driver."""

import asyncio
import re

import pytest
from fastapi.testclient import TestClient
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import literal, select, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from app import main
from app.core import db
from app.core.config import (
    DEFAULT_SECRET_KEY,
    LOCAL_ENVIRONMENTS,
    InsecureSettings,
    Settings,
    settings,
)
from app.core.sql import Query
from app.tests.conftest import PASSWORD


@pytest.fixture(autouse=True)
def deployed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings built here read the environment of a deployment, not of this suite."""
    monkeypatch.delenv("PASSWORD_HASH_INSECURE_FOR_TESTS")


def test_without_an_environment_it_runs_as_production(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ENVIRONMENT")
    assert Settings(_env_file=None).environment == "production"


@pytest.mark.parametrize("secret", [DEFAULT_SECRET_KEY, "short", "s" * 31])
def test_production_refuses_to_serve_with_a_weak_secret(secret: str) -> None:
    weak = Settings(environment="production", secret_key=secret)
    with pytest.raises(InsecureSettings, match="SECRET_KEY"):
        weak.ensure_safe_to_serve()


def test_the_app_does_not_start_with_a_weak_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    weak = Settings(environment="production", secret_key=DEFAULT_SECRET_KEY)
    monkeypatch.setattr(main, "settings", weak)
    with pytest.raises(InsecureSettings):
        main.create_app()


def test_local_environments_accept_a_weak_secret_with_a_warning() -> None:
    for environment in LOCAL_ENVIRONMENTS:
        with pytest.warns(UserWarning, match="SECRET_KEY is weak"):
            Settings(
                environment=environment, secret_key="changethis"
            ).ensure_safe_to_serve()


def test_production_accepts_a_real_secret() -> None:
    Settings(environment="production", secret_key="s" * 48).ensure_safe_to_serve()


@pytest.mark.parametrize("environment", ["production", "development"])
def test_cheap_password_hashes_are_for_tests_only(
    environment: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PASSWORD_HASH_INSECURE_FOR_TESTS", "true")
    cheap = Settings(
        environment=environment,
        secret_key="s" * 48,
        rate_limit_storage_url="memory://",
    )
    assert cheap.argon2_parameters == {}
    with pytest.raises(InsecureSettings, match="PASSWORD_HASH_INSECURE_FOR_TESTS"):
        cheap.ensure_safe_to_serve()


def test_production_hashes_passwords_at_full_cost() -> None:
    production = Settings(environment="production", secret_key="s" * 48)
    hasher = Argon2Hasher(**production.argon2_parameters)
    hashed = hasher.hash(PASSWORD)
    assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=4$"), hashed
    assert settings.argon2_parameters, "this suite hashes cheaply"
    cheap = Argon2Hasher(**settings.argon2_parameters).hash(PASSWORD)
    assert hasher.verify(PASSWORD, cheap)


def test_production_describes_the_api_nowhere(monkeypatch: pytest.MonkeyPatch) -> None:
    production = Settings(environment="production", secret_key="s" * 48)
    monkeypatch.setattr(main, "settings", production)
    hidden = TestClient(main.create_app())
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert hidden.get(path).status_code == 404, path
    assert hidden.get("/health").status_code == 200


def test_local_environments_document_the_api(client: TestClient) -> None:
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert client.get(path).status_code == 200, path


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_documentation_needs_no_internet(client: TestClient, page: str) -> None:
    """Swagger UI and ReDoc load their scripts and styles from this server."""
    html = client.get(page).text
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any(asset.endswith(".js") for asset in assets), html
    assert "https://" not in html and "http://" not in html, html
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200, asset
        assert response.content, asset


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:p@h/db", "postgresql+asyncpg://u:p@h/db"),
        ("postgres://u:p@h/db", "postgresql+asyncpg://u:p@h/db"),
        ("postgresql+asyncpg://u:p@h/db", "postgresql+asyncpg://u:p@h/db"),
        ("sqlite:///app.db", "sqlite+aiosqlite:///app.db"),
    ],
)
def test_database_urls_use_async_drivers(url: str, expected: str) -> None:
    assert Settings(database_url=url).database_url == expected


def test_seed_import_paths() -> None:
    from app.api.deps import get_current_user as from_deps
    from app.api.deps import get_db
    from app.core.auth import get_current_user

    assert from_deps is get_current_user
    assert callable(get_db)


@pytest.mark.skipif(settings.is_sqlite, reason="prepared statements are PostgreSQL's")
@pytest.mark.parametrize("prepared", [True, False])
def test_prepared_statements_can_be_turned_off_for_poolers(
    monkeypatch: pytest.MonkeyPatch, prepared: bool
) -> None:
    monkeypatch.setattr(settings, "database_prepared_statements", prepared)
    engine = create_async_engine(settings.database_url, **db._engine_options())
    query = Query(select(literal(1)))
    named = Query(text("SELECT count(*) AS named FROM pg_prepared_statements"))

    async def count_named_statements() -> int:
        try:
            async with db.transaction(engine) as connection:
                await connection.fetch(query, {})
                row = await connection.fetch_one(named, {})
        finally:
            await engine.dispose()
        assert row is not None
        return int(row["named"])

    assert (asyncio.run(count_named_statements()) > 0) is prepared


@pytest.mark.skipif(settings.is_sqlite, reason="the driver path is PostgreSQL's")
def test_a_connection_the_server_dropped_is_not_reused() -> None:
    engine = create_async_engine(settings.database_url, pool_size=1, max_overflow=0)
    killer = create_async_engine(settings.database_url, poolclass=NullPool)
    backend = Query(text("SELECT pg_backend_pid() AS pid"))

    async def backend_pids() -> list[int]:
        pids = []
        try:
            for _ in range(2):
                async with db.transaction(engine) as connection:
                    row = await connection.fetch_one(backend, {})
                    assert row is not None
                    pids.append(int(row["pid"]))
                async with killer.connect() as other:
                    await other.execute(
                        text("SELECT pg_terminate_backend(CAST(:pid AS integer))"),
                        {"pid": pids[-1]},
                    )
                await asyncio.sleep(0.1)  # the client notices the closed socket
        finally:
            await engine.dispose()
            await killer.dispose()
        return pids

    first, second = asyncio.run(backend_pids())
    assert first != second
