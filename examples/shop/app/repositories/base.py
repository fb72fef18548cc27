"""The project-scoped repository: the one place that builds tenant queries.

Services and endpoints never filter by `project_id` themselves. They build a
repository for the current project and everything it reads or writes stays in it.

Its statements are SQLAlchemy Core, built once per table (and per sort order,
filter set or set of columns written) and run on the request's connection as
prebuilt queries: rows come back as dicts, ready for the response schemas.

Queries you write yourself go through the same door: build the statement once with
`scoped_query(...)`, which confines every tenant table in it to the project, and run
it with `self.fetch(...)` or `self.fetch_one(...)`, which supply the project.
"""

import base64
import binascii
import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from functools import cache, lru_cache
from typing import Annotated, Any, ClassVar, Generic, TypeVar

from pydantic import (
    AwareDatetime,
    Field,
    Strict,
    StrictBool,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Enum,
    Float,
    Integer,
    Numeric,
    String,
    Table,
    and_,
    bindparam,
    delete,
    insert,
    select,
    tuple_,
    update,
)
from sqlalchemy.sql.expression import Executable
from sqlalchemy.types import TypeDecorator, TypeEngine

from app.core.config import settings
from app.core.errors import AlreadyExists, AppError, MissingReference, StillReferenced
from app.core.ids import uuid7
from app.core.sql import Connection, ForeignKeyViolation, Query, Row, UniqueViolation
from app.core.tenancy import PROJECT_PARAMETER, in_project, scope_statement
from app.models.base import ProjectScoped, utcnow

T = TypeVar("T")


class InvalidCursor(AppError):
    """The pagination cursor was not issued by this API for this project and sort."""

    status_code = 400
    default_detail = "Invalid pagination cursor"
    code = "invalid_cursor"


@dataclass(frozen=True, slots=True)
class SortOrder:
    """A sort key: a column name and its direction."""

    field: str
    descending: bool = False

    @classmethod
    def parse(cls, value: str) -> "SortOrder":
        """Parse `name` (ascending) or `-name` (descending)."""
        return cls(value.removeprefix("-"), value.startswith("-"))

    def __str__(self) -> str:
        return f"-{self.field}" if self.descending else self.field


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list, and the cursor of the next page if there is one."""

    items: Sequence[T]
    next_cursor: str | None


def _identifier(name: str) -> str:
    """A name as PostgreSQL holds it: one over 63 characters is cut as SQLAlchemy cuts it."""
    if len(name) <= 63:
        return name
    digest = hashlib.md5(name.encode(), usedforsecurity=False).hexdigest()
    return f"{name[:55]}_{digest[-4:]}"


def unique_violation(message: str, table: str, fields: Sequence[str]) -> str | None:
    """Name the field whose per-project unique constraint was violated, if any.

    PostgreSQL names the constraint: `uq_<table>_project_id_<field>`, from the naming
    convention, which Citus follows with a shard's number. Of the fields whose name
    begins it, the longest is the one (`code_alt`'s is not `code`'s). SQLite names
    the columns: `<table>.project_id, <table>.<field>`.
    """
    if constraint := re.search(r'unique constraint "([^"]+)"', message):
        name = constraint.group(1)
        matching = [
            field
            for field in fields
            if name.startswith(_identifier(f"uq_{table}_project_id_{field}"))
        ]
        return max(matching, key=len, default=None)
    if failed := re.search(r"UNIQUE constraint failed: (.+)", message):
        columns = {column.strip() for column in failed.group(1).split(",")}
        for field in fields:
            if columns == {f"{table}.project_id", f"{table}.{field}"}:
                return field
    return None


def _value_type(sql_type: TypeEngine[Any]) -> Any:
    """The Python type of a column's values, bounded as the database bounds them."""
    if isinstance(sql_type, TypeDecorator):
        sql_type = sql_type.impl_instance
    if isinstance(sql_type, Enum) and sql_type.enum_class is not None:
        return sql_type.enum_class
    if isinstance(sql_type, BigInteger):
        return Annotated[int, Strict(), Field(ge=-(2**63), lt=2**63)]
    if isinstance(sql_type, Integer):
        return Annotated[int, Strict(), Field(ge=-(2**31), lt=2**31)]
    if isinstance(sql_type, Float):
        return Annotated[float, Field(allow_inf_nan=False)]
    if isinstance(sql_type, Numeric):
        return Annotated[
            Decimal,
            Field(
                max_digits=sql_type.precision,
                decimal_places=sql_type.scale,
                allow_inf_nan=False,
            ),
        ]
    if isinstance(sql_type, Boolean):
        return StrictBool
    if isinstance(sql_type, DateTime) and sql_type.timezone:
        return AwareDatetime
    if isinstance(sql_type, String):
        return Annotated[str, Strict(), StringConstraints(max_length=sql_type.length)]
    return sql_type.python_type


