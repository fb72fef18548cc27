"""The `backend-builder` command line."""

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
import typer.core
import typer.exceptions
import typer.rich_utils
from rich.markup import escape
from rich.text import Text

from backend_builder import __version__
from backend_builder.console import (
    console,
    show_destruction,
    show_error,
    show_json,
    show_next_steps,
    show_plan,
    show_status,
)
from backend_builder.errors import BuilderError
from backend_builder.plan import Plan, apply_plan
from backend_builder.project import plan_new
from backend_builder.resource.generate import (
    ALL_LAYERS,
    ENDPOINT_LAYERS,
    MODEL_LAYERS,
    plan_generate,
)

if TYPE_CHECKING:
    from backend_builder.merge import Merge
    from backend_builder.resource.evolve import Evolution


class _VerbatimText(Text):
    """Help text whose `:name:` pairs stay as typed.

    Rich turns `:email:` into an emoji by default, so the example
    `email:email:optional` would read `email✉optional`; help shows fields verbatim.
    """

    @classmethod
    def from_markup(cls, text: str, **options: Any) -> Text:
        """Parse markup (`[bold]...[/]`) and nothing else."""
        return super().from_markup(text, **{**options, "emoji": False})


typer.rich_utils.Text = _VerbatimText
_display_type = typer.core.TyperOption.display_type_rich


def _no_type_for_flags(option: typer.core.TyperOption, ctx: Any) -> str | None:
    """A flag takes no value, so help shows none (typer would show `<bool>`)."""
    return None if option.is_flag else _display_type(option, ctx)


typer.core.TyperOption.display_type_rich = _no_type_for_flags  # type: ignore[method-assign]


class _Commands(typer.core.TyperGroup):
    """The command line: with --json, a mistake in the command line is a JSON error too."""

    def main(self, args: Any = None, *rest: Any, **options: Any) -> Any:
        arguments = sys.argv[1:] if args is None else list(args)
        if "--json" not in arguments or options.get("standalone_mode") is False:
            return super().main(args, *rest, **options)
        try:
            result = super().main(arguments, *rest, **{**options, "standalone_mode": False})
        except typer.exceptions.TyperException as error:  # click's, as typer vendors it
            context = getattr(error, "ctx", None)
            command = context.command_path if context else "backend-builder"
            show_error(
                BuilderError(
                    error.format_message(),
                    hint=f"{command} --help lists its arguments and options",
                    code="usage_error",
                ),
                as_json=True,
            )
            raise SystemExit(error.exit_code) from None
        except typer.Abort:
            raise SystemExit(1) from None
        raise SystemExit(result if isinstance(result, int) else 0)


