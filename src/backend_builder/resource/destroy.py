"""`backend-builder destroy resource`: the inverse of `generate resource`, as a plan.

Undo is the inverse plan: each file the resource's layers generated is deleted
with its base copy, the resource is wired out of the shared modules, and a new
migration drops its table (its downgrade creates the table again, as it is now).
Migrations are history: the resource's migrations (its create migration, and
those of field changes) stay, and the manifest keeps their revisions, with the
drop's, in a `[[destroyed]]` record (see `backend_builder.manifest`).

Nothing is planned while another resource refers to this one, and a generated
file that may hold hand edits (edited, or recorded without a hash) is only
deleted when forced. A generated file that is already gone is reported. The table's
rows are lost when the drop migration runs: the command confirms that first, as
removing a field does (`confirmation_error`).
"""

import difflib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from backend_builder.errors import BuilderError
from backend_builder.manifest import (
    MANIFEST,
    Manifest,
    SavedResource,
    base_path,
    find_root,
    load,
)
from backend_builder.migrations import Revision, next_migration
from backend_builder.plan import Plan, collector_paused, plan_files
from backend_builder.resource.generate import client_steps, render_drop_migration, saved_spec
from backend_builder.resource.inject import Outcome
from backend_builder.resource.spec import SpecError, parse_names
from backend_builder.resource.wiring import wire_out
from backend_builder.status import FileState, file_state

# Files that may hold hand edits: deleted only when forced.
_MAY_BE_EDITED = (FileState.EDITED, FileState.UNTRACKED)


@dataclass(frozen=True)
class RemovedFile:
    """A generated file of the destroyed resource, and its state before it was deleted."""

    path: str
    layer: str | None
    state: FileState

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form."""
        return {"path": self.path, "layer": self.layer, "state": str(self.state)}


@dataclass(frozen=True)
class Destruction:
    """A planned destroy: the plan, the files it removes, the migrations, the wiring."""

    plan: Plan
    resource: str
    table: str
    files: tuple[RemovedFile, ...]
    kept_migrations: tuple[str, ...]
    drop_migration: Revision
    wiring: dict[str, Outcome]
    next_steps: tuple[str, ...]

    @property
    def edited(self) -> tuple[RemovedFile, ...]:
        """The removed files that may have held hand edits."""
        return tuple(f for f in self.files if f.state in _MAY_BE_EDITED)

    @property
    def missing(self) -> tuple[RemovedFile, ...]:
        """The generated files that were already gone."""
        return tuple(f for f in self.files if f.state is FileState.MISSING)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able summary."""
        return {
            **self.plan.to_dict(),
            "resource": self.resource,
            "table": self.table,
            "data_loss": [self.table],
            "removed": [f.to_dict() for f in self.files],
            "migrations": {
                "kept": list(self.kept_migrations),
                "drop": self.drop_migration.to_dict(),
            },
            "wiring": {path: str(outcome) for path, outcome in self.wiring.items()},
            "next_steps": list(self.next_steps),
        }


def confirmation_error(destruction: Destruction) -> BuilderError:
    """The refusal to drop the resource's table (and its rows) without a confirmation."""
    return BuilderError(
        f"this drops the table {destruction.table} of {destruction.resource} with its rows "
        "when the migration runs; nothing was written",
        hint="confirm that the data may be lost",
        code="confirmation_needed",
        resource=destruction.resource,
        details={"tables": [destruction.table]},
    )


