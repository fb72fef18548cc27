"""`backend-builder check`: a fresh backend passes; each sabotage fails, saying where.

Each sabotage runs only the check it concerns (`checks=(...)`, the CLI's `--only`),
on a backend with one resource; one test runs every check, the backend's whole suite
and its coverage threshold included, on a backend just made by `new`.
"""

import json
import re
import shutil
import sqlite3
import subprocess
import sys
import uuid
from contextlib import closing
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from backend_builder import check
from backend_builder.check import CHECKS, CheckResult, Finding, run_checks, select_checks
from backend_builder.cli import app
from backend_builder.errors import BuilderError
from backend_builder.manifest import MANIFEST, Manifest
from backend_builder.plan import apply_plan
from backend_builder.project import plan_new
from backend_builder.resource.generate import ALL_LAYERS, plan_generate
from tests.backend_checks import run
from tests.conftest import admin_sql
from tests.test_generated_base import SEED_TEST

runner = CliRunner()
FIELDS = ["name:str", "serial:str:unique", "note:text:optional"]
REPOSITORY = "app/repositories/asset_repo.py"
ROUTER = "app/api/v1/endpoints/assets.py"


def _make(root: Path, database: str) -> Path:
    apply_plan(plan_new(root, database=database))
    apply_plan(plan_generate(root, "Asset", FIELDS, layers=ALL_LAYERS).plan)
    return root


@pytest.fixture(scope="module")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite backend with one resource, Asset, generated once."""
    return _make(tmp_path_factory.mktemp("sqlite") / "shop-api", "sqlite")


@pytest.fixture(scope="module")
def postgres_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same backend on PostgreSQL (its code is read without a server)."""
    return _make(tmp_path_factory.mktemp("postgresql") / "shop-api", "postgresql")


@pytest.fixture
def backend(sqlite_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the SQLite backend, for one test to sabotage."""
    return Path(shutil.copytree(sqlite_template, tmp_path / "shop-api"))


@pytest.fixture
def pg_backend(postgres_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the PostgreSQL backend, for one test to sabotage."""
    return Path(shutil.copytree(postgres_template, tmp_path / "shop-api"))


def _check(root: Path, name: str, database_url: str | None = None, workers: int = 1) -> CheckResult:
    """One check's result; the tests (if it is that check) in one process unless asked."""
    (result,) = run_checks(root, checks=(name,), database_url=database_url, workers=workers).results
    return result


def _edit(root: Path, path: str, old: str, new: str) -> int:
    """Replace `old` (which must be there) by `new`; return the line where it starts."""
    file = root / path
    text = file.read_text(encoding="utf-8")
    assert old in text, f"{old!r} is not in {path}"
    file.write_text(text.replace(old, new, 1), encoding="utf-8")
    return text[: text.index(old)].count("\n") + 1


def _append(root: Path, path: str, text: str) -> None:
    file = root / path
    file.write_text(file.read_text(encoding="utf-8") + text, encoding="utf-8")


def _line(root: Path, path: str, fragment: str) -> int:
    lines = (root / path).read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, 1) if fragment in line)


def _only(result: CheckResult, code: str) -> Finding:
    assert not result.passed
    found = [f for f in result.findings if f.code == code]
    assert len(found) == 1, result.findings
    return found[0]


# --------------------------------------------------------------------------
# A fresh backend
# --------------------------------------------------------------------------


@pytest.mark.parametrize("template", ["sqlite_template", "postgres_template"])
def test_a_fresh_backend_passes_lint_and_tenancy(
    template: str, request: pytest.FixtureRequest
) -> None:
    root = request.getfixturevalue(template)
    report = run_checks(root, checks=("lint", "tenancy"))
    assert report.passed, report.to_dict()
    tenancy = report.results[1]
    assert tenancy.summary.startswith("1 tenant table(s)")
    assert report.skipped == ("migrations", "tests")


def test_the_example_backend_passes_tenancy() -> None:
    """examples/shop: four resources, refs, and a hand-written service method."""
    root = Path(__file__).parents[1] / "examples" / "shop"
    result = _check(root, "tenancy")
    assert result.passed, result.findings
    assert result.summary.startswith("4 tenant table(s)")


