"""The project-scoped repository: the one place that builds tenant queries.

Services and endpoints never filter by `project_id` themselves. They build a
repository for the current project and everything it reads or writes stays in it.
"""

import base64
import binascii
import hashlib
import hmac
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Select, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from app.core.config import settings
from app.core.errors import AppError, Conflict
from app.models.base import ProjectScoped

ModelT = TypeVar("ModelT", bound=ProjectScoped)


class InvalidCursor(AppError):
    """The pagination cursor was not issued by this API for this project and sort."""

    status_code = 400
    default_detail = "Invalid pagination cursor"


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
class Page(Generic[ModelT]):
    """One page of a list, and the cursor of the next page if there is one."""

    items: Sequence[ModelT]
    next_cursor: str | None


def unique_violation(
    error: IntegrityError, table: str, fields: Sequence[str]
) -> str | None:
    """Name the field whose per-project unique constraint `error` violated, if any.

    PostgreSQL names the constraint (`uq_<table>_project_id_<field>`, from the
    naming convention); SQLite names the columns (`<table>.<field>`).
    """
    message = str(error.orig)
    for field in fields:
        if f"uq_{table}_project_id_{field}" in message or f"{table}.{field}" in message:
            return field
    return None


@cache
def _adapter(python_type: type) -> TypeAdapter[Any]:
    """A cached validator and serializer for cursor values of one column type."""
    return TypeAdapter(python_type)


class ProjectRepository(Generic[ModelT]):
    """Reads and writes the rows of one model that belong to one project."""

    model: ClassVar[type[ProjectScoped]]
    unique_fields: ClassVar[Sequence[str]] = ()

    def __init__(self, session: AsyncSession, project_id: uuid.UUID) -> None:
        self.session = session
        self.project_id = project_id

    def select(self) -> Select[tuple[ModelT]]:
        """A SELECT of this project's rows: start every query here."""
        return select(self.model).where(self.model.project_id == self.project_id)  # type: ignore[return-value]

    async def get(self, object_id: uuid.UUID) -> ModelT | None:
        """The row with this id in this project, or None (also for other projects)."""
        return await self.session.get(self.model, (self.project_id, object_id))  # type: ignore[return-value]

    async def exists(self, object_id: uuid.UUID) -> bool:
        """Whether a row with this id exists in this project."""
        return await self.get(object_id) is not None

    async def page(
        self,
        *,
        limit: int,
        sort: SortOrder,
        cursor: str | None = None,
        filters: Mapping[str, Any] | None = None,
    ) -> Page[ModelT]:
        """A page of rows in `sort` order, after `cursor`, keyset-paginated.

        Rows are ordered by the sort column, then by id, so that pages never
        overlap or skip rows, however deep; no OFFSET and no COUNT are run.
        """
        column = self._column(sort.field)
        key = tuple_(column, self.model.id)
        statement = self.select()
        for name, value in (filters or {}).items():
            statement = statement.where(self._column(name) == value)
        if cursor is not None:
            after = self._decode_cursor(cursor, sort, column)
            statement = statement.where(key < after if sort.descending else key > after)
        if sort.descending:
            statement = statement.order_by(column.desc(), self.model.id.desc())
        else:
            statement = statement.order_by(column.asc(), self.model.id.asc())
        rows = list((await self.session.scalars(statement.limit(limit + 1))).all())
        if len(rows) <= limit:
            return Page(rows, None)
        rows = rows[:limit]
        return Page(rows, self._encode_cursor(rows[-1], sort))

    async def create(self, values: Mapping[str, Any]) -> ModelT:
        """Insert a row into this project and return it."""
        row = self.model(**values, project_id=self.project_id)
        self.session.add(row)
        await self._flush()
        return row  # type: ignore[return-value]

    async def update(self, row: ModelT, values: Mapping[str, Any]) -> ModelT:
        """Apply `values` to a row of this project."""
        for name, value in values.items():
            setattr(row, name, value)
        await self._flush()
        return row

    async def delete(self, row: ModelT) -> None:
        """Delete a row of this project."""
        await self.session.delete(row)
        await self._flush()

    async def _flush(self) -> None:
        try:
            await self.session.flush()
        except IntegrityError as error:
            name = self.model.__name__
            field = unique_violation(
                error, self.model.__tablename__, self.unique_fields
            )
            if field is not None:
                raise Conflict(
                    f"A {name} with this {field} already exists in the project"
                ) from error
            if "foreign key" in str(error.orig).lower():
                raise Conflict(
                    f"This {name} is still referenced by other records"
                ) from error
            raise

    def _column(self, name: str) -> InstrumentedAttribute[Any]:
        column: InstrumentedAttribute[Any] = getattr(self.model, name)
        return column

    def _signature(self, payload: bytes) -> str:
        key = f"{settings.secret_key}:{self.project_id}".encode()
        digest = hmac.new(key, payload, hashlib.sha256).digest()[:12]
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def _encode_cursor(self, row: ModelT, sort: SortOrder) -> str:
        adapter = _adapter(self._column(sort.field).type.python_type)
        value = adapter.dump_python(getattr(row, sort.field), mode="json")
        document = [str(sort), value, str(row.id)]
        payload = json.dumps(document, separators=(",", ":")).encode()
        encoded = base64.urlsafe_b64encode(payload).decode().rstrip("=")
        return f"{encoded}.{self._signature(payload)}"

    def _decode_cursor(
        self, cursor: str, sort: SortOrder, column: InstrumentedAttribute[Any]
    ) -> Any:
        try:
            encoded, signature = cursor.split(".", 1)
            payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            if not hmac.compare_digest(signature, self._signature(payload)):
                raise InvalidCursor()
            sort_key, value, last_id = json.loads(payload)
            if sort_key != str(sort):
                raise InvalidCursor("The cursor was issued for another sort order")
            typed_value = _adapter(column.type.python_type).validate_python(value)
            return typed_value, uuid.UUID(last_id)
        except (ValueError, binascii.Error, ValidationError, TypeError) as error:
            raise InvalidCursor() from error
