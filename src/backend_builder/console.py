"""Coloured output: plans, errors, status and next steps."""

import json
import os
import sys
from collections import Counter
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.syntax import Syntax
from rich.table import Table

from backend_builder.errors import BuilderError
from backend_builder.manifest import BASE_DIR
from backend_builder.plan import Action, Plan
from backend_builder.resource.destroy import Destruction
from backend_builder.status import FileState, Status

if TYPE_CHECKING:  # imported by `check` alone, which imports the checks
    from backend_builder.check import CheckReport, CheckResult


class _Stdout:
    """Standard output whose reader may stop early (`backend-builder ... | head`).

    Printing never decides whether the work is done: once the reader has gone, the
    rest of the output is dropped and the command ends as its work did.
    """

    def write(self, text: str) -> int:
        """Write `text`, or drop it when the reader has gone."""
        try:
            return sys.stdout.write(text)
        except BrokenPipeError:
            _drop_stdout()
            return len(text)

    def flush(self) -> None:
        """Flush, or drop what is left when the reader has gone."""
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            _drop_stdout()

    def __getattr__(self, name: str) -> Any:
        return getattr(sys.stdout, name)


def _drop_stdout() -> None:
    """Point standard output at /dev/null (Python flushes it once more at exit)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


# Piped, tables are as wide as their contents need (up to 200 columns) rather than cut
# to 80, unless COLUMNS says otherwise.
_PIPED_WIDTH = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 200
console = Console(  # type: ignore[arg-type]
    file=_Stdout(), highlight=False, emoji=False, width=_PIPED_WIDTH
)
errors = Console(stderr=True, highlight=False, emoji=False)

_STYLES = {
    Action.CREATE: "green",
    Action.OVERWRITE: "yellow",
    Action.MODIFY: "cyan",
    Action.IDENTICAL: "dim",
    Action.CONFLICT: "bold red",
    Action.DELETE: "red",
}


_DIFFED = (Action.OVERWRITE, Action.MODIFY, Action.CONFLICT)  # a deletion is not shown whole


def show_plan(plan: Plan, *, dry_run: bool, diffs: bool = True) -> None:
    """List every file of the plan with its action; with diffs for changed files."""
    if dry_run:
        console.print("[bold yellow]Dry run:[/] nothing is written.")
    bases: Counter[Action] = Counter()
    for op in plan.ops:
        if op.path.startswith(BASE_DIR + "/"):
            bases[op.action] += 1  # base copies: one line per action, below
            continue
        style = _STYLES[op.action]
        console.print(f"  [{style}]{op.action:>9}[/]  {op.path}")
        if dry_run and diffs and op.previous is not None and op.action in _DIFFED:
            diff = op.diff()
            if console.is_terminal:
                console.print(
                    Syntax(
                        diff, "diff", theme="ansi_dark", background_color="default", word_wrap=True
                    )
                )
            else:  # piped: the unified diff as it is, a patch that applies
                console.out(diff, highlight=False, end="" if diff.endswith("\n") else "\n")
    for action, count in bases.items():
        console.print(f"  [{_STYLES[action]}]{action:>9}[/]  {BASE_DIR}/ ({count} base copies)")


def show_destruction(destruction: Destruction, *, dry_run: bool) -> None:
    """After a destroy's plan: files deleted with their edits, files already gone, what is next."""
    for item in destruction.edited:
        note = "deleted with its edits (--force)"
        console.print(f"  [bold yellow]{item.state:>9}[/]  {escape(item.path)}: {note}")
    for item in destruction.missing:
        console.print(f"  [dim]{item.state:>9}[/]  {escape(item.path)}: already gone")
    if dry_run:
        return
    kept = ", ".join(destruction.kept_migrations) or "none"
    console.print(
        f"\n[bold green]Destroyed[/] {destruction.resource}. Its migrations stay ({kept}); "
        f"{destruction.drop_migration.revision} drops its table."
    )
    show_next_steps(*destruction.next_steps)


def show_error(error: BuilderError, *, as_json: bool = False) -> None:
    """Print a user-facing error (and its hint) on stderr; as JSON on stdout if asked."""
    if as_json:
        show_json({"error": error.to_dict()})
        return
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


_STATE_STYLES = {
    FileState.GENERATED: "green",
    FileState.EDITED: "yellow",
    FileState.MISSING: "bold red",
    FileState.UNTRACKED: "dim",
}


