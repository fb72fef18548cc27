"""`backend-builder status`: the backend checked against its manifest, as data.

For each recorded file: as generated, edited, missing, or untracked (recorded by
an old manifest without a hash). For the migrations: the chain on disk, checked
against the revisions the manifest recorded (those of destroyed resources too).
Edited files are normal; missing files, missing migrations and a broken chain are
problems.
"""

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backend_builder.errors import BuilderError
from backend_builder.manifest import (
    FORMAT,
    FileRecord,
    Manifest,
    base_path,
    digest,
    find_root,
    load,
)
from backend_builder.merge import has_conflict_markers
from backend_builder.migrations import Revision, heads, read_revisions
from backend_builder.resource.layers import url_prefix

BACKEND = "backend"  # the owner of the files `new` wrote


class FileState(enum.StrEnum):
    """How a recorded file compares with its content as generated."""

    GENERATED = "generated"
    EDITED = "edited"
    MISSING = "missing"
    UNTRACKED = "untracked"


@dataclass(frozen=True)
class FileStatus:
    """One recorded file and its state."""

    path: str
    owner: str
    layer: str | None
    state: FileState

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form."""
        return {"path": self.path, "owner": self.owner, "layer": self.layer, "state": self.state}


@dataclass(frozen=True)
class Problem:
    """Something that does not match the manifest, with a stable code."""

    code: str
    message: str
    hint: str | None = None
    path: str | None = None
    resource: str | None = None
    revision: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form (keys with no value left out)."""
        document = {"code": self.code, "message": self.message}
        for key in ("hint", "path", "resource", "revision"):
            value = getattr(self, key)
            if value is not None:
                document[key] = value
        return document


@dataclass(frozen=True)
class ResourceStatus:
    """A resource: its spec and names, its migrations, and the state of its files."""

    name: str
    table: str
    url_prefix: str
    fields: tuple[str, ...]
    layers: tuple[str, ...]
    migrations: tuple[str, ...]
    files: tuple[FileStatus, ...]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form."""
        return {
            "name": self.name,
            "table": self.table,
            "url_prefix": self.url_prefix,
            "fields": list(self.fields),
            "layers": list(self.layers),
            "migrations": list(self.migrations),
            "files": [f.to_dict() for f in self.files],
        }


@dataclass(frozen=True)
class MigrationStatus:
    """The migration chain on disk: from the root to the head, plus what is off it."""

    chain: tuple[Revision, ...]
    heads: tuple[str, ...]
    unrecorded: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form."""
        return {
            "chain": [r.to_dict() for r in self.chain],
            "heads": list(self.heads),
            "unrecorded": list(self.unrecorded),
        }


