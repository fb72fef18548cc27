"""`backend-builder check`: a generated backend's linters, tests, migrations and tenancy.

Each check returns a `CheckResult` (frozen: its name, whether it passed, how long it
took, a one-line summary and its findings, each with a file and a line); the front
end only presents them. The checks, in the order they run:

- `lint`: ruff and black (check only), with the backend's own configuration;
- `tenancy`: the backend's code read with `ast` (`backend_builder.check_tenancy`),
  and, when a PostgreSQL server URL is given, the catalog of a scratch database
  the migrations built: every tenant table has row-level security enabled and
  forced, and a policy;
- `migrations`: on a scratch database, `alembic upgrade head`, `alembic check` (the
  models and the migrations agree), `downgrade base`, and `upgrade head` again, in
  one interpreter of the backend (the imports are paid once), each step reported
  with its own output;
- `tests`: the backend's tests with coverage; the threshold is the manifest's
  `[backend] coverage` (90% by default).

Scratch databases are a SQLite file in a temporary directory, or, for a PostgreSQL
backend or when a server URL is given, PostgreSQL databases created for the run and
dropped after it. Tools run with the backend's Python: its `.venv` if it has one,
else the interpreter running backend-builder.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from backend_builder.check_tenancy import Finding, Place, Tenancy, analyze, read_schema
from backend_builder.errors import BuilderError
from backend_builder.manifest import Manifest, find_root, load

__all__ = [
    "CHECKS",
    "CheckReport",
    "CheckResult",
    "Finding",
    "Reporter",
    "run_checks",
    "select_checks",
]

CHECKS = ("lint", "tenancy", "migrations", "tests")
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
# Variables of the caller's shell that would point a backend's tools elsewhere.
_CLEARED = frozenset({"DATABASE_URL", "TEST_DATABASE_URL", "MIGRATION_DATABASE_URL"})
_CLEARED_PREFIXES = ("PYTEST_", "COV_", "COVERAGE_")
_OUTPUT_TAIL = 2000


@dataclass(frozen=True)
class CheckResult:
    """One check: passed or not, how long it took, what it saw, and where it failed."""

    name: str
    passed: bool
    duration: float
    summary: str
    findings: tuple[Finding, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form."""
        return {
            "name": self.name,
            "passed": self.passed,
            "duration": round(self.duration, 2),
            "summary": self.summary,
            "findings": [f.to_dict() for f in self.findings],
        }


@dataclass(frozen=True)
class CheckReport:
    """Every check run on a backend; it passes when each of them does."""

    root: Path
    database: str
    results: tuple[CheckResult, ...]
    skipped: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        """True when every check that ran passed."""
        return all(result.passed for result in self.results)

    @property
    def duration(self) -> float:
        """Seconds spent in all checks."""
        return sum(result.duration for result in self.results)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form."""
        return {
            "root": str(self.root),
            "database": self.database,
            "passed": self.passed,
            "duration": round(self.duration, 2),
            "checks": [result.to_dict() for result in self.results],
            "skipped": list(self.skipped),
        }


class Reporter(Protocol):
    """Told what runs, as it runs (a progress display)."""

    def step(self, check: str, description: str) -> None:
        """`check` has started `description` (a tool, a migration step)."""

    def done(self, result: CheckResult) -> None:
        """`result`'s check has finished."""


class _Silent:
    """A reporter that shows nothing."""

    def step(self, check: str, description: str) -> None:
        """Nothing to show."""

    def done(self, result: CheckResult) -> None:
        """Nothing to show."""


