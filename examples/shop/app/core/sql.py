"""Prebuilt statements and the request's connection: the fast path to the database.

Resource endpoints do not go through the ORM. Their statements are built once with
SQLAlchemy Core, from the models' tables, so they follow the schema; each is
compiled once per dialect and then run on the request's connection:

- on PostgreSQL with asyncpg, on the driver's connection directly, with the bind
  processors SQLAlchemy would apply (no statement cache look-up, no result objects);
- on any other database (SQLite in development and tests), through SQLAlchemy Core.

Both return plain dicts and raise `UniqueViolation` or `ForeignKeyViolation` for the
integrity errors that callers answer with a 409. Both take only the parameters the
statement names, refuse to run without a value for one of them, and fill in the
Python-side defaults (`default=`, `onupdate=`) of the columns an INSERT or UPDATE
does not set.

A query is checked once, when it is built, the same way for every database: what
would run on one database and not on the other is refused then, and so is a
statement that reads or writes a tenant table outside the current project
(`app.core.tenancy.check_statement`).
"""

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import ARRAY, all_, any_, bindparam
from sqlalchemy.engine import Connection as SyncConnection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql import operators, visitors
from sqlalchemy.sql.expression import (
    BinaryExpression,
    BindParameter,
    ClauseElement,
    CollectionAggregate,
    Executable,
    Grouping,
    Tuple,
    Update,
)
from sqlalchemy.util import greenlet_spawn

from app.core.tenancy import check_statement

Row = dict[str, Any]


class UniqueViolation(Exception):
    """A statement broke a unique constraint; the message names it."""


class ForeignKeyViolation(Exception):
    """A statement broke a foreign key: a missing target, or a row still referenced."""


class UnportableQuery(ValueError):
    """A prebuilt query would not run the same way on every database."""


class MissingParameter(ValueError):
    """A prebuilt query was run without a value for one of its parameters."""


@dataclass(frozen=True, slots=True)
class _Parameter:
    name: str
    default: Any
    required: bool
    process: Callable[[Any], Any] | None
    generate: Callable[[], Any] | None  # a column's Python-side default, per run

    def value(self, params: Mapping[str, Any]) -> Any:
        """The parameter's value in `params`, else its default if it has one."""
        if self.name in params:
            return params[self.name]
        if self.generate is not None:
            return self.generate()
        if self.required:
            raise MissingParameter(
                f"a value is required for the parameter {self.name!r}"
            )
        return self.default


