"""The field commands: add, remove, rename and change the fields of a generated resource.

Each command computes the resource's new spec and the column operations that
take the table there, then plans, as data and before any write:

- a new migration (never an edit of one that exists: it may have run);
- every generated file of the resource re-rendered with the new spec and merged
  three-way with the user's edits (`resource.rewrite`);
- the manifest: the new fields, the new migration, the new records and bases.

A conflict between a hand edit and the generated change writes nothing, unless
conflict markers are asked for.
"""

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from backend_builder.errors import BuilderError
from backend_builder.manifest import (
    BASE_DIR,
    MANIFEST,
    FileRecord,
    Manifest,
    SavedResource,
    base_path,
    find_root,
    load,
)
from backend_builder.merge import Merge
from backend_builder.migrations import next_migration, read_revisions
from backend_builder.plan import Plan, collector_paused, plan_files
from backend_builder.render import render
from backend_builder.resource import alter
from backend_builder.resource.alter import Operation
from backend_builder.resource.context import USERS, RefTarget, field_view, ref_target_of
from backend_builder.resource.generate import client_steps, render_layers
from backend_builder.resource.layers import ALTER_MIGRATION, LAYERS
from backend_builder.resource.rewrite import conflict_error, rewrite
from backend_builder.resource.spec import (
    FieldSpec,
    FieldType,
    ResourceSpec,
    SpecError,
    parse_fields,
    parse_names,
)

__all__ = [
    "Evolution",
    "data_loss_error",
    "plan_add_fields",
    "plan_change_field",
    "plan_remove_fields",
    "plan_rename_field",
]

# Type changes that keep every value (the new column type holds all of the old one's).
_WIDENINGS = {
    (FieldType.STR, FieldType.TEXT),
    (FieldType.EMAIL, FieldType.TEXT),
    (FieldType.URL, FieldType.TEXT),
    (FieldType.INT, FieldType.BIGINT),
}