def test_migrations_follow_dotenv_and_check_migrates_its_scratch_database(
    backend: Path,
) -> None:
    """MIGRATION_DATABASE_URL in .env is where `alembic upgrade` migrates (.env.example
    shows it there); `check` migrates its scratch database all the same."""
    owner = backend / "owner.db"
    with (backend / ".env").open("a", encoding="utf-8") as env:
        env.write(f"MIGRATION_DATABASE_URL=sqlite:///{owner}\n")
    assert _check(backend, "migrations").passed
    assert not owner.exists()
    run(backend, sys.executable, "-m", "alembic", "upgrade", "head")
    with closing(sqlite3.connect(owner)) as database:
        tables = {row[0] for row in database.execute("SELECT name FROM sqlite_master")}
    assert {"alembic_version", "projects", "users"} <= tables


@pytest.mark.slow
def test_every_check_passes_on_a_fresh_backend(tmp_path: Path) -> None:
    """The backend `new` makes, without a resource, on SQLite: lint, tenancy, migrations
    and its suite, whose coverage is over the threshold with no resource's code to
    help, and in which a test in the seed's style passes too (tests/test_generated_base.py
    has PostgreSQL)."""
    backend = tmp_path / "shop-api"
    apply_plan(plan_new(backend))
    (backend / "app" / "tests" / "test_seed_style.py").write_text(SEED_TEST)
    result = runner.invoke(app, ["check", "--path", str(backend), "--workers", "1", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["passed"] is True and report["database"] == "sqlite"
    assert [c["name"] for c in report["checks"]] == list(CHECKS)
    tests = report["checks"][-1]
    assert "failed" not in tests["summary"]
    assert tests["summary"].endswith("(90% required)")  # --workers 1: no "N workers"
    assert not (backend / ".coverage").exists()  # reports go to a temporary directory


# --------------------------------------------------------------------------
# tenancy: queries
# --------------------------------------------------------------------------

HAND_WRITTEN = '''
    async def by_name(self, name: str) -> Row | None:
        """The asset with this name in the project (written by hand)."""
        return await self.fetch_one(_BY_NAME, {{"name": name}})


assets = Asset.__table__
_BY_NAME = Query(
    select(assets).where(
        {condition}assets.c.name == bindparam("name"),
    )
)
'''
FILTER = "in_project(assets),\n        "


def _hand_written_query(root: Path, condition: str) -> None:
    """A repository method and its query, built with `Query` and a condition."""
    imports = "from sqlalchemy import bindparam, select\n\nfrom app.core.sql import Query, Row\n"
    if "in_project" in condition:
        imports += "from app.core.tenancy import in_project\n"
    _edit(
        root,
        REPOSITORY,
        "from app.models.asset import Asset\n",
        imports + "from app.models.asset import Asset\n",
    )
    _append(root, REPOSITORY, HAND_WRITTEN.format(condition=condition))


def test_a_hand_written_query_with_the_project_filter_passes(backend: Path) -> None:
    _hand_written_query(backend, FILTER)
    assert _check(backend, "tenancy").passed
    assert _check(backend, "lint").passed  # the sabotages below are realistic code


def test_the_project_filter_removed_from_a_repository_query_fails(backend: Path) -> None:
    _hand_written_query(backend, "")
    finding = _only(_check(backend, "tenancy"), "query_without_project")
    assert (finding.path, finding.line) == (REPOSITORY, _line(backend, REPOSITORY, "select("))
    assert "SELECT on the tenant table assets is not confined to the project" in finding.message
    assert "scoped_query(...)" in finding.message  # the backend's own helper, named


def test_the_scoping_removed_from_the_base_repository_fails(backend: Path) -> None:
    """The get query of every repository, built without its scoping or its filter."""
    base = "app/repositories/base.py"
    text = (backend / base).read_text(encoding="utf-8")
    get = re.search(r"def _get_query\(table: Table\) -> Query:\n(    return .*)\n", text)
    assert get is not None, "the base repository has no _get_query"
    line = _edit(
        backend,
        base,
        get[1],
        '    return Query(select(table).where(table.c.id == bindparam("pk_id")))',
    )
    finding = _only(_check(backend, "tenancy"), "query_without_project")
    assert (finding.path, finding.line) == (base, line)
    assert finding.message.startswith("SELECT on the table `table` (in a repository)")


@pytest.mark.parametrize(
    "code",
    [
        # the tenancy module's helper, and a hand-written one, both read as filters
        'select(assets).where(in_project(assets), assets.c.name == "x")',
        'select(assets).where(and_(mine(assets), assets.c.name == "x"))',
        # a scoping helper that confines the whole statement, and one that uses it
        'scoped_query(select(assets).where(assets.c.name == "x"))',
        'query_of(select(assets).where(assets.c.name == "x"))',
        # built step by step
        'select(assets)\nQ = Q.where(assets.c.project_id == bindparam("p"))',
        # a join confines the joined table through the one it is joined to
        "select(assets, other).join(other, and_(other.c.project_id == assets.c.project_id))"
        '.where(assets.c.project_id == bindparam("p"))',
    ],
)
def test_statements_through_the_scoping_helpers_pass(backend: Path, code: str) -> None:
    _append(
        backend,
        REPOSITORY,
        "\n\nfrom sqlalchemy import and_, bindparam, select  # noqa: E402\n"
        "from app.core.tenancy import in_project  # noqa: E402\n"
        "from app.repositories.base import scoped_query  # noqa: E402\n\n"
        "assets = Asset.__table__\nother = assets.alias()\n\n\n"
        'def mine(table):\n    return table.c.project_id == bindparam("p")\n\n\n'
        "def query_of(statement):\n    return scoped_query(statement)\n\n\n"
        "def of_project(project_id):\n"
        "    return select(assets).where(assets.c.project_id == project_id)\n\n\n"
        f"Q = {code}\n",
    )
    result = _check(backend, "tenancy")
    assert result.passed, result.findings


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ('update(Asset).values(name="x")', "UPDATE on the tenant table assets"),
        ('delete(Asset).where(Asset.name == "x")', "DELETE on the tenant table assets"),
        ('insert(Asset).values(name="x")', "INSERT on the tenant table assets does not set"),
        # conditions that do not confine: OR, or a join with no project at all
        (
            'select(Asset).where(or_(Asset.project_id == bindparam("p"), Asset.name == "x"))',
            "SELECT on the tenant table assets",
        ),
        (
            "select(Asset.name).join(Project, Project.id == Asset.project_id)",
            "SELECT on the tenant table assets",
        ),
    ],
)
def test_unconfined_statements_fail(backend: Path, code: str, message: str) -> None:
    _append(
        backend,
        REPOSITORY,
        "\n\nfrom sqlalchemy import bindparam, delete, insert, or_, select, update  # noqa\n"
        "from app.models.project import Project  # noqa\n\n"
        f"Q = {code}\n",
    )
    finding = _only(_check(backend, "tenancy"), "query_without_project")
    assert finding.path == REPOSITORY and message in finding.message


