"""`backend-builder update`: a backend's generated files, rendered again by this version.

After backend-builder is upgraded, its templates may have changed (a security fix,
say). `update` renders every generated file again with today's templates and the
specs saved in the manifest, and merges each one three-way with the user's file,
the stored base copy (the content as last generated) being the common ancestor
(`resource.rewrite`):

- the files `new` wrote, with the project context rebuilt from the manifest (name
  and database); the shared modules (`app/models/__init__.py`, `app/api/v1/api.py`)
  are the project template with every resource wired in, in manifest order;
- each resource's layer files, with its saved fields, at their recorded paths.

Migrations (`alembic/versions/`) are history and are never rendered again, nor is
`.env` (a backend's secrets). A file of a template that is new in this version is
created; a recorded file that no template produces any more is left in place,
reported, and no longer recorded (it is the user's from then on). A file the user
did not touch simply becomes the new rendering, a clean merge is written, and a
conflict writes nothing unless conflict markers are asked for. The manifest then
records every file as generated now, with new base copies.

A backend whose manifest predates provenance (format 1: no hashes, no base copies)
is merged against an empty base: any difference between a file and its new
rendering is a conflict, never a silent loss of an edit. A backend last written by
a newer backend-builder is refused: its templates would be replaced by older ones.
"""

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from backend_builder import __version__
from backend_builder.errors import BuilderError
from backend_builder.manifest import (
    BLACK_VERSION,
    MANIFEST,
    NOT_RECORDED,
    FileRecord,
    Manifest,
    SavedResource,
    base_path,
    find_root,
    load,
)
from backend_builder.merge import Merge
from backend_builder.plan import Action, Plan, collector_paused, plan_files
from backend_builder.project import project_context
from backend_builder.render import format_python, render_tree
from backend_builder.resource.generate import render_layers
from backend_builder.resource.inject import Outcome
from backend_builder.resource.layers import LAYERS, ROUTER_MODULE, VERSIONS, WIRING
from backend_builder.resource.rewrite import Rewrite, conflict_error, rewrite, stored_base
from backend_builder.resource.spec import ResourceSpec, SpecError, parse_fields
from backend_builder.resource.wiring import register

__all__ = ["Update", "plan_update"]

BACKEND = "backend"  # the owner of the files `new` wrote


DEPENDENCIES = "pyproject.toml"
"""The file that lists a backend's dependencies."""


