"""Application settings, read from the environment (and `.env`) once at start-up."""

import warnings
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

BASE_DIR = Path(__file__).resolve().parents[2]
DEFAULT_SECRET_KEY = (
    "changethis"  # noqa: S105 - a placeholder, refused outside local modes
)
MIN_SECRET_LENGTH = 32
LOCAL_ENVIRONMENTS = frozenset({"development", "test"})


class InsecureSettings(SystemExit):
    """The settings would let anyone forge tokens: the application does not start.

    A `SystemExit`, so that the server stops with this message alone, not a traceback.
    """


class Settings(BaseSettings):
    """Every setting the application reads; names are the environment variables."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "production"
    database_url: str = f"sqlite+aiosqlite:///{BASE_DIR / 'app.db'}"
    database_pool_size: int = Field(default=10, ge=0)
    database_echo: bool = False
    database_prepared_statements: bool = True
    secret_key: str = DEFAULT_SECRET_KEY
    jwt_audience: str = "shop"
    access_token_expire_minutes: int = Field(default=15, gt=0)
    refresh_token_expire_days: int = Field(default=14, gt=0)
    max_body_bytes: int = Field(default=4_194_304, gt=0)

    @field_validator("database_url")
    @classmethod
    def use_async_driver(cls, url: str) -> str:
        """Accept plain `postgresql://` and `sqlite://` URLs and pick the async driver."""
        for prefix, driver in (
            ("postgres://", "postgresql+asyncpg://"),
            ("postgresql://", "postgresql+asyncpg://"),
            ("sqlite://", "sqlite+aiosqlite://"),
        ):
            if url.startswith(prefix):
                return driver + url.removeprefix(prefix)
        return url

    @property
    def weak_secret(self) -> bool:
        """Whether the secret key is the public placeholder or too short to be safe."""
        return (
            self.secret_key == DEFAULT_SECRET_KEY
            or len(self.secret_key) < MIN_SECRET_LENGTH
        )

    def ensure_safe_to_serve(self) -> None:
        """Refuse a weak secret key, unless the environment is explicitly a local one.

        Without `ENVIRONMENT` the application runs as in production, so a backend
        started by accident with the placeholder key refuses to start instead of
        signing tokens that anyone could forge.
        """
        if not self.weak_secret:
            return
        if self.environment in LOCAL_ENVIRONMENTS:
            warnings.warn(
                "SECRET_KEY is weak: fine for local development, refused in production",
                stacklevel=2,
            )
            return
        raise InsecureSettings(
            f"SECRET_KEY must be a random value of at least {MIN_SECRET_LENGTH} "
            "characters (python -c 'import secrets; print(secrets.token_urlsafe(48))'); "
            "set it in the environment or in .env, or set ENVIRONMENT=development "
            "to run locally"
        )

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is SQLite (embedded) rather than PostgreSQL."""
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    """Return the settings, read once per process."""
    return Settings()


settings = get_settings()