def test_sql_text_on_a_tenant_table_fails_unless_in_the_escape_hatch(backend: Path) -> None:
    _append(
        backend,
        "app/services/asset_service.py",
        "\n\nfrom sqlalchemy import text  # noqa: E402\n\n"
        'COUNT = text("SELECT count(*) FROM assets")\n',
    )
    finding = _only(_check(backend, "tenancy"), "query_without_project")
    assert "SQL text names the tenant table assets" in finding.message
    _edit(
        backend,
        "app/services/asset_service.py",
        'COUNT = text("SELECT count(*) FROM assets")',
        'with unscoped():\n    COUNT = text("SELECT count(*) FROM assets")',
    )
    assert _check(backend, "tenancy").passed


# --------------------------------------------------------------------------
# tenancy: routes
# --------------------------------------------------------------------------


def test_the_auth_dependency_dropped_from_a_route_fails(backend: Path) -> None:
    _edit(backend, ROUTER, "asset_id: uuid.UUID, scope: ReaderScope, db", "asset_id: uuid.UUID, db")
    _edit(backend, ROUTER, "AssetService(db, scope).get(", "AssetService(db, None).get(")
    finding = _only(_check(backend, "tenancy"), "route_without_scope")
    assert (finding.path, finding.line) == (ROUTER, _line(backend, ROUTER, "def get_asset("))
    assert "route GET /{asset_id} (get_asset)" in finding.message


