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


# Several alembic commands in one interpreter: the imports are paid once, and the
# first command that fails exits non-zero and stops the rest.
ALEMBIC_STEPS = (
    "import sys\n"
    "from alembic.config import main\n"
    "for step in sys.argv[1:]:\n"
    "    main(argv=step.split(), prog='alembic')\n"
)


def alembic(root: Path, database_url: str, *steps: str) -> None:
    """Run alembic commands such as "upgrade head" and "check", in order."""
    run(root, sys.executable, "-c", ALEMBIC_STEPS, *steps, DATABASE_URL=database_url)


def migrations_round_trip(root: Path, database_url: str) -> None:
    """upgrade, check for drift, downgrade to nothing and upgrade again."""
    alembic(
        root,
        database_url,
        "upgrade head",
        "check",
        "downgrade -1",
        "upgrade head",
        "downgrade base",
        "upgrade head",
    )


def run_tests(root: Path, **env: str) -> str:
    """Run the backend's tests with coverage (its own threshold applies)."""
    result = run(
        root, sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--cov", **env
    )
    return result.stdout


def run_some_tests(root: Path, *arguments: str, **env: str) -> str:
    """Run some of the backend's tests (files, `-k ...`), without coverage."""
    result = run(
        root, sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *arguments, **env
    )
    return result.stdout
