"""Tenant isolation: the project scope, scoped statements, the ORM guard, and RLS.

Isolation has layers, and each holds on its own:

1. Prebuilt statements (`app.core.sql.Query`, which repositories run) are checked
   when they are built, on every database: each tenant table they read or write,
   in joins and subqueries too, must be confined to the project given to them as
   `:scope_project_id`, or the statement is refused (`UnscopedStatement`).
   `scope_statement` confines them; `app.repositories.base.scoped_query` uses it
   and `ProjectRepository.fetch` supplies the project.
2. The ORM guard below adds the current project's criteria to every ORM statement
   on a project-scoped model (SELECT, UPDATE, DELETE, relationship loads), gives new
   rows the current project, and refuses to run such a statement at all when no
   project is set (fail closed).
3. On PostgreSQL, row-level security: each tenant table only shows and accepts the
   rows of `app.project_id`, a setting local to the transaction.
4. Keys: foreign keys between tenant tables include `project_id`.

`unscoped()` is the one, greppable, way around layers 1 and 2.
"""

import re
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, event, func, select
from sqlalchemy.orm import (
    ORMExecuteState,
    Session,
    SessionTransaction,
    with_loader_criteria,
)
from sqlalchemy.sql import operators, visitors
from sqlalchemy.sql.expression import (
    Alias,
    BinaryExpression,
    BindParameter,
    BooleanClauseList,
    ClauseElement,
    ColumnClause,
    ColumnElement,
    Delete,
    Executable,
    FromClause,
    Grouping,
    Insert,
    Join,
    Select,
    TableClause,
    TextClause,
    Update,
)

from app.models.base import ProjectScoped
from app.models.membership import Role

PROJECT_SETTING = "app.project_id"
PROJECT_PARAMETER = "scope_project_id"
"""The parameter through which a prebuilt statement receives the current project.

Not `project_id`: SQLAlchemy reserves a column's name for the values of an UPDATE.
"""

_current_project: ContextVar[uuid.UUID | None] = ContextVar(
    "current_project", default=None
)
_unscoped: ContextVar[bool] = ContextVar("unscoped", default=False)


class TenantContextMissing(RuntimeError):
    """A project-scoped model was queried with no project in context."""


class TenantMismatch(RuntimeError):
    """A row of one project was written while another project is in context."""


class UnscopedStatement(ValueError):
    """A prebuilt statement would read or write a tenant table beyond one project."""


@dataclass(frozen=True, slots=True)
class ProjectScope:
    """The current project of a request and the caller's role in it.

    Passed first to every project-scoped service, which hands `project_id` to its
    repository: nothing else decides which project a query reads.
    """

    project_id: uuid.UUID
    user_id: uuid.UUID
    role: Role


def current_project() -> uuid.UUID | None:
    """The project in context, if any."""
    return _current_project.get()


@contextmanager
def project_context(project_id: uuid.UUID) -> Iterator[None]:
    """Run a block (a script, a job, a test) in one project."""
    token = _current_project.set(project_id)
    try:
        yield
    finally:
        _current_project.reset(token)


@contextmanager
def unscoped() -> Iterator[None]:
    """Turn the ORM guard off for a block: for admin jobs and migrations only.

    A prebuilt query built inside the block is not checked either (`check_statement`).
    Row-level security still applies on PostgreSQL unless the connection's role
    bypasses it.
    """
    token = _unscoped.set(True)
    try:
        yield
    finally:
        _unscoped.reset(token)


def activate(project_id: uuid.UUID) -> None:
    """Put `project_id` in context for the rest of this request (the ORM guard).

    Row-level security reads the transaction's setting instead, which
    `app.core.auth.authorize` sets in its query.
    """
    _current_project.set(project_id)


def tenant_tables() -> frozenset[str]:
    """The names of the tables of every `ProjectScoped` model defined so far."""
    names: set[str] = set()
    pending: list[type] = [ProjectScoped]
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        table = model.__dict__.get("__table__")
        if table is not None:
            names.add(table.name)
    return frozenset(names)