def test_a_route_guarded_by_its_decorator_passes(backend: Path) -> None:
    _edit(backend, ROUTER, "asset_id: uuid.UUID, scope: ReaderScope, db", "asset_id: uuid.UUID, db")
    _edit(
        backend, ROUTER, "from fastapi import APIRouter,", "from fastapi import APIRouter, Depends,"
    )
    _edit(backend, ROUTER, "ReaderScope, WriterScope", "ReaderScope, WriterScope, require_role")
    _edit(backend, ROUTER, "\nrouter = ", "from app.models.membership import Role\n\nrouter = ")
    _edit(
        backend,
        ROUTER,
        '@router.get(\n    "/{asset_id}",',
        '@router.get(\n    "/{asset_id}",\n    dependencies=[Depends(require_role(Role.VIEWER))],',
    )
    assert _check(backend, "tenancy").passed


def test_a_route_with_the_scope_under_another_name_passes(backend: Path) -> None:
    _edit(
        backend,
        ROUTER,
        "from app.api.deps import",
        "from app.api.deps import ReaderScope as Viewer,",
    )
    _edit(
        backend,
        ROUTER,
        "asset_id: uuid.UUID, scope: ReaderScope, db",
        "asset_id: uuid.UUID, scope: Viewer, db",
    )
    _edit(
        backend,
        ROUTER,
        "scope: WriterScope,",
        "scope: Annotated[ProjectScope, Depends(require_role(Role.MEMBER))],",
    )
    assert _check(backend, "tenancy").passed


# --------------------------------------------------------------------------
# tenancy: models
# --------------------------------------------------------------------------

LABEL_MODEL = '''"""Labels, written by hand."""

import uuid

from sqlalchemy import ForeignKey, ForeignKeyConstraint, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, ProjectScoped, TimestampMixin


class Label(TimestampMixin, Base):
    """A label with a project, but not project-scoped."""

    __tablename__ = "labels"

    project_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)


class Tag(ProjectScoped, Base):
    """A tag: project-scoped, but not distributable by project."""

    __tablename__ = "tags"
    __table_args__ = (
        UniqueConstraint("name"),
        ForeignKeyConstraint(["asset_id"], ["assets.id"]),
    )

    name: Mapped[str] = mapped_column(String(40))
    code: Mapped[str] = mapped_column(String(40), unique=True)
    asset_id: Mapped[uuid.UUID]
    other_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("assets.id"))
'''


def test_models_must_be_project_scoped_and_distributable(backend: Path) -> None:
    path = "app/models/label.py"
    (backend / path).write_text(LABEL_MODEL, encoding="utf-8")
    result = _check(backend, "tenancy")
    found = {(f.code, f.line): f.message for f in result.findings if f.path == path}
    line = _line(backend, path, "class Label(")
    assert "does not inherit ProjectScoped" in found["model_not_scoped", line]
    unique = found["unique_without_project", _line(backend, path, 'UniqueConstraint("name")')]
    assert "(name) does not include project_id" in unique
    column = found["unique_without_project", _line(backend, path, "code: Mapped")]
    assert 'UniqueConstraint("project_id", "code")' in column
    key = found["foreign_key_without_project", _line(backend, path, "ForeignKeyConstraint([")]
    assert "into the tenant table assets (asset_id)" in key
    column_key = found["foreign_key_without_project", _line(backend, path, "other_id:")]
    assert "tags.other_id refers to the tenant table assets by its id alone" in column_key


# --------------------------------------------------------------------------
# tenancy: row-level security (PostgreSQL)
# --------------------------------------------------------------------------

RLS_OFF = '''"""Row-level security off, by hand.

Revision ID: 0003_rls_off
Revises: 0002_assets
"""

from alembic import op

revision = "0003_rls_off"
down_revision = "0002_assets"


def upgrade() -> None:
    """Turn it off."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("{statement}")


def downgrade() -> None:
    """Nothing to undo."""
'''
RLS_MIGRATION = "alembic/versions/0003_rls_off.py"


@pytest.mark.parametrize(
    ("statement", "what"),
    [
        ("ALTER TABLE assets NO FORCE ROW LEVEL SECURITY", "no longer forced"),
        ("ALTER TABLE assets DISABLE ROW LEVEL SECURITY", "no longer enabled"),
        ("DROP POLICY assets_project_isolation ON assets", "has no row-level security policy"),
    ],
)
def test_row_level_security_turned_off_by_a_migration_fails(
    pg_backend: Path, statement: str, what: str
) -> None:
    (pg_backend / RLS_MIGRATION).write_text(RLS_OFF.format(statement=statement), "utf-8")
    finding = _only(
        _check(pg_backend, "tenancy"), "rls_disabled" if "ALTER" in statement else "rls_missing"
    )
    assert (finding.path, finding.line) == (
        RLS_MIGRATION,
        _line(pg_backend, RLS_MIGRATION, "op.execute"),
    )
    assert what in finding.message and "assets" in finding.message


