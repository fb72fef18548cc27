"""`backend-builder generate`: plan every file of a resource, then write all or nothing."""

import ast
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backend_builder.errors import BuilderError
from backend_builder.manifest import MANIFEST, Manifest, SavedResource, find_root, load
from backend_builder.plan import Plan, plan_files
from backend_builder.render import format_python, render
from backend_builder.resource.context import USERS, RefTarget, ref_target_of, resource_context
from backend_builder.resource.imports import Imports
from backend_builder.resource.inject import CannotInject, register_model, register_router
from backend_builder.resource.spec import FieldType, ResourceSpec, SpecError, parse_names

MODEL_LAYERS = ("model", "migration")
ENDPOINT_LAYERS = ("schemas", "repository", "service", "router", "tests")
ALL_LAYERS = MODEL_LAYERS + ENDPOINT_LAYERS

ROUTER_MODULE = "app/api/v1/api.py"
MODELS_MODULE = "app/models/__init__.py"
VERSIONS = "alembic/versions"


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


def plan_generate(
    start: Path,
    name: str,
    tokens: list[str] | None,
    *,
    layers: tuple[str, ...],
    force: bool = False,
) -> Generation:
    """Plan generating `layers` of resource `name` in the backend at or above `start`."""
    root = find_root(start)
    manifest = load(root)
    spec = _spec(manifest, name, tokens, layers)
    saved = manifest.resource(spec.names.class_name)
    if saved is not None and tokens is not None and not force:
        raise BuilderError(
            f"resource '{spec.names.class_name}' already exists in this backend",
            hint="pass --force to regenerate it from the new fields",
        )
    refs = _ref_targets(manifest, spec, layers)
    migration_path, revision, down_revision = _migration(root, spec.names.table)
    context = resource_context(spec, refs, revision=revision, down_revision=down_revision)
    context["imports"] = _imports(context)
    names = spec.names
    outputs = {
        "model": (f"app/models/{names.snake}.py", "resource/model.py.jinja"),
        "migration": (migration_path, "resource/migration.py.jinja"),
        "schemas": (f"app/schemas/{names.snake}.py", "resource/schema.py.jinja"),
        "repository": (f"app/repositories/{names.snake}_repo.py", "resource/repository.py.jinja"),
        "service": (f"app/services/{names.snake}_service.py", "resource/service.py.jinja"),
        "router": (
            f"app/api/v1/endpoints/{names.plural_snake}.py",
            "resource/router.py.jinja",
        ),
        "tests": (f"app/tests/test_{names.plural_snake}.py", "resource/tests.py.jinja"),
    }
    created = {outputs[layer][0]: render(outputs[layer][1], context) for layer in layers}
    all_layers = tuple(
        layer for layer in ALL_LAYERS if layer in layers or (saved and layer in saved.layers)
    )
    modified = _wiring(root, spec, layers)
    resource = SavedResource(names.class_name, tuple(f.to_token() for f in spec.fields), all_layers)
    modified[MANIFEST] = manifest.with_resource(resource).dumps()
    plan = plan_files(root, created, modified, force=force)
    steps = ["alembic upgrade head"] if "migration" in layers else []
    if "tests" in layers:
        steps.append(f"pytest app/tests/test_{names.plural_snake}.py")
    if "router" in layers:
        steps.append(f"open http://127.0.0.1:8000/docs#/{names.kebab_plural}")
    return Generation(plan, spec, layers, tuple(steps))


def _spec(
    manifest: Manifest, name: str, tokens: list[str] | None, layers: tuple[str, ...]
) -> ResourceSpec:
    try:
        if tokens is not None:
            if not tokens:
                raise BuilderError(
                    f"give '{name}' at least one field, e.g. title:str",
                    hint="see `backend-builder generate resource --help` for the field language",
                )
            return ResourceSpec.parse(name, tokens)
        class_name = parse_names(name).class_name
    except SpecError as error:
        raise BuilderError(str(error)) from error
    saved = manifest.resource(class_name)
    if saved is None or "model" not in saved.layers:
        known = ", ".join(r.name for r in manifest.resources) or "none yet"
        raise BuilderError(
            f"no model '{class_name}' was generated in this backend (known: {known})",
            hint=f"create it first: backend-builder generate model {class_name} FIELD...",
        )
    try:
        return ResourceSpec.parse(class_name, list(saved.fields))
    except SpecError as error:
        raise BuilderError(f"{MANIFEST}: resource {class_name}: {error}") from error