def show_status(status: Status) -> None:
    """Print a backend's status: resources, files not as generated, migrations, problems."""
    console.print(
        f"[bold]{escape(status.name)}[/] ({status.database}) in {escape(str(status.root))}, "
        f"manifest format {status.manifest_format}, "
        f"generated by backend-builder {status.generator_version}"
    )
    resources = Table(title="Resources", title_justify="left", show_lines=False)
    for column in ("resource", "table", "fields", "migrations", "files"):
        resources.add_column(column, overflow="fold", no_wrap=column in ("resource", "table"))
    for resource in status.resources:
        states = Counter(f.state for f in resource.files)
        files = ", ".join(
            f"[{_STATE_STYLES[state]}]{states[state]} {state}[/]"
            for state in FileState
            if states[state]
        )
        resources.add_row(
            resource.name,
            resource.table,
            escape("\n".join(resource.fields)),
            "\n".join(resource.migrations) or "-",
            files or "-",
        )
    if status.resources:
        console.print(resources)
    else:
        console.print("No resources yet.")
    # Untracked files (from an old manifest) are only counted: all of them would be listed.
    changed = [f for f in status.all_files() if f.state in (FileState.EDITED, FileState.MISSING)]
    if changed:
        files = Table(title="Files not as generated", title_justify="left")
        for column in ("file", "owner", "state"):
            files.add_column(column)
        for item in changed:
            style = _STATE_STYLES[item.state]
            files.add_row(escape(item.path), item.owner, f"[{style}]{item.state}[/]")
        console.print(files)
    counts = status.counts()
    console.print(
        f"Files: {counts['generated']} as generated, {counts['edited']} edited, "
        f"{counts['missing']} missing, {counts['untracked']} untracked."
    )
    chain = " -> ".join(r.revision for r in status.migrations.chain) or "none"
    console.print(f"Migrations: {escape(chain)}")
    if len(status.migrations.heads) > 1:
        console.print(f"  [bold red]heads:[/] {', '.join(status.migrations.heads)}")
    if status.migrations.unrecorded:
        console.print(
            "  [dim]not from backend-builder:[/] " + ", ".join(status.migrations.unrecorded)
        )
    for note in status.notes:
        console.print(f"[dim]note:[/] {escape(note)}", soft_wrap=True)
    for problem in status.problems:
        console.print(f"[bold red]{problem.code}:[/] {escape(problem.message)}", soft_wrap=True)
        if problem.hint:
            console.print(f"  [dim]hint:[/] {escape(problem.hint)}", soft_wrap=True)
    if status.consistent:
        console.print("[bold green]Consistent[/] with the manifest.")
    else:
        console.print(f"[bold red]{len(status.problems)} problem(s)[/] against the manifest.")


# --------------------------------------------------------------------------
# `check`: a live line per check while it runs, then a table and the findings
# --------------------------------------------------------------------------

FINDINGS_SHOWN = 30  # per check; --json lists them all


class CheckProgress:
    """Shows each check's current step while it runs, and its result when it is done.

    The display starts with the first step, so that a mistake found before any check
    runs (not a backend, say) is reported alone.
    """

    def __init__(self, checks: tuple[str, ...]) -> None:
        self.progress = Progress(
            SpinnerColumn(finished_text=" "),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
        )
        self.tasks = {
            name: self.progress.add_task(f"[dim]{name}: waiting[/]", start=False, total=1)
            for name in checks
        }

    def __enter__(self) -> "CheckProgress":
        return self

    def __exit__(self, *_: object) -> None:
        self.progress.stop()

    def step(self, check: str, description: str) -> None:
        """`check` is running `description`."""
        self.progress.start()  # the first time only: it is idempotent
        task = self.tasks[check]
        self.progress.start_task(task)
        self.progress.update(task, description=f"[bold]{check}[/]: {escape(description)}")

    def done(self, result: "CheckResult") -> None:
        """`result`'s check has finished."""
        task = self.tasks[result.name]
        self.progress.start_task(task)
        mark = "[green]passed[/]" if result.passed else "[bold red]failed[/]"
        self.progress.update(task, description=f"[bold]{result.name}[/]: {mark}", completed=1)


def show_check_report(report: "CheckReport") -> None:
    """A table of the checks, then each failed check's findings, at file:line."""
    title = f"Checks of {escape(str(report.root))}"
    if report.database == "postgresql" or {"migrations", "tests"} & {
        r.name for r in report.results
    }:
        title += f" (scratch databases: {report.database})"
    table = Table(title=title, title_justify="left")
    for column in ("check", "result", "time", "summary"):
        table.add_column(column, overflow="fold", no_wrap=column != "summary")
    for result in report.results:
        mark = "[green]passed[/]" if result.passed else "[bold red]failed[/]"
        table.add_row(result.name, mark, f"{result.duration:.1f}s", escape(result.summary))
    console.print(table)
    for result in report.results:
        if not result.findings:
            continue
        console.print(f"\n[bold]{result.name}[/] ({len(result.findings)} finding(s))")
        for finding in result.findings[:FINDINGS_SHOWN]:
            where = f"[cyan]{escape(finding.location)}[/]  " if finding.location else ""
            console.print(f"  {where}{escape(finding.message)}", soft_wrap=True)
        if len(result.findings) > FINDINGS_SHOWN:
            hidden = len(result.findings) - FINDINGS_SHOWN
            console.print(f"  ... and {hidden} more (--json lists them all)")
    if report.skipped:
        console.print(f"[dim]skipped:[/] {', '.join(report.skipped)}")
    failed = [r.name for r in report.results if not r.passed]
    if failed:
        console.print(
            f"\n[bold red]{len(failed)} of {len(report.results)} check(s) failed[/]: "
            f"{', '.join(failed)}"
        )
    else:
        console.print(
            f"\n[bold green]All {len(report.results)} check(s) passed[/] "
            f"in {report.duration:.0f}s."
        )