def test_a_tenant_table_created_without_row_level_security_fails(pg_backend: Path) -> None:
    migration = "alembic/versions/0002_create_assets.py"
    text = (pg_backend / migration).read_text(encoding="utf-8")
    start = text.index('    if op.get_bind().dialect.name == "postgresql":')
    end = text.index("def downgrade")
    (pg_backend / migration).write_text(text[:start] + "\n\n" + text[end:], encoding="utf-8")
    result = _check(pg_backend, "tenancy")
    create = _line(pg_backend, migration, "op.create_table(")
    assert {(f.path, f.line, f.code) for f in result.findings} == {
        (migration, create, "rls_missing")
    }
    messages = " ".join(f.message for f in result.findings)
    assert "created without `ALTER TABLE assets ENABLE ROW LEVEL SECURITY`" in messages
    assert "FORCE ROW LEVEL SECURITY" in messages and "no row-level security policy" in messages


CREATE_ASSETS = "alembic/versions/0002_create_assets.py"


@pytest.mark.parametrize(
    ("placement", "what"),
    [
        ("", 'is created without `distribute("assets")`'),
        ('distribute("assets", "id")', "is distributed by id, not distributed by project_id"),
        ('replicate("assets")', "is replicated to every node"),
        (
            "op.execute(\"SELECT create_distributed_table('assets', 'name')\")",
            "is distributed by name",
        ),
    ],
)
def test_a_tenant_table_not_distributed_by_project_fails(
    pg_backend: Path, placement: str, what: str
) -> None:
    """Where the other tables are distributed on Citus, a tenant table must be too."""
    line = _edit(pg_backend, CREATE_ASSETS, '    distribute("assets")\n', f"    {placement}\n")
    _edit(
        pg_backend,
        CREATE_ASSETS,
        "from app.core.distribution import distribute\n",
        "from app.core.distribution import distribute, replicate\n",
    )
    finding = _only(_check(pg_backend, "tenancy"), "not_distributed")
    assert (finding.path, finding.line) == (
        CREATE_ASSETS,
        _line(pg_backend, CREATE_ASSETS, "op.create_table("),
    )
    assert what in finding.message, finding.message
    assert line > finding.line


@pytest.mark.parametrize(
    "placement",
    [
        "op.execute(\"SELECT create_distributed_table('assets', 'project_id')\")",
        "distribute(table='assets', column='project_id')",
    ],
)
def test_a_tenant_table_distributed_by_hand_passes(pg_backend: Path, placement: str) -> None:
    _edit(pg_backend, CREATE_ASSETS, '    distribute("assets")\n', f"    {placement}\n")
    assert _check(pg_backend, "tenancy").passed


def test_distribute_existing_tables_covers_the_tables_created_before(pg_backend: Path) -> None:
    """A backend from before distribution: no migration distributes, so nothing is asked;
    one new migration calling `distribute_existing_tables()` distributes them all."""
    for path in (pg_backend / "alembic/versions").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        kept = [
            line
            for line in text.splitlines()
            if not line.lstrip().startswith(("distribute(", "replicate(", "from app.core.dist"))
        ]
        path.write_text("\n".join(kept) + "\n", encoding="utf-8")
    assert _check(pg_backend, "tenancy").passed
    (pg_backend / "alembic/versions/0003_distribute.py").write_text(
        DISTRIBUTE_ALL_MIGRATION, encoding="utf-8"
    )
    assert _check(pg_backend, "tenancy").passed
    (pg_backend / "alembic/versions/0004_create_notes.py").write_text(
        NOTES_MIGRATION, encoding="utf-8"
    )
    _append(pg_backend, "app/models/asset.py", NOTE_MODEL)
    finding = _only(_check(pg_backend, "tenancy"), "not_distributed")
    assert finding.path == "alembic/versions/0004_create_notes.py"
    assert "the tenant table notes" in finding.message


