"""The `backend-builder` command line."""

from pathlib import Path
from typing import Annotated

import typer

from backend_builder import __version__
from backend_builder.console import console, show_error, show_json, show_next_steps, show_plan
from backend_builder.errors import BuilderError
from backend_builder.plan import Plan, apply_plan
from backend_builder.project import plan_new

app = typer.Typer(
    help="Build multi-tenant FastAPI backends: every resource scoped to a project, "
    "behind JWT auth, with tests and migrations.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)

DryRun = Annotated[bool, typer.Option("--dry-run", "-n", help="Show the plan; write nothing.")]
Force = Annotated[bool, typer.Option("--force", "-f", help="Overwrite existing files.")]
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


def _execute(plan: Plan, *, dry_run: bool, as_json: bool) -> None:
    """Show a plan, then write it unless this is a dry run."""
    if as_json:
        if not dry_run:
            apply_plan(plan)
        show_json({**plan.to_dict(), "dry_run": dry_run})
        return
    show_plan(plan, dry_run=dry_run)
    if plan.conflicts:
        raise BuilderError(
            f"{len(plan.conflicts)} file(s) already exist with other content; "
            "nothing was written",
            hint="review them with --dry-run, then pass --force to overwrite",
        )
    if not dry_run:
        apply_plan(plan)


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
        show_error(error)
        raise typer.Exit(1) from None
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
