"""Coloured output: plans, errors and next steps."""

import json
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.syntax import Syntax

from backend_builder.errors import BuilderError
from backend_builder.plan import Action, Plan

console = Console(highlight=False, emoji=False)
errors = Console(stderr=True, highlight=False, emoji=False)

_STYLES = {
    Action.CREATE: "green",
    Action.OVERWRITE: "yellow",
    Action.MODIFY: "cyan",
    Action.IDENTICAL: "dim",
    Action.CONFLICT: "bold red",
}


def show_plan(plan: Plan, *, dry_run: bool, diffs: bool = True) -> None:
    """List every file of the plan with its action; with diffs for changed files."""
    if dry_run:
        console.print("[bold yellow]Dry run:[/] nothing is written.")
    for op in plan.ops:
        style = _STYLES[op.action]
        console.print(f"  [{style}]{op.action:>9}[/]  {op.path}")
        if dry_run and diffs and op.previous is not None and op.action is not Action.IDENTICAL:
            console.print(Syntax(op.diff(), "diff", theme="ansi_dark", background_color="default"))


def show_error(error: BuilderError) -> None:
    """Print a user-facing error (and its hint) on stderr."""
    # Soft wrap: a message is never broken inside a path or a token.
    errors.print(f"[bold red]error:[/] {escape(error.message)}", soft_wrap=True)
    if error.hint:
        errors.print(f"[dim]hint:[/] {escape(error.hint)}", soft_wrap=True)


def show_json(data: dict[str, Any]) -> None:
    """Print machine-readable output."""
    console.print_json(json.dumps(data))


def show_next_steps(*steps: str) -> None:
    """Print the commands to run next."""
    console.print("\n[bold]Next:[/]")
    for step in steps:
        console.print(f"  [cyan]{escape(step)}[/]")