@dataclass(frozen=True)
class Update:
    """A planned update: the plan, and what it does to each generated file.

    Every file rendered again is in exactly one of `updated` (untouched, replaced
    by the new rendering), `merged` (hand edits kept by a clean merge), `created`
    (a template new in this version), `unchanged` (already what the new templates
    and the user's edits give) or `conflicts` (hand edits that conflict with the
    new rendering; in the plan only when conflict markers were asked for).
    `obsolete` files are recorded but no longer generated: they are left in place.
    """

    plan: Plan
    from_version: str
    to_version: str
    updated: tuple[str, ...]
    merged: tuple[str, ...]
    created: tuple[str, ...]
    unchanged: tuple[str, ...]
    conflicts: tuple[Merge, ...]
    obsolete: tuple[str, ...]

    @property
    def next_steps(self) -> tuple[str, ...]:
        """What to run once the update is written: a reinstall first when it changed
        the dependencies (a test tool the new tests use, say)."""
        if not self.plan.changes:
            return ()
        rewritten = {*self.updated, *self.merged, *self.created}
        reinstall = ("pip install -e '.[dev]'",) if DEPENDENCIES in rewritten else ()
        return ("git diff", *reinstall, "make test")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able summary."""
        return {
            **self.plan.to_dict(),
            "from_version": self.from_version,
            "to_version": self.to_version,
            "updated": list(self.updated),
            "merged": list(self.merged),
            "created": list(self.created),
            "unchanged": list(self.unchanged),
            "conflicts": [merge.to_dict() for merge in self.conflicts],
            "obsolete": list(self.obsolete),
            "next_steps": list(self.next_steps),
        }


@collector_paused
def plan_update(start: Path, *, markers: bool = False) -> Update:
    """Plan rendering every generated file of the backend at or above `start` again.

    Raises the `merge_conflict` error when a hand edit conflicts with the new
    rendering, unless `markers` asks for the conflicts to be written with
    conflict markers.
    """
    root = find_root(start)
    manifest = load(root)
    _check_not_newer(manifest)
    project = _project_files(root, manifest)
    recorded = {record.path: record for record in manifest.files if _rendered_again(record.path)}
    generated = {
        path: (content, recorded.get(path))
        for path, content in project.items()
        if path in recorded or (root / path).exists()
    }
    created = {path: content for path, content in project.items() if path not in generated}
    obsolete = tuple(path for path in recorded if path not in project)
    backend = rewrite(root, generated, owner=BACKEND)
    results: list[Rewrite] = [backend]
    resources: list[SavedResource] = []
    for saved in manifest.resources:
        files, layers = _resource_files(manifest, saved)
        result = rewrite(root, files, owner=saved.name, layers=layers)
        results.append(result)
        records = {record.path: record for record in saved.files}
        records.update({record.path: record for record in result.records})
        resources.append(replace(saved, files=tuple(records.values())))
    conflicts = tuple(merge for result in results for merge in result.conflicts)
    if conflicts and not markers:
        raise conflict_error(conflicts)
    new_records = [*backend.records, *(FileRecord.of(p, c) for p, c in created.items())]
    kept = tuple(r for r in manifest.with_files(new_records).files if r.path not in obsolete)
    updated_manifest = replace(
        manifest,
        files=kept,
        resources=tuple(resources),
        generator_version=__version__,
        black_version=BLACK_VERSION,
    )
    modified = {path: text for result in results for path, text in result.writes.items()}
    modified.update({base_path(path): content for path, content in created.items()})
    modified[MANIFEST] = updated_manifest.dumps()
    plan = plan_files(root, created, modified)
    rendered = set(created).union(*(_rendered_paths(result) for result in results))
    merged = {path for result in results for path in result.merged}
    conflicting = {merge.path for merge in conflicts}
    outcomes: dict[str, list[str]] = {"updated": [], "merged": [], "created": [], "unchanged": []}
    for op in plan.ops:
        if op.path not in rendered or op.path in conflicting:
            continue
        if op.action is Action.CREATE:
            outcome = "created"
        elif op.action is Action.IDENTICAL:
            outcome = "unchanged"
        else:
            outcome = "merged" if op.path in merged else "updated"
        outcomes[outcome].append(op.path)
    return Update(
        plan,
        manifest.generator_version,
        __version__,
        tuple(outcomes["updated"]),
        tuple(outcomes["merged"]),
        tuple(outcomes["created"]),
        tuple(outcomes["unchanged"]),
        conflicts,
        obsolete,
    )


def _check_not_newer(manifest: Manifest) -> None:
    """Refuse to render a backend again with templates older than those that last wrote it."""
    if _release(manifest.generator_version) > _release(__version__):
        raise BuilderError(
            f"this backend was last written by backend-builder {manifest.generator_version}, "
            f"newer than this one ({__version__}); updating would bring back older templates",
            hint="upgrade backend-builder, then run the command again",
            code="backend_newer",
            path=MANIFEST,
        )


def _release(version: str) -> tuple[int, ...]:
    """The numeric release of a version string (`1.2.0rc1` -> (1, 2, 0)); () if none."""
    found = re.match(r"\d+(?:\.\d+)*", version)
    return tuple(int(part) for part in found.group().split(".")) if found else ()


def _rendered_again(path: str) -> bool:
    """Whether `update` renders a backend-level file again (never migrations nor `.env`)."""
    return not path.startswith(VERSIONS + "/") and path not in NOT_RECORDED


def _rendered_paths(result: Rewrite) -> set[str]:
    """The generated files of a rewrite (its writes also hold their base copies)."""
    return {record.path for record in result.records}


def _project_files(root: Path, manifest: Manifest) -> dict[str, str]:
    """What `new` would write today (migrations and `.env` aside), resources wired in."""
    files = render_tree("project", project_context(manifest.name, manifest.database))
    files = {path: content for path, content in files.items() if _rendered_again(path)}
    for path in WIRING.values():
        if path in files:
            files[path] = _wired(root, manifest, path, files[path])
    return files


def _wired(root: Path, manifest: Manifest, path: str, content: str) -> str:
    """The shared module `path`, fresh from its template, with every resource wired in.

    Resources are wired in manifest order. Routers are included in the order they
    were wired, which the manifest does not keep (a changed resource moves to its
    end): they follow the order of the stored base, so that the update does not
    reorder them.
    """
    wired = [saved for saved in manifest.resources if path in saved.wired_into]
    base = stored_base(root, manifest.file(path))
    if path == ROUTER_MODULE and base is not None:
        wired.sort(key=lambda saved: _router_position(base, saved))
    for saved in wired:
        edit = register(path, saved.resolved_names, content)
        if edit.outcome is Outcome.CANNOT_INJECT:
            raise BuilderError(
                f"{path} as this version generates it cannot have {saved.name} wired in: "
                f"{edit.message}",
                hint="report this to backend-builder; nothing was written",
                code="cannot_wire",
                path=path,
                resource=saved.name,
                details={"instruction": edit.instruction},
            )
        content = format_python(edit.source)
    return content


def _router_position(base: str, saved: SavedResource) -> int:
    """Where `base` includes the resource's router (after every router if it does not)."""
    module = re.escape(saved.resolved_names.plural_snake)
    found = re.search(rf"\b{module}\.router\b", base)
    return found.start() if found is not None else len(base)


def _resource_files(
    manifest: Manifest, saved: SavedResource
) -> tuple[dict[str, tuple[str, FileRecord | None]], dict[str, str | None]]:
    """A resource's layer files (its migrations aside) rendered again, and their layers."""
    names = saved.resolved_names
    try:
        spec = ResourceSpec(names, parse_fields(saved.fields, saved=True))
    except SpecError as error:
        raise BuilderError(
            f"{MANIFEST}: resource {saved.name}: {error}",
            code="manifest_invalid",
            resource=saved.name,
        ) from error
    layers = tuple(layer for layer in saved.layers if layer in LAYERS and layer != "migration")
    rendered = render_layers(manifest, spec, layers)
    files: dict[str, tuple[str, FileRecord | None]] = {}
    layer_of: dict[str, str | None] = {}
    for layer in layers:
        record = saved.file(layer)
        path = record.path if record is not None else LAYERS[layer].output(names)
        files[path] = (rendered[layer], record)
        layer_of[path] = layer
    return files, layer_of