DISTRIBUTE_ALL_MIGRATION = '''"""Distribute the tables on Citus.

Revision ID: 0003_distribute
Revises: 0002_assets
"""

from app.core.distribution import distribute_existing_tables

revision = "0003_distribute"
down_revision = "0002_assets"


def upgrade() -> None:
    """Distribute what the earlier migrations created."""
    distribute_existing_tables()


def downgrade() -> None:
    """Nothing to undo."""
'''

NOTES_MIGRATION = '''"""Notes, written by hand.

Revision ID: 0004_notes
Revises: 0003_distribute
"""

import sqlalchemy as sa
from alembic import op

from app.core.tenancy import rls_statements

revision = "0004_notes"
down_revision = "0003_distribute"


def upgrade() -> None:
    """Create notes, with row-level security, but do not distribute them."""
    op.create_table(
        "notes",
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("project_id", "id"),
    )
    for statement in rls_statements("notes"):
        op.execute(statement)


def downgrade() -> None:
    """Drop notes."""
    op.drop_table("notes")
'''

NOTE_MODEL = '''

class Note(ProjectScoped, Base):
    """A note of a project."""

    __tablename__ = "notes"
'''


@pytest.mark.postgres
def test_the_catalog_of_a_migrated_database_shows_row_level_security(
    pg_backend: Path, postgres_database: str
) -> None:
    """With a server, the catalog is read too; the migrations round trip on PostgreSQL."""
    report = run_checks(
        pg_backend, checks=("tenancy", "migrations"), database_url=postgres_database
    )
    assert report.passed and report.database == "postgresql", report.to_dict()
    assert "the PostgreSQL catalog" in report.results[0].summary
    (pg_backend / RLS_MIGRATION).write_text(
        RLS_OFF.format(statement="ALTER TABLE assets NO FORCE ROW LEVEL SECURITY"), "utf-8"
    )
    result = _check(pg_backend, "tenancy", postgres_database)
    catalog = _only(result, "rls_catalog")
    assert (catalog.path, catalog.line) == (
        "app/models/asset.py",
        _line(pg_backend, "app/models/asset.py", "class Asset("),
    )
    assert "row-level security is not forced (relforcerowsecurity)" in catalog.message


# --------------------------------------------------------------------------
# migrations, lint, tests
# --------------------------------------------------------------------------


def test_a_model_edited_without_a_migration_fails(backend: Path) -> None:
    model = "app/models/asset.py"
    _edit(
        backend,
        model,
        "    name: Mapped[str]",
        "    label: Mapped[str | None]\n\n    name: Mapped[str]",
    )
    result = _check(backend, "migrations")
    finding = _only(result, "migration_drift")
    assert (finding.path, finding.line) == (model, _line(backend, model, "label: Mapped"))
    assert "assets.label is in the model but no migration adds it" in finding.message
    assert result.summary == "3 of 4 steps passed"


def test_a_migration_that_fails_names_its_line(backend: Path) -> None:
    (backend / RLS_MIGRATION).write_text(
        RLS_OFF.format(statement="ALTER TABLE assets NO FORCE ROW LEVEL SECURITY").replace(
            'if op.get_bind().dialect.name == "postgresql":\n        ', ""
        ),
        "utf-8",
    )
    finding = _only(_check(backend, "migrations"), "migration_failed")
    assert (finding.path, finding.line) == (
        RLS_MIGRATION,
        _line(backend, RLS_MIGRATION, "op.execute"),
    )
    assert finding.message.startswith(
        "alembic upgrade head failed: sqlalchemy.exc.OperationalError"
    )


def test_a_migration_that_prints_leaves_the_steps_apart(backend: Path) -> None:
    """Output a migration writes itself, even without a newline, is not a step's report."""
    _edit(
        backend,
        "alembic/versions/0001_base.py",
        "def upgrade() -> None:\n",
        "def upgrade() -> None:\n    import os\n\n    os.write(1, b'no newline')\n",
    )
    result = _check(backend, "migrations")
    assert result.passed, result.findings
    assert result.summary == "upgrade head, no drift, downgrade base, upgrade head"


def test_a_python_without_alembic_is_a_clear_error(backend: Path) -> None:
    """The backend's own .venv runs its tools: without alembic, say so, not a traceback."""
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(backend / ".venv")], check=True
    )
    with pytest.raises(BuilderError) as raised:
        _check(backend, "migrations")
    assert raised.value.code == "tool_missing"
    assert str(raised.value).startswith("alembic is not installed for ")
    assert raised.value.token == "alembic"


