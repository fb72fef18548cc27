"""`backend-builder mcp`: a Model Context Protocol server over stdio, for coding agents.

Built on the official `mcp` SDK (`MCPServer`); it holds no protocol code. Every
tool calls the same core as the command line and returns its structured result:
a plan with its diffs and its hash, or a structured error (`{"error": {...}}`,
with `is_error` set) and nothing written.

Changes can be made in one step (`generate_resource`, `add_field`, ...) or in two:
`plan` returns the plan and its hash, and `apply_plan` writes exactly that plan,
refusing if any file it read changed since. The server serves one backend, the
one at or above the directory it was started in (`--path`).

Arguments that do not fit a tool's input schema come back as the same structured error
(code `invalid_arguments`), not as the SDK's plain text: see `_Server`.
"""

import difflib
import json
import re
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, cast

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import (
    ResourceError,
    ResourceNotFoundError,
    ToolError,
    UnexpectedToolError,
)
from mcp.shared.exceptions import MCPError
from mcp_types import (
    INVALID_PARAMS,
    CallToolResult,
    GetPromptResult,
    InputRequiredResult,
    TextContent,
    ToolAnnotations,
)
from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError, model_validator

from backend_builder.errors import BuilderError
from backend_builder.manifest import MANIFEST, Manifest, find_root, load
from backend_builder.migrations import Revision, read_revisions
from backend_builder.plan import Plan, apply_plan, plan_hash
from backend_builder.resource.layers import url_prefix
from backend_builder.resource.spec import (
    DEFAULT_DECIMAL_PRECISION,
    DEFAULT_DECIMAL_SCALE,
    FieldType,
    ResourceSpec,
    SpecError,
    parse_fields,
)

INSTRUCTIONS = """\
backend-builder generates and evolves a multi-tenant FastAPI backend: every resource is
scoped to a project (the tenant), with a model, schemas, repository, service, router,
tests and an Alembic migration. Use these tools instead of writing such files by hand.
Start with describe_project. Every change tool takes dry_run=true to see the plan (files
and diffs) first; or call plan, show it, then apply_plan with its plan_hash. After a
change, run `alembic upgrade head` in the backend, then the check tool.
"""


_MODIFIER_WORDS = frozenset({"optional", "unique", "index"})

NAME_MAX_LENGTH = 100
"""The longest name an argument may hold (tables and columns hold 63 characters): an
argument that is not a name is refused by the schema, and not echoed in an error."""
TOKEN_MAX_LENGTH = 2000
"""The longest field definition (`name:type:...`), an enum's values included."""
ResourceName = Annotated[
    str,
    Field(
        min_length=1, max_length=NAME_MAX_LENGTH, description="the resource, singular, e.g. Invoice"
    ),
]
FieldName = Annotated[str, Field(min_length=1, max_length=NAME_MAX_LENGTH)]