@dataclass(frozen=True)
class Mention:
    """A line of hand-written code that names a field this change renames or removes."""

    path: str
    line: int
    name: str
    text: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form."""
        return {"path": self.path, "line": self.line, "name": self.name, "text": self.text}


@dataclass(frozen=True)
class Evolution:
    """A planned change of a resource's fields."""

    plan: Plan
    resource: str
    command: str
    fields: tuple[str, ...]
    operations: tuple[Operation, ...]
    migration: str | None
    merged: tuple[str, ...]
    conflicts: tuple[Merge, ...]
    data_loss: tuple[str, ...]
    next_steps: tuple[str, ...]
    mentions: tuple[Mention, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able summary."""
        return {
            **self.plan.to_dict(),
            "resource": self.resource,
            "command": self.command,
            "fields": list(self.fields),
            "operations": [operation.to_dict() for operation in self.operations],
            "migration": self.migration,
            "merged": list(self.merged),
            "conflicts": [merge.to_dict() for merge in self.conflicts],
            "data_loss": list(self.data_loss),
            "next_steps": list(self.next_steps),
            "mentions": [mention.to_dict() for mention in self.mentions],
        }


def data_loss_error(evolution: Evolution) -> BuilderError:
    """The refusal to drop columns (and their data) without an explicit confirmation."""
    columns = ", ".join(evolution.data_loss)
    return BuilderError(
        f"this drops the column(s) {columns} of {evolution.resource} with their data; "
        "nothing was written",
        hint="confirm that the data may be lost",
        code="confirmation_needed",
        resource=evolution.resource,
        details={"columns": list(evolution.data_loss)},
    )


# --------------------------------------------------------------------------
# The commands
# --------------------------------------------------------------------------


@collector_paused
def plan_add_fields(
    start: Path, name: str, tokens: list[str], *, markers: bool = False
) -> Evolution:
    """Plan adding fields (tokens of the field language) to resource `name`."""
    root, manifest, saved, spec = _load(start, name)
    if not tokens:
        raise BuilderError(
            "give at least one field to add, e.g. priority:int:default=0",
            code="no_fields",
            resource=spec.names.class_name,
        )
    added = _parse(tokens)
    for field in added:
        if _find(spec, field.name) is not None or _column_taken(spec, field):
            raise BuilderError(
                f"{spec.names.class_name} already has a field '{field.name}'",
                hint=f"to change it: change field {spec.names.class_name} {field.to_token()}",
                code="field_exists",
                token=field.token,
                field=field.name,
                resource=spec.names.class_name,
            )
        _check_fill(spec, field, "add")
        if field.unique and not field.optional:
            raise BuilderError(
                f"'{field.token}': existing rows of {spec.names.class_name} would all get "
                "the same value, which a unique field refuses",
                hint=f"add it as optional ({field.name}:{field.type.value}:unique:optional), "
                "fill it in, then make it required with change field",
                code="unique_needs_optional",
                token=field.token,
                field=field.name,
                resource=spec.names.class_name,
            )
    new_spec = _respec(spec, (*spec.fields, *added))
    refs = _refs(manifest, new_spec)
    table = spec.names.table
    operations = tuple(
        alter.add_column(table, field, field_view(field, new_spec.names, refs.get(field.name)))
        for field in added
    )
    names = "_".join(field.name for field in added)
    return _evolve(
        root,
        manifest,
        saved,
        new_spec,
        operations,
        command="generate field",
        slug=f"add_{names}_to_{table}",
        message=f"Add {_list(added)} to {table}.",
        markers=markers,
    )


@collector_paused
def plan_remove_fields(
    start: Path, name: str, field_names: list[str], *, markers: bool = False
) -> Evolution:
    """Plan removing fields (by name) from resource `name`; their columns' data is lost."""
    root, manifest, saved, spec = _load(start, name)
    if not field_names:
        raise BuilderError(
            "give at least one field to remove", code="no_fields", resource=spec.names.class_name
        )
    removed = [_existing(spec, field_name) for field_name in dict.fromkeys(field_names)]
    kept = tuple(field for field in spec.fields if field not in removed)
    if not kept:
        raise BuilderError(
            f"{spec.names.class_name} would have no field left",
            hint=f"add the new fields first, or destroy the resource {spec.names.class_name}",
            code="last_field",
            resource=spec.names.class_name,
        )
    refs = _refs(manifest, spec)
    table = spec.names.table
    operations = tuple(
        alter.drop_column(table, field, field_view(field, spec.names, refs.get(field.name)))
        for field in removed
    )
    new_spec = _respec(spec, kept)
    names = "_".join(field.name for field in removed)
    evolution = _evolve(
        root,
        manifest,
        saved,
        new_spec,
        operations,
        command="remove field",
        slug=f"remove_{names}_from_{table}",
        message=f"Remove {_list(removed)} from {table} (the column data is lost).",
        markers=markers,
    )
    return replace(
        evolution,
        data_loss=tuple(f"{table}.{field.column}" for field in removed),
        mentions=_mentions(evolution, [name for f in removed for name in {f.name, f.column}]),
    )


@collector_paused
def plan_rename_field(
    start: Path, name: str, old: str, new: str, *, markers: bool = False
) -> Evolution:
    """Plan renaming a field; the column is renamed and its data kept."""
    root, manifest, saved, spec = _load(start, name)
    field = _existing(spec, old)
    if new == old:
        raise BuilderError(
            f"'{old}' is already called {new}", code="same_name", field=old, resource=saved.name
        )
    renamed = _parse([field.to_token().replace(field.name, new, 1)], token=new)[0]
    if _find(spec, new) is not None or _column_taken(spec, renamed, ignore=field):
        raise BuilderError(
            f"{spec.names.class_name} already has a field '{new}'",
            code="field_exists",
            field=new,
            resource=spec.names.class_name,
        )
    new_spec = _respec(spec, tuple(renamed if f is field else f for f in spec.fields))
    refs = _refs(manifest, spec)
    table = spec.names.table
    target = refs.get(field.name)
    operation = alter.rename_column(
        table,
        field_view(field, spec.names, target),
        field_view(renamed, spec.names, target),
    )
    evolution = _evolve(
        root,
        manifest,
        saved,
        new_spec,
        (operation,),
        command="rename field",
        slug=f"rename_{table}_{old}_to_{new}",
        message=f"Rename {table}.{field.column} to {renamed.column} (the data is kept).",
        markers=markers,
    )
    return replace(evolution, mentions=_mentions(evolution, list({field.name, field.column})))


@collector_paused
def plan_change_field(
    start: Path,
    name: str,
    token: str,
    *,
    markers: bool = False,
    replacements: Mapping[str, str] | None = None,
) -> Evolution:
    """Plan changing a field's type, modifiers or enum values; the data is kept, but
    for the enum values dropped: `replacements` gives each the value its rows get instead."""
    replacements = dict(replacements or {})
    root, manifest, saved, spec = _load(start, name)
    changed = _parse([token])[0]
    field = _existing(spec, changed.name)
    _check_replacements(spec, field, changed, replacements)
    _check_change(spec, field, changed, replacements)
    new_spec = _respec(spec, tuple(changed if f is field else f for f in spec.fields))
    refs = _refs(manifest, new_spec)
    table = spec.names.table
    target = refs.get(field.name)
    operation = alter.alter_column(
        table,
        field,
        field_view(field, spec.names, target),
        changed,
        field_view(changed, spec.names, target),
        replacements,
    )
    replaced = "".join(f"\nRows holding {value} get {to}." for value, to in replacements.items())
    return _evolve(
        root,
        manifest,
        saved,
        new_spec,
        (operation,) if operation is not None else (),
        command="change field",
        slug=f"change_{table}_{field.name}",
        message=f"Change {table}.{field.column}.\n\nFrom:\n    {field.to_token()}\n"
        f"To:\n    {changed.to_token()}" + (f"\n{replaced}" if replaced else ""),
        markers=markers,
    )


# --------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------


def _load(start: Path, name: str) -> tuple[Path, Manifest, SavedResource, ResourceSpec]:
    root = find_root(start)
    manifest = load(root)
    try:
        class_name = parse_names(name).class_name
    except SpecError as error:
        raise BuilderError(str(error), code="invalid_spec", token=name) from error
    saved = manifest.resource(class_name)
    if saved is None:
        names = [r.name for r in manifest.resources]
        close = difflib.get_close_matches(class_name, names, n=1)
        raise BuilderError(
            f"no resource '{class_name}' in this backend (resources: "
            f"{', '.join(names) or 'none yet'})",
            hint=(
                f"did you mean {close[0]}?"
                if close
                else f"create it first: backend-builder generate resource {class_name} FIELD..."
            ),
            code="unknown_resource",
            resource=class_name,
        )
    if "migration" not in saved.layers or not saved.migrations:
        raise BuilderError(
            f"{class_name} has no migration recorded, so its table cannot be changed safely",
            hint="check the manifest with `backend-builder status`",
            code="migration_unknown",
            resource=class_name,
        )
    missing = [r for r in saved.migrations if r not in read_revisions(root)]
    if missing:
        raise BuilderError(
            f"the migration(s) {', '.join(missing)} of {class_name} are missing from "
            "alembic/versions; the manifest does not match the code",
            hint="restore them (for example from version control); see `backend-builder status`",
            code="migration_missing",
            resource=class_name,
            details={"revisions": missing},
        )
    try:
        spec = ResourceSpec(saved.resolved_names, parse_fields(saved.fields, saved=True))
    except SpecError as error:
        raise BuilderError(
            f"{MANIFEST}: resource {class_name}: {error}", code="manifest_invalid"
        ) from error
    return root, manifest, saved, spec


def _parse(tokens: list[str], *, token: str | None = None) -> tuple[FieldSpec, ...]:
    try:
        return parse_fields(tokens)
    except SpecError as error:
        quoted = next((t for t in tokens if repr(t) in str(error)), tokens[0])
        raise BuilderError(str(error), code="invalid_spec", token=token or quoted) from error


def _find(spec: ResourceSpec, name: str) -> FieldSpec | None:
    return next((field for field in spec.fields if field.name == name), None)


def _column_taken(spec: ResourceSpec, new: FieldSpec, ignore: FieldSpec | None = None) -> bool:
    """Whether `new`'s name or column clashes with another field's name or column."""
    others = {ident for f in spec.fields if f is not ignore for ident in (f.name, f.column)}
    return bool({new.name, new.column} & others)


def _existing(spec: ResourceSpec, name: str) -> FieldSpec:
    field = _find(spec, name) or next((f for f in spec.fields if f.column == name), None)
    if field is None:
        known = ", ".join(f.name for f in spec.fields)
        raise BuilderError(
            f"{spec.names.class_name} has no field '{name}' (fields: {known})",
            code="unknown_field",
            field=name,
            resource=spec.names.class_name,
        )
    return field


def _check_fill(spec: ResourceSpec, field: FieldSpec, verb: str) -> None:
    """A required column on a table that may have rows needs a value for them."""
    if field.optional or field.has_default:
        return
    cls = spec.names.class_name
    if field.is_ref:
        hint = f"{verb} it as optional ({field.to_token()}:optional), then fill it in"
    else:
        hint = f"give it a default for existing rows: {field.to_token()}:default=VALUE"
    raise BuilderError(
        f"'{field.token or field.to_token()}': {cls} may already have rows, and a required "
        "field needs a value for them",
        hint=hint + ", or make it optional",
        code="needs_default",
        token=field.token or field.to_token(),
        field=field.name,
        resource=cls,
    )


def _check_replacements(
    spec: ResourceSpec, old: FieldSpec, new: FieldSpec, replacements: Mapping[str, str]
) -> None:
    """Each replacement maps an enum value the change drops to one it keeps."""
    if not replacements:
        return
    cls = spec.names.class_name
    token = new.token or new.to_token()

    def refuse(reason: str, hint: str) -> BuilderError:
        return BuilderError(
            f"'{token}': {reason}",
            hint=hint,
            code="invalid_replace",
            token=token,
            field=old.name,
            resource=cls,
        )

    if old.type is not FieldType.ENUM or new.type is not FieldType.ENUM:
        raise refuse(
            f"a replacement is for the values an enum field drops, and {cls}.{old.name} "
            f"is {'not an enum' if old.type is not FieldType.ENUM else 'no longer one'}",
            "change the field without a replacement",
        )
    dropped = [value for value in old.enum_values if value not in new.enum_values]
    targets = list(replacements.values())
    merged = [t for t in targets if t in old.enum_values or targets.count(t) > 1]
    if (old.unique or new.unique) and merged:
        raise refuse(
            f"{cls}.{old.name} is unique: rows given {merged[0]} could meet rows that "
            "hold it already",
            "replace each dropped value with a new value of its own, or change the field "
            "to be not unique first",
        )
    for value, replacement in replacements.items():
        if value not in dropped:
            raise refuse(
                f"{value} is not a value that the change drops "
                f"(it drops: {', '.join(dropped) or 'none'})",
                "give a replacement for each dropped value only",
            )
        if replacement not in new.enum_values:
            raise refuse(
                f"{value} cannot become {replacement}, which is not one of the new values "
                f"({', '.join(new.enum_values)})",
                f"replace {value} with one of {', '.join(new.enum_values)}",
            )


def _check_change(
    spec: ResourceSpec,
    old: FieldSpec,
    new: FieldSpec,
    replacements: Mapping[str, str] | None = None,
) -> None:
    """Refuse a change that cannot keep every row's value (or give it a replacement)."""
    cls = spec.names.class_name
    token = new.token or new.to_token()

    def refuse(reason: str, hint: str | None = None) -> BuilderError:
        return BuilderError(
            f"'{token}': {reason}; the data of {cls}.{old.name} would not be kept",
            hint=hint or f"add a new field, copy the data by hand, then remove {old.name}",
            code="change_loses_data",
            token=token,
            field=old.name,
            resource=cls,
        )

    if old.type is not new.type and (old.type, new.type) not in _WIDENINGS:
        widenings = ", ".join(f"{a.value} -> {b.value}" for a, b in sorted(_WIDENINGS))
        raise refuse(
            f"{old.type.value} cannot become {new.type.value}",
            f"type changes that keep the data: {widenings}, a decimal to one with as many "
            "digits or more on each side of the point; otherwise add a new field, "
            f"copy the data, then remove {old.name}",
        )
    if old.type is FieldType.ENUM:
        lost = [
            value
            for value in old.enum_values
            if value not in new.enum_values and value not in (replacements or {})
        ]
        if lost:
            given = [f"--replace {value}={to}" for value, to in (replacements or {}).items()]
            example = " ".join([*given, *(f"--replace {value}=VALUE" for value in lost)])
            raise refuse(
                f"rows may hold the value(s) {', '.join(lost)}, which it drops",
                f"give their rows another value: backend-builder change field {cls} {token} "
                f"{example} (VALUE one of {', '.join(new.enum_values)})",
            )
    if old.type is FieldType.DECIMAL and new.type is FieldType.DECIMAL:
        old_whole = (old.precision or 0) - (old.scale or 0)
        new_whole = (new.precision or 0) - (new.scale or 0)
        if new_whole < old_whole or (new.scale or 0) < (old.scale or 0):
            raise refuse(
                f"decimal({new.precision},{new.scale}) cannot hold every "
                f"decimal({old.precision},{old.scale})"
            )
    if old.is_ref and new.ref_target != old.ref_target:
        raise refuse(f"it refers to {old.ref_target}, not {new.ref_target}")
    if old.optional and not new.optional and new.unique:
        if new.has_default:  # every empty row of a project would get the same value
            raise BuilderError(
                f"'{token}': the empty rows of {cls} would all get the default, which a "
                "unique field refuses",
                hint=f"give each row its own value first, then change field {cls} "
                f"{replace(new, default=None, has_default=False).to_token()} (no default: "
                "the migration then only makes it required)",
                code="unique_needs_optional",
                token=token,
                field=old.name,
                resource=cls,
            )
    elif old.optional and not new.optional:
        _check_fill(spec, new, "change")
    if new == old:
        raise BuilderError(
            f"'{token}' is {cls}.{old.name} as it is; nothing to change",
            code="no_change",
            token=token,
            field=old.name,
            resource=cls,
        )


# --------------------------------------------------------------------------
# Planning
# --------------------------------------------------------------------------


def _respec(spec: ResourceSpec, fields: tuple[FieldSpec, ...]) -> ResourceSpec:
    try:
        return ResourceSpec(spec.names, parse_fields([f.to_token() for f in fields], saved=True))
    except SpecError as error:
        raise BuilderError(
            str(error), code="invalid_spec", resource=spec.names.class_name
        ) from error


def _refs(manifest: Manifest, spec: ResourceSpec) -> dict[str, RefTarget]:
    """The targets of the spec's refs (checked against the manifest when rendering)."""
    targets: dict[str, RefTarget] = {}
    for field in spec.refs:
        if field.targets_users:
            targets[field.name] = USERS
        elif field.ref_target == spec.names.class_name:
            targets[field.name] = ref_target_of(spec.names, is_self=True)
        else:
            targets[field.name] = ref_target_of(parse_names(str(field.ref_target)))
    return targets


def _list(fields: tuple[FieldSpec, ...] | list[FieldSpec]) -> str:
    return ", ".join(field.column for field in fields)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_")


def _evolve(
    root: Path,
    manifest: Manifest,
    saved: SavedResource,
    spec: ResourceSpec,
    operations: tuple[Operation, ...],
    *,
    command: str,
    slug: str,
    message: str,
    markers: bool,
) -> Evolution:
    """Plan the migration, the merged files and the manifest of a field change."""
    names = spec.names
    layers = tuple(layer for layer in saved.layers if layer != "migration")
    rendered = render_layers(manifest, spec, layers)
    generated: dict[str, tuple[str, FileRecord | None]] = {}
    for layer in layers:
        record = saved.file(layer)
        path = record.path if record is not None else LAYERS[layer].output(names)
        generated[path] = (rendered[layer], record)
    result = rewrite(root, generated, owner=saved.name)
    if result.conflicts and not markers:
        raise conflict_error(result.conflicts, owner=saved.name)
    created: dict[str, str] = {}
    migration_revision = None
    records = list(result.records)
    migrations = saved.migrations
    if operations:
        migration_revision, down_revision, path = next_migration(root, _slug(slug))
        created[path] = _render_migration(
            names.table, operations, message, migration_revision, down_revision
        )
        records.append(FileRecord.of(path, created[path], "migration"))
        created[base_path(path)] = created[path]  # its base copy, as for every generated file
        migrations = (*migrations, migration_revision)
    by_path = {record.path: record for record in saved.files}
    by_path.update({record.path: record for record in records})
    resource = replace(
        saved,
        fields=tuple(field.to_token() for field in spec.fields),
        migrations=migrations,
        files=tuple(by_path.values()),
    )
    modified = {**result.writes, MANIFEST: manifest.with_resource(resource).dumps()}
    plan = plan_files(root, created, modified)
    steps = ["alembic upgrade head"] if operations else []
    if "tests" in layers:
        steps.append(f"pytest {saved.file('tests').path if saved.file('tests') else ''}".strip())
    steps += client_steps(root)
    return Evolution(
        plan,
        saved.name,
        command,
        resource.fields,
        operations,
        migration_revision,
        result.merged,
        result.conflicts,
        (),
        tuple(steps),
    )


def _mentions(evolution: Evolution, names: list[str]) -> tuple[Mention, ...]:
    """Hand-written lines (not in the generated files) that still name `names`."""
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, names)) + r")\b")
    generated = {
        op.path: set(op.content.splitlines())
        for op in evolution.plan.ops
        if op.path.startswith(BASE_DIR + "/")
    }
    found = []
    for op in evolution.plan.ops:
        ours = generated.get(base_path(op.path))
        if ours is None:
            continue
        for number, line in enumerate(op.content.splitlines(), start=1):
            if line not in ours and (match := pattern.search(line)):
                found.append(Mention(op.path, number, match.group(1), line.strip()))
    return tuple(found)


def _render_migration(
    table: str,
    operations: tuple[Operation, ...],
    message: str,
    revision: str,
    down_revision: str,
) -> str:
    upgrade = [step for operation in operations for step in operation.upgrade]
    downgrade = [step for operation in reversed(operations) for step in operation.downgrade]
    lines = [step.line for step in (*upgrade, *downgrade)]
    context = {
        "message": message,
        "revision": revision,
        "down_revision": down_revision,
        "table": table,
        "upgrade_summary": "; ".join(op.summary for op in operations).capitalize(),
        "downgrade_summary": "; ".join(op.undo for op in reversed(operations)).capitalize(),
        "upgrade": alter.blocks(upgrade),
        "downgrade": alter.blocks(downgrade),
        "uses_sa": any("sa." in line for line in lines),
        "fills_rows": any("every_project(" in line for line in lines),
        "checks_unique": any("refuse_duplicates(" in line for line in lines),
        "checks_values": any("refuse_values(" in line for line in lines),
        "checks_rows": any("refuse_rows(" in line for line in lines),
    }
    return render(ALTER_MIGRATION, context)