def select_checks(only: Iterable[str] = (), skip: Iterable[str] = ()) -> tuple[str, ...]:
    """The checks to run, in their order, from names to run only or to skip."""
    only, skip = _names(only), _names(skip)
    if only and skip:
        raise BuilderError(
            "choose the checks to run, or the checks to skip, not both",
            code="invalid_selection",
        )
    for name in (*only, *skip):
        if name not in CHECKS:
            raise BuilderError(
                f"unknown check '{name}'; the checks are: {', '.join(CHECKS)}",
                code="unknown_check",
                token=name,
            )
    chosen = tuple(c for c in CHECKS if (c in only if only else c not in skip))
    if not chosen:
        raise BuilderError("every check is skipped: nothing to run", code="invalid_selection")
    return chosen


def _names(values: Iterable[str]) -> list[str]:
    """`["lint,tests", "tenancy"]` -> `["lint", "tests", "tenancy"]`."""
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


def run_checks(
    start: Path,
    *,
    checks: tuple[str, ...] = CHECKS,
    database_url: str | None = None,
    reporter: Reporter | None = None,
    workers: int | None = None,
) -> CheckReport:
    """Run `checks` on the backend at or above `start`.

    `database_url` is a PostgreSQL server on which scratch databases are created
    (and dropped), and whose catalog the tenancy check reads; without it a
    PostgreSQL backend uses the local server (`DEFAULT_POSTGRES_URL`) for its
    migrations and tests, and a SQLite backend a file in a temporary directory.

    `workers` is how many processes run the tests: by default one per core, as the
    backend's `make test` runs them, when its Python has pytest-xdist (else one).
    """
    if workers is not None and workers < 1:
        raise BuilderError(
            f"workers must be 1 or more, not {workers}",
            hint="1 runs the tests in one process",
            code="invalid_workers",
            token=str(workers),
        )
    root = find_root(start)
    manifest = load(root)
    if database_url is not None and not _is_postgres(database_url):
        raise BuilderError(
            f"the database URL must name a PostgreSQL server, not '{database_url}'",
            hint="for example postgresql://postgres@127.0.0.1:5432/postgres",
            code="invalid_database_url",
            token=database_url,
        )
    catalog = database_url is not None
    if database_url is None and manifest.database == "postgresql":
        database_url = DEFAULT_POSTGRES_URL
    context = _Context(
        root,
        manifest,
        _python(root),
        reporter or _Silent(),
        database_url,
        catalog=catalog,
        workers=workers,
    )
    runners: dict[str, Callable[[_Context], CheckResult]] = {
        "lint": _lint,
        "tenancy": _tenancy,
        "migrations": _migrations,
        "tests": _tests,
    }
    results = []
    with context.scratch:
        for name in checks:
            started = time.monotonic()
            result = replace(runners[name](context), duration=time.monotonic() - started)
            context.reporter.done(result)
            results.append(result)
    return CheckReport(
        root,
        "postgresql" if database_url else "sqlite",
        tuple(results),
        tuple(c for c in CHECKS if c not in checks),
    )


def _python(root: Path) -> str:
    """The backend's Python: its `.venv`, else the one running backend-builder."""
    for candidate in (root / ".venv" / "bin" / "python", root / ".venv" / "Scripts" / "python.exe"):
        if candidate.is_file():
            return str(candidate)
    return sys.executable


def _is_postgres(url: str) -> bool:
    """Whether `url` names a PostgreSQL server."""
    return urlsplit(url).scheme.split("+")[0] in ("postgresql", "postgres")


# --------------------------------------------------------------------------
# Running the backend's tools
# --------------------------------------------------------------------------


