"""Alembic migrations as data: each file's revision and the revisions it revises.

Migrations are read without importing them (an `ast` walk over the module's
top-level assignments), so a broken migration is reported, never run.
"""

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backend_builder.errors import BuilderError
from backend_builder.resource.layers import VERSIONS


@dataclass(frozen=True)
class Revision:
    """One migration file: its revision id, its parents, and its path under the root."""

    revision: str
    down_revisions: tuple[str, ...]
    path: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form."""
        return {
            "revision": self.revision,
            "down_revisions": list(self.down_revisions),
            "path": self.path,
        }


def parse_revision(source: str, path: str) -> Revision | None:
    """The revision declared by a migration's source, or None if it declares none.

    Raises `BuilderError` (code `migration_unreadable`) when it is not Python.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        raise BuilderError(
            f"cannot parse migration {path}: {error}", code="migration_unreadable", path=path
        ) from error
    values: dict[str, Any] = {}
    for node in tree.body:
        target: ast.expr | None = None
        value: ast.expr | None = None
        if isinstance(node, ast.AnnAssign):
            target, value = node.target, node.value
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        if isinstance(target, ast.Name) and value is not None:
            try:
                values[target.id] = ast.literal_eval(value)
            except ValueError:
                continue
    revision = values.get("revision")
    if not isinstance(revision, str):
        return None
    down = values.get("down_revision")
    if isinstance(down, str):
        parents: tuple[str, ...] = (down,)
    elif isinstance(down, tuple | list):
        parents = tuple(str(item) for item in down)
    else:
        parents = ()
    return Revision(revision, parents, path)


def read_revisions(root: Path) -> dict[str, Revision]:
    """Every migration under `alembic/versions` of the backend at `root`, by revision id."""
    found: dict[str, Revision] = {}
    for file in sorted((root / VERSIONS).glob("*.py")):
        relative = file.relative_to(root).as_posix()
        try:
            source = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise BuilderError(
                f"cannot read migration {relative}: {error}",
                code="migration_unreadable",
                path=relative,
            ) from error
        revision = parse_revision(source, relative)
        if revision is not None:
            found[revision.revision] = revision
    return found


DISTRIBUTION_HELPERS = frozenset({"distribute", "replicate", "distribute_existing_tables"})
"""The functions of a backend's `app.core.distribution` that place tables on Citus."""


def distributes_tables(root: Path) -> bool:
    """Whether a migration of the backend at `root` places tables on Citus.

    Backends generated before distribution have none: the next table they create
    distributes the earlier ones first. A migration that is not Python is skipped
    (`status` and `check` report it).
    """
    for file in sorted((root / VERSIONS).glob("*.py")):
        try:
            tree = ast.parse(file.read_text(encoding="utf-8"))
        except (SyntaxError, OSError, UnicodeDecodeError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                function = node.func
                name = function.attr if isinstance(function, ast.Attribute) else None
                if isinstance(function, ast.Name):
                    name = function.id
                if name in DISTRIBUTION_HELPERS:
                    return True
    return False


def heads(revisions: dict[str, Revision]) -> tuple[str, ...]:
    """Revisions that no other revision revises, in sorted order."""
    parents = {parent for revision in revisions.values() for parent in revision.down_revisions}
    return tuple(sorted(r for r in revisions if r not in parents))


def next_migration(root: Path, slug: str, label: str | None = None) -> tuple[str, str, str]:
    """Revision, parent revision and path of a new migration: `NNNN_<slug>.py`.

    The revision id is `NNNN_<label>` (`label` defaults to `slug`).
    The parent is the single head of the chain on disk (which may include
    migrations written by hand); an existing revision or file is never reused.
    The revision fits Alembic's `alembic_version` column (32 characters).
    """
    revisions = read_revisions(root)
    tops = heads(revisions)
    if len(tops) != 1:
        raise BuilderError(
            f"the migrations in {VERSIONS} have {len(tops)} heads ({', '.join(tops)}); "
            "expected exactly one",
            hint="merge them with `alembic merge heads` first",
            code="migration_heads",
            details={"heads": list(tops)},
        )
    number = len(revisions) + 1
    while True:
        revision = f"{number:04d}_{label or slug}"[:32]
        path = f"{VERSIONS}/{number:04d}_{slug}.py"
        if revision not in revisions and not (root / path).exists():
            return revision, tops[0], path
        number += 1