@cache
def cursor_adapter(column: Column[Any]) -> TypeAdapter[Any]:
    """Reads and writes the sort value of a cursor: valid for the column, or refused."""
    return TypeAdapter(_value_type(column.type))


def cursor_signature(project_id: uuid.UUID, payload: bytes) -> str:
    """The signature of a cursor's payload: only this API, for this project, makes it."""
    key = f"{settings.secret_key}:{project_id}".encode()
    digest = hmac.new(key, payload, hashlib.sha256).digest()[:12]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def scoped_query(statement: Executable) -> Query:
    """A prebuilt query of `statement`, confined to the project of whoever runs it.

    Every tenant table the statement reads or changes, in joins and subqueries too,
    gets `project_id = :scope_project_id`, and an INSERT into one writes that
    `project_id` (`app.core.tenancy.scope_statement`). Run it with
    `ProjectRepository.fetch` or `fetch_one`, which supply the project. Build it
    once, at import time, like every prebuilt query:

        _OVERDUE = scoped_query(select(invoices).where(invoices.c.due_on < bindparam("d")))
    """
    return Query(scope_statement(statement))


def _one_row(table: Table) -> Any:
    """The WHERE clause of one row of the project: the composite primary key."""
    return and_(in_project(table), table.c.id == bindparam("pk_id"))


def _typed(column: Column[Any], name: str | None = None) -> Any:
    return bindparam(name or column.name, type_=column.type)


@cache
def _get_query(table: Table) -> Query:
    return scoped_query(select(table).where(_one_row(table)))


@cache
def _exists_query(table: Table) -> Query:
    return scoped_query(select(table.c.id).where(_one_row(table)))


@cache
def _delete_query(table: Table) -> Query:
    return scoped_query(delete(table).where(_one_row(table)).returning(table.c.id))


@lru_cache(maxsize=256)
def _insert_query(table: Table, columns: tuple[str, ...]) -> Query:
    values = {name: _typed(table.c[name]) for name in columns}
    return scoped_query(insert(table).values(values).returning(*table.c))


@lru_cache(maxsize=256)
def _update_query(table: Table, columns: tuple[str, ...]) -> Query:
    values = {name: _typed(table.c[name]) for name in columns}
    statement = update(table).where(_one_row(table)).values(values)
    return scoped_query(statement.returning(*table.c))


@lru_cache(maxsize=512)
def _page_query(
    table: Table, sort: SortOrder, after: bool, filters: tuple[str, ...]
) -> Query:
    column, id_column = table.c[sort.field], table.c.id
    statement = select(table).where(in_project(table))
    for name in filters:
        statement = statement.where(table.c[name] == _typed(table.c[name], f"f_{name}"))
    # Ordered by the sort column, then the id; the rows after a cursor are one index
    # range, however deep the page: `id > :after_id`, or `(value, id) > (...)`.
    if column is id_column:
        key, bound, order = id_column, _typed(id_column, "after_id"), [id_column]
    else:
        key = tuple_(column, id_column)
        bound = tuple_(_typed(column, "after_value"), _typed(id_column, "after_id"))
        order = [column, id_column]
    if after:
        statement = statement.where(key < bound if sort.descending else key > bound)
    if sort.descending:
        statement = statement.order_by(*(part.desc() for part in order))
    else:
        statement = statement.order_by(*(part.asc() for part in order))
    return scoped_query(statement.limit(bindparam("limit")))