@dataclass(frozen=True, slots=True)
class CompiledQuery:
    """A statement's SQL for one dialect and how to bind its parameters."""

    sql: str
    parameters: tuple[_Parameter, ...]

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        """The positional arguments of the SQL, from named parameters."""
        values = []
        for parameter in self.parameters:
            value = parameter.value(params)
            values.append(
                value if parameter.process is None else parameter.process(value)
            )
        return values

    def named(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The values of the statement's own parameters, by name, from `params`."""
        return {
            parameter.name: parameter.value(params) for parameter in self.parameters
        }


class Query:
    """A statement built once, at import time, and compiled once per dialect.

    Name its parameters with `bindparam("name")` and pass their values to
    `Connection.fetch`. For a list of values, compare with
    `column.in_(bindparam("name", expanding=True))` (or `not_in`) and pass a list:
    PostgreSQL runs `= ANY($1)`, one statement for any length, other databases
    `IN (...)`. Tuple IN lists and `any_()` or `all_()` of a parameter would run on
    PostgreSQL only, so they are refused when the query is built (`UnportableQuery`),
    as is a statement that reads or writes a tenant table outside the current
    project (`app.core.tenancy.UnscopedStatement`; see `scoped_query` in
    `app/repositories/base.py`).
    """

    __slots__ = ("_compiled", "statement")

    def __init__(self, statement: Executable) -> None:
        _check_portable(statement)
        check_statement(statement)
        self.statement = statement
        self._compiled: dict[str, CompiledQuery] = {}

    def compile(self, dialect: Dialect) -> CompiledQuery:
        """The statement's SQL for `dialect`, compiled on first use."""
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            compiled = self._compiled[dialect.name] = _compile(self.statement, dialect)
        return compiled


def _list_comparison(element: ClauseElement) -> BinaryExpression[Any] | None:
    """`element` if it is `x IN (:list)` or `x NOT IN (:list)` with a list parameter."""
    if (
        isinstance(element, BinaryExpression)
        and element.operator in (operators.in_op, operators.not_in_op)
        and isinstance(element.right, BindParameter)
        and element.right.expanding
    ):
        return element
    return None


def _check_portable(statement: Executable) -> None:
    """Refuse what a prebuilt query could not run the same way on every database."""
    lists: set[int] = set()
    for element in visitors.iterate(statement):
        comparison = _list_comparison(element)
        if comparison is not None:
            if isinstance(comparison.left, Tuple):
                raise UnportableQuery(
                    "a prebuilt query cannot compare tuples with a list; compare "
                    "each column, or run one query per tuple"
                )
            lists.add(id(comparison.right))
        elif isinstance(element, CollectionAggregate):
            compared = element.element
            while isinstance(compared, Grouping):
                compared = compared.element
            if isinstance(compared, BindParameter):
                raise UnportableQuery(
                    "any_() and all_() of a parameter only run on PostgreSQL; compare "
                    "with column.in_(bindparam(name, expanding=True)) and pass a list"
                )
        elif (
            isinstance(element, BindParameter)
            and (element.expanding or element.literal_execute)
            and id(element) not in lists
        ):
            raise UnportableQuery(
                f"the parameter {element.key!r} is rendered into the SQL when it runs, "
                "which a prebuilt query cannot do; lists go in column.in_(...)"
            )
        elif isinstance(element, Update) and element.whereclause is not None:
            _check_update_parameters(element)


def _check_update_parameters(statement: Update) -> None:
    """Refuse a condition parameter of an UPDATE named after a column it could set.

    SQLAlchemy reads such a name, passed when the statement runs, as a value to SET
    and then refuses the statement; that happens on SQLite only, since the
    PostgreSQL path compiles the statement once, without the values.
    """
    columns = set(statement.table.c.keys())
    for element in visitors.iterate(statement.whereclause):
        if isinstance(element, BindParameter) and element.key in columns:
            raise UnportableQuery(
                f"the UPDATE's parameter {element.key!r} is named after a column of "
                f"{statement.table.name!r}; name it otherwise, such as 'b_{element.key}'"
            )


def _as_array(element: ClauseElement) -> ClauseElement | None:
    """`x IN (:list)` as `x = ANY(:list)`, and `x NOT IN (:list)` as `x != ALL(:list)`.

    One statement and one array parameter, whatever the length of the list.
    """
    comparison = _list_comparison(element)
    if comparison is None:
        return None
    values = comparison.right
    array = bindparam(
        values.key, values.value, type_=ARRAY(values.type), required=values.required
    )
    if comparison.operator is operators.in_op:
        return comparison.left == any_(array)
    return comparison.left != all_(array)


def _generator(default: Any) -> Callable[[], Any]:
    """What a column's Python-side default (`default=` or `onupdate=`) produces."""
    if default.is_callable:
        return lambda: default.arg(None)
    return lambda: default.arg


def _compile(statement: Executable, dialect: Dialect) -> CompiledQuery:
    if dialect.name == "postgresql":
        statement = visitors.replacement_traverse(statement, {}, _as_array)
    compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
    # Columns an INSERT or UPDATE does not set but that have a Python-side default
    # (timestamps, ids) are parameters too, computed for each run as SQLAlchemy does.
    defaults = {
        column.key: _generator(column.default) for column in compiled.insert_prefetch
    }
    defaults |= {
        column.key: _generator(column.onupdate) for column in compiled.update_prefetch
    }
    parameters = []
    for name in compiled.positiontup or ():
        bind = compiled.binds[name]
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        parameters.append(
            _Parameter(name, bind.value, bind.required, process, defaults.get(name))
        )
    return CompiledQuery(compiled.string, tuple(parameters))


class Connection(ABC):
    """The request's connection, inside its transaction.

    `distributed` says whether the database is a Citus database, whose workers the
    project setting must reach (`app.core.tenancy.project_setting_statements`); the
    transaction sets it as it begins (`app.core.db`).
    """

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.distributed = False

    @property
    @abstractmethod
    def connection(self) -> AsyncConnection:
        """The same connection as SQLAlchemy's, for an ORM session (`get_db`)."""

    @abstractmethod
    async def fetch(self, query: Query, params: Mapping[str, Any]) -> list[Row]:
        """Run `query` with `params` and return its rows."""

    @abstractmethod
    async def run(self, statement: str) -> None:
        """Run one SQL statement that takes no parameters and returns no rows."""

    async def fetch_one(self, query: Query, params: Mapping[str, Any]) -> Row | None:
        """Run `query` and return its first row, or None."""
        rows = await self.fetch(query, params)
        return rows[0] if rows else None


class DriverConnection(Connection):
    """PostgreSQL through asyncpg directly, on a connection taken from the pool.

    The connection is taken as the pool's own object (`AsyncEngine.raw_connection`):
    no SQLAlchemy connection is made unless an ORM session asks for one
    (`connection`), which saves a request about a tenth of its time. `close` gives
    the connection back to the pool, `invalidate` has the pool drop it; `close` after
    either does nothing.
    """

    def __init__(self, bind: AsyncEngine, pooled: PoolProxiedConnection) -> None:
        super().__init__(bind.dialect)
        self.bind = bind
        self.pooled = pooled
        self.driver: asyncpg.Connection = pooled.driver_connection
        self._connection: AsyncConnection | None = None
        self._released = False

    @property
    def connection(self) -> AsyncConnection:
        """An SQLAlchemy connection on the same pooled connection, made on first use."""
        if self._connection is None:
            self._connection = AsyncConnection(
                self.bind, SyncConnection(self.bind.sync_engine, connection=self.pooled)
            )
        return self._connection

    async def close(self) -> None:
        """Give the connection back to the pool."""
        if self._released:
            return
        self._released = True
        if self._connection is not None:
            await self._connection.close()
        else:
            await greenlet_spawn(self.pooled.close)

    async def invalidate(self) -> None:
        """Have the pool drop the connection and open a new one when it needs one."""
        self._released = True
        if self._connection is not None:
            await self._connection.invalidate()
            await self._connection.close()
        else:
            await greenlet_spawn(self.pooled.invalidate)

    async def run(self, statement: str) -> None:
        """Run one SQL statement that takes no parameters and returns no rows."""
        await self.driver.execute(statement)

    async def fetch(self, query: Query, params: Mapping[str, Any]) -> list[Row]:
        """Run `query` with `params` on the driver and return its rows."""
        compiled = query.compile(self.dialect)
        try:
            records = await self.driver.fetch(compiled.sql, *compiled.arguments(params))
        except asyncpg.UniqueViolationError as error:
            raise UniqueViolation(str(error)) from error
        except asyncpg.ForeignKeyViolationError as error:
            raise ForeignKeyViolation(str(error)) from error
        return [dict(record) for record in records]


class CoreConnection(Connection):
    """Any database through SQLAlchemy Core."""

    def __init__(self, connection: AsyncConnection) -> None:
        super().__init__(connection.dialect)
        self._connection = connection

    @property
    def connection(self) -> AsyncConnection:
        """The SQLAlchemy connection itself."""
        return self._connection

    async def run(self, statement: str) -> None:
        """Run one SQL statement that takes no parameters and returns no rows."""
        await self.connection.exec_driver_sql(statement)

    async def fetch(self, query: Query, params: Mapping[str, Any]) -> list[Row]:
        """Run `query` with `params` through SQLAlchemy and return its rows."""
        values = query.compile(self.dialect).named(params)
        try:
            result = await self.connection.execute(query.statement, values)
        except IntegrityError as error:
            message = str(error.orig)
            if "unique" in message.lower():
                raise UniqueViolation(message) from error
            if "foreign key" in message.lower():
                raise ForeignKeyViolation(message) from error
            raise
        if not result.returns_rows:
            return []
        return [dict(row._mapping) for row in result]