def _ref_targets(
    manifest: Manifest, spec: ResourceSpec, layers: tuple[str, ...]
) -> dict[str, RefTarget]:
    targets: dict[str, RefTarget] = {}
    for field in spec.refs:
        if field.targets_users:
            targets[field.name] = USERS
            continue
        target = str(field.ref_target)
        if target == spec.names.class_name:
            if not field.optional:
                raise BuilderError(
                    f"'{field.token or field.name}': a {target} that must refer to another "
                    f"{target} can never be created first",
                    hint=f"make it optional: {field.name}:ref:{target}:optional",
                )
            targets[field.name] = ref_target_of(spec.names, is_self=True)
            continue
        saved = manifest.resource(target)
        if saved is None:
            known = ", ".join(r.name for r in manifest.resources) or "none yet"
            raise BuilderError(
                f"'{field.token or field.name}' refers to '{target}', which does not exist "
                f"in this backend (resources: {known})",
                hint=f"generate it first: backend-builder generate resource {target} FIELD...",
            )
        if "tests" in layers and "tests" not in saved.layers:
            raise BuilderError(
                f"'{field.token or field.name}' refers to '{target}', which has no endpoints; "
                "the generated tests create it through the API",
                hint=f"run: backend-builder generate endpoint {target}",
            )
        targets[field.name] = ref_target_of(parse_names(target))
    return targets


def _revisions(root: Path) -> dict[str, tuple[str | None, Path]]:
    """Every migration in the backend: revision -> (down_revision, path)."""
    found: dict[str, tuple[str | None, Path]] = {}
    for path in sorted((root / VERSIONS).glob("*.py")):
        values: dict[str, Any] = {}
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except SyntaxError as error:
            raise BuilderError(f"cannot parse migration {path}: {error}") from error
        for node in tree.body:
            target = node.target if isinstance(node, ast.AnnAssign) else None
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
            if isinstance(target, ast.Name) and node.value is not None:  # type: ignore[union-attr]
                try:
                    values[target.id] = ast.literal_eval(node.value)  # type: ignore[union-attr]
                except ValueError:
                    continue
        if isinstance(values.get("revision"), str):
            found[values["revision"]] = (values.get("down_revision"), path)
    return found


def _migration(root: Path, table: str) -> tuple[str, str, str]:
    """Path, revision and parent revision of the migration that creates `table`."""
    revisions = _revisions(root)
    suffix = f"_create_{table}.py"
    for revision, (down, path) in revisions.items():
        if path.name.endswith(suffix) and isinstance(down, str):
            return path.relative_to(root).as_posix(), revision, down
    parents = {down for down, _ in revisions.values()}
    heads = [revision for revision in revisions if revision not in parents]
    if len(heads) != 1:
        raise BuilderError(
            f"the migrations in {VERSIONS} have {len(heads)} heads ({', '.join(heads)}); "
            "expected exactly one",
            hint="merge them with `alembic merge heads` first",
        )
    number = len(revisions) + 1
    revision = f"{number:04d}_{table}"[:32]
    return f"{VERSIONS}/{number:04d}{suffix}", revision, heads[0]


def _wiring(root: Path, spec: ResourceSpec, layers: tuple[str, ...]) -> dict[str, str]:
    """Edits of existing modules: register the model and the router."""
    names = spec.names
    modified: dict[str, str] = {}
    try:
        if "model" in layers:
            source = (root / MODELS_MODULE).read_text(encoding="utf-8")
            modified[MODELS_MODULE] = format_python(
                register_model(source, names.snake, [names.class_name], MODELS_MODULE)
            )
        if "router" in layers:
            source = (root / ROUTER_MODULE).read_text(encoding="utf-8")
            modified[ROUTER_MODULE] = format_python(
                register_router(
                    source,
                    names.plural_snake,
                    f"/{names.kebab_plural}",
                    names.kebab_plural,
                    ROUTER_MODULE,
                )
            )
    except CannotInject as error:
        raise BuilderError(str(error)) from error
    except OSError as error:
        raise BuilderError(f"cannot read a module to wire the resource in: {error}") from error
    return modified