app = typer.Typer(
    cls=_Commands,
    help="Build multi-tenant FastAPI backends: every resource scoped to a project, "
    "behind JWT auth, with tests and migrations.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)

DryRun = Annotated[bool, typer.Option("--dry-run", "-n", help="Show the plan; write nothing.")]
Force = Annotated[
    bool,
    typer.Option(
        "--force",
        "-f",
        help="Overwrite existing files that backend-builder did not generate. Never "
        "regenerates an existing resource or rewrites a migration.",
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def _version(value: bool) -> None:
    if value:
        console.print(f"backend-builder {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Build multi-tenant FastAPI backends."""
    try:
        Path.cwd()
    except FileNotFoundError:
        _fail(
            BuilderError(
                "the current directory no longer exists",
                hint="cd to a directory that exists (the backend's, or --path's parent)",
                code="no_working_directory",
            ),
            as_json="--json" in sys.argv[1:],
        )


# Hints that name this command line's options, for the errors whose remedy is one.
_OPTION_HINTS = {
    "confirmation_needed": "pass --yes to confirm that this data may be lost "
    "(on a terminal, the command asks instead)",
    "merge_conflict": "rerun with --conflict-markers, then edit the marked hunks "
    "(yours / generated before / generated now)",
}


def _fail(error: BuilderError, as_json: bool) -> NoReturn:
    """Report `error` (as JSON on stdout with --json) and exit with status 1."""
    error.hint = _OPTION_HINTS.get(error.code, error.hint)
    show_error(error, as_json=as_json)
    raise typer.Exit(1)


def _execute(
    plan: Plan, *, dry_run: bool, as_json: bool, summary: dict[str, Any] | None = None
) -> None:
    """Write a plan unless this is a dry run, then show it (as text or JSON).

    The work comes first, so that output that cannot be shown never stops it. A
    plan with conflicts is an error (exit code 1), in a dry run too.
    """
    if plan.conflicts:
        if not as_json:
            show_plan(plan, dry_run=dry_run)
        raise BuilderError(
            f"{len(plan.conflicts)} file(s) already exist with other content; "
            "nothing was written",
            hint="review them with --dry-run, then pass --force to overwrite",
            code="conflict",
            details={"paths": [op.path for op in plan.conflicts]},
        )
    if as_json:
        if not dry_run:
            apply_plan(plan)
        show_json({**(summary or plan.to_dict()), "dry_run": dry_run})
        return
    if not dry_run:
        apply_plan(plan)
    show_plan(plan, dry_run=dry_run)


@app.command(
    epilog="[bold]Examples[/]\n\n"
    "  backend-builder new my-api\n\n"
    "  backend-builder new my-api --database postgresql\n\n"
    "  backend-builder new my-api --dry-run"
)
def new(
    path: Annotated[Path, typer.Argument(help="Directory to create the backend in.")],
    database: Annotated[
        str, typer.Option("--database", "-d", help="sqlite (embedded) or postgresql.")
    ] = "sqlite",
    force: Force = False,
    dry_run: DryRun = False,
    as_json: Json = False,
) -> None:
    """Create a backend: users, projects (the tenants), memberships, JWT auth, tests."""
    try:
        plan = plan_new(path, database=database, force=force)
        _execute(plan, dry_run=dry_run, as_json=as_json)
    except BuilderError as error:
        _fail(error, as_json)
    if not dry_run and not as_json:
        console.print(f"\n[bold green]Created[/] a {database} backend in [bold]{path}[/].")
        show_next_steps(
            f"cd {path}",
            "python -m venv .venv && . .venv/bin/activate && pip install -e '.[dev]'",
            "make test",
            "make run   # then open http://127.0.0.1:8000/docs",
            "backend-builder generate resource Asset name:str description:text:optional",
        )


@app.command(
    epilog="[bold]Examples[/]\n\n"
    "  backend-builder demo\n\n"
    "  backend-builder demo --path /tmp/demo --port 8080"
)
def demo(
    path: Annotated[Path, typer.Option(help="Where the demo backend lives.")] = Path("demo"),
    host: Annotated[str, typer.Option(help="Interface to serve on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8000,
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the API after seeding it.")
    ] = True,
) -> None:
    """Generate (or reuse) a demo backend on SQLite, seed a user and serve it."""
    from backend_builder.demo import run_demo

    try:
        run_demo(path, host=host, port=port, serve=serve)
    except BuilderError as error:
        show_error(error)
        raise typer.Exit(1) from None


@app.command(
    epilog="[bold]Examples[/]\n\n"
    "  backend-builder status\n\n"
    "  backend-builder status --path my-api\n\n"
    "  backend-builder status --json | jq '.resources[].files[] | select(.state != \"generated\")'"
    "\n\n"
    "Exit code 0 when the backend matches its manifest (edited files are listed, and fine), "
    "1 when a generated file or a migration is missing or the migration chain is broken."
)
def status(
    path: Annotated[
        Path, typer.Option("--path", "-p", help="The backend (default: the current directory).")
    ] = Path("."),
    as_json: Json = False,
) -> None:
    """Resources and fields; each generated file as generated, edited or missing; migrations."""
    from backend_builder.status import backend_status

    try:
        report = backend_status(path)
    except BuilderError as error:
        _fail(error, as_json)
    if as_json:
        show_json(report.to_dict())
    else:
        show_status(report)
    if not report.consistent:
        raise typer.Exit(1)


generate_app = typer.Typer(
    help="Generate a resource, a model, the endpoints of a model, or fields of a resource.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
app.add_typer(generate_app, name="generate")

FIELD_LANGUAGE = (
    "[bold]Fields[/] are name:type[:modifier...], shell-safe (no quotes needed).\n\n"
    "Types: str, text, int, bigint, float, decimal (12,2; decimal:10,2 to choose), bool, "
    "date, datetime, uuid, json, email, url, enum:a,b,c, ref (customer:ref points to "
    "Customer; user:ref and owner:ref:users to a member of the project).\n\n"
    "Modifiers: optional, unique (within a project), index, default=VALUE.\n\n"
)
Fields = Annotated[
    list[str] | None,
    typer.Argument(help="Fields as name:type[:modifier...]", show_default=False),
]
Name = Annotated[str, typer.Argument(help="Singular name, CamelCase or snake_case.")]
PathOption = Annotated[
    Path, typer.Option("--path", "-p", help="The backend (default: the current directory).")
]


def _generate(
    name: str,
    fields: list[str] | None,
    layers: tuple[str, ...],
    *,
    path: Path,
    force: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    try:
        generation = plan_generate(path, name, fields, layers=layers, force=force)
        _execute(generation.plan, dry_run=dry_run, as_json=as_json, summary=generation.to_dict())
    except BuilderError as error:
        _fail(error, as_json)
    if not dry_run and not as_json:
        names = generation.spec.names
        console.print(f"\n[bold green]Generated[/] {names.class_name} ({', '.join(layers)}).")
        show_next_steps(*generation.next_steps)


@generate_app.command(
    epilog=FIELD_LANGUAGE + "[bold]Examples[/]\n\n"
    "  backend-builder generate resource Notification title:str message:text:optional "
    "read:bool:default=false user:ref\n\n"
    "  backend-builder generate resource Customer name:str email:email:optional\n\n"
    "  backend-builder generate resource Invoice number:str:unique amount:decimal "
    "status:enum:draft,sent,paid:default=draft due_on:date:optional customer:ref\n\n"
    "  backend-builder generate resource Asset name:str --dry-run"
)
def resource(
    name: Name,
    fields: Fields = None,
    path: PathOption = Path("."),
    force: Force = False,
    dry_run: DryRun = False,
    as_json: Json = False,
) -> None:
    """Model, schemas, repository, service, router, tests and migration, wired in."""
    _generate(
        name, fields or [], ALL_LAYERS, path=path, force=force, dry_run=dry_run, as_json=as_json
    )


@generate_app.command(
    epilog=FIELD_LANGUAGE + "[bold]Examples[/]\n\n"
    "  backend-builder generate model Asset name:str serial:str:unique\n\n"
    "  backend-builder generate endpoint Asset   # later, to expose it"
)
def model(
    name: Name,
    fields: Fields = None,
    path: PathOption = Path("."),
    force: Force = False,
    dry_run: DryRun = False,
    as_json: Json = False,
) -> None:
    """A model and its migration only; no endpoints."""
    _generate(
        name, fields or [], MODEL_LAYERS, path=path, force=force, dry_run=dry_run, as_json=as_json
    )


@generate_app.command(
    epilog="[bold]Examples[/]\n\n"
    "  backend-builder generate model Asset name:str\n\n"
    "  backend-builder generate endpoint Asset"
)
def endpoint(
    name: Name,
    path: PathOption = Path("."),
    force: Force = False,
    dry_run: DryRun = False,
    as_json: Json = False,
) -> None:
    """Schemas, repository, service, router and tests for a model generated earlier."""
    _generate(name, None, ENDPOINT_LAYERS, path=path, force=force, dry_run=dry_run, as_json=as_json)


# --------------------------------------------------------------------------
# Field commands: change a generated resource, with a new migration, keeping hand edits
# --------------------------------------------------------------------------

remove_app = typer.Typer(
    help="Remove fields of a resource.", no_args_is_help=True, rich_markup_mode="rich"
)
rename_app = typer.Typer(
    help="Rename a field of a resource.", no_args_is_help=True, rich_markup_mode="rich"
)
change_app = typer.Typer(
    help="Change a field of a resource.", no_args_is_help=True, rich_markup_mode="rich"
)
app.add_typer(remove_app, name="remove")
app.add_typer(rename_app, name="rename")
app.add_typer(change_app, name="change")

Markers = Annotated[
    bool,
    typer.Option(
        "--conflict-markers",
        help="When a hand edit conflicts with the generated change, write the file with "
        "conflict markers (yours / generated before / generated now) instead of refusing.",
    ),
]
Resource = Annotated[str, typer.Argument(help="The resource, e.g. Invoice.")]
MERGE_NOTE = (
    "Every generated file of the resource is re-rendered and merged three-way with your "
    "edits; a conflict writes nothing unless --conflict-markers is given. A new migration "
    "is written; no existing migration is changed."
)


def _interactive() -> bool:
    """Whether a person can answer a question (stdin is a terminal)."""
    return sys.stdin.isatty()


def _confirm(plan: Plan, question: str, refusal: BuilderError, *, as_json: bool) -> None:
    """Ask before a plan that loses data: on a terminal show it and ask, else refuse."""
    if as_json or not _interactive():
        raise refusal
    show_plan(plan, dry_run=True)
    if not typer.confirm(question, default=False):
        raise refusal


def _evolve(
    planner: Callable[[], "Evolution"],
    *,
    dry_run: bool,
    as_json: bool,
    yes: bool = False,
) -> None:
    """Plan a field change, confirm a data loss, show and apply it, report what is next."""
    from backend_builder.resource.evolve import data_loss_error

    try:
        evolution = planner()
        if evolution.data_loss and not dry_run and not yes:
            lost = ", ".join(evolution.data_loss)
            _confirm(
                evolution.plan,
                f"Drop {lost} and the data they hold?",
                data_loss_error(evolution),
                as_json=as_json,
            )
        _execute(evolution.plan, dry_run=dry_run, as_json=as_json, summary=evolution.to_dict())
    except BuilderError as error:
        _fail(error, as_json)
    if as_json:
        if evolution.conflicts:
            raise typer.Exit(1)
        return
    for mention in evolution.mentions:
        console.print(
            f"  [yellow]check[/]  {mention.path}:{mention.line}: your code still names "
            f"'{mention.name}': {escape(mention.text)}"
        )
    _show_merges(evolution.merged, evolution.conflicts, dry_run=dry_run)
    if not dry_run:
        console.print(f"\n[bold green]Changed[/] {evolution.resource} ({evolution.command}).")
        show_next_steps(*evolution.next_steps)


@generate_app.command(
    "field",
    epilog=FIELD_LANGUAGE + MERGE_NOTE + "\n\n[bold]Examples[/]\n\n"
    "  backend-builder generate field Invoice paid_on:date:optional\n\n"
    "  backend-builder generate field Invoice priority:int:default=0 --dry-run\n\n"
    "A required field needs default=VALUE: existing rows get it.",
)
def field(
    resource_name: Resource,
    fields: Annotated[list[str], typer.Argument(help="Fields as name:type[:modifier...]")],
    path: PathOption = Path("."),
    markers: Markers = False,
    dry_run: DryRun = False,
    as_json: Json = False,
) -> None:
    """Add fields to a resource: every layer, its tests, and an add-column migration."""
    from backend_builder.resource.evolve import plan_add_fields

    _evolve(
        lambda: plan_add_fields(path, resource_name, fields, markers=markers),
        dry_run=dry_run,
        as_json=as_json,
    )


@remove_app.command(
    "field",
    epilog=MERGE_NOTE + "\n\n[bold]Examples[/]\n\n"
    "  backend-builder remove field Invoice paid_on\n\n"
    "  backend-builder remove field Invoice paid_on due_on --yes\n\n"
    "The columns' data is lost: the command asks on a terminal, and needs --yes otherwise. "
    "The migration's downgrade adds the columns back (empty).",
)
def remove_field(
    resource_name: Resource,
    names: Annotated[list[str], typer.Argument(help="Names of the fields to remove.")],
    path: PathOption = Path("."),
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Drop the columns and their data without asking.")
    ] = False,
    markers: Markers = False,
    dry_run: DryRun = False,
    as_json: Json = False,
) -> None:
    """Remove fields from a resource: every layer, and a drop-column migration."""
    from backend_builder.resource.evolve import plan_remove_fields

    _evolve(
        lambda: plan_remove_fields(path, resource_name, names, markers=markers),
        dry_run=dry_run,
        as_json=as_json,
        yes=yes,
    )


@rename_app.command(
    "field",
    epilog=MERGE_NOTE + "\n\n[bold]Examples[/]\n\n"
    "  backend-builder rename field Invoice number reference",
)
def rename_field(
    resource_name: Resource,
    old: Annotated[str, typer.Argument(help="The field's name now.")],
    new: Annotated[str, typer.Argument(help="Its new name.")],
    path: PathOption = Path("."),
    markers: Markers = False,
    dry_run: DryRun = False,
    as_json: Json = False,
) -> None:
    """Rename a field in every layer; the migration renames the column and keeps its data."""
    from backend_builder.resource.evolve import plan_rename_field

    _evolve(
        lambda: plan_rename_field(path, resource_name, old, new, markers=markers),
        dry_run=dry_run,
        as_json=as_json,
    )


def _replacements(values: list[str]) -> dict[str, str]:
    """`--replace OLD=NEW` options as a mapping; a malformed one is a clear error."""
    pairs: dict[str, str] = {}
    for value in values:
        old, equals, new = value.partition("=")
        if not equals or not old or not new:
            raise BuilderError(
                f"--replace {value!r}: expected OLD=NEW, such as sent=paid",
                hint="one --replace per enum value that the change drops",
                code="invalid_replace",
            )
        if old in pairs:
            raise BuilderError(
                f"--replace {old}=... is given twice: {old}={pairs[old]} and {value}",
                hint="give each dropped value one replacement",
                code="invalid_replace",
            )
        pairs[old] = new
    return pairs


@change_app.command(
    "field",
    epilog=FIELD_LANGUAGE + MERGE_NOTE + "\n\n[bold]Examples[/]\n\n"
    "  backend-builder change field Invoice status:enum:draft,sent,paid,void:default=draft\n\n"
    "  backend-builder change field Invoice status:enum:draft,paid:default=draft "
    "--replace sent=paid\n\n"
    "  backend-builder change field Invoice due_on:date:default=2030-01-01   # now required\n\n"
    "  backend-builder change field Invoice number:str:unique:index\n\n"
    "The token is the whole new definition of the field. Changes that cannot keep the data "
    "(str to int, a narrower decimal) are refused; an enum value dropped needs --replace, "
    "which gives its rows another value.",
)
def change_field(
    resource_name: Resource,
    token: Annotated[str, typer.Argument(help="The field's new definition, name:type[:...].")],
    replace: Annotated[
        list[str] | None,
        typer.Option(
            "--replace",
            metavar="OLD=NEW",
            help="An enum value that the change drops, and the value its rows get instead "
            "(once per dropped value).",
        ),
    ] = None,
    path: PathOption = Path("."),
    markers: Markers = False,
    dry_run: DryRun = False,
    as_json: Json = False,
) -> None:
    """Change a field's type, modifiers or enum values in every layer, keeping its data."""
    from backend_builder.resource.evolve import plan_change_field

    def plan() -> "Evolution":
        return plan_change_field(
            path,
            resource_name,
            token,
            markers=markers,
            replacements=_replacements(replace or []),
        )

    _evolve(plan, dry_run=dry_run, as_json=as_json)


# --------------------------------------------------------------------------
# update: every generated file rendered again by this version, keeping hand edits
# --------------------------------------------------------------------------


def _show_merges(merged: tuple[str, ...], conflicts: tuple["Merge", ...], *, dry_run: bool) -> None:
    """List the files merged with hand edits and the conflicts; exit 1 if there are any
    (markers written, or in a dry run, to be written)."""
    for path in merged:
        console.print(f"  [cyan]merged[/]  {path}: your edits are kept")
    if conflicts:
        verb = "would write" if dry_run else "wrote"
        for merge in conflicts:
            lines = ", ".join(f"{hunk.start}-{hunk.end}" for hunk in merge.hunks)
            console.print(f"  [bold red]conflict[/]  {merge.path} (lines {lines})")
        console.print(
            f"\n[bold red]{verb} conflict markers[/] in {len(conflicts)} file(s): "
            "resolve them (then `ruff check --fix .` drops the imports that only the "
            "side you did not keep used), and run the tests."
        )
        raise typer.Exit(1)


@app.command(
    epilog="[bold]Examples[/]\n\n"
    "  backend-builder update --dry-run   # after an upgrade: the plan, with diffs\n\n"
    "  backend-builder update\n\n"
    "  backend-builder update --conflict-markers   # then resolve the marked hunks\n\n"
    "Every file backend-builder generated (the backend's and each resource's) is "
    "rendered again with this version's templates and the specs saved in "
    "backend-builder.toml, and merged three-way with your edits, the stored base copy "
    "(.backend-builder/base/) being the common ancestor: a file you did not touch is "
    "replaced, a clean merge is written, a conflict writes nothing unless "
    "--conflict-markers is given (exit code 1 either way). Migrations and .env are never "
    "rendered again. A file of a new template is created; a file no template produces "
    "any more is left in place and reported. A backend whose manifest predates base "
    "copies (format 1) is merged against an empty base: any difference from the new "
    "rendering is a conflict, so that no edit is lost silently.",
)
def update(
    path: PathOption = Path("."),
    markers: Markers = False,
    dry_run: DryRun = False,
    as_json: Json = False,
) -> None:
    """Render every generated file again with this version's templates, keeping your edits."""
    from backend_builder.update import plan_update

    try:
        result = plan_update(path, markers=markers)
        changes = Plan(result.plan.root, result.plan.changes)  # unchanged files: counted
        _execute(changes, dry_run=dry_run, as_json=as_json, summary=result.to_dict())
    except BuilderError as error:
        _fail(error, as_json)
    if as_json:
        if result.conflicts:
            raise typer.Exit(1)
        return
    for obsolete in result.obsolete:
        console.print(f"  [yellow]obsolete[/]  {obsolete}: no longer generated; left in place")
    console.print(f"  [dim]{len(result.unchanged)} generated file(s) unchanged[/]")
    _show_merges(result.merged, result.conflicts, dry_run=dry_run)
    if dry_run:
        return
    if not result.plan.changes:
        console.print(f"\n[bold green]Up to date[/] with backend-builder {result.to_version}.")
        return
    versions = (
        f"from backend-builder {result.from_version} to {result.to_version}"
        if result.from_version != result.to_version
        else f"to backend-builder {result.to_version}'s templates"
    )
    console.print(f"\n[bold green]Updated[/] {versions}.")
    show_next_steps(*result.next_steps)


destroy_app = typer.Typer(
    help="Remove what `generate` made, keeping the migration history.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
app.add_typer(destroy_app, name="destroy")


@destroy_app.command(
    "resource",
    epilog="[bold]Examples[/]\n\n"
    "  backend-builder destroy resource Invoice --dry-run\n\n"
    "  backend-builder destroy resource Invoice\n\n"
    "  backend-builder destroy resource Invoice --yes     # in a script\n\n"
    "  backend-builder destroy resource Invoice --force   # its edited files too\n\n"
    "Its create migration is kept (it may have run on a database): a new migration drops "
    "the table, and its downgrade creates it again. The table's rows are lost when that "
    "migration runs: the command asks on a terminal, and needs --yes otherwise. A resource "
    "that another one refers to is not destroyed.",
)
def destroy_resource(
    name: Name,
    path: PathOption = Path("."),
    force: Annotated[
        bool,
        typer.Option("--force", "-f", help="Also delete generated files that were edited since."),
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Drop the table and its rows without asking.")
    ] = False,
    dry_run: DryRun = False,
    as_json: Json = False,
) -> None:
    """Delete a resource's files and wiring; a new migration drops its table."""
    from backend_builder.resource.destroy import confirmation_error, plan_destroy

    try:
        destruction = plan_destroy(path, name, force=force)
        if not dry_run and not yes:
            _confirm(
                destruction.plan,
                f"Drop the table {destruction.table} and its rows?",
                confirmation_error(destruction),
                as_json=as_json,
            )
        _execute(destruction.plan, dry_run=dry_run, as_json=as_json, summary=destruction.to_dict())
    except BuilderError as error:
        if error.code == "files_edited":
            error.hint = "keep what you need from them, then run it again with --force"
        _fail(error, as_json)
    if not as_json:
        show_destruction(destruction, dry_run=dry_run)


@app.command(
    epilog="[bold]Register it with an MCP client[/] (a JSON config entry):\n\n"
    '  {"mcpServers": {"backend-builder": {"command": "backend-builder", '
    '"args": ["mcp", "--path", "/abs/path/to/my-api"]}}}\n\n'
    "It speaks MCP over stdin and stdout until the client disconnects."
)
def mcp(path: PathOption = Path(".")) -> None:
    """Serve the backend's tools to coding agents: a Model Context Protocol server (stdio)."""
    from backend_builder.mcp_server import serve

    try:
        serve(path)
    except BuilderError as error:
        _fail(error, False)


# --------------------------------------------------------------------------
# check: linters, tenancy, migrations and tests of a backend
# --------------------------------------------------------------------------

Checks = Annotated[
    list[str] | None,
    typer.Option(
        help="Checks, comma-separated or repeated: lint, tenancy, migrations, tests.",
        show_default=False,
    ),
]


@app.command(
    epilog="[bold]Checks[/]\n\n"
    "  lint: ruff and black (check only), with the backend's configuration.\n\n"
    "  tenancy: the code read as syntax trees: models with project_id are project-scoped "
    "and distributable by project_id; every route of a tenant resource depends on the "
    "project scope; every query on a tenant table is confined to the project; every "
    "tenant table has row-level security forced (the migrations, and on PostgreSQL the "
    "catalog).\n\n"
    "  migrations: upgrade head, alembic check (no drift), downgrade base, upgrade head, "
    "on a scratch database.\n\n"
    "  tests: the backend's tests with coverage (the manifest's [backend] coverage, 90% "
    "by default), a process per core when pytest-xdist is installed (--workers).\n\n"
    "[bold]Examples[/]\n\n"
    "  backend-builder check\n\n"
    "  backend-builder check --only tenancy,lint\n\n"
    "  backend-builder check --skip tests --json\n\n"
    "  backend-builder check --workers 1\n\n"
    "  backend-builder check --database-url postgresql://postgres@127.0.0.1:5432/postgres\n\n"
    "Exit code 0 only when every check passes.",
)
def check(
    path: PathOption = Path("."),
    only: Checks = None,
    skip: Checks = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="A PostgreSQL server on which to create (and drop) scratch databases, "
            "and whose catalog the tenancy check reads. Default: a SQLite file for a "
            "SQLite backend, the local server (postgres@127.0.0.1:5432) for a PostgreSQL "
            "one.",
            show_default=False,
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            help="Processes that run the tests. Default: one per core when the backend's "
            "Python has pytest-xdist, as its make test runs them; else 1.",
            show_default=False,
        ),
    ] = None,
    as_json: Json = False,
) -> None:
    """Lint, tenancy, migrations and tests of a backend; exit 0 only when all pass."""
    from backend_builder.check import run_checks, select_checks
    from backend_builder.console import CheckProgress, show_check_report

    try:
        checks = select_checks(only or (), skip or ())
        if as_json:
            report = run_checks(path, checks=checks, database_url=database_url, workers=workers)
        else:
            with CheckProgress(checks) as progress:
                report = run_checks(
                    path,
                    checks=checks,
                    database_url=database_url,
                    reporter=progress,
                    workers=workers,
                )
    except BuilderError as error:
        _fail(error, as_json)
    if as_json:
        show_json(report.to_dict())
    else:
        show_check_report(report)
    if not report.passed:
        raise typer.Exit(1)