class FieldInput(BaseModel):
    """One field, as a structured object (the same as the `name:type:modifier` strings)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        min_length=1,
        max_length=NAME_MAX_LENGTH,
        description="snake_case name, e.g. due_on (a ref `customer` is customer_id)",
    )
    type: Literal[
        "str",
        "text",
        "int",
        "bigint",
        "float",
        "decimal",
        "bool",
        "date",
        "datetime",
        "uuid",
        "json",
        "email",
        "url",
        "enum",
        "ref",
    ]
    values: list[str] | None = Field(None, description="enum values, e.g. [draft, sent]")
    target: str | None = Field(
        None, description="ref target: a resource (Customer) or `users` (a project member)"
    )
    precision: int | None = Field(None, description="decimal: total digits (default 12)")
    scale: int | None = Field(None, description="decimal: digits after the point (default 2)")
    optional: StrictBool = False
    unique: StrictBool = Field(False, description="unique within a project")
    index: StrictBool = False
    default: str | int | float | bool | None = Field(
        None, description="default value; existing rows get it when the field is added"
    )

    @model_validator(mode="after")
    def _written_as_it_reads(self) -> "FieldInput":
        """Refuse values that the field language would read as more than they are (a
        default `a:unique` would also make the field unique)."""
        for key, kind in (("values", "enum"), ("target", "ref"), ("precision", "decimal")):
            if getattr(self, key) is not None and self.type != kind:
                raise ValueError(f"{key} is for {kind} fields, not {self.type} ones")
        if self.scale is not None and self.type != "decimal":
            raise ValueError(f"scale is for decimal fields, not {self.type} ones")
        for part in (self.name, self.target or "", *(self.values or ())):
            if ":" in part or "," in part:
                raise ValueError(f"{part!r}: names, targets and enum values hold no ':' or ','")
        if isinstance(self.default, str):
            for word in self.default.split(":")[1:]:
                if word in _MODIFIER_WORDS or word.startswith("default="):
                    raise ValueError(
                        f"default {self.default!r}: ':{word}' would be read as a modifier"
                    )
        return self

    def to_token(self) -> str:
        """The field language token of this field."""
        parts = [self.name, self.type]
        if self.type == FieldType.ENUM and self.values:
            parts.append(",".join(self.values))
        if self.type == FieldType.DECIMAL and (self.precision, self.scale) != (None, None):
            precision = DEFAULT_DECIMAL_PRECISION if self.precision is None else self.precision
            scale = DEFAULT_DECIMAL_SCALE if self.scale is None else self.scale
            parts.append(f"{precision},{scale}")
        if self.type == FieldType.REF and self.target:
            parts.append(self.target)
        parts.extend(flag for flag in ("optional", "unique", "index") if getattr(self, flag))
        if self.default is not None:
            value = self.default
            parts.append(f"default={str(value).lower() if isinstance(value, bool) else value}")
        return ":".join(parts)


FieldArg = Annotated[
    Annotated[str, Field(min_length=1, max_length=TOKEN_MAX_LENGTH)] | FieldInput,
    Field(
        description="`name:type[:argument][:modifier...]` or an object. Types: str, text, "
        "int, bigint, float, decimal (decimal:10,2), bool, date, datetime, uuid, json, email, "
        "url, enum (status:enum:draft,sent), ref (customer:ref, buyer:ref:Customer, "
        "owner:ref:users). Modifiers: optional, unique, index, default=VALUE. E.g. "
        "`total:decimal:10,2:default=0`"
    ),
]
DryRun = Annotated[StrictBool, Field(description="return the plan and its diffs; write nothing")]
ConfirmDataLoss = Annotated[
    StrictBool, Field(description="true: the change may drop data (columns, a table)")
]
ConflictMarkers = Annotated[
    StrictBool,
    Field(
        description="where a hand edit conflicts with the change, write the file with "
        "conflict markers (<<<<<<< yours, ||||||| generated before, >>>>>>> generated now) "
        "for you to resolve, instead of refusing"
    ),
]


def _tokens(fields: list[str | FieldInput]) -> list[str]:
    return [field if isinstance(field, str) else field.to_token() for field in fields]


class Change(BaseModel):
    """A change to plan, for `plan`: its kind and the arguments of that kind's tool."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal[
        "generate_resource",
        "generate_model",
        "generate_endpoint",
        "add_field",
        "remove_field",
        "rename_field",
        "change_field",
        "destroy_resource",
        "update",
    ]
    resource: ResourceName | None = None
    fields: list[FieldArg] = Field(
        default_factory=list,
        description="generate_resource, generate_model, add_field: the fields; change_field: "
        "the one field's new definition",
    )
    names: list[FieldName] = Field(default_factory=list, description="remove_field: field names")
    old: FieldName | None = Field(None, description="rename_field: the field's name now")
    new: FieldName | None = Field(None, description="rename_field: its new name")
    replace: dict[FieldName, FieldName] = Field(
        default_factory=dict,
        description="change_field: for each enum value the change drops, the value its "
        "rows get instead, e.g. {sent: paid}",
    )
    force: StrictBool = Field(False, description="destroy_resource: also delete edited files")
    conflict_markers: StrictBool = Field(
        False,
        description="field changes and update: write a conflicting merge with conflict "
        "markers instead of refusing",
    )


@dataclass(frozen=True)
class Planned:
    """A planned change: its plan, its JSON summary, and, if it loses data, the refusal
    to give unless that is confirmed."""

    plan: Plan
    summary: dict[str, Any]
    refusal: BuilderError | None = None


def _require(value: str | None, what: str) -> str:
    if not value:
        raise BuilderError(f"this change needs {what}", code="missing_argument", field=what)
    return value


_KIND_ARGUMENTS = {
    "generate_resource": {"resource", "fields"},
    "generate_model": {"resource", "fields"},
    "generate_endpoint": {"resource"},
    "add_field": {"resource", "fields", "conflict_markers"},
    "remove_field": {"resource", "names", "conflict_markers"},
    "rename_field": {"resource", "old", "new", "conflict_markers"},
    "change_field": {"resource", "fields", "replace", "conflict_markers"},
    "destroy_resource": {"resource", "force"},
    "update": {"conflict_markers"},
}
"""What each kind of change takes, besides its kind."""