def test_a_lint_error_fails(backend: Path) -> None:
    service = "app/services/asset_service.py"
    _edit(backend, service, "import uuid\n", "import os\nimport uuid\n")
    _append(backend, "app/models/asset.py", "\nCOLORS = [ 'red',\n 'blue' ]\n")
    result = _check(backend, "lint")
    ruff = _only(result, "F401")
    assert (ruff.path, ruff.line) == (service, 3) and "`os` imported but unused" in ruff.message
    black = _only(result, "black")
    assert black.path == "app/models/asset.py"
    assert black.line == _line(backend, "app/models/asset.py", "COLORS")
    assert result.summary == "ruff: 1, black: 1"


SMALL_SUITE = '''"""A small suite with one failing test."""

from app.core.config import settings


def test_passes() -> None:
    assert settings.environment == "test"


def test_fails() -> None:
    total = 1 + 1
    assert total == 3
'''


def _coverage_threshold(root: Path, percent: int) -> None:
    """Set the manifest's `[backend] coverage`."""
    manifest = root / MANIFEST
    text = manifest.read_text(encoding="utf-8")
    text = text.replace("format = 2\n", f"format = 2\ncoverage = {percent}\n")
    manifest.write_text(text, encoding="utf-8")


def _small_suite(root: Path, suite: str | None) -> None:
    """Keep only the backend's conftest (the full suite takes minutes), plus `suite`."""
    for test in (root / "app" / "tests").glob("test_*.py"):
        test.unlink()
    if suite is not None:
        (root / "app" / "tests" / "test_small.py").write_text(suite, encoding="utf-8")


def test_a_failing_test_fails_and_so_does_low_coverage(backend: Path) -> None:
    _small_suite(backend, SMALL_SUITE)
    result = _check(backend, "tests")
    failed = _only(result, "test_failed")
    test = "app/tests/test_small.py"
    assert (failed.path, failed.line) == (test, _line(backend, test, "assert total == 3"))
    assert failed.message == "app.tests.test_small.test_fails failed: assert 2 == 3"
    low = next(f for f in result.findings if f.code == "coverage")
    assert "below the 90% required" in low.message
    assert result.summary.startswith("1 passed, 1 failed; coverage ")

    # The manifest's threshold: low enough, and only the failing test is left.
    _coverage_threshold(backend, 20)
    result = _check(backend, "tests")
    assert [f.code for f in result.findings] == ["test_failed"]
    assert result.summary.endswith("(20% required)")


WORKER_SUITE = '''"""Tests spread over workers, each on a database of its own."""

import os

import pytest

from app.core.config import settings
from app.tests.conftest import TestUser


@pytest.mark.parametrize("attempt", range(4))
def test_each_worker_has_a_database_of_its_own(owner: TestUser, attempt: int) -> None:
    worker = os.environ["PYTEST_XDIST_WORKER"]
    assert f"_{worker}" in settings.database_url
'''

ONE_PROCESS_SUITE = '''"""A test that runs in the pytest process itself."""

import os


def test_runs_in_one_process() -> None:
    assert "PYTEST_XDIST_WORKER" not in os.environ
'''


