"""`backend-builder generate`: plan every file of a resource, then write all or nothing.

Every file written is recorded in the manifest with the hash of its content as
generated, and a base copy of that content is written under
`.backend-builder/base/`. An existing resource is never generated again: its
migration may have run, and its files may carry hand edits.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backend_builder.errors import BuilderError
from backend_builder.manifest import (
    MANIFEST,
    FileRecord,
    Manifest,
    SavedResource,
    base_path,
    find_root,
    load,
)
from backend_builder.migrations import distributes_tables, next_migration
from backend_builder.plan import Plan, collector_paused, plan_files
from backend_builder.render import render
from backend_builder.resource.context import USERS, RefTarget, ref_target_of, resource_context
from backend_builder.resource.imports import Imports
from backend_builder.resource.layers import (
    ALL_LAYERS,
    DROP_MIGRATION,
    ENDPOINT_LAYERS,
    LAYERS,
    MODEL_LAYERS,
)
from backend_builder.resource.spec import (
    Names,
    ResourceSpec,
    SpecError,
    parse_fields,
    parse_names,
)
from backend_builder.resource.wiring import wire_in

__all__ = [
    "ALL_LAYERS",
    "ENDPOINT_LAYERS",
    "FIELD_COMMANDS",
    "MODEL_LAYERS",
    "Generation",
    "plan_generate",
    "render_drop_migration",
    "render_layers",
    "saved_spec",
]

# The commands that change an existing resource's fields (`resource.evolve`).
FIELD_COMMANDS = ("generate field", "remove field", "rename field", "change field")


@dataclass(frozen=True)
class Generation:
    """A planned generation: the plan, the resource, and what to run next."""

    plan: Plan
    spec: ResourceSpec
    layers: tuple[str, ...]
    next_steps: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able summary."""
        return {
            **self.plan.to_dict(),
            "resource": self.spec.to_dict(),
            "layers": list(self.layers),
            "next_steps": list(self.next_steps),
        }


@collector_paused
def plan_generate(
    start: Path,
    name: str,
    tokens: list[str] | None,
    *,
    layers: tuple[str, ...],
    force: bool = False,
) -> Generation:
    """Plan generating `layers` of resource `name` in the backend at or above `start`.

    `force` only lets a new resource's file replace a file that nobody generated;
    it never regenerates an existing resource or replaces a generated file.
    """
    root = find_root(start)
    manifest = load(root)
    spec = _spec(manifest, name, tokens, layers)
    names = spec.names
    saved = manifest.resource(names.class_name)
    if saved is not None and tokens is not None:
        raise _exists(saved, tokens)
    if saved is not None and (done := [layer for layer in layers if layer in saved.layers]):
        raise BuilderError(
            f"resource '{names.class_name}' already has its {', '.join(done)} layer(s); "
            "generated files are kept as they are, with any hand edits",
            hint="to render generated files again with this version's templates, keeping "
            "hand edits: backend-builder update",
            code="layers_exist",
            resource=names.class_name,
            details={"layers": done},
        )
    if "migration" in layers:
        revision, down_revision, migration_file = _new_migration(root, names)
    else:  # no migration is written: the chain is not needed (nor checked)
        revision, down_revision, migration_file = _no_migration(saved)
    rendered = render_layers(
        manifest,
        spec,
        layers,
        revision=revision,
        down_revision=down_revision,
        distribute_existing="migration" in layers and not distributes_tables(root),
    )
    outputs = {
        layer: migration_file if layer == "migration" else LAYERS[layer].output(names)
        for layer in layers
    }
    created = {outputs[layer]: rendered[layer] for layer in layers}
    _check_owners(manifest, names.class_name, created)
    all_layers = tuple(
        layer for layer in ALL_LAYERS if layer in layers or (saved and layer in saved.layers)
    )
    records = [FileRecord.of(outputs[layer], created[outputs[layer]], layer) for layer in layers]
    wiring = wire_in(root, manifest, names, layers)
    modified = dict(wiring.modified)
    resource = SavedResource(
        names.class_name,
        tuple(f.to_token() for f in spec.fields),
        all_layers,
        names,
        (*(saved.migrations if saved else ()), *([revision] if "migration" in layers else [])),
        (*(saved.files if saved else ()), *records),
        tuple(
            dict.fromkeys((*(saved.wired_into if saved else ()), *(r.path for r in wiring.records)))
        ),
    )
    for record in records:
        modified[base_path(record.path)] = created[record.path]
    modified[MANIFEST] = manifest.with_resource(resource).with_files(wiring.records).dumps()
    plan = plan_files(root, created, modified, force=force)
    steps = ["alembic upgrade head"] if "migration" in layers else []
    if "tests" in layers:
        steps.append(f"pytest {outputs['tests']}")
    if "router" in layers:
        steps.append(f"open http://127.0.0.1:8000/docs#/{names.kebab_plural}")
    steps += client_steps(root) if {"router", "schema"} & set(layers) else []
    return Generation(plan, spec, layers, tuple(steps))