def plan_change(root: Path, change: Change) -> Planned:
    """Plan any change (nothing is written)."""
    allowed = _KIND_ARGUMENTS[change.kind]
    extra = sorted(change.model_fields_set - allowed - {"kind"})
    if extra:
        raise BuilderError(
            f"{change.kind} does not take {', '.join(extra)}",
            hint=f"{change.kind} takes {', '.join(sorted(allowed))}",
            code="invalid_arguments",
            field=extra[0],
        )
    from backend_builder.resource import evolve
    from backend_builder.resource.destroy import confirmation_error, plan_destroy
    from backend_builder.resource.generate import (
        ALL_LAYERS,
        ENDPOINT_LAYERS,
        MODEL_LAYERS,
        plan_generate,
    )
    from backend_builder.update import plan_update

    kind = change.kind
    markers = change.conflict_markers
    if kind == "update":
        update = plan_update(root, markers=markers)
        return Planned(update.plan, update.to_dict())
    resource = _require(change.resource, "resource")
    tokens = _tokens(list(change.fields))
    if kind in ("generate_resource", "generate_model", "generate_endpoint"):
        layers = {
            "generate_resource": ALL_LAYERS,
            "generate_model": MODEL_LAYERS,
            "generate_endpoint": ENDPOINT_LAYERS,
        }[kind]
        fields = None if kind == "generate_endpoint" else tokens
        generation = plan_generate(root, resource, fields, layers=layers)
        return Planned(generation.plan, generation.to_dict())
    if kind == "destroy_resource":
        destruction = plan_destroy(root, resource, force=change.force)
        return Planned(destruction.plan, destruction.to_dict(), confirmation_error(destruction))
    if kind == "add_field":
        evolution = evolve.plan_add_fields(root, resource, tokens, markers=markers)
    elif kind == "remove_field":
        names = list(change.names)
        evolution = evolve.plan_remove_fields(root, resource, names, markers=markers)
    elif kind == "rename_field":
        old, new = _require(change.old, "old"), _require(change.new, "new")
        evolution = evolve.plan_rename_field(root, resource, old, new, markers=markers)
    else:
        if len(tokens) != 1:
            raise BuilderError(
                "change_field takes exactly one field: its whole new definition",
                code="missing_argument",
                field="fields",
            )
        evolution = evolve.plan_change_field(
            root, resource, tokens[0], markers=markers, replacements=change.replace
        )
    refusal = evolve.data_loss_error(evolution) if evolution.data_loss else None
    return Planned(evolution.plan, evolution.to_dict(), refusal)


def _described(plan: Plan, summary: dict[str, Any]) -> dict[str, Any]:
    """The summary with the plan's hash and every change (with its diff, for a file that
    exists); files left as they are are only counted."""
    return {
        **{key: value for key, value in summary.items() if key != "files"},
        "plan_hash": plan_hash(plan),
        "changes": [op.to_dict() for op in plan.changes],
        "unchanged": len(plan.ops) - len(plan.changes),
    }


def describe(root: Path) -> dict[str, Any]:
    """The backend: its resources (fields, refs, routes) and its migrations."""
    manifest = load(root)
    revisions = read_revisions(root)
    return {
        "root": str(root),
        "name": manifest.name,
        "database": manifest.database,
        "generator_version": manifest.generator_version,
        "resources": describe_resources(manifest),
        "migrations": sorted(revisions),
        "pending_migrations": _pending(root, revisions),
    }


def describe_resources(manifest: Manifest) -> list[dict[str, Any]]:
    """Each resource in the manifest: its fields, refs, routes, migrations and files."""
    resources = []
    for saved in manifest.resources:
        try:
            spec = ResourceSpec(saved.resolved_names, parse_fields(saved.fields, saved=True))
        except SpecError as error:
            raise BuilderError(
                f"{MANIFEST}: resource {saved.name}: {error}", code="manifest_invalid"
            ) from error
        names = spec.names
        prefix = f"/api/v1{url_prefix(names)}"
        routes = (
            [
                f"GET {prefix}/",
                f"POST {prefix}/",
                f"GET {prefix}/{{id}}",
                f"PUT {prefix}/{{id}}",
                f"PATCH {prefix}/{{id}}",
                f"DELETE {prefix}/{{id}}",
            ]
            if "router" in saved.layers
            else []
        )
        resources.append(
            {
                "name": saved.name,
                "table": names.table,
                "fields": [field.to_dict() for field in spec.fields],
                "tokens": list(saved.fields),
                "refs": {field.name: field.ref_target for field in spec.refs},
                "layers": list(saved.layers),
                "routes": routes,
                "migrations": list(saved.migrations),
                "files": [record.path for record in saved.files],
            }
        )
    return resources