def in_project(source: FromClause) -> ColumnElement[bool]:
    """`source.project_id = :scope_project_id`: the rows of `source` in the project.

    `source` is a tenant table or an alias of one. `scope_statement` adds this
    wherever it is missing, except on the optional side of an outer join, where it
    belongs in the join's ON clause: `.outerjoin(docs, and_(..., in_project(docs)))`.
    """
    condition: ColumnElement[bool] = source.c.project_id == bindparam(PROJECT_PARAMETER)
    return condition


@dataclass(frozen=True, slots=True)
class _Source:
    """A tenant table (or an alias of one) in the FROM list of one statement."""

    source: FromClause
    confined: bool  # a condition keeps only the project's rows of it
    optional: bool  # on the optional side of an outer join: WHERE would drop its NULLs


def _terms(condition: ClauseElement | None) -> list[ClauseElement]:
    """The terms of a condition that are ANDed together at its top level."""
    if condition is None:
        return []
    if isinstance(condition, Grouping):
        return _terms(condition.element)
    if (
        isinstance(condition, BooleanClauseList)
        and condition.operator is operators.and_
    ):
        return [term for clause in condition.clauses for term in _terms(clause)]
    return [condition]


def _confines(term: ClauseElement, source: FromClause) -> bool:
    """Whether `term` is `source.project_id = :scope_project_id`, either way round."""
    if not isinstance(term, BinaryExpression) or term.operator is not operators.eq:
        return False
    for column, value in ((term.left, term.right), (term.right, term.left)):
        if (
            isinstance(value, BindParameter)
            and value.key == PROJECT_PARAMETER
            and isinstance(column, ColumnClause)
            and column.name == "project_id"
            and isinstance(column.table, FromClause)
            and column.table.name == source.name
        ):
            return True
    return False


def _table_name(source: FromClause) -> str | None:
    """The name of the table that `source` is, or is an alias of."""
    if isinstance(source, Alias):
        source = source.element
    return source.name if isinstance(source, TableClause) else None


def _froms(statement: Select[Any] | Update | Delete) -> list[FromClause]:
    """What one SELECT, UPDATE or DELETE reads from (not the statements nested in it)."""
    if isinstance(statement, Select):
        return list(statement.get_final_froms())
    # An UPDATE or DELETE also reads the tables its conditions and values name.
    parts = [
        part for part in statement.get_children() if isinstance(part, ColumnElement)
    ]
    return [statement.table, *select(*parts).get_final_froms()]


def _tenant_sources(
    statement: Select[Any] | Update | Delete, tenants: frozenset[str]
) -> list[_Source]:
    """The tenant tables one statement reads or changes, and whether each is confined."""
    where = _terms(statement.whereclause)
    sources: dict[str, _Source] = {}

    def visit(
        source: FromClause, filters: Sequence[ClauseElement], optional: bool
    ) -> None:
        if isinstance(source, Join):
            on = [*filters, *_terms(source.onclause)]
            inner = not (source.isouter or source.full)
            visit(source.left, on if inner else filters, optional or source.full)
            visit(source.right, filters if source.full else on, optional or not inner)
        elif _table_name(source) in tenants and source.name not in sources:
            confined = any(_confines(term, source) for term in [*where, *filters])
            sources[source.name] = _Source(source, confined, optional)

    for source in _froms(statement):
        visit(source, [], False)
    return list(sources.values())


def _written_project(statement: Insert | Update) -> ClauseElement | None:
    """What an INSERT or UPDATE writes into `project_id`, if it writes it.

    SQLAlchemy keeps `.values(...)` in `_values` (keyed by column or by name), and
    SQLAlchemy 2.0 `.ordered_values(...)` in `_ordered_values`; every value is an
    expression (a plain Python value becomes a parameter of its own).
    """
    ordered = getattr(statement, "_ordered_values", None) or ()
    for key, value in [*(statement._values or {}).items(), *ordered]:
        if getattr(key, "key", key) == "project_id":
            written: ClauseElement = value
            return written
    return None