class ProjectRepository:
    """Reads and writes the rows of one model that belong to one project."""

    model: ClassVar[type[ProjectScoped]]
    unique_fields: ClassVar[Sequence[str]] = ()
    noun: ClassVar[str] = "row"
    """A row's name in messages: "This invoice is still referenced ..."."""
    a_noun: ClassVar[str] = "a row"
    """The same with its article: "An invoice with this number already exists ..."."""

    def __init__(self, db: Connection, project_id: uuid.UUID) -> None:
        self.db = db
        self.project_id = project_id

    @property
    def table(self) -> Table:
        """The model's table."""
        table: Table = self.model.__table__  # type: ignore[attr-defined]
        return table

    async def fetch(
        self, query: Query, params: Mapping[str, Any] | None = None
    ) -> list[Row]:
        """Run a prebuilt query in this project and return its rows.

        The query's `:scope_project_id` is this repository's project, whatever
        `params` say. Build hand-written queries with `scoped_query`.
        """
        return await self.db.fetch(
            query, {**(params or {}), PROJECT_PARAMETER: self.project_id}
        )

    async def fetch_one(
        self, query: Query, params: Mapping[str, Any] | None = None
    ) -> Row | None:
        """Run a prebuilt query in this project and return its first row, or None."""
        rows = await self.fetch(query, params)
        return rows[0] if rows else None

    async def get(self, object_id: uuid.UUID) -> Row | None:
        """The row with this id in this project, or None (also for other projects)."""
        return await self.fetch_one(_get_query(self.table), {"pk_id": object_id})

    async def exists(self, object_id: uuid.UUID) -> bool:
        """Whether a row with this id exists in this project."""
        row = await self.fetch_one(_exists_query(self.table), {"pk_id": object_id})
        return row is not None

    async def page(
        self,
        *,
        limit: int,
        sort: SortOrder,
        cursor: str | None = None,
        filters: Mapping[str, Any] | None = None,
    ) -> Page[Row]:
        """A page of rows in `sort` order, after `cursor`, keyset-paginated.

        Rows are ordered by the sort column, then by id, so that pages never
        overlap or skip rows, however deep; no OFFSET and no COUNT are run.
        """
        column = self._column(sort.field)
        filters = filters or {}
        params: dict[str, Any] = {"limit": limit + 1}
        for name, value in filters.items():
            self._column(name)
            params[f"f_{name}"] = value
        if cursor is not None:
            params["after_value"], params["after_id"] = self._decode_cursor(
                cursor, sort, column
            )
        query = _page_query(
            self.table, sort, cursor is not None, tuple(sorted(filters))
        )
        rows = await self.fetch(query, params)
        if len(rows) <= limit:
            return Page(rows, None)
        rows = rows[:limit]
        return Page(rows, self._encode_cursor(rows[-1], sort, column))

    async def create(self, values: Mapping[str, Any]) -> Row:
        """Insert a row into this project and return it."""
        now = utcnow()
        row = {"id": uuid7(), "created_at": now, "updated_at": now, **values}
        row.pop(
            "project_id", None
        )  # the repository's project: `scoped_query` writes it
        for column in self.table.c:
            if column.name not in row and column.default is not None:
                row[column.name] = self._default(column)
        query = _insert_query(self.table, tuple(sorted(row)))
        with self._integrity_errors(deleting=False):
            rows = await self.fetch(query, row)
        return rows[0]

    async def update(
        self, object_id: uuid.UUID, values: Mapping[str, Any]
    ) -> Row | None:
        """Apply `values` to a row of this project; None if there is no such row."""
        changes = {"updated_at": utcnow(), **values}
        query = _update_query(self.table, tuple(sorted(changes)))
        with self._integrity_errors(deleting=False):
            return await self.fetch_one(query, {**changes, "pk_id": object_id})

    async def delete(self, object_id: uuid.UUID) -> bool:
        """Delete a row of this project; False if there is no such row."""
        query = _delete_query(self.table)
        with self._integrity_errors(deleting=True):
            return await self.fetch_one(query, {"pk_id": object_id}) is not None

    @staticmethod
    def _default(column: Column[Any]) -> Any:
        default = column.default
        return default.arg(None) if default.is_callable else default.arg  # type: ignore[union-attr]

    @contextmanager
    def _integrity_errors(self, *, deleting: bool) -> Iterator[None]:
        """Answer broken constraints with a 409 that names the problem."""
        try:
            yield
        except UniqueViolation as error:
            field = unique_violation(str(error), self.table.name, self.unique_fields)
            detail = f"with this {field}" if field else "with these values"
            subject = self.a_noun[:1].upper() + self.a_noun[1:]
            raise AlreadyExists(
                f"{subject} {detail} already exists in the project"
            ) from error
        except ForeignKeyViolation as error:
            if deleting:
                raise StillReferenced(
                    f"This {self.noun} is still referenced by other records"
                ) from error
            raise MissingReference(
                f"This {self.noun} refers to a record that does not exist"
            ) from error

    def _column(self, name: str) -> Column[Any]:
        try:
            column: Column[Any] = self.table.c[name]
        except KeyError:
            raise ValueError(f"{self.table.name} has no column {name!r}") from None
        return column

    def _encode_cursor(self, row: Row, sort: SortOrder, column: Column[Any]) -> str:
        adapter = cursor_adapter(column)
        value = adapter.dump_python(
            adapter.validate_python(row[sort.field]), mode="json"
        )
        document = [str(sort), value, str(row["id"])]
        payload = json.dumps(document, separators=(",", ":")).encode()
        encoded = base64.urlsafe_b64encode(payload).decode().rstrip("=")
        return f"{encoded}.{cursor_signature(self.project_id, payload)}"

    def _decode_cursor(
        self, cursor: str, sort: SortOrder, column: Column[Any]
    ) -> tuple[Any, uuid.UUID]:
        try:
            encoded, signature = cursor.split(".", 1)
            payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            if not hmac.compare_digest(
                signature, cursor_signature(self.project_id, payload)
            ):
                raise InvalidCursor()
            sort_key, value, last_id = json.loads(payload)
            if sort_key != str(sort):
                raise InvalidCursor("The cursor was issued for another sort order")
            typed_value = cursor_adapter(column).validate_python(value)
            return typed_value, uuid.UUID(last_id)
        except (ValueError, binascii.Error, ValidationError, TypeError) as error:
            raise InvalidCursor() from error
