"""Prebuilt statements and the request's connection: the fast path to the database.

Resource endpoints do not go through the ORM. Their statements are built once with
SQLAlchemy Core, from the models' tables, so they follow the schema; each is
compiled once per dialect and then run on the request's connection:

- on PostgreSQL with asyncpg, on the driver's connection directly, with the bind
  processors SQLAlchemy would apply (no statement cache look-up, no result objects);
- on any other database (SQLite in development and tests), through SQLAlchemy Core.

Both return plain dicts and raise `UniqueViolation` or `ForeignKeyViolation` for the
integrity errors that callers answer with a 409.
"""

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.expression import Executable

Row = dict[str, Any]


class UniqueViolation(Exception):
    """A statement broke a unique constraint; the message names it."""


class ForeignKeyViolation(Exception):
    """A statement broke a foreign key: a missing target, or a row still referenced."""


@dataclass(frozen=True, slots=True)
class _Parameter:
    name: str
    default: Any
    process: Callable[[Any], Any] | None


@dataclass(frozen=True, slots=True)
class CompiledQuery:
    """A statement's SQL for one dialect and how to bind its parameters."""

    sql: str
    parameters: tuple[_Parameter, ...]

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        """The positional arguments of the SQL, from named parameters."""
        values = []
        for parameter in self.parameters:
            value = params.get(parameter.name, parameter.default)
            values.append(
                value if parameter.process is None else parameter.process(value)
            )
        return values


class Query:
    """A statement built once, at import time, and compiled once per dialect.

    Name its parameters with `bindparam("name")` and pass their values to
    `Connection.fetch`. `IN` lists are not supported: use `= ANY(:name)`.
    """

    __slots__ = ("_compiled", "statement")

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: dict[str, CompiledQuery] = {}

    def compile(self, dialect: Dialect) -> CompiledQuery:
        """The statement's SQL for `dialect`, compiled on first use."""
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            compiled = self._compiled[dialect.name] = _compile(self.statement, dialect)
        return compiled


def _compile(statement: Executable, dialect: Dialect) -> CompiledQuery:
    compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
    if "POSTCOMPILE" in compiled.string:
        raise ValueError(
            "a prebuilt query cannot expand IN lists; compare with = ANY(:name)"
        )
    parameters = []
    for name in compiled.positiontup or ():
        bind = compiled.binds[name]
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        parameters.append(_Parameter(name, bind.value, process))
    return CompiledQuery(compiled.string, tuple(parameters))


class Connection(ABC):
    """The request's connection, inside its transaction."""

    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection
        self.dialect = connection.dialect

    @abstractmethod
    async def fetch(self, query: Query, params: Mapping[str, Any]) -> list[Row]:
        """Run `query` with `params` and return its rows."""

    async def fetch_one(self, query: Query, params: Mapping[str, Any]) -> Row | None:
        """Run `query` and return its first row, or None."""
        rows = await self.fetch(query, params)
        return rows[0] if rows else None


class DriverConnection(Connection):
    """PostgreSQL through asyncpg directly."""

    def __init__(self, connection: AsyncConnection, driver: asyncpg.Connection) -> None:
        super().__init__(connection)
        self.driver = driver

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

    async def fetch(self, query: Query, params: Mapping[str, Any]) -> list[Row]:
        """Run `query` with `params` through SQLAlchemy and return its rows."""
        try:
            result = await self.connection.execute(query.statement, dict(params))
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