def scope_statement(statement: Executable) -> Executable:
    """Confine every tenant table that `statement` reads or writes to one project.

    The project is the parameter `:scope_project_id`. Each SELECT, UPDATE and DELETE
    in the statement (joins, subqueries and CTEs included) gets `in_project(table)`
    for each tenant table it reads without it, and an INSERT into a tenant table
    writes that `project_id`. A table on the optional side of an outer join is left
    to the join's ON clause (see `in_project`): `check_statement` then names it.
    """
    tenants = tenant_tables()
    done: set[ClauseElement] = set()

    def scope(element: Any) -> Any:
        if (
            not isinstance(element, Select | Update | Delete | Insert)
            or element in done
        ):
            return None
        if isinstance(element, Insert) and element.table.name in tenants:
            element = element.values({"project_id": bindparam(PROJECT_PARAMETER)})
        done.add(element)
        # The statements it nests first, then its own tables.
        scoped = visitors.replacement_traverse(element, {}, scope)
        if isinstance(scoped, Insert):
            return scoped
        missing = [
            in_project(found.source)
            for found in _tenant_sources(scoped, tenants)
            if not (found.confined or found.optional)
        ]
        return scoped.where(*missing) if missing else scoped

    return visitors.replacement_traverse(statement, {}, scope)


def check_statement(statement: Executable) -> None:
    """Refuse a prebuilt statement that could reach beyond the current project.

    Run for every `app.core.sql.Query` when it is built, on every database. It
    refuses a SELECT, UPDATE or DELETE that reads a tenant table without
    `in_project(table)` (in its WHERE clause, or in the ON clause of a join that
    filters that table), an INSERT into a tenant table whose `project_id` is not
    `:scope_project_id`, an UPDATE of `project_id`, and SQL text that names a
    tenant table (text cannot be checked). Statements built inside `unscoped()`
    are not checked.
    """
    if _unscoped.get():
        return
    tenants = tenant_tables()
    for element in visitors.iterate(statement):
        if isinstance(element, TextClause):
            _check_text(element, tenants)
        if isinstance(element, Insert | Update) and element.table.name in tenants:
            _check_write(element)
        if isinstance(element, Select | Update | Delete):
            _check_reads(element, tenants)


_HINT = "build it with scoped_query(...) (app/repositories/base.py)"


def _check_write(statement: Insert | Update) -> None:
    """Refuse an INSERT into a tenant table of another project, or a row moved."""
    written = _written_project(statement)
    name = statement.table.name
    if isinstance(statement, Update) and written is not None:
        raise UnscopedStatement(
            f"an UPDATE may not change the project_id of {name!r}: "
            "a row never moves to another project"
        )
    if isinstance(statement, Insert) and not (
        isinstance(written, BindParameter) and written.key == PROJECT_PARAMETER
    ):
        raise UnscopedStatement(
            f"an INSERT into {name!r} must set project_id to :{PROJECT_PARAMETER}; "
            f"use ProjectRepository.create, or {_HINT}"
        )


def _check_reads(
    statement: Select[Any] | Update | Delete, tenants: frozenset[str]
) -> None:
    """Refuse a statement that reads or changes a tenant table it does not confine."""
    for found in _tenant_sources(statement, tenants):
        name = found.source.name
        if found.confined:
            continue
        if found.optional:
            raise UnscopedStatement(
                f"{name!r} is on the optional side of an outer join and not confined "
                f"to the project: add in_project({name}) to that join's ON clause"
            )
        raise UnscopedStatement(
            f"the statement reads or writes {name!r} without confining it to the "
            f"current project; {_HINT}, or, for an admin job, inside unscoped()"
        )


def _check_text(text: TextClause, tenants: frozenset[str]) -> None:
    """Refuse SQL text that names a tenant table: it cannot be confined to a project."""
    if not tenants:
        return
    names = "|".join(re.escape(name) for name in sorted(tenants))
    found = re.search(rf"\b({names})\b", text.text, re.IGNORECASE)
    if found:
        raise UnscopedStatement(
            f"SQL text names the tenant table {found.group(1)!r}, and text cannot be "
            "confined to a project: write the statement with SQLAlchemy Core and "
            "scoped_query(...), or, for an admin job, build it inside unscoped()"
        )


CITUS_INSTALLED = "SELECT EXISTS (SELECT FROM pg_extension WHERE extname = 'citus')"
"""A query: whether the connection's database has the Citus extension."""
DISTRIBUTED = "distributed"
"""The key under which a pooled connection's `info` keeps `CITUS_INSTALLED`'s answer."""
SHOW_SHARDS = "SET citus.override_table_visibility = off"
"""Sent once by each new connection to a Citus database, after `CITUS_INSTALLED`.

Citus hides its shards from `pg_class` by adding a function call to every scan of
it. asyncpg looks up each type it has no codec for (an array parameter's, once per
connection) with a query that scans `pg_class` once per type it reads: hidden
shards make that look-up take 300 ms of the coordinator's CPU instead of 8 ms. The
application never lists tables, so it needs nothing hidden.
"""


