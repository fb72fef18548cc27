"""Run a generated backend's own tools: linters, migrations and test suite."""

import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def run(root: Path, *command: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run a command in a generated backend with a clean environment; fail loudly."""
    clean = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "TEST_DATABASE_URL", "MIGRATION_DATABASE_URL"}
        and not key.startswith(("PYTEST_", "COV_"))
    }
    result = subprocess.run(
        command, cwd=root, env={**clean, **env}, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, (
        f"{' '.join(command)} failed ({result.returncode}) in {root}:\n"
        f"{result.stdout[-30000:]}\n{result.stderr[-6000:]}"
    )
    return result


def lint(root: Path) -> None:
    """ruff and black report nothing."""
    run(root, str(BIN / "ruff"), "check", ".")
    run(root, sys.executable, "-m", "black", "--check", "--quiet", ".")


def migrations_round_trip(root: Path, database_url: str) -> None:
    """upgrade, check for drift, downgrade to nothing and upgrade again."""
    alembic = (sys.executable, "-m", "alembic")
    run(root, *alembic, "upgrade", "head", DATABASE_URL=database_url)
    run(root, *alembic, "check", DATABASE_URL=database_url)
    run(root, *alembic, "downgrade", "-1", DATABASE_URL=database_url)
    run(root, *alembic, "upgrade", "head", DATABASE_URL=database_url)
    run(root, *alembic, "downgrade", "base", DATABASE_URL=database_url)
    run(root, *alembic, "upgrade", "head", DATABASE_URL=database_url)


def run_tests(root: Path, **env: str) -> str:
    """Run the backend's tests with coverage (its own threshold applies)."""
    result = run(
        root, sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--cov", **env
    )
    return result.stdout