@pytest.mark.postgres
def test_the_tests_run_in_workers_whose_databases_are_dropped_after(
    backend: Path, postgres_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As `make test`, the tests step runs a process per core by default, counted as
    `pytest -n auto` counts them (here 2); on PostgreSQL each worker makes a database
    beside the scratch one, and all are dropped."""
    _small_suite(backend, WORKER_SUITE)
    _coverage_threshold(backend, 20)
    run = uuid.uuid4()
    monkeypatch.setattr(check, "uuid", SimpleNamespace(uuid4=lambda: run))
    server = postgres_database.rsplit("/", 1)[0] + "/postgres"

    scratch = f"bb_check_tests_{run.hex[:10]}"
    monkeypatch.setenv("PYTEST_XDIST_AUTO_NUM_WORKERS", "2")
    try:
        (result,) = run_checks(backend, checks=("tests",), database_url=server).results
        left = admin_sql("SELECT datname FROM pg_database WHERE starts_with(datname, $1)", scratch)
    finally:
        for worker in ("", "_gw0", "_gw1"):
            admin_sql(f'DROP DATABASE IF EXISTS "{scratch}{worker}" WITH (FORCE)')
    assert result.passed, result.findings
    assert re.fullmatch(r"4 passed; coverage [\d.]+% \(20% required\); 2 workers", result.summary)
    assert left == []

    # A worker cannot make a Citus database (the suite refuses -n): one process there.
    monkeypatch.setattr(check, "_CITUS_INSTALLED", "SELECT true AS installed")
    _small_suite(backend, ONE_PROCESS_SUITE)
    result = _check(backend, "tests", server, workers=2)
    assert result.passed, result.findings
    assert "workers" not in result.summary


def test_no_tests_collected_is_a_mistake(backend: Path) -> None:
    _small_suite(backend, None)
    with pytest.raises(BuilderError) as raised:
        run_checks(backend, checks=("tests",), workers=1)
    assert raised.value.code == "no_tests"


# --------------------------------------------------------------------------
# Selection, the manifest's threshold, and the command line
# --------------------------------------------------------------------------


def test_checks_are_selected_by_name() -> None:
    assert select_checks() == CHECKS
    assert select_checks(["tests,lint"]) == ("lint", "tests")
    assert select_checks(skip=["tests", "migrations"]) == ("lint", "tenancy")
    for only, skip, code in (
        (["lnt"], [], "unknown_check"),
        (["lint"], ["tests"], "invalid_selection"),
        ([], list(CHECKS), "invalid_selection"),
    ):
        with pytest.raises(BuilderError) as raised:
            select_checks(only, skip)
        assert raised.value.code == code


def test_the_coverage_threshold_is_optional_in_the_manifest(sqlite_template: Path) -> None:
    text = (sqlite_template / MANIFEST).read_text(encoding="utf-8")
    manifest = Manifest.loads(text)
    assert manifest.coverage is None and manifest.coverage_threshold == 90
    assert "coverage" not in manifest.dumps()  # manifests without it stay as they are
    strict = Manifest.loads(text.replace("format = 2\n", "format = 2\ncoverage = 95.5\n"))
    assert strict.coverage_threshold == 95.5
    assert Manifest.loads(strict.dumps()).coverage == 95.5
    with pytest.raises(BuilderError) as raised:
        Manifest.loads(text.replace("format = 2\n", 'format = 2\ncoverage = "all"\n'))
    assert raised.value.code == "manifest_invalid" and "coverage" in raised.value.message


def test_the_command_shows_a_table_and_where_each_check_failed(backend: Path) -> None:
    _hand_written_query(backend, "")
    result = runner.invoke(
        app, ["check", "--path", str(backend), "--only", "tenancy,lint"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 1
    output = result.output
    assert "│ tenancy │ failed │" in output and "│ lint    │ passed │" in output
    line = _line(backend, REPOSITORY, "select(")
    assert f"{REPOSITORY}:{line}  SELECT on the tenant table assets" in output
    assert "1 of 2 check(s) failed: tenancy" in output
    assert "skipped: migrations, tests" in output


def test_workers_are_one_or_more(backend: Path) -> None:
    with pytest.raises(BuilderError) as raised:
        run_checks(backend, checks=("lint",), workers=0)
    assert raised.value.code == "invalid_workers" and raised.value.token == "0"


def test_the_command_reports_mistakes_without_a_traceback(tmp_path: Path) -> None:
    result = runner.invoke(app, ["check", "--path", str(tmp_path), "--json"])
    assert result.exit_code == 1
    assert json.loads(result.output)["error"]["code"] == "not_a_backend"
    result = runner.invoke(app, ["check", "--only", "lint", "--skip", "tests"])
    assert result.exit_code == 1 and "not both" in result.output
    result = runner.invoke(app, ["check", "--workers", "0"])
    assert result.exit_code == 2 and "--workers" in result.output
    assert "Traceback" not in result.output


def test_json_output_for_agents(backend: Path) -> None:
    result = runner.invoke(app, ["check", "--path", str(backend), "--only", "tenancy", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["passed"] is True and report["skipped"] == ["lint", "migrations", "tests"]
    (check,) = report["checks"]
    assert set(check) == {"name", "passed", "duration", "summary", "findings"}