CLIENT_COMMANDS = {"python": "make client", "typescript": "make client-ts"}
"""The command that makes each kind of client, by its folder under `clients/`."""


def client_steps(root: Path) -> list[str]:
    """Remake the clients a backend has (`make client`, `make client-ts`): the API changed."""
    return [
        command
        for folder, command in CLIENT_COMMANDS.items()
        if (root / "clients" / folder).is_dir()
    ]


def render_layers(
    manifest: Manifest,
    spec: ResourceSpec,
    layers: tuple[str, ...],
    *,
    revision: str = "",
    down_revision: str = "",
    distribute_existing: bool = False,
) -> dict[str, str]:
    """The content of each of `layers` of the resource `spec`, with today's templates.

    Refs are resolved against `manifest`. `revision`, `down_revision` and
    `distribute_existing` are only used by the create migration's template.
    """
    refs = _ref_targets(manifest, spec, layers)
    context = resource_context(
        spec,
        refs,
        revision=revision,
        down_revision=down_revision,
        distribute_existing=distribute_existing,
    )
    context["imports"] = _imports(context)
    return {layer: render(LAYERS[layer].template, context) for layer in layers}


def render_drop_migration(
    manifest: Manifest, spec: ResourceSpec, *, revision: str, down_revision: str
) -> str:
    """The migration dropping the table of `spec`, whose downgrade recreates it.

    Both directions come from the template partial that the create migration uses,
    so the table comes back as the create migration (with the field changes since,
    which `spec` holds) made it.
    """
    refs = _ref_targets(manifest, spec, ("migration",))
    context = resource_context(spec, refs, revision=revision, down_revision=down_revision)
    return render(DROP_MIGRATION, context)


def _exists(saved: SavedResource, tokens: list[str]) -> BuilderError:
    """The refusal to generate an existing resource again (with or without force).

    The hint names the field commands that take the resource from its saved
    fields to the requested ones.
    """
    migrations = ", ".join(saved.migrations) or "its create migration"
    commands = field_commands(saved, tokens)
    if commands:
        hint = "to get there with new migrations, run: " + "; ".join(commands)
    else:
        hint = "change its fields with the field commands: " + ", ".join(FIELD_COMMANDS)
    if "router" not in saved.layers:
        hint += f"; to add endpoints to the model, use `generate endpoint {saved.name}`"
    return BuilderError(
        f"resource '{saved.name}' already exists in this backend; its migration "
        f"({migrations}) may already have run on a database and will not be rewritten, "
        "and its generated files are kept with any hand edits",
        hint=hint,
        code="resource_exists",
        resource=saved.name,
        details={
            "migrations": list(saved.migrations),
            "fields": list(saved.fields),
            "requested_fields": list(tokens),
            "field_commands": list(FIELD_COMMANDS),
            "commands": commands,
        },
    )


def field_commands(saved: SavedResource, tokens: list[str]) -> list[str]:
    """The field commands from the saved fields to `tokens` (none if they do not parse)."""
    try:
        wanted = {field.name: field for field in parse_fields(tokens)}
        have = {field.name: field for field in parse_fields(saved.fields, saved=True)}
    except SpecError:
        return []
    added = [field.token or field.to_token() for name, field in wanted.items() if name not in have]
    changed = [
        field.token or field.to_token()
        for name, field in wanted.items()
        if name in have and field != have[name]
    ]
    removed = [name for name in have if name not in wanted]
    commands = [f"backend-builder generate field {saved.name} {' '.join(added)}"] if added else []
    commands += [f"backend-builder change field {saved.name} {token}" for token in changed]
    if removed:
        commands.append(f"backend-builder remove field {saved.name} {' '.join(removed)}")
    if added and removed:
        commands.append(
            f"(if a field was renamed, `backend-builder rename field {saved.name} OLD NEW` "
            "instead keeps its data)"
        )
    return commands