# `alembic current`, in the backend, unless its database is a SQLite file not made yet:
# connecting would create it, and reading the backend must not write to it.
_CURRENT = """\
import sys
from pathlib import Path

from alembic.config import main
from sqlalchemy.engine import make_url

from app.core.config import Settings

settings = Settings()
url = make_url(getattr(settings, "migration_database_url", "") or settings.database_url)
if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
    if not Path(url.database).exists():
        print("no database file", url.database)
        sys.exit(0)
main(argv=["current"], prog="alembic")
"""
_NO_DATABASE_FILE = "no database file "


def _pending(root: Path, revisions: dict[str, Revision]) -> dict[str, Any]:
    """The migrations not applied yet to the backend's configured database, if it answers."""
    try:
        result = subprocess.run(
            [sys.executable, "-c", _CURRENT],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return {"known": False, "reason": str(error)}
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        return {"known": False, "reason": lines[-1] if lines else "alembic current failed"}
    if result.stdout.startswith(_NO_DATABASE_FILE):
        return {"known": True, "current": [], "pending": sorted(revisions)}
    current = {word for line in result.stdout.splitlines() for word in line.split()[:1]}
    applied: set[str] = set()
    pending_from = [r for r in current if r in revisions]
    while pending_from:  # every ancestor of the current revision is applied
        revision = pending_from.pop()
        if revision not in applied:
            applied.add(revision)
            pending_from.extend(revisions[revision].down_revisions)
    return {"known": True, "current": sorted(current), "pending": sorted(set(revisions) - applied)}


def _result(data: dict[str, Any]) -> CallToolResult:
    return CallToolResult(
        content=[TextContent(type="text", text=json.dumps(data, indent=1, default=str))],
        structured_content=data,
    )


# Hints for the errors whose remedy differs here from the command line's.
_TOOL_HINTS = {
    "merge_conflict": "edit the files so that the change applies to them (details.files "
    "holds each conflicting hunk: its lines in your file and in the new rendering), then call "
    "again; or call it again with conflict_markers=true and resolve the marked hunks",
}


# The command line's commands, as a hint names them, and the tools that do the same.
_COMMANDS = re.compile(
    r"`?(?:backend-builder )?\b(generate resource|generate model|generate endpoint|"
    r"generate field|remove field|rename field|change field|destroy resource)\b( --help)?`?"
    r"|`?backend-builder (update|status|check)`?|\bthe (update|status|check) command\b"
)
_TOOLS = {"generate field": "add_field"}
_REPLACE_OPTIONS = re.compile(r"(?: --replace \w+=\w+)+")
"""`change field`'s `--replace OLD=NEW` options, which are change_field's `replace`."""


def _in_tool_terms(hint: str) -> str:
    """A hint that names command-line commands, naming the tools instead
    (`backend-builder remove field Contact phone` -> `remove_field Contact phone`)."""

    def tool(match: re.Match[str]) -> str:
        command, help_asked, alone, described = match.groups()
        if alone:
            return alone
        if described:
            return f"the {described} tool"
        name = _TOOLS.get(command, command.replace(" ", "_"))
        return f"the {name} tool's description" if help_asked else name

    def replace(match: re.Match[str]) -> str:
        pairs = re.findall(r"--replace (\w+)=(\w+)", match.group(0))
        return " replace={" + ", ".join(f"{old}: {new}" for old, new in pairs) + "}"

    return _REPLACE_OPTIONS.sub(replace, _COMMANDS.sub(tool, hint))


def _error(error: BuilderError) -> CallToolResult:
    hint = _TOOL_HINTS.get(error.code, error.hint)
    error.hint = _in_tool_terms(hint) if hint else hint
    data = {"error": error.to_dict()}
    return CallToolResult(
        content=[TextContent(type="text", text=json.dumps(data, indent=1))],
        structured_content=data,
        is_error=True,
    )


def _location(loc: tuple[int | str, ...], arguments: dict[str, Any], missing: bool) -> str:
    """A pydantic error's location as a path into the arguments (`fields[0].type`).

    The parts that do not lead into the arguments are left out: pydantic names the member
    of a union that it tried (`str`, `FieldInput`), which is no part of what was sent.
    Only the last part of a missing value's location is not in the arguments.
    """
    path, value = "", cast(Any, arguments)  # a JSON value: dicts, lists and scalars
    for index, part in enumerate(loc):
        if isinstance(part, int) and isinstance(value, list) and 0 <= part < len(value):
            path, value = f"{path}[{part}]", value[part]
        elif isinstance(value, dict) and (part in value or (missing and index == len(loc) - 1)):
            path, value = f"{path}.{part}" if path else str(part), value.get(part)
    return path


def invalid_arguments(
    tool: str,
    schema: dict[str, Any],
    arguments: dict[str, Any],
    error: ValidationError | None = None,
) -> BuilderError:
    """The structured error for arguments that fail a tool's input schema (`schema`):
    each bad argument with what is wrong with it (`error`'s, and those the tool does not
    take), and the tool's parameters."""
    found: list[tuple[str, str, str]] = []  # (location, message, pydantic's error type)
    items = error.errors(include_url=False, include_input=False) if error else []
    for item in items:
        missing = item["type"] == "missing"
        message = "missing (it is required)" if missing else item["msg"]
        found.append((_location(item["loc"], arguments, missing), message, item["type"]))
    # Where a value fits a union member better than another (an object given for a
    # `str | FieldInput`), only the errors inside the member it was meant for are kept.
    found = [
        (where, message, kind)
        for where, message, kind in found
        if not (
            kind.endswith("_type")
            and any(other.startswith((f"{where}.", f"{where}[")) for other, _, _ in found)
        )
    ]
    problems: dict[str, list[str]] = {}
    for where, message, _ in found:
        problems.setdefault(where, []).append(message)
    parameters = list(schema.get("properties", {}))
    required = [name for name in parameters if name in schema.get("required", [])]
    for name in arguments:
        if name not in parameters:
            problems.setdefault(name, []).append("no such parameter")
    for name in required:
        if name not in arguments and name not in problems:
            problems[name] = ["missing (it is required)"]
    optional = [name for name in parameters if name not in required]
    takes = ", ".join(
        part
        for part in (
            required and f"{', '.join(required)} (required)",
            optional and f"{', '.join(optional)} (optional)",
        )
        if part
    )
    return BuilderError(
        f"invalid arguments for {tool}: "
        + "; ".join(f"{where}: {' or '.join(messages)}" for where, messages in problems.items()),
        hint=f"call {tool} again with its parameters, as its input schema describes them: "
        + (takes or "none"),
        code="invalid_arguments",
        details={
            "tool": tool,
            "arguments": sorted({re.split(r"[.\[]", where, maxsplit=1)[0] for where in problems}),
            "errors": [
                {"location": where, "message": " or ".join(messages)}
                for where, messages in problems.items()
            ],
        },
    )


class _Server(MCPServer):
    """`MCPServer`, with the structured error for arguments that fail a tool's schema.

    The SDK (mcp 2.x) validates a call's arguments with pydantic before the tool runs and,
    when they do not fit, raises a `ToolError` caused by the `ValidationError`, which its
    `tools/call` handler turns into plain text (`Error executing tool ...`). The SDK has
    no hook for that text, and middleware sees only the text, so this overrides the public
    `MCPServer.call_tool`, which that handler calls: a `ToolError` caused by a
    `ValidationError` (the SDK's own test for a rejected argument) becomes the structured
    error, as `_error` makes it. An argument that the tool does not take, which the SDK
    would drop, is that error too (a misspelt `dry_run` would write). Everything else,
    including every tool's input schema, is the SDK's. tests/test_mcp_errors.py checks
    that this still holds.
    """

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        tools = await self.list_tools()
        schema = next((tool.input_schema for tool in tools if tool.name == name), None)
        if schema is None:  # the structured error, as for arguments that do not fit
            return _error(_unknown("tool", name, [tool.name for tool in tools]))
        # The SDK drops arguments a tool does not take: `dryrun=true` would write.
        if set(arguments) - set(schema.get("properties", {})):
            return _error(invalid_arguments(name, schema, arguments))
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as error:
            cause = error.__cause__
            if isinstance(error, UnexpectedToolError) or not isinstance(cause, ValidationError):
                raise
            return _error(invalid_arguments(name, schema or {}, arguments, cause))

    async def get_prompt(
        self,
        name: str,
        arguments: dict[str, Any] | None = None,
        context: Context[Any, Any] | None = None,
    ) -> GetPromptResult | InputRequiredResult:
        """The SDK's, but an unknown prompt or a missing argument is invalid params
        naming what is wrong, not an internal error with a traceback on the server's
        stderr."""
        prompts = {prompt.name: prompt for prompt in await self.list_prompts()}
        prompt = prompts.get(name)
        if prompt is None:
            unknown = _unknown("prompt", name, list(prompts))
            raise MCPError(INVALID_PARAMS, f"{unknown.message} ({unknown.hint})")
        missing = [
            argument.name
            for argument in prompt.arguments or ()
            if argument.required and argument.name not in (arguments or {})
        ]
        if missing:
            raise MCPError(
                INVALID_PARAMS, f"prompt {name} needs the argument(s): {', '.join(missing)}"
            )
        return await super().get_prompt(name, arguments, context)


def _unknown(kind: str, name: str, known: list[str]) -> BuilderError:
    """The error for a tool or prompt that this server does not have."""
    close = difflib.get_close_matches(name, known, n=1)
    return BuilderError(
        f"no {kind} {name[:NAME_MAX_LENGTH]!r}" + (f": did you mean {close[0]}?" if close else ""),
        hint=f"the {kind}s are: {', '.join(sorted(known))}",
        code=f"unknown_{kind}",
    )


_READ_ONLY = ToolAnnotations(readOnlyHint=True, destructiveHint=False, openWorldHint=False)
_WRITES = ToolAnnotations(readOnlyHint=False, destructiveHint=False, openWorldHint=False)
_DESTRUCTIVE = ToolAnnotations(readOnlyHint=False, destructiveHint=True, openWorldHint=False)


def build_server(start: Path) -> MCPServer:
    """The MCP server of the backend at or above `start`."""
    root = find_root(start)
    server = _Server("backend-builder", instructions=INSTRUCTIONS)
    plans: dict[str, Planned] = {}
    applied: set[str] = set()
    # The SDK runs tools on worker threads, so calls may overlap: one change at a time,
    # planned on what the one before it wrote (two at once would both be applied, each
    # on the backend as it was before the other).
    one_at_a_time = threading.Lock()

    def run(change: Change, *, dry_run: bool, confirm: bool = False) -> CallToolResult:
        """Plan a change, and apply it unless this is a dry run."""
        with one_at_a_time:
            return _run(change, dry_run=dry_run, confirm=confirm)

    def _run(change: Change, *, dry_run: bool, confirm: bool) -> CallToolResult:
        try:
            planned = plan_change(root, change)
            plan = planned.plan
            if plan.conflicts:
                raise BuilderError(
                    f"{len(plan.conflicts)} file(s) exist that backend-builder did not "
                    "generate: " + ", ".join(op.path for op in plan.conflicts),
                    hint="move them away, or change the resource's name",
                    code="conflict",
                    details={"paths": [op.path for op in plan.conflicts]},
                )
            described = _described(plan, planned.summary)
            plans[described["plan_hash"]] = planned
            refusal = planned.refusal
            if refusal and not dry_run and not confirm:
                refusal.hint = (
                    "call again with confirm_data_loss=true, or apply_plan with this "
                    "plan_hash and confirm_data_loss=true"
                )
                refusal.details.update(described)
                raise refusal
            if not dry_run:
                apply_plan(plan)
                applied.add(described["plan_hash"])
            return _result({**described, "applied": not dry_run})
        except BuilderError as error:
            return _error(error)

    def tool(
        annotations: ToolAnnotations, description: str
    ) -> Callable[[Callable[..., CallToolResult]], Callable[..., CallToolResult]]:
        return server.tool(annotations=annotations, description=description)

    @tool(_READ_ONLY, "The backend: resources with fields, refs and routes; migrations.")
    def describe_project() -> CallToolResult:
        try:
            with one_at_a_time:
                return _result(describe(root))
        except BuilderError as error:
            return _error(error)

    @tool(
        _READ_ONLY,
        "Plan any change without writing: returns every file with its diff, and a "
        "plan_hash to pass to apply_plan.",
    )
    def plan(change: Change) -> CallToolResult:
        return run(change, dry_run=True)

    @server.tool(
        name="apply_plan",
        annotations=_DESTRUCTIVE,
        description="Write a plan returned by plan (or by a dry run), by its hash. Refused if "
        "any file the plan read has changed since: plan again. A plan that drops data (a "
        "removed field, a destroyed resource) needs confirm_data_loss=true.",
    )
    def apply_plan_by_hash(
        plan_hash: str, confirm_data_loss: ConfirmDataLoss = False
    ) -> CallToolResult:
        with one_at_a_time:
            return _apply(plan_hash, confirm_data_loss)

    def _apply(plan_hash: str, confirm_data_loss: bool) -> CallToolResult:
        planned = plans.get(plan_hash)
        if planned is None:
            done = plan_hash in applied
            return _error(
                BuilderError(
                    (
                        f"plan {plan_hash} was applied already"
                        if done
                        else f"no plan {plan_hash} was made by this server"
                    ),
                    hint=(
                        "describe_project shows the backend as it is now"
                        if done
                        else "call plan first, then pass its plan_hash"
                    ),
                    code="plan_applied" if done else "unknown_plan",
                    token=plan_hash,
                )
            )
        if planned.refusal is not None and not confirm_data_loss:
            refusal = planned.refusal
            refusal.hint = "apply_plan again with confirm_data_loss=true"
            return _error(refusal)
        try:
            apply_plan(planned.plan)
        except BuilderError as error:
            if error.code == "stale_plan":
                error.hint = "call plan again and apply the new plan_hash"
            return _error(error)
        del plans[plan_hash]
        applied.add(plan_hash)
        return _result({"plan_hash": plan_hash, "applied": True})

    @tool(
        _WRITES,
        "Generate a resource: model, migration, schemas, repository, service, router and "
        "tests, scoped to the project and wired in.",
    )
    def generate_resource(
        name: ResourceName,
        fields: list[FieldArg],
        dry_run: DryRun = False,
    ) -> CallToolResult:
        change = Change(kind="generate_resource", resource=name, fields=fields)
        return run(change, dry_run=dry_run)

    @tool(_WRITES, "Generate a model and its migration only (no endpoints).")
    def generate_model(
        name: ResourceName, fields: list[FieldArg], dry_run: DryRun = False
    ) -> CallToolResult:
        return run(Change(kind="generate_model", resource=name, fields=fields), dry_run=dry_run)

    @tool(_WRITES, "Generate the endpoints and tests of a model generated earlier.")
    def generate_endpoint(name: ResourceName, dry_run: DryRun = False) -> CallToolResult:
        return run(Change(kind="generate_endpoint", resource=name), dry_run=dry_run)

    @tool(
        _WRITES,
        "Add fields to a resource in every layer, with a new add-column migration. A "
        "required field needs a default (existing rows get it). Hand edits are kept.",
    )
    def add_field(
        resource: ResourceName,
        fields: list[FieldArg],
        dry_run: DryRun = False,
        conflict_markers: ConflictMarkers = False,
    ) -> CallToolResult:
        change = Change(
            kind="add_field", resource=resource, fields=fields, conflict_markers=conflict_markers
        )
        return run(change, dry_run=dry_run)

    @tool(
        _DESTRUCTIVE,
        "Remove fields from a resource, with a drop-column migration: the column data is "
        "lost, so it needs confirm_data_loss=true.",
    )
    def remove_field(
        resource: ResourceName,
        names: list[FieldName],
        confirm_data_loss: ConfirmDataLoss = False,
        dry_run: DryRun = False,
        conflict_markers: ConflictMarkers = False,
    ) -> CallToolResult:
        change = Change(
            kind="remove_field", resource=resource, names=names, conflict_markers=conflict_markers
        )
        return run(change, dry_run=dry_run, confirm=confirm_data_loss)

    @tool(_WRITES, "Rename a field in every layer; the migration renames the column (data kept).")
    def rename_field(
        resource: ResourceName,
        old: FieldName,
        new: FieldName,
        dry_run: DryRun = False,
        conflict_markers: ConflictMarkers = False,
    ) -> CallToolResult:
        change = Change(
            kind="rename_field",
            resource=resource,
            old=old,
            new=new,
            conflict_markers=conflict_markers,
        )
        return run(change, dry_run=dry_run)

    @tool(
        _WRITES,
        "Change a field's type, modifiers or enum values (give its whole new definition); "
        "the data is kept, and changes that would lose it are refused. An enum value dropped "
        "needs replace: the value its rows get instead.",
    )
    def change_field(
        resource: ResourceName,
        field: FieldArg,
        replace: Annotated[
            dict[FieldName, FieldName] | None,
            Field(
                description="for each enum value the change drops, the value its rows get "
                "instead, e.g. {sent: paid}"
            ),
        ] = None,
        dry_run: DryRun = False,
        conflict_markers: ConflictMarkers = False,
    ) -> CallToolResult:
        change = Change(
            kind="change_field",
            resource=resource,
            fields=[field],
            replace=replace or {},
            conflict_markers=conflict_markers,
        )
        return run(change, dry_run=dry_run)

    @tool(
        _DESTRUCTIVE,
        "Destroy a resource: delete its generated files, unwire it, and write a drop-table "
        "migration (its rows are lost when it runs, so it needs confirm_data_loss=true). "
        "Refused while another resource refers to it; edited files need force=true.",
    )
    def destroy_resource(
        name: ResourceName,
        force: StrictBool = False,
        confirm_data_loss: ConfirmDataLoss = False,
        dry_run: DryRun = False,
    ) -> CallToolResult:
        change = Change(kind="destroy_resource", resource=name, force=force)
        return run(change, dry_run=dry_run, confirm=confirm_data_loss)

    @tool(
        _WRITES,
        "Re-render every generated file with this backend-builder's templates, merged with "
        "hand edits (for a template fix to reach this backend).",
    )
    def update(
        dry_run: DryRun = False, conflict_markers: ConflictMarkers = False
    ) -> CallToolResult:
        return run(Change(kind="update", conflict_markers=conflict_markers), dry_run=dry_run)

    @tool(_READ_ONLY, "Each generated file: as generated, edited or missing; the migration chain.")
    def status() -> CallToolResult:
        from backend_builder.status import backend_status

        try:
            with one_at_a_time:
                return _result(backend_status(root).to_dict())
        except BuilderError as error:
            return _error(error)

    @tool(
        _READ_ONLY,
        "Check the backend: lint, tenancy (by reading the code), a migration round trip "
        "with drift detection, and its tests with coverage. Slow (minutes) with tests.",
    )
    def check(
        only: Annotated[
            list[Literal["lint", "tenancy", "migrations", "tests"]] | None,
            Field(description="run only these checks (default: all)"),
        ] = None,
        workers: Annotated[
            int | None,
            Field(
                ge=1,
                description="processes that run the tests (default: one per core when "
                "the backend has pytest-xdist; 1: one process)",
            ),
        ] = None,
    ) -> CallToolResult:
        from backend_builder.check import run_checks, select_checks

        try:
            report = run_checks(root, checks=select_checks(only or ()), workers=workers)
        except BuilderError as error:
            return _error(error)
        return _result(report.to_dict())

    @server.resource(
        "backend://manifest",
        name="manifest",
        description="backend-builder.toml: resources, fields, migrations, generated files",
        mime_type="application/toml",
    )
    def manifest() -> str:
        return (root / MANIFEST).read_text(encoding="utf-8")

    @server.resource(
        "backend://resources/{name}",
        name="resource",
        description="One resource's spec: fields, refs, routes, migrations, files (JSON)",
        mime_type="application/json",
    )
    def resource(name: str) -> str:
        # A ResourceError is reported to the client with its message (a not-found one as
        # invalid params), and logged without a traceback; anything else is a crash.
        try:
            resources = describe_resources(load(root))
        except BuilderError as error:
            raise ResourceError("; ".join(filter(None, (error.message, error.hint)))) from error
        found = next((r for r in resources if r["name"] == name), None)
        if found is None:
            known = ", ".join(r["name"] for r in resources)
            raise ResourceNotFoundError(
                f"no resource {name} in this backend; "
                + (f"its resources: {known}" if known else "it has no resources yet")
            )
        return json.dumps(found, indent=1)

    @server.prompt(
        name="add_resource",
        description="Add a resource to the backend with backend-builder, then migrate and check",
    )
    def add_resource(request: str) -> str:
        return ADD_RESOURCE.format(request=request)

    return server


ADD_RESOURCE = """\
Add this to the backend with backend-builder's tools, not by writing files: {request}

1. Call describe_project to see the resources, their fields and refs.
2. Choose the resource name (singular, CamelCase) and its fields. Types: str, text, int,
   bigint, float, decimal, bool, date, datetime, uuid, json, email, url, enum (values),
   ref (target: a resource, or users for a project member). Modifiers: optional, unique,
   index, default. A ref's target must exist first.
3. Call generate_resource with dry_run=true; read the plan and its diffs.
4. Call apply_plan with the plan_hash (or generate_resource again without dry_run).
5. In the backend, run `alembic upgrade head`.
6. Call check (only: ["lint", "tenancy", "migrations"] for a quick one, then all) and
   fix what it reports. To change the resource later, use add_field, rename_field,
   change_field or remove_field: never edit its migration.
"""


def serve(start: Path) -> None:
    """Run the server on stdio until the client disconnects."""
    build_server(start).run("stdio")
