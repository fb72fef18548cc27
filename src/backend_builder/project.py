"""`backend-builder new`: the base backend, with users, projects, memberships and auth."""

import re
import secrets
from pathlib import Path
from typing import Any

from backend_builder.errors import BuilderError
from backend_builder.manifest import (
    DATABASES,
    MANIFEST,
    NOT_RECORDED,
    FileRecord,
    Manifest,
    base_path,
)
from backend_builder.migrations import parse_revision
from backend_builder.plan import Plan, collector_paused, plan_files
from backend_builder.render import render, render_tree

_DATABASE_URL_EXAMPLES = {
    "sqlite": "sqlite+aiosqlite:///./app.db",
    "postgresql": "postgresql://{slug}_app:app-password@127.0.0.1:5432/{slug}",
}


DOTENV = ".env"

# What `.env` says of the database: a backend made for PostgreSQL names it, so that it
# refuses to start until that database exists instead of using a SQLite file.
_DOTENV_DATABASE = {
    "sqlite": "",
    "postgresql": (
        "# PostgreSQL, as the app's role (it cannot bypass row-level security). Create\n"
        "# the roles and the database first, and run migrations as the tables' owner\n"
        "# (MIGRATION_DATABASE_URL): see README.md, PostgreSQL roles.\n"
        "DATABASE_URL={url}\n"
    ),
}


def project_slug(path: Path) -> str:
    """A package-friendly name from the target directory's name."""
    slug = re.sub(r"[^a-z0-9]+", "-", path.resolve().name.lower()).strip("-")
    return slug or "backend"


def project_context(slug: str, database: str) -> dict[str, Any]:
    """The context of the project templates, from what the manifest records (name, database).

    `new` renders with it, and `update` rebuilds it to render the same files again.
    """
    if database not in DATABASES:
        raise BuilderError(
            f"unknown database '{database}'; choose one of: {', '.join(DATABASES)}",
            code="unknown_database",
            token=database,
        )
    return {
        "project_slug": slug,
        "project_title": slug.replace("-", " ").title(),
        "project_slug_snake": slug.replace("-", "_"),
        "database": database,
        "database_url_example": _DATABASE_URL_EXAMPLES[database].format(
            slug=slug.replace("-", "_")
        ),
    }


@collector_paused
def plan_new(path: Path, *, database: str = "sqlite", force: bool = False) -> Plan:
    """Plan creating a backend at `path`; refuses a non-empty directory unless forced.

    A directory that already holds a backend is refused even when forced: its
    generated files may carry hand edits, and its manifest its resources.
    """
    slug = project_slug(path)
    context = project_context(slug, database)
    if path.exists() and not path.is_dir():
        raise BuilderError(f"{path} exists and is not a directory", code="not_a_directory")
    if (path / MANIFEST).exists():
        raise BuilderError(
            f"{path} already holds a backend ({MANIFEST}); it is not created again over "
            "its files, which may carry hand edits",
            hint="choose a new directory; to change a resource, see `backend-builder status`",
            code="backend_exists",
            path=MANIFEST,
        )
    container = next(
        (folder for folder in path.resolve().parents if (folder / MANIFEST).is_file()), None
    )
    if container is not None:
        raise BuilderError(
            f"{path} is inside the backend at {container}: its linters, tests and packaging "
            "would take the new backend for a part of that one",
            hint="choose a directory outside it",
            code="inside_a_backend",
            path=str(path),
        )
    if path.is_dir() and any(path.iterdir()) and not force:
        raise BuilderError(
            f"{path} is not empty",
            hint="choose a new directory, or pass --force",
            code="directory_not_empty",
        )
    files = render_tree("project", context)
    records = [FileRecord.of(p, content) for p, content in files.items() if p not in NOT_RECORDED]
    migrations = tuple(
        revision.revision
        for p, content in files.items()
        if p.startswith("alembic/versions/") and p.endswith(".py")
        if (revision := parse_revision(content, p)) is not None
    )
    manifest = Manifest(name=slug, database=database, migrations=migrations).with_files(records)
    for record in records:
        files[base_path(record.path)] = files[record.path]
    files[MANIFEST] = manifest.dumps()
    if not (path / DOTENV).exists():  # a backend's own .env holds its secrets: kept
        database_setting = _DOTENV_DATABASE[database].format(url=context["database_url_example"])
        files[DOTENV] = render(
            "dotenv.jinja",
            {"secret_key": secrets.token_urlsafe(48), "database_setting": database_setting},
        )
    return plan_files(path, files, force=force)
