"""Settings fail fast and accept the URLs people paste."""

import pytest
from pydantic import ValidationError

from app.core.config import DEFAULT_SECRET_KEY, Settings


def test_production_refuses_the_default_secret() -> None:
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        Settings(environment="production", secret_key=DEFAULT_SECRET_KEY)


def test_production_refuses_a_short_secret() -> None:
    with pytest.raises(ValidationError, match="32 characters"):
        Settings(environment="production", secret_key="short")


def test_production_accepts_a_real_secret() -> None:
    assert (
        Settings(environment="production", secret_key="s" * 48).environment
        == "production"
    )


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
