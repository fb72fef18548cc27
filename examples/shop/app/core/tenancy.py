"""Tenant isolation: the project scope, the ORM guard, and row-level security.

Isolation has layers, and each holds on its own:

1. `ProjectRepository` filters every query it builds by project.
2. The ORM guard below adds the current project's criteria to every ORM statement
   on a project-scoped model (SELECT, UPDATE, DELETE, relationship loads), gives new
   rows the current project, and refuses to run such a statement at all when no
   project is set (fail closed). `unscoped()` is the one, greppable, way around it.
3. On PostgreSQL, row-level security: each tenant table only shows and accepts the
   rows of `app.project_id`, a setting local to the transaction.
4. Keys: foreign keys between tenant tables include `project_id`.
"""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.orm import (
    ORMExecuteState,
    Session,
    SessionTransaction,
    with_loader_criteria,
)

from app.models.base import ProjectScoped
from app.models.membership import Role

PROJECT_SETTING = "app.project_id"

_current_project: ContextVar[uuid.UUID | None] = ContextVar(
    "current_project", default=None
)
_unscoped: ContextVar[bool] = ContextVar("unscoped", default=False)


class TenantContextMissing(RuntimeError):
    """A project-scoped model was queried with no project in context."""


class TenantMismatch(RuntimeError):
    """A row of one project was written while another project is in context."""


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
    if (
        project_id is not None
        and connection.dialect.name == "postgresql"
        and not _unscoped.get()
    ):
        connection.execute(
            select(func.set_config(PROJECT_SETTING, str(project_id), True))
        )
