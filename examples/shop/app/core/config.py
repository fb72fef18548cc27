"""Application settings, read from the environment (and `.env`) once at start-up."""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

BASE_DIR = Path(__file__).resolve().parents[2]
DEFAULT_SECRET_KEY = "insecure-development-key-change-me-in-production"  # noqa: S105 - refused in production


class Settings(BaseSettings):
    """Every setting the application reads; names are the environment variables."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
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

    @model_validator(mode="after")
    def refuse_default_secret(self) -> "Settings":
        """Refuse to run in production with the well-known default secret key."""
        if self.environment == "production" and self.secret_key == DEFAULT_SECRET_KEY:
            raise ValueError(
                "SECRET_KEY must be set to a strong random value in production"
            )
        if self.environment == "production" and len(self.secret_key) < 32:
            raise ValueError(
                "SECRET_KEY must be at least 32 characters long in production"
            )
        return self

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is SQLite (embedded) rather than PostgreSQL."""
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    """Return the settings, read once per process."""
    return Settings()


settings = get_settings()