def project_setting_statements(project_id: uuid.UUID) -> tuple[str, str]:
    """The statements that set the project for row-level security on Citus.

    `set_config(...)`, a function call, is not carried to the workers, which would
    then show no rows. A `SET LOCAL` is, once `citus.propagate_set_commands` is
    `local` in the same transaction (never for the role: that would reach the
    workers' own sessions). Each must be a statement of its own: Citus sends the
    workers the whole text of the statement that sets the project. `SET` takes no
    parameters, so the value is written in: a UUID's canonical form, which needs
    no quoting.
    """
    if not isinstance(project_id, uuid.UUID):
        raise TypeError(f"a project id is a UUID, not {type(project_id).__name__}")
    return (
        "SET LOCAL citus.propagate_set_commands = 'local'",
        f"SET LOCAL {PROJECT_SETTING} = '{project_id}'",
    )


def rls_statements(table: str) -> list[str]:
    """The PostgreSQL statements that confine `table` to the project in the setting."""
    current = f"NULLIF(current_setting('{PROJECT_SETTING}', true), '')::uuid"
    return [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY {table}_project_isolation ON {table} "
        f"USING (project_id = {current}) WITH CHECK (project_id = {current})",
    ]


class TenantSession(Session):
    """The application's session class: the ORM guard is attached to it."""


def _is_scoped(state: ORMExecuteState) -> bool:
    return any(issubclass(mapper.class_, ProjectScoped) for mapper in state.all_mappers)


@event.listens_for(TenantSession, "do_orm_execute")
def _scope_statement(state: ORMExecuteState) -> None:
    """Add the current project's criteria to ORM statements on tenant models."""
    if _unscoped.get() or not (state.is_select or state.is_update or state.is_delete):
        return
    if state.is_column_load or state.is_relationship_load or not _is_scoped(state):
        return  # relationship and column loads inherit the criteria of their parent
    project_id = _current_project.get()
    if project_id is None:
        raise TenantContextMissing(
            "a project-scoped model was queried with no project in context; "
            "use project_context(...) or, for admin jobs, unscoped()"
        )
    state.statement = state.statement.options(
        with_loader_criteria(
            ProjectScoped,
            lambda cls: cls.project_id == project_id,
            include_aliases=True,
            track_closure_variables=True,
        )
    )


@event.listens_for(TenantSession, "before_flush")
def _scope_writes(session: Session, _context: Any, _instances: Any) -> None:
    """New rows take the current project; rows of another project are refused."""
    if _unscoped.get():
        return
    for row in (*session.new, *session.dirty):
        if not isinstance(row, ProjectScoped):
            continue
        project_id = _current_project.get()
        if project_id is None:
            raise TenantContextMissing(
                "a project-scoped row was written with no project in context"
            )
        if row.project_id is None:
            row.project_id = project_id
        elif row.project_id != project_id:
            raise TenantMismatch(
                f"a {type(row).__name__} of another project was written "
                "while this project is in context"
            )


@event.listens_for(TenantSession, "after_begin")
def _set_project_setting(
    session: Session, _transaction: SessionTransaction, connection: Any
) -> None:
    """Give each new PostgreSQL transaction the project in context, if any."""
    project_id = _current_project.get()
    if project_id is None or connection.dialect.name != "postgresql" or _unscoped.get():
        return
    distributed = connection.info.get(DISTRIBUTED)
    if distributed is None:
        distributed = bool(connection.exec_driver_sql(CITUS_INSTALLED).scalar())
        if distributed:
            connection.exec_driver_sql(SHOW_SHARDS)
        connection.info[DISTRIBUTED] = distributed
    if distributed:
        for statement in project_setting_statements(project_id):
            connection.exec_driver_sql(statement)
    else:
        connection.execute(
            select(func.set_config(PROJECT_SETTING, str(project_id), True))
        )
