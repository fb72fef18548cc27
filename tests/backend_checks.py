"""Run a generated backend's own tools: linters, migrations and test suite."""

import json
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

BIN = Path(sys.executable).parent


class Zygote:
    """A process that has imported a backend's libraries and forks one child per command.

    See tests/zygote.py. Set BB_TEST_FORK=0 to run each command as a new interpreter.
    """

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def run(
        self, args: list[str], cwd: Path, env: dict[str, str]
    ) -> subprocess.CompletedProcess[str]:
        """Run `python *args` in `cwd` with exactly `env`; its output and exit status."""
        with self._lock, tempfile.TemporaryDirectory() as folder:
            process = self._process
            if process is None or process.poll() is not None:
                process = self._process = subprocess.Popen(
                    [sys.executable, str(Path(__file__).with_name("zygote.py"))],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    env=env,
                )
            assert process.stdin is not None and process.stdout is not None
            stdout, stderr = Path(folder, "stdout"), Path(folder, "stderr")
            request = {
                "args": args,
                "cwd": str(cwd),
                "env": env,
                "stdout": str(stdout),
                "stderr": str(stderr),
            }
            process.stdin.write(json.dumps(request).encode() + b"\n")
            process.stdin.flush()
            reply = process.stdout.readline()
            if not reply:
                raise RuntimeError(f"tests/zygote.py ended ({process.wait()}) running {args}")
            return subprocess.CompletedProcess(
                [sys.executable, *args],
                json.loads(reply)["returncode"],
                stdout.read_text(errors="replace"),
                stderr.read_text(errors="replace"),
            )

    def close(self) -> None:
        """End the process: it stops at the end of its input."""
        if self._process is not None:
            assert self._process.stdin is not None
            self._process.stdin.close()
            self._process.wait()
            self._process = None


ZYGOTE = Zygote() if os.environ.get("BB_TEST_FORK", "1") != "0" else None


def execute(root: Path, *command: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run a command in a generated backend with a clean environment; its result."""
    clean = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "TEST_DATABASE_URL", "MIGRATION_DATABASE_URL"}
        and not key.startswith(("PYTEST_", "COV_"))
    }
    if ZYGOTE is not None and command[0] == sys.executable:
        return ZYGOTE.run(list(command[1:]), root, {**clean, **env})
    return subprocess.run(
        command, cwd=root, env={**clean, **env}, capture_output=True, text=True, check=False
    )


def run(root: Path, *command: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run a command in a generated backend with a clean environment; fail loudly."""
    result = execute(root, *command, **env)
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


PYTEST = (sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider")
"""A backend's pytest, quiet and leaving no cache behind."""


def run_tests(root: Path, **env: str) -> str:
    """Run the backend's tests with coverage (its own threshold applies)."""
    result = run(root, *PYTEST, "--cov", **env)
    return result.stdout


def run_some_tests(root: Path, *arguments: str, **env: str) -> str:
    """Run some of the backend's tests (files, `-k ...`), without coverage."""
    result = run(root, *PYTEST, *arguments, **env)
    return result.stdout