@collector_paused
def plan_destroy(start: Path, name: str, *, force: bool = False) -> Destruction:
    """Plan destroying resource `name` of the backend at or above `start`.

    `force` lets files that may hold hand edits be deleted; it never destroys a
    resource that another one refers to.
    """
    root = find_root(start)
    manifest = load(root)
    saved = _saved(manifest, name)
    _check_dependants(manifest, saved)
    names = saved.resolved_names
    spec = saved_spec(saved)
    # Its migrations stay (history); every other generated file goes.
    files = tuple(
        RemovedFile(record.path, record.layer, file_state(root, record))
        for record in saved.files
        if record.layer != "migration"
    )
    edited = [f for f in files if f.state in _MAY_BE_EDITED]
    if edited and not force:
        listed = ", ".join(f"{f.path} ({f.state})" for f in edited)
        raise BuilderError(
            f"{len(edited)} file(s) of {saved.name} may hold hand edits: {listed}; "
            "nothing was deleted",
            hint="keep what you need from them, then force the removal",
            code="files_edited",
            resource=saved.name,
            details={"paths": [f.path for f in edited]},
        )
    revision, down_revision, path = next_migration(root, f"drop_{names.table}")
    created = {
        path: render_drop_migration(manifest, spec, revision=revision, down_revision=down_revision)
    }
    wiring = wire_out(root, manifest, names, saved.wired_into)
    modified = dict(wiring.modified)
    destroyed = manifest.without_resource(saved.name, revision).with_files(wiring.records)
    modified[MANIFEST] = destroyed.dumps()
    deleted = [
        *(f.path for f in files if f.state is not FileState.MISSING),
        *(base_path(record.path) for record in saved.files),
    ]
    plan = plan_files(root, created, modified, deleted=deleted, prune=_prunable(manifest, deleted))
    return Destruction(
        plan,
        saved.name,
        names.table,
        files,
        saved.migrations,
        Revision(revision, (down_revision,), path),
        wiring.outcomes,
        ("alembic upgrade head", *client_steps(root)),
    )


def _saved(manifest: Manifest, name: str) -> SavedResource:
    """The saved resource called `name`, or an error naming the resources there are."""
    try:
        class_name = parse_names(name).class_name
    except SpecError as error:
        raise BuilderError(str(error), code="invalid_spec", token=name) from error
    saved = manifest.resource(class_name)
    if saved is not None:
        return saved
    known = [r.name for r in manifest.resources]
    message = (
        f"no resource '{class_name}' in this backend (resources: {', '.join(known) or 'none'})"
    )
    gone = [record for record in manifest.destroyed if record.name == class_name]
    if gone:
        message += f"; it was destroyed already (its table dropped by {gone[-1].migrations[-1]})"
    close = difflib.get_close_matches(class_name, known, n=1)
    raise BuilderError(
        message,
        hint=f"did you mean {close[0]}?" if close else "the status command lists the resources",
        code="unknown_resource",
        resource=class_name,
        details={"resources": known},
    )


def _check_dependants(manifest: Manifest, saved: SavedResource) -> None:
    """Refuse to destroy a resource that another resource refers to with a ref field."""
    dependants = [
        (other.name, field.name)
        for other in manifest.resources
        if other.name != saved.name
        for field in saved_spec(other).refs
        if not field.targets_users and field.ref_target == saved.name
    ]
    if not dependants:
        return
    listed = ", ".join(f"{resource}.{field}" for resource, field in dependants)
    field = dependants[0][1]
    raise BuilderError(
        f"resource '{saved.name}' is referred to by {listed}; it is not destroyed while "
        "another resource refers to it",
        hint="destroy those resources first, or remove the fields: "
        + "; ".join(
            f"backend-builder remove field {resource} {name}" for resource, name in dependants
        ),
        code="has_dependants",
        resource=saved.name,
        field=field,
        details={"dependants": [{"resource": r, "field": f} for r, f in dependants]},
    )


def _prunable(manifest: Manifest, deleted: list[str]) -> list[str]:
    """The directories of `deleted` files that may go once empty: not the standard ones.

    A standard directory holds a file that `new` wrote (or its base copy), like
    `app/models`; it stays even when empty. Others were made for the resource.
    """
    standard = {
        parent
        for record in manifest.files
        for path in (record.path, base_path(record.path))
        for parent in PurePosixPath(path).parents
    }
    return sorted(
        {
            parent.as_posix()
            for path in deleted
            for parent in PurePosixPath(path).parents
            if parent not in standard
        }
    )
