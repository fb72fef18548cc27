"""Application settings, read from the environment (and `.env`) once at start-up."""

import os
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Literal

from limits import parse_many
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

BASE_DIR = Path(__file__).resolve().parents[2]
DEFAULT_SECRET_KEY = (
    "changethis"  # noqa: S105 - a placeholder, refused outside local modes
)
MIN_SECRET_LENGTH = 32
LOCAL_ENVIRONMENTS = frozenset({"development", "test"})


class InsecureSettings(SystemExit):
    """The settings are unsafe to serve with (a forgeable secret, say): no start.

    A `SystemExit`, so that the server stops with this message alone, not a traceback.
    """


class Settings(BaseSettings):
    """Every setting the application reads; names are the environment variables."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "production"
    database_url: str = f"sqlite+aiosqlite:///{BASE_DIR / 'app.db'}"
    # The table owner's URL, for migrations only (alembic/env.py); empty: DATABASE_URL.
    migration_database_url: str = ""
    database_pool_size: int = Field(default=10, ge=0)
    database_echo: bool = False
    database_prepared_statements: bool = True
    secret_key: str = DEFAULT_SECRET_KEY
    jwt_audience: str = "shop"
    access_token_expire_minutes: int = Field(default=15, gt=0)
    refresh_token_expire_days: int = Field(default=14, gt=0)
    max_body_bytes: int = Field(default=4_194_304, gt=0)
    # Abuse resistance: rate limits of login, registration and refresh, and the cap
    # on concurrent password hashing (see app/core/ratelimit.py and security.py).
    rate_limit_storage_url: str = "memory://"
    rate_limit_key_prefix: str = "shop"
    rate_limit_per_account: str = "10/minute;100/hour"
    rate_limit_per_client: str = "60/minute;1000/hour"
    password_hash_concurrency: int = Field(
        default_factory=lambda: max(1, (os.cpu_count() or 1) // 4), ge=1
    )
    password_hash_queue_seconds: float = Field(default=1.0, ge=0)
    # Test suites only: Argon2 at its lowest cost, so that a suite can register
    # hundreds of users in seconds. Ignored, and refused at start-up, unless
    # ENVIRONMENT is test (see `argon2_parameters`).
    password_hash_insecure_for_tests: bool = False

    @field_validator("database_url", "migration_database_url")
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
        """Refuse settings that are unsafe to serve with (not to migrate with).

        A weak secret key is refused unless the environment is explicitly a local
        one: without `ENVIRONMENT` the application runs as in production, so a
        backend started by accident with the placeholder key refuses to start
        instead of signing tokens that anyone could forge.

        Cheap test-only password hashes are refused anywhere but in tests.

        On PostgreSQL in production the rate limit store must be chosen: such
        deployments run several workers, often on several machines, and counters
        kept in each process's memory would let each worker grant the full limit.
        `memory://` stays possible, but only when set on purpose (a single worker).
        """
        if self.password_hash_insecure_for_tests and self.environment != "test":
            raise InsecureSettings(
                "PASSWORD_HASH_INSECURE_FOR_TESTS is for test suites only "
                f"(ENVIRONMENT is {self.environment}): unset it"
            )
        if (
            self.environment == "production"
            and not self.is_sqlite
            and "rate_limit_storage_url" not in self.model_fields_set
        ):
            raise InsecureSettings(
                "RATE_LIMIT_STORAGE_URL must be set in production on PostgreSQL: "
                "redis://host:6379/0 so that rate limits hold across all workers "
                "(or memory:// for a single worker)"
            )
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
    def argon2_parameters(self) -> dict[str, int]:
        """Argon2's cost: pwdlib's defaults (64 MiB, 3 passes, 4 lanes), or the lowest.

        Only a test suite that sets PASSWORD_HASH_INSECURE_FOR_TESTS gets the lowest.
        A hash records its own parameters, so either kind verifies under the other.
        """
        if self.password_hash_insecure_for_tests and self.environment == "test":
            return {"time_cost": 1, "memory_cost": 8, "parallelism": 1}
        return {}

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is SQLite (embedded) rather than PostgreSQL."""
        return self.database_url.startswith("sqlite")

    @field_validator("rate_limit_storage_url")
    @classmethod
    def known_rate_limit_storage(cls, url: str) -> str:
        """Accept the in-process store (`memory://`) or Redis (`redis://`, `rediss://`)."""
        schemes = ("memory://", "redis://", "rediss://", "redis+unix://")
        if not url.startswith(schemes):
            raise ValueError(f"must start with one of {', '.join(schemes)}")
        return url

    @field_validator("rate_limit_per_account", "rate_limit_per_client")
    @classmethod
    def valid_rate_limits(cls, value: str) -> str:
        """Refuse at start-up limits that do not parse, e.g. `10/minute;100/hour`."""
        try:
            parse_many(value)
        except ValueError as error:
            raise ValueError(f"invalid rate limit {value!r}: {error}") from error
        return value


@lru_cache
def get_settings() -> Settings:
    """Return the settings, read once per process."""
    return Settings()


settings = get_settings()