def _imports(context: dict[str, Any]) -> dict[str, str]:
    """The import block of every generated module."""
    names = context["names"]
    fields = context["fields"]
    types = {field.type for field in fields}
    defaults = " ".join(field.column_args for field in fields)
    snake, cls = names.snake, names.class_name
    enums = [field.enum_class for field in context["enum_fields"]]
    has_refs = bool(context["ref_fields"])

    model = Imports().add("sqlalchemy.orm", "Mapped")
    model.add("app.models.base", "Base", "ProjectScoped")
    if enums:
        model.add("enum").add("app.models.base", "enum_values").add("sqlalchemy", "Enum")
    if types & {FieldType.UUID.value, FieldType.REF.value}:
        model.add("uuid")
    if FieldType.DATE.value in types or "date.fromisoformat" in defaults:
        model.add("datetime", "date")
    if FieldType.DATETIME.value in types or "datetime.fromisoformat" in defaults:
        model.add("datetime", "datetime")
    if FieldType.DECIMAL.value in types:
        model.add("decimal", "Decimal").add("sqlalchemy", "Numeric")
    if FieldType.JSON.value in types:
        model.add("typing", "Any").add("sqlalchemy", "JSON")
    if types & {FieldType.STR.value, FieldType.EMAIL.value, FieldType.URL.value}:
        model.add("sqlalchemy", "String")
    if FieldType.TEXT.value in types:
        model.add("sqlalchemy", "Text")
    if FieldType.BIGINT.value in types:
        model.add("sqlalchemy", "BigInteger")
    if FieldType.FLOAT.value in types:
        model.add("sqlalchemy", "Float")
    if any(field.column_args for field in fields):
        model.add("sqlalchemy.orm", "mapped_column")
    for arg in context["table_args"]:
        model.add("sqlalchemy", arg.split("(", 1)[0])

    schema = Imports().add("uuid").add("datetime", "datetime").add("typing", "Literal")
    schema.add("app.schemas.base", "InputSchema", "ListParams", "OutputSchema", "UpdateSchema")
    annotations = " ".join(
        f"{field.schema_annotation} {field.schema_default} {field.filter_annotation}"
        for field in fields
    )
    used = set(re.findall(r"\b\w+\b", annotations))
    for word, module in (
        ("Annotated", "typing"),
        ("StringConstraints", "pydantic"),
        ("Field", "pydantic"),
        ("Strict", "pydantic"),
        ("StrictBool", "pydantic"),
        ("EmailStr", "pydantic"),
        ("IsoDate", "app.schemas.base"),
        ("IsoDateTime", "app.schemas.base"),
        ("JsonObject", "app.schemas.base"),
        ("QueryInt", "app.schemas.base"),
        ("QueryBool", "app.schemas.base"),
    ):
        if word in used:
            schema.add(module, word)
    if FieldType.DATE.value in types or "date.fromisoformat" in annotations:
        schema.add("datetime", "date")
    if FieldType.DECIMAL.value in types:
        schema.add("decimal", "Decimal")
    if FieldType.JSON.value in types:
        schema.add("typing", "Any")
    if enums:
        schema.add(f"app.models.{snake}", *enums)

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
    router.add("app.api.responses", "json_response", "next_page_link")
    router.add(
        "app.core.errors",
        "Conflict",
        "NoCurrentProject",
        "NotAuthenticated",
        "PermissionDenied",
        "error_responses",
    )
    router.add(
        f"app.schemas.{snake}",
        f"{cls}Create",
        f"{cls}ListParams",
        f"{cls}Response",
        f"{cls}Update",
    )
    router.add(f"app.services.{snake}_service", f"{cls}NotFound", f"{cls}Service")

    tests = Imports().add("base64").add("json").add("uuid").add("httpx")
    tests.add("collections.abc", "Callable")
    tests.add("app.repositories.base", "cursor_signature")
    if FieldType.JSON.value in types:
        tests.add("app.schemas.base", "JSON_MAX_BYTES", "JSON_MAX_DEPTH")
    if context["unique_fields"]:
        tests.add("app.tests.conftest", "concurrently", "requires_postgres")
    tests.add("typing", "Any").add("fastapi.testclient", "TestClient")
    tests.add(f"app.schemas.{snake}", f"{cls}Response", f"{cls}Update")
    tests.add("app.tests.conftest", "SCOPED_REQUEST_STATEMENTS", "TestUser", "count_statements")
    for target in context["ref_targets"]:
        tests.add(f"app.tests.{target.tests_module}", f"create_{target.snake}")

    return {
        "model": model.render(),
        "schema": schema.render(),
        "service": service.render(),
        "router": router.render(),
        "tests": tests.render(),
    }