def _check_owners(manifest: Manifest, name: str, created: dict[str, str]) -> None:
    """Refuse to write over a file that the backend or another resource generated."""
    for path in created:
        owner = manifest.owner(path)
        if owner is not None and owner != name:
            raise BuilderError(
                f"{path} was generated for {owner}; it is not replaced",
                hint="choose another resource name",
                code="path_owned",
                path=path,
                resource=name,
            )


def _spec(
    manifest: Manifest, name: str, tokens: list[str] | None, layers: tuple[str, ...]
) -> ResourceSpec:
    try:
        if tokens is not None:
            if not tokens:
                raise BuilderError(
                    f"give '{name}' at least one field, e.g. title:str",
                    hint="see `backend-builder generate resource --help` for the field language",
                    code="no_fields",
                    resource=name,
                )
            return ResourceSpec.parse(name, tokens)
        class_name = parse_names(name).class_name
    except SpecError as error:
        raise BuilderError(
            str(error), code="invalid_spec", token=_offending(error, tokens)
        ) from error
    saved = manifest.resource(class_name)
    if saved is None or "model" not in saved.layers:
        known = ", ".join(r.name for r in manifest.resources) or "none yet"
        raise BuilderError(
            f"no model '{class_name}' was generated in this backend (known: {known})",
            hint=f"create it first: backend-builder generate model {class_name} FIELD...",
            code="unknown_resource",
            resource=class_name,
        )
    return saved_spec(saved)


def saved_spec(saved: SavedResource) -> ResourceSpec:
    """The spec of a generated resource, parsed again from the field tokens it was saved with."""
    try:
        return ResourceSpec.parse(saved.name, list(saved.fields), saved=True)
    except SpecError as error:
        raise BuilderError(
            f"{MANIFEST}: resource {saved.name}: {error}",
            code="manifest_invalid",
            resource=saved.name,
        ) from error


def _offending(error: SpecError, tokens: list[str] | None) -> str | None:
    """The token a spec error quotes, if it quotes one of `tokens`."""
    message = str(error)
    return next((token for token in tokens or () if repr(token) in message), None)


def _ref_targets(
    manifest: Manifest, spec: ResourceSpec, layers: tuple[str, ...]
) -> dict[str, RefTarget]:
    targets: dict[str, RefTarget] = {}
    for field in spec.refs:
        token = field.token or field.name
        if field.targets_users:
            targets[field.name] = USERS
            continue
        target = str(field.ref_target)
        if target == spec.names.class_name:
            if not field.optional:
                raise BuilderError(
                    f"'{token}': a {target} that must refer to another "
                    f"{target} can never be created first",
                    hint=f"make it optional: {field.name}:ref:{target}:optional",
                    code="invalid_ref",
                    token=token,
                    field=field.name,
                )
            targets[field.name] = ref_target_of(spec.names, is_self=True)
            continue
        saved = manifest.resource(target)
        if saved is None:
            known = ", ".join(r.name for r in manifest.resources) or "none yet"
            raise BuilderError(
                f"'{token}' refers to '{target}', which does not exist "
                f"in this backend (resources: {known})",
                hint=f"generate it first: backend-builder generate resource {target} FIELD...",
                code="unknown_ref_target",
                token=token,
                field=field.name,
                resource=target,
            )
        if "tests" in layers and "tests" not in saved.layers:
            raise BuilderError(
                f"'{token}' refers to '{target}', which has no endpoints; "
                "the generated tests create it through the API",
                hint=f"run: backend-builder generate endpoint {target}",
                code="ref_target_without_endpoints",
                token=token,
                field=field.name,
                resource=target,
            )
        targets[field.name] = ref_target_of(parse_names(target))
    return targets


def _no_migration(saved: SavedResource | None) -> tuple[str, str, str]:
    """The context's revision when no migration is written: the resource's last, if any."""
    last = saved.migrations[-1] if saved is not None and saved.migrations else ""
    return last, "", ""


def _new_migration(root: Path, names: Names) -> tuple[str, str, str]:
    """Revision, parent revision and path of a new migration creating `names.table`."""
    return next_migration(root, f"create_{names.table}", names.table)