@dataclass
class _Context:
    """What every check needs: the backend, its Python, the reporter, scratch databases."""

    root: Path
    manifest: Manifest
    python: str
    reporter: Reporter
    server: str | None
    catalog: bool  # read the PostgreSQL catalog (when a server URL was given)
    workers: int | None = None  # test processes; None: one per core, with pytest-xdist
    scratch: "_Scratch" = field(init=False)

    def __post_init__(self) -> None:
        self.scratch = _Scratch(self)

    def run(
        self, check: str, description: str, *arguments: str, **env: str
    ) -> subprocess.CompletedProcess[str]:
        """Run `python -m ARGUMENTS` in the backend, with a clean environment."""
        self.reporter.step(check, description)
        result = subprocess.run(
            [self.python, *arguments],
            cwd=self.root,
            env=self._environment(env),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0 and arguments[:1] == ("-m",):
            self._require(arguments[1], result.stderr)
        return result

    def alembic(self, check: str, url: str, *steps: str) -> list[subprocess.CompletedProcess[str]]:
        """Run alembic commands ("upgrade head", "check", ...) on `url`, in order.

        They run in one interpreter of the backend (`_ALEMBIC_STEPS`), which imports
        alembic, SQLAlchemy and the models once instead of once per step; each step
        keeps its own output and exit status, as if it had run alone. A failed step
        other than `check` ends the run: the result of each step that ran.
        """
        process = subprocess.Popen(
            [self.python, "-c", _ALEMBIC_STEPS, *steps],
            cwd=self.root,
            env=self._environment({"DATABASE_URL": url}),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert process.stdout is not None
        results: list[subprocess.CompletedProcess[str]] = []
        other: list[str] = []  # what the interpreter printed outside the steps
        with process:
            for line in process.stdout:
                mark = line.find(_STEP_MARK)
                if mark < 0:
                    other.append(line)
                    continue
                other.append(line[:mark])  # output the line began with, if any
                message = json.loads(line[mark:])
                if "start" in message:
                    self.reporter.step(check, f"alembic {message['start']}")
                else:
                    results.append(
                        subprocess.CompletedProcess(
                            ["alembic", *message["step"].split()],
                            message["code"],
                            message["stdout"],
                            message["stderr"],
                        )
                    )
        stopped = (
            bool(results) and results[-1].returncode != 0 and results[-1].args[1:] != ["check"]
        )
        if len(results) < len(steps) and not stopped:  # the interpreter itself failed
            text = "".join(other)
            self._require("alembic", text)
            step = ["alembic", *steps[len(results)].split()]
            results.append(subprocess.CompletedProcess(step, process.returncode or 1, "", text))
        return results

    def _environment(self, env: dict[str, str]) -> dict[str, str]:
        """This process's environment without its database settings, and `env`."""
        clean = {
            key: value
            for key, value in os.environ.items()
            if key not in _CLEARED and not key.startswith(_CLEARED_PREFIXES)
        }
        # .env may name the table owner's database: migrate the scratch one instead.
        return {**clean, "MIGRATION_DATABASE_URL": "", **env}

    def _require(self, module: str, output: str) -> None:
        """A clear error if a tool's module is not installed for the backend's Python."""
        missing = re.search(r"No module named (\S+)", output)
        if missing and missing.group(1).strip("'\"").split(".")[0] == module:
            raise BuilderError(
                f"{module} is not installed for {self.python}, which runs the backend's tools",
                hint="install the backend's development tools: pip install -e '.[dev]'",
                code="tool_missing",
                token=module,
            )

    def relative(self, path: str) -> str:
        """`path` relative to the backend, as posix, when it is inside it."""
        candidate = Path(path)
        if not candidate.is_absolute():
            candidate = self.root / candidate
        try:
            return candidate.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return path


def _tail(result: subprocess.CompletedProcess[str]) -> str:
    """The end of a command's output, for a finding."""
    text = (result.stdout + "\n" + result.stderr).strip()
    return text[-_OUTPUT_TAIL:]


_STEP_MARK = '{"alembic-step'
# Run with the backend's Python: alembic commands, each with its output captured,
# announced and reported as a JSON line that starts with _STEP_MARK.
_ALEMBIC_STEPS = """
import contextlib, io, json, sys, traceback
from alembic.config import main

def say(**message):
    print(json.dumps({"alembic-step": True, **message}), flush=True)

for step in sys.argv[1:]:
    say(start=step)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(argv=step.split(), prog="alembic")
            code = 0
        except SystemExit as stop:  # as the interpreter reads it: None is success
            code = stop.code if isinstance(stop.code, int) else int(stop.code is not None)
            if code and not isinstance(stop.code, int):
                print(stop.code, file=sys.stderr)
        except Exception:
            traceback.print_exc()
            code = 1
    say(step=step, code=code, stdout=out.getvalue(), stderr=err.getvalue())
    if code and step != "check":
        break
"""


def _last_frame(
    context: _Context, result: subprocess.CompletedProcess[str]
) -> tuple[str | None, int | None]:
    """The last traceback frame in a file of the backend: where an error was raised."""
    frames = re.findall(r'File "([^"]+)", line (\d+)', result.stdout + result.stderr)
    for path, line in reversed(frames):
        relative = context.relative(path)
        if not Path(relative).is_absolute() and (context.root / relative).is_file():
            return relative, int(line)
    return None, None


_ERROR_LINE = re.compile(r"^(FAILED\b|ERROR\b|[\w.]*(Error|Exception|Exit)\b)")


def _error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The line of a command's output that names its error (else its last line)."""
    lines = [line.strip() for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    named = next((line for line in reversed(lines) if _ERROR_LINE.match(line)), None)
    return (named or (lines[-1] if lines else f"exit code {result.returncode}"))[:600]


# --------------------------------------------------------------------------
# Scratch databases
# --------------------------------------------------------------------------

# Run with the backend's Python (which has asyncpg): one statement, rows as JSON.
_POSTGRES_SCRIPT = """
import asyncio, json, sys
import asyncpg

async def main(url, *statements):
    connection = await asyncpg.connect(url, timeout=10)
    try:
        for statement in statements:
            rows = await connection.fetch(statement)
    finally:
        await connection.close()
    print(json.dumps([dict(row) for row in rows], default=str))

asyncio.run(main(*sys.argv[1:]))
"""


class _Scratch:
    """Throw-away databases for one run: created on demand, all removed at the end."""

    def __init__(self, context: _Context) -> None:
        self.context = context
        self.directory: tempfile.TemporaryDirectory[str] | None = None
        self.created: list[str] = []

    def __enter__(self) -> "_Scratch":
        self.directory = tempfile.TemporaryDirectory(prefix="backend-builder-check-")
        return self

    def __exit__(self, *_: object) -> None:
        if self.created:
            self._sql(*(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in self.created))
        if self.directory is not None:
            self.directory.cleanup()

    @property
    def path(self) -> Path:
        """The run's temporary directory (reports, SQLite files)."""
        assert self.directory is not None, "scratch databases are used inside `with`"
        return Path(self.directory.name)

    def database(self, purpose: str, workers: int = 1) -> str:
        """The URL of a new, empty database for `purpose`.

        With several test workers, each makes a database of its own beside it
        (`NAME_gw0`, `NAME_gw1` ...: the backend's conftest.py): removed at the end too.
        """
        server = self.context.server
        if server is None:
            return f"sqlite+aiosqlite:///{self.path / purpose}.db"
        name = f"bb_check_{purpose}_{uuid.uuid4().hex[:10]}"
        self._sql(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        if workers > 1:
            self.created += [f"{name}_gw{worker}" for worker in range(workers)]
        parts = urlsplit(server)
        return urlunsplit(parts._replace(path=f"/{name}"))

    def query(self, url: str, statement: str) -> list[dict[str, Any]]:
        """Rows of `statement` on the PostgreSQL database at `url`."""
        return self._sql(statement, url=url)

    def _sql(self, *statements: str, url: str | None = None) -> list[dict[str, Any]]:
        """Run `statements` in turn on one connection; the rows of the last one."""
        server = url or self.context.server or ""
        parts = urlsplit(server)
        plain = urlunsplit(parts._replace(scheme="postgresql"))
        result = subprocess.run(
            [self.context.python, "-c", _POSTGRES_SCRIPT, plain, *statements],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["no output"])[-1]
            raise BuilderError(
                f"PostgreSQL at {_hide_password(server)} refused `{'; '.join(statements)}`: "
                f"{last}",
                hint="start the server, or pass --database-url with a user that can "
                "create databases",
                code="database_unavailable",
            )
        rows: list[dict[str, Any]] = json.loads(result.stdout or "[]")
        return rows


def _hide_password(url: str) -> str:
    """`url` with its password masked, for a message."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


# --------------------------------------------------------------------------
# lint: ruff and black
# --------------------------------------------------------------------------


def _lint(context: _Context) -> CheckResult:
    """ruff and black, with the backend's configuration; a finding per problem."""
    findings = sorted(
        [*_ruff(context), *_black(context)], key=lambda f: (f.path or "", f.line or 0)
    )
    ruff = sum(1 for f in findings if f.code != "black")
    black = len(findings) - ruff
    summary = "ruff and black: clean" if not findings else f"ruff: {ruff}, black: {black}"
    return CheckResult("lint", not findings, 0.0, summary, tuple(findings))


def _ruff(context: _Context) -> Iterator[Finding]:
    """ruff check, read from its JSON output."""
    result = context.run(
        "lint",
        "ruff check",
        "-m",
        "ruff",
        "check",
        "--output-format=json",
        "--no-cache",
        "--exit-zero",
        ".",
    )
    try:
        problems = json.loads(result.stdout)
    except json.JSONDecodeError:
        yield Finding(f"ruff did not run: {_tail(result)}", code="ruff")
        return
    if result.returncode != 0:
        yield Finding(f"ruff did not run: {_tail(result)}", code="ruff")
    for problem in problems:
        location = problem.get("location") or {}
        code = problem.get("code")
        yield Finding(
            f"ruff {code}: {problem['message']}" if code else f"ruff: {problem['message']}",
            context.relative(problem["filename"]),
            location.get("row"),
            code or "syntax",
        )


_BLACK_FILE = re.compile(r"^--- (?P<path>.+?)\t", re.MULTILINE)
_BLACK_HUNK = re.compile(r"^@@ -(?P<line>\d+)[^\n]*\n(?P<context>(?: [^\n]*\n)*)", re.MULTILINE)
_BLACK_ERROR = re.compile(r"error: cannot \w+:? (?P<path>[^\s:]+\.pyi?)(?P<rest>.*)")


def _black(context: _Context) -> Iterator[Finding]:
    """black --check, each file it would reformat at its first changed line."""
    result = context.run(
        "lint", "black --check", "-m", "black", "--check", "--diff", "--quiet", "."
    )
    if result.returncode not in (0, 1, 123):
        yield Finding(f"black did not run: {_tail(result)}", code="black")
        return
    files = list(_BLACK_FILE.finditer(result.stdout))
    for index, found in enumerate(files):
        end = files[index + 1].start() if index + 1 < len(files) else len(result.stdout)
        hunks = list(_BLACK_HUNK.finditer(result.stdout, found.end(), end))
        # The first changed line: the hunk's start, after its leading context lines.
        line = int(hunks[0]["line"]) + hunks[0]["context"].count("\n") if hunks else None
        yield Finding(
            f"black would reformat it ({len(hunks)} change(s); `black .` fixes it)",
            context.relative(found["path"]),
            line,
            "black",
        )
    for error in _BLACK_ERROR.finditer(result.stderr):
        position = re.search(r"(\d+):\d+", error["rest"])
        detail = error["rest"].strip(": ")[:200]
        yield Finding(
            f"black cannot parse it: {detail}" if detail else "black cannot parse it",
            context.relative(error["path"]),
            int(position.group(1)) if position else None,
            "black",
        )


# --------------------------------------------------------------------------
# tenancy: the code, and the catalog of a migrated PostgreSQL database
# --------------------------------------------------------------------------

_CATALOG = """
SELECT c.relname AS name, c.relrowsecurity AS enabled, c.relforcerowsecurity AS forced,
       (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) AS policies
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
"""


def _tenancy(context: _Context) -> CheckResult:
    """The code read as syntax trees, and the catalog when a server URL was given."""
    context.reporter.step("tenancy", "reading the code")
    tenancy = analyze(context.root, context.manifest)
    findings = list(tenancy.findings)
    where = "the code and the migrations"
    if context.catalog:
        findings += _catalog(context, tenancy)
        where += ", and the PostgreSQL catalog"
    tables = len(tenancy.tenant_tables)
    summary = f"{tables} tenant table(s); {where}: " + (
        "isolated" if not findings else f"{len(findings)} problem(s)"
    )
    return CheckResult("tenancy", not findings, 0.0, summary, tuple(findings))


def _catalog(context: _Context, tenancy: Tenancy) -> list[Finding]:
    """Row-level security of each tenant table, in a database the migrations built."""
    url = context.scratch.database("tenancy")
    [upgrade] = context.alembic("tenancy", url, "upgrade head")
    if upgrade.returncode != 0:
        path, line = _last_frame(context, upgrade)
        return [
            Finding(
                f"the catalog cannot be read: alembic upgrade head failed: "
                f"{_error_line(upgrade)}",
                path,
                line,
                "migration_failed",
            )
        ]
    context.reporter.step("tenancy", "reading the PostgreSQL catalog")
    rows = {str(row["name"]): row for row in context.scratch.query(url, _CATALOG)}
    findings = []
    for table, place in tenancy.tenant_tables.items():
        row = rows.get(table)
        problems = (
            ["it does not exist"]
            if row is None
            else [
                problem
                for problem, missing in (
                    ("row-level security is not enabled (relrowsecurity)", not row["enabled"]),
                    ("row-level security is not forced (relforcerowsecurity)", not row["forced"]),
                    ("it has no policy", not int(row["policies"])),
                )
                if missing
            ]
        )
        for problem in problems:
            findings.append(_at(place, f"after alembic upgrade head, in {table} {problem}"))
    return findings


def _at(place: Place, message: str) -> Finding:
    """A catalog finding at the model of its table."""
    return Finding(message, place.path, place.line, "rls_catalog")


# --------------------------------------------------------------------------
# migrations: a round trip on a scratch database
# --------------------------------------------------------------------------

_DRIFT_TABLE = re.compile(r"'(?:add|remove|modify)_\w+', (?:None|'\w+'), '(?P<table>\w+)'")
_DRIFT_COLUMN = re.compile(
    r"'add_column', (?:None|'\w+'), '(?P<table>\w+)', Column\('(?P<col>\w+)'"
)
_NEW_TABLE = re.compile(r"'add_table', Table\('(?P<table>\w+)'")


def _migrations(context: _Context) -> CheckResult:
    """upgrade head, check, downgrade base, upgrade head, on a scratch database."""
    url = context.scratch.database("migrations")
    steps = ("upgrade head", "check", "downgrade base", "upgrade head")
    findings: list[Finding] = []
    done = []
    for step, result in zip(steps, context.alembic("migrations", url, *steps), strict=False):
        description = f"alembic {step}"
        if result.returncode == 0:
            done.append(description)
            continue
        if step == "check":
            findings += _drift(context, result)
            continue
        path, line = _last_frame(context, result)
        findings.append(
            Finding(f"{description} failed: {_error_line(result)}", path, line, "migration_failed")
        )
        break
    summary = (
        "upgrade head, no drift, downgrade base, upgrade head"
        if not findings
        else f"{len(done)} of {len(steps)} steps passed"
    )
    return CheckResult("migrations", not findings, 0.0, summary, tuple(findings))


def _drift(context: _Context, result: subprocess.CompletedProcess[str]) -> list[Finding]:
    """`alembic check` found the models and migrations apart: say where, per table."""
    text = result.stdout + result.stderr
    schema = read_schema(context.root)
    findings = []
    described: set[str] = set()
    for found in _DRIFT_COLUMN.finditer(text):
        table, column = found["table"], found["col"]
        described.add(table)
        place = schema.columns.get((table, column)) or schema.tables.get(table)
        findings.append(
            Finding(
                f"{table}.{column} is in the model but no migration adds it: generate one "
                f"(alembic revision --autogenerate -m 'add {column} to {table}') or use "
                "backend-builder generate field",
                place.path if place else None,
                place.line if place else None,
                "migration_drift",
            )
        )
    tables = {m["table"] for m in _DRIFT_TABLE.finditer(text)} | {
        m["table"] for m in _NEW_TABLE.finditer(text)
    }
    for table in sorted(tables - described):
        place = schema.tables.get(table)
        findings.append(
            Finding(
                f"the model of {table} and the migrations differ (alembic check): "
                f"{_error_line(result)}",
                place.path if place else None,
                place.line if place else None,
                "migration_drift",
            )
        )
    if not findings:
        findings.append(
            Finding(f"alembic check failed: {_error_line(result)}", code="migration_drift")
        )
    return findings


# --------------------------------------------------------------------------
# tests: pytest with coverage
# --------------------------------------------------------------------------


def _tests(context: _Context) -> CheckResult:
    """The backend's tests with coverage; a finding per failure, and for low coverage."""
    threshold = context.manifest.coverage_threshold
    reports = context.scratch.path
    junit, coverage = reports / "junit.xml", reports / "coverage.json"
    env = {"COVERAGE_FILE": str(reports / ".coverage")}
    workers = _test_workers(context)
    if context.server is not None:
        url = env["TEST_DATABASE_URL"] = context.scratch.database("tests", workers)
        if workers > 1 and context.scratch.query(url, _CITUS_INSTALLED)[0]["installed"]:
            workers = 1  # a worker cannot make a Citus database: the suite refuses -n
    parallel = ("-n", str(workers)) if workers > 1 else ()
    result = context.run(
        "tests",
        "pytest --cov" + (f" ({workers} workers)" if parallel else ""),
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        *parallel,
        "--cov",
        f"--cov-fail-under={threshold}",
        f"--cov-report=json:{coverage}",
        f"--junitxml={junit}",
        "-o",
        "junit_family=xunit1",
        **env,
    )
    counts, findings = _junit(context, junit)
    if result.returncode == 5 or (result.returncode == 1 and not any(counts.values())):
        raise BuilderError(
            f"no tests were collected in {context.root}",
            hint="the backend's tests live in app/tests (pyproject.toml: testpaths)",
            code="no_tests",
        )
    if result.returncode == 4 or (result.returncode != 0 and not junit.is_file()):
        raise BuilderError(
            f"pytest could not run the backend's tests: {_error_line(result)}",
            hint="run `pytest --cov` in the backend to see why",
            code="tests_not_run",
            details={"output": _tail(result)},
        )
    percent = _coverage(coverage)
    if percent is not None and percent < threshold:
        findings.append(
            Finding(
                f"coverage is {percent:.1f}%, below the {threshold:g}% required "
                "(the manifest's [backend] coverage)",
                code="coverage",
            )
        )
        findings += _least_covered(context, coverage)
    if result.returncode not in (0, 1) and not findings:
        findings.append(Finding(f"pytest failed: {_error_line(result)}", code="pytest"))
    summary = ", ".join(f"{n} {what}" for what, n in counts.items() if n)
    if percent is not None:
        summary += f"; coverage {percent:.1f}% ({threshold:g}% required)"
    if parallel:
        summary += f"; {workers} workers"
    return CheckResult("tests", not findings, 0.0, summary, tuple(findings))


_CITUS_INSTALLED = "SELECT EXISTS (SELECT FROM pg_extension WHERE extname = 'citus') AS installed"


def _test_workers(context: _Context) -> int:
    """How many processes run the tests: as asked, else one per core with pytest-xdist.

    The cores are counted as `pytest -n auto` counts them: those this process may run
    on, or `PYTEST_XDIST_AUTO_NUM_WORKERS`. A backend made before its dev tools had
    pytest-xdist runs them in one process.
    """
    if context.workers is not None:
        return context.workers
    cores = _cores()
    if cores == 1:
        return 1
    probe = subprocess.run(
        [context.python, "-c", "import xdist"],
        cwd=context.root,
        capture_output=True,
        check=False,
    )
    return cores if probe.returncode == 0 else 1


def _cores() -> int:
    """The cores `pytest -n auto` would use."""
    configured = os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS", "")
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _junit(context: _Context, path: Path) -> tuple[dict[str, int], list[Finding]]:
    """Counts of passed, failed, errors and skipped tests, and a finding per failure."""
    counts = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    findings: list[Finding] = []
    try:
        tree = ElementTree.parse(path)
    except (OSError, ElementTree.ParseError):
        return counts, findings
    for case in tree.iter("testcase"):
        failure = case.find("failure")
        error = case.find("error")
        if case.find("skipped") is not None:
            counts["skipped"] += 1
            continue
        problem = failure if failure is not None else error
        if problem is None:
            counts["passed"] += 1
            continue
        counts["failed" if failure is not None else "errors"] += 1
        text = problem.text or ""
        test_file = case.get("file")
        name = ".".join(filter(None, (case.get("classname"), case.get("name"))))
        path_, line = _failure_place(context, text, test_file)
        if path_ is None and test_file:
            path_, line = test_file, int(case.get("line") or 0) + 1
        findings.append(
            Finding(
                f"{name} {'failed' if failure is not None else 'errored'}: "
                f"{_failure_message(problem.get('message') or '', text)}",
                path_,
                line,
                "test_failed" if failure is not None else "test_error",
            )
        )
    return counts, findings


def _failure_message(message: str, text: str) -> str:
    """What went wrong: pytest's message, or the error lines (`E ...`) of a traceback."""
    errors = re.findall(r"^E\s+(\S.*)$", text, re.MULTILINE)
    first = message.strip().splitlines()[0] if message.strip() else ""
    generic = first in ("", "collection failure") or first.startswith("failed on setup")
    if errors and generic:
        first = errors[-1]
    return (first or "see the output of pytest")[:300]


def _failure_place(
    context: _Context, text: str, test_file: str | None
) -> tuple[str | None, int | None]:
    """Where a test failed: the last `path:line:` of its traceback in the test's file."""
    places = re.findall(r"^([^\s:][^:\n]*\.py):(\d+):", text, re.MULTILINE)
    relative = [(context.relative(p), int(n)) for p, n in places]
    for path, line in reversed(relative):
        if path == test_file:
            return path, line
    for path, line in reversed(relative):
        if not Path(path).is_absolute():
            return path, line
    return None, None


def _coverage(path: Path) -> float | None:
    """The total coverage of a pytest-cov JSON report, in percent."""
    try:
        totals = json.loads(path.read_text(encoding="utf-8"))["totals"]
    except (OSError, ValueError, KeyError):
        return None
    return float(totals["percent_covered"])


def _least_covered(context: _Context, path: Path, count: int = 5) -> list[Finding]:
    """The files with the lowest coverage, each at its first line not run."""
    try:
        files = json.loads(path.read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError):
        return []
    ranked = sorted(
        (
            (data["summary"]["percent_covered"], name, data.get("missing_lines") or [])
            for name, data in files.items()
            if data.get("missing_lines")
        ),
        key=lambda item: item[0],
    )
    return [
        Finding(
            f"{percent:.0f}% covered; {len(missing)} line(s) not run by the tests",
            context.relative(name),
            missing[0],
            "coverage",
        )
        for percent, name, missing in ranked[:count]
    ]