@dataclass(frozen=True)
class Status:
    """The whole report: consistent when it has no problems."""

    root: Path
    name: str
    database: str
    manifest_format: int
    generator_version: str
    resources: tuple[ResourceStatus, ...]
    files: tuple[FileStatus, ...]
    migrations: MigrationStatus
    problems: tuple[Problem, ...] = field(default=())
    notes: tuple[str, ...] = field(default=())

    @property
    def consistent(self) -> bool:
        """True when nothing is missing or inconsistent (edited files are fine)."""
        return not self.problems

    def all_files(self) -> tuple[FileStatus, ...]:
        """Every recorded file: the backend's, then each resource's."""
        return (*self.files, *(f for r in self.resources for f in r.files))

    def counts(self) -> dict[str, int]:
        """How many recorded files are in each state."""
        states = [f.state for f in self.all_files()]
        return {str(state): states.count(state) for state in FileState}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form."""
        return {
            "root": str(self.root),
            "name": self.name,
            "database": self.database,
            "manifest_format": self.manifest_format,
            "generator_version": self.generator_version,
            "consistent": self.consistent,
            "counts": self.counts(),
            "resources": [r.to_dict() for r in self.resources],
            "files": [f.to_dict() for f in self.files],
            "migrations": self.migrations.to_dict(),
            "problems": [p.to_dict() for p in self.problems],
            "notes": list(self.notes),
        }


def backend_status(start: Path) -> Status:
    """Check the backend at or above `start` against its manifest."""
    root = find_root(start)
    manifest = load(root)
    problems: list[Problem] = []
    notes: list[str] = []
    if manifest.source_format < FORMAT:
        notes.append(
            f"the manifest has format {manifest.source_format}, written before files were "
            "recorded with hashes: hand edits cannot be told apart from generated content "
            "(untracked) until a command writes the manifest again"
        )
    backend_files = tuple(
        _file(root, record, BACKEND, problems, notes) for record in manifest.files
    )
    resources = []
    for resource in manifest.resources:
        names = resource.resolved_names
        files = tuple(_file(root, r, resource.name, problems, notes) for r in resource.files)
        resources.append(
            ResourceStatus(
                resource.name,
                names.table,
                url_prefix(names),
                resource.fields,
                resource.layers,
                resource.migrations,
                files,
            )
        )
    migrations = _migrations(root, manifest, problems)
    return Status(
        root=root,
        name=manifest.name,
        database=manifest.database,
        manifest_format=manifest.source_format,
        generator_version=manifest.generator_version,
        resources=tuple(resources),
        files=backend_files,
        migrations=migrations,
        problems=tuple(problems),
        notes=tuple(notes),
    )


def file_state(root: Path, record: FileRecord) -> FileState:
    """How the recorded file compares with its content as generated."""
    target = root / record.path
    if not target.is_file():
        return FileState.MISSING
    if record.sha256 is None:
        return FileState.UNTRACKED
    try:
        current = digest(target.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        current = None
    return FileState.GENERATED if current == record.sha256 else FileState.EDITED


def _holds_conflict_markers(path: Path) -> bool:
    try:
        return has_conflict_markers(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return False


def _file(
    root: Path, record: FileRecord, owner: str, problems: list[Problem], notes: list[str]
) -> FileStatus:
    """The state of one recorded file; a missing one, or one with conflict markers left in
    it, is a problem."""
    state = file_state(root, record)
    if state is FileState.EDITED and _holds_conflict_markers(root / record.path):
        problems.append(
            Problem(
                "conflict_markers_left",
                f"{record.path} still holds conflict markers",
                hint="resolve each marked hunk (keep yours or the generated one)",
                path=record.path,
                resource=None if owner == BACKEND else owner,
            )
        )
    if state is FileState.MISSING:
        problems.append(
            Problem(
                "file_missing",
                f"{record.path}, generated for {owner}, is missing",
                hint="restore it from version control",
                path=record.path,
                resource=None if owner == BACKEND else owner,
            )
        )
    elif state is not FileState.UNTRACKED and not (root / base_path(record.path)).is_file():
        notes.append(f"the base copy of {record.path} is missing ({base_path(record.path)})")
    return FileStatus(record.path, owner, record.layer, state)


def _made_by(owner: str, revisions: Sequence[str]) -> dict[str, tuple[str, str]]:
    """Each revision of `owner`, in order: the first created it, the others changed it."""
    return {
        revision: (owner, f"which {'created' if number == 0 else 'changed'} {owner}")
        for number, revision in enumerate(revisions)
    }


def _migrations(root: Path, manifest: Manifest, problems: list[Problem]) -> MigrationStatus:
    """The chain on disk, checked against the revisions the manifest recorded."""
    try:
        revisions = read_revisions(root)
    except BuilderError as error:
        problems.append(Problem(error.code, error.message, path=error.path))
        return MigrationStatus((), (), ())
    # revision -> (the resource it belongs to, or the backend; what it did)
    recorded = _made_by(BACKEND, manifest.migrations)
    for gone in manifest.destroyed:
        recorded.update(
            dict.fromkeys(gone.migrations, (gone.name, f"of the destroyed resource {gone.name}"))
        )
    for resource in manifest.resources:
        recorded.update(_made_by(resource.name, resource.migrations))
        if "migration" in resource.layers and not resource.migrations:
            problems.append(
                Problem(
                    "migration_unknown",
                    f"the manifest records no migration for {resource.name}, and none was "
                    f"found for its table {resource.resolved_names.table}",
                    resource=resource.name,
                )
            )
    for revision, (owner, what) in recorded.items():
        if revision not in revisions:
            problems.append(
                Problem(
                    "migration_missing",
                    f"migration {revision}, {what}, is missing",
                    hint="restore it from version control; a database that ran it still "
                    "has its tables",
                    resource=None if owner == BACKEND else owner,
                    revision=revision,
                )
            )
    for revision in revisions.values():
        for parent in revision.down_revisions:
            if parent not in revisions:
                problems.append(
                    Problem(
                        "migration_chain_broken",
                        f"migration {revision.revision} ({revision.path}) revises {parent}, "
                        "which is not in the migrations",
                        path=revision.path,
                        revision=revision.revision,
                    )
                )
    tops = heads(revisions)
    broken = any(p.code == "migration_chain_broken" for p in problems)
    if len(tops) > 1 and not broken:  # a broken link already explains the extra head
        problems.append(
            Problem(
                "migration_heads",
                f"the migration chain has {len(tops)} heads ({', '.join(tops)}); expected one",
                hint="merge them with `alembic merge heads`",
            )
        )
    elif revisions and not tops:
        problems.append(Problem("migration_cycle", "the migration chain has a cycle"))
    unrecorded = tuple(sorted(r for r in revisions if r not in recorded))
    return MigrationStatus(_chain(revisions, tops), tops, unrecorded)


def _chain(revisions: dict[str, Revision], tops: tuple[str, ...]) -> tuple[Revision, ...]:
    """The revisions from the root to the (first) head, following first parents."""
    chain: list[Revision] = []
    current = revisions.get(tops[0]) if tops else None
    seen: set[str] = set()
    while current is not None and current.revision not in seen:
        seen.add(current.revision)
        chain.append(current)
        parent = current.down_revisions[0] if current.down_revisions else None
        current = revisions.get(parent) if parent is not None else None
    return tuple(reversed(chain))