def _imports(context: dict[str, Any]) -> dict[str, str]:
    """The import block of every generated module."""
    names = context["names"]
    fields = context["fields"]
    snake, cls = names.snake, names.class_name
    has_refs = bool(context["ref_fields"])

    model = Imports().add("sqlalchemy.orm", "Mapped")
    model.add("app.models.base", "Base", "ProjectScoped")
    schema = Imports().add("uuid").add("datetime", "datetime").add("typing", "Literal")
    schema.add("app.schemas.base", "InputSchema", "ListParams", "OutputSchema", "UpdateSchema")
    schema.add("app.schemas.base", "sort_order").add("pydantic.json_schema", "SkipJsonSchema")
    for field in fields:
        for module, name in field.model_imports:
            model.add(module, *([name] if name else []))
        for module, name in field.schema_imports:
            schema.add(module, *([name] if name else []))
    for arg in context["table_args"]:
        model.add("sqlalchemy", arg.split("(", 1)[0])

    service = Imports().add("uuid").add("app.core.sql", "Connection")
    service.add("app.core.errors", "NotFound").add("app.core.tenancy", "ProjectScope")
    service.add("app.repositories.base", "Page", "SortOrder")
    service.add(f"app.repositories.{snake}_repo", f"{cls}Repository")
    service.add(
        f"app.schemas.{snake}",
        f"{cls}Create",
        f"{cls}ListParams",
        f"{cls}Response",
        f"{cls}Update",
    )
    if has_refs:
        service.add("typing", "Any").add("app.core.errors", "InvalidReference")
    for target in context["ref_targets"]:
        service.add(f"app.repositories.{target.snake}_repo", f"{target.class_name}Repository")
    if context["user_refs"]:
        service.add("app.repositories.tenant_repo", "is_member")

    router = Imports().add("uuid").add("typing", "Annotated")
    router.add("fastapi", "APIRouter", "Query", "Request", "Response", "status")
    router.add("app.api.deps", "AdminScope", "ConnectionDep", "ReaderScope", "WriterScope")
    router.add("app.api.responses", "NEXT_PAGE", "json_response", "next_page_link")
    router.add("app.core.errors", "error_responses")
    router.add("app.repositories.base", "InvalidCursor")
    for error in {name for names in context["errors"].values() for name in names}:
        if error not in (f"{cls}NotFound", "InvalidCursor"):
            router.add("app.core.errors", error)
    router.add(
        f"app.schemas.{snake}",
        f"{cls}Create",
        f"{cls}ListParams",
        f"{cls}Response",
        f"{cls}Update",
    )
    router.add(f"app.services.{snake}_service", f"{cls}NotFound", f"{cls}Service")

    # The expressions rendered into the test module, for the imports they need.
    expressions = [
        *(field.sample_expr for field in context["fields"]),
        *(field.alternative_expr for field in context["sort_fields"]),
        *(field.foreign_expr for field in context["ref_fields"]),
        *(field.alternative_expr for field in context["resource_refs"]),
        context["update_field"].alternative_expr,
    ]
    if context["filter_field"] is not None:
        expressions.append(context["filter_field"].alternative_expr)
    tests = Imports().add("typing", "Any").add("fastapi.testclient", "TestClient")
    if any("uuid." in expression for expression in expressions):
        tests.add("uuid")
    if any("timedelta(" in expression for expression in expressions):
        tests.add("datetime", "timedelta")
    if any("(date(" in expression for expression in expressions):
        tests.add("datetime", "date")
    if any("(datetime(" in expression for expression in expressions):
        tests.add("datetime", "UTC", "datetime")
    if context["text_fields"] or context["json_fields"]:
        tests.add("json")
    if context["json_fields"]:
        tests.add("httpx").add("app.schemas.base", "JSON_MAX_BYTES", "JSON_MAX_DEPTH")
    if context["unique_fields"]:
        tests.add("app.tests.conftest", "concurrently")
    tests.add(f"app.schemas.{snake}", f"{cls}Create", f"{cls}Response", f"{cls}Update")
    tests.add(f"app.repositories.{snake}_repo", f"{cls}Repository")
    tests.add("app.tests.conftest", "TestUser")
    tests.add(
        "app.tests.contract",
        "ClientContract",
        "CreateContract",
        "DeleteContract",
        "GetContract",
        "ListContract",
        "Resource",
        "UpdateContract",
    )
    if context["user_refs"]:
        tests.add("app.tests.contract", "MakeMember")
    for target in context["ref_targets"]:
        module = f"app.tests.{target.tests_module}"
        if any(f"{target.constant}.referenced(" in expression for expression in expressions):
            tests.add(module, target.constant)
        if any(f"create_{target.snake}(" in expression for expression in expressions):
            tests.add(module, f"create_{target.snake}")

    return {
        "model": model.render(),
        "schema": schema.render(),
        "service": service.render(),
        "router": router.render(),
        "tests": tests.render(),
    }
