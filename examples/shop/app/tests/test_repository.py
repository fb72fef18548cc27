"""The project-scoped repository keeps every read and write inside one project.

It is exercised here on a small model of its own, so that the base backend proves
the mechanism before any resource uses it.
"""

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from typing import Any, ClassVar, TypeVar

import pytest
from sqlalchemy import MetaData, String, UniqueConstraint
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from app.core.db import SessionLocal, engine
from app.core.errors import Conflict
from app.models.base import NAMING_CONVENTION, ProjectScoped, UTCDateTime
from app.models.project import Project
from app.repositories.base import InvalidCursor, ProjectRepository, SortOrder
from app.tests.conftest import prepare_database

T = TypeVar("T")


class _TestBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime}


Project.__table__.to_metadata(_TestBase.metadata)


class Note(ProjectScoped, _TestBase):
    """A throw-away tenant model."""

    __tablename__ = "repository_test_notes"
    __table_args__ = (UniqueConstraint("project_id", "title"),)

    title: Mapped[str] = mapped_column(String(50))
    rank: Mapped[int] = mapped_column(default=0)


class NoteRepository(ProjectRepository[Note]):
    """Notes of one project."""

    model = Note
    unique_fields = ("title",)


def run(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in a session that commits when it succeeds."""

    async def main() -> T:
        async with SessionLocal() as session:
            result = await work(session)
            await session.commit()
            return result

    return asyncio.run(main())


@pytest.fixture(scope="module", autouse=True)
def notes_table() -> Iterator[None]:
    """Create the notes table for this module, and drop it afterwards."""
    prepare_database()
    tables = [Note.__table__]

    async def create() -> None:
        async with engine.begin() as connection:
            await connection.run_sync(_TestBase.metadata.create_all, tables=tables)

    async def drop() -> None:
        async with engine.begin() as connection:
            await connection.run_sync(_TestBase.metadata.drop_all, tables=tables)

    asyncio.run(create())
    yield
    asyncio.run(drop())


@pytest.fixture
def projects() -> tuple[uuid.UUID, uuid.UUID]:
    """Two projects, A with five notes and B with two, sharing one title."""

    async def create(session: AsyncSession) -> tuple[uuid.UUID, uuid.UUID]:
        a, b = Project(name="A"), Project(name="B")
        session.add_all([a, b])
        await session.flush()
        for rank, title in enumerate(["e", "c", "a", "d", "b"]):
            await NoteRepository(session, a.id).create(
                {"title": title, "rank": rank % 2}
            )
        for title in ["a", "z"]:
            await NoteRepository(session, b.id).create({"title": title})
        return a.id, b.id

    return run(create)


def _walk(project_id: uuid.UUID, sort: str, **filters: Any) -> list[str]:
    async def walk(session: AsyncSession) -> list[str]:
        repository, titles, cursor = NoteRepository(session, project_id), [], None
        while True:
            page = await repository.page(
                limit=2, sort=SortOrder.parse(sort), cursor=cursor, filters=filters
            )
            titles += [note.title for note in page.items]
            if page.next_cursor is None:
                return titles
            cursor = page.next_cursor

    return run(walk)


def test_pages_cover_the_project_and_nothing_else(
    projects: tuple[uuid.UUID, uuid.UUID],
) -> None:
    a, b = projects
    assert _walk(a, "title") == ["a", "b", "c", "d", "e"]
    assert _walk(a, "-title") == ["e", "d", "c", "b", "a"]
    assert _walk(b, "title") == ["a", "z"]
    assert _walk(a, "title", rank=1) == ["c", "d"]


def test_cursors_only_work_in_their_project_and_sort(
    projects: tuple[uuid.UUID, uuid.UUID],
) -> None:
    a, b = projects

    async def first_cursor(session: AsyncSession) -> str:
        page = await NoteRepository(session, a).page(limit=1, sort=SortOrder("title"))
        assert page.next_cursor is not None
        return page.next_cursor

    cursor = run(first_cursor)
    for project_id, sort, bad in (
        (b, "title", cursor),
        (a, "-title", cursor),
        (a, "title", "garbage"),
        (a, "title", cursor[:-2] + "xx"),
    ):

        async def use(session: AsyncSession, p=project_id, s=sort, c=bad) -> None:
            await NoteRepository(session, p).page(
                limit=1, sort=SortOrder.parse(s), cursor=c
            )

        with pytest.raises(InvalidCursor):
            run(use)


def test_get_update_delete_never_reach_another_project(
    projects: tuple[uuid.UUID, uuid.UUID],
) -> None:
    a, b = projects

    async def scenario(session: AsyncSession) -> None:
        in_a, in_b = NoteRepository(session, a), NoteRepository(session, b)
        note = (await in_b.page(limit=1, sort=SortOrder("title"))).items[0]
        assert await in_a.get(note.id) is None
        assert await in_a.exists(note.id) is False
        assert await in_b.exists(note.id) is True
        await in_b.update(note, {"title": "renamed"})
        assert (await in_b.get(note.id)).title == "renamed"  # type: ignore[union-attr]
        await in_b.delete(note)
        assert await in_b.get(note.id) is None

    run(scenario)


def test_unique_per_project(projects: tuple[uuid.UUID, uuid.UUID]) -> None:
    a, _ = projects

    async def duplicate(session: AsyncSession) -> None:
        await NoteRepository(session, a).create({"title": "a"})

    with pytest.raises(Conflict, match="Note with this title already exists"):
        run(duplicate)
