"""Tenant isolation, layer by layer: each layer alone keeps projects apart.

A throw-away tenant model, `Note`, holds rows of two projects, A and B. Each test
turns the other layers off and shows that the one left still stops the leak:
the repository (1), the ORM guard (2), PostgreSQL row-level security (3) and
composite keys (4). Then every table is checked to be distributable by project.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, ClassVar, TypeVar

import asyncpg
import pytest
from sqlalchemy import (
    ForeignKeyConstraint,
    MetaData,
    String,
    UniqueConstraint,
    delete,
    func,
    select,
    text,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import NullPool
from sqlalchemy.schema import CreateTable

from app.core.config import Settings, settings
from app.core.db import engine, transaction
from app.core.errors import Conflict
from app.core.sql import Connection, Query
from app.core.tenancy import (
    TenantContextMissing,
    TenantMismatch,
    TenantSession,
    project_context,
    unscoped,
)
from app.models import Base
from app.models.base import NAMING_CONVENTION, ProjectScoped, UTCDateTime
from app.models.project import Project
from app.repositories.base import InvalidCursor, ProjectRepository, SortOrder
from app.tests.conftest import (
    APP_URL,
    OWNER_URL,
    choose_project,
    prepare_database,
    run_sql,
    tenant_table_statements,
)

T = TypeVar("T")
POSTGRES = not settings.is_sqlite
postgres_only = pytest.mark.skipif(
    not POSTGRES, reason="row-level security is PostgreSQL's"
)


class _TestBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime}


Project.__table__.to_metadata(_TestBase.metadata)


class Note(ProjectScoped, _TestBase):
    """A throw-away tenant model; a note may point to a parent note."""

    __tablename__ = "isolation_test_notes"
    __table_args__ = (
        UniqueConstraint("project_id", "title"),
        ForeignKeyConstraint(
            ["project_id", "parent_id"],
            ["isolation_test_notes.project_id", "isolation_test_notes.id"],
        ),
    )

    title: Mapped[str] = mapped_column(String(50))
    rank: Mapped[int] = mapped_column(default=0)
    parent_id: Mapped[uuid.UUID | None]


class NoteRepository(ProjectRepository):
    """Notes of one project."""

    model = Note
    unique_fields = ("title",)
    noun = "note"
    a_noun = "a note"


@asynccontextmanager
async def _engine(url: str) -> AsyncIterator[AsyncEngine]:
    """The database as `url`'s role; on SQLite (one database, no roles) the app's."""
    if not POSTGRES:
        yield engine
        return
    bind = create_async_engine(
        Settings(database_url=url).database_url, poolclass=NullPool
    )
    try:
        yield bind
    finally:
        await bind.dispose()


@asynccontextmanager
async def _session(url: str) -> AsyncIterator[AsyncSession]:
    async with _engine(url) as bind:
        factory = async_sessionmaker(
            bind, expire_on_commit=False, sync_session_class=TenantSession
        )
        async with factory() as session:
            yield session
            await session.commit()


def as_owner(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in a session of the table owner (row-level security does not apply)."""

    async def main() -> T:
        async with _session(OWNER_URL) as session:
            return await work(session)

    return asyncio.run(main())


def on_owner_connection(work: Callable[[Connection], Awaitable[T]]) -> T:
    """Run `work` on a connection of the table owner, in one transaction."""

    async def main() -> T:
        async with _engine(OWNER_URL) as bind, transaction(bind) as db:
            return await work(db)

    return asyncio.run(main())


def as_app(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in a session of the application's role."""

    async def main() -> T:
        async with _session(APP_URL) as session:
            return await work(session)

    return asyncio.run(main())


@pytest.fixture(scope="module", autouse=True)
def notes_table() -> Iterator[None]:
    """Create the notes table (with row-level security on PostgreSQL), then drop it."""
    prepare_database()
    table = Note.__table__.name
    run_sql(str(CreateTable(Note.__table__).compile(dialect=engine.dialect)))
    if POSTGRES:
        run_sql(*tenant_table_statements(table))
    yield
    run_sql(f"DROP TABLE {table}")


@pytest.fixture
def projects() -> tuple[uuid.UUID, uuid.UUID]:
    """Projects A (notes a..e) and B (notes a, z), written by the owner."""

    async def create(session: AsyncSession) -> tuple[uuid.UUID, uuid.UUID]:
        a, b = Project(name="A"), Project(name="B")
        session.add_all([a, b])
        await session.flush()
        with unscoped():
            for rank, title in enumerate(["e", "c", "a", "d", "b"]):
                session.add(Note(project_id=a.id, title=title, rank=rank % 2))
            for title in ["a", "z"]:
                session.add(Note(project_id=b.id, title=title))
            await session.flush()
        return a.id, b.id

    return as_owner(create)


def _titles(project_id: uuid.UUID) -> list[str]:
    rows = run_sql(
        "SELECT title FROM isolation_test_notes WHERE project_id = :p ORDER BY title",
        p=project_id if POSTGRES else project_id.hex,
    )
    return [row[0] for row in rows]


class TestRepositoryAlone:
    """Layer 1: prebuilt statements, no ORM guard, no row-level security (owner)."""

    def _walk(self, project_id: uuid.UUID, sort: str, **filters: Any) -> list[str]:
        async def walk(db: Connection) -> list[str]:
            repository, titles, cursor = NoteRepository(db, project_id), [], None
            while True:
                page = await repository.page(
                    limit=2, sort=SortOrder.parse(sort), cursor=cursor, filters=filters
                )
                titles += [note["title"] for note in page.items]
                if page.next_cursor is None:
                    return titles
                cursor = page.next_cursor

        return on_owner_connection(walk)

    def test_pages_cover_the_project_and_nothing_else(
        self, projects: tuple[uuid.UUID, uuid.UUID]
    ) -> None:
        a, b = projects
        assert self._walk(a, "title") == ["a", "b", "c", "d", "e"]
        assert self._walk(a, "-title") == ["e", "d", "c", "b", "a"]
        assert self._walk(b, "title") == ["a", "z"]
        assert self._walk(a, "title", rank=1) == ["c", "d"]
        assert sorted(self._walk(a, "-rank")[:2]) == ["c", "d"]

    def test_cursors_only_work_in_their_project_and_sort(
        self, projects: tuple[uuid.UUID, uuid.UUID]
    ) -> None:
        a, b = projects

        async def first_cursor(db: Connection) -> str:
            page = await NoteRepository(db, a).page(limit=1, sort=SortOrder("title"))
            assert page.next_cursor is not None
            return page.next_cursor

        cursor = on_owner_connection(first_cursor)
        tampered = cursor[:-1] + ("B" if cursor.endswith("A") else "A")
        for project_id, sort, bad in (
            (b, "title", cursor),
            (a, "-title", cursor),
            (a, "title", "garbage"),
            (a, "title", tampered),
        ):

            async def use(db: Connection, p=project_id, s=sort, c=bad) -> None:
                await NoteRepository(db, p).page(
                    limit=1, sort=SortOrder.parse(s), cursor=c
                )

            with pytest.raises(InvalidCursor):
                on_owner_connection(use)

    def test_get_update_delete_never_reach_another_project(
        self, projects: tuple[uuid.UUID, uuid.UUID]
    ) -> None:
        a, b = projects

        async def scenario(db: Connection) -> None:
            in_a, in_b = NoteRepository(db, a), NoteRepository(db, b)
            note_id = (await in_b.page(limit=1, sort=SortOrder("title"))).items[0]["id"]
            assert await in_a.get(note_id) is None
            assert await in_a.exists(note_id) is False
            assert await in_a.update(note_id, {"title": "stolen"}) is None
            assert await in_a.delete(note_id) is False
            assert await in_b.exists(note_id) is True
            renamed = await in_b.update(note_id, {"title": "renamed"})
            assert renamed is not None
            assert renamed["title"] == "renamed"
            assert await in_b.delete(note_id) is True
            assert await in_b.get(note_id) is None

        on_owner_connection(scenario)
        assert _titles(b) == ["z"]
        assert _titles(a) == ["a", "b", "c", "d", "e"]

    def test_created_rows_belong_to_the_project_with_defaults(
        self, projects: tuple[uuid.UUID, uuid.UUID]
    ) -> None:
        a, _ = projects

        async def create(db: Connection) -> dict[str, Any]:
            return await NoteRepository(db, a).create(
                {"title": "new", "project_id": "x"}
            )

        note = on_owner_connection(create)
        assert note["project_id"] == a
        assert note["rank"] == 0
        assert note["created_at"] == note["updated_at"]
        assert "new" in _titles(a)

    def test_unique_per_project(self, projects: tuple[uuid.UUID, uuid.UUID]) -> None:
        a, _ = projects

        async def duplicate(db: Connection) -> None:
            await NoteRepository(db, a).create({"title": "a"})

        with pytest.raises(Conflict, match=r"^A note with this title already exists"):
            on_owner_connection(duplicate)

    def test_a_referenced_row_cannot_be_deleted(
        self, projects: tuple[uuid.UUID, uuid.UUID]
    ) -> None:
        a, _ = projects

        async def scenario(db: Connection) -> None:
            repository = NoteRepository(db, a)
            parent = await repository.create({"title": "parent"})
            await repository.create({"title": "child", "parent_id": parent["id"]})
            await repository.delete(parent["id"])

        with pytest.raises(Conflict, match=r"^This note is still referenced"):
            on_owner_connection(scenario)

    def test_a_reference_to_a_missing_row_is_refused(
        self, projects: tuple[uuid.UUID, uuid.UUID]
    ) -> None:
        a, _ = projects

        async def scenario(db: Connection) -> None:
            await NoteRepository(db, a).create(
                {"title": "orphan", "parent_id": uuid.uuid4()}
            )

        with pytest.raises(
            Conflict, match=r"^This note refers to a record that does not exist"
        ):
            on_owner_connection(scenario)


class TestGuardAlone:
    """Layer 2: careless ORM statements, no repository, no row-level security."""

    def test_a_query_without_filter_sees_only_the_current_project(
        self, projects: tuple[uuid.UUID, uuid.UUID]
    ) -> None:
        a, b = projects

        async def careless(session: AsyncSession) -> list[str]:
            with project_context(a):
                return list(
                    (
                        await session.scalars(select(Note.title).order_by(Note.title))
                    ).all()
                )

        assert as_owner(careless) == ["a", "b", "c", "d", "e"]

        async def get_other(session: AsyncSession) -> Any:
            with unscoped():
                b_id = await session.scalar(
                    select(Note.id).where(Note.project_id == b, Note.title == "z")
                )
            with project_context(a):
                return await session.get(Note, (b, b_id))

        assert as_owner(get_other) is None

    def test_orm_update_and_delete_stay_in_the_project(
        self, projects: tuple[uuid.UUID, uuid.UUID]
    ) -> None:
        a, b = projects

        async def careless(session: AsyncSession) -> None:
            with project_context(a):
                await session.execute(
                    update(Note).where(Note.title == "a").values(rank=9)
                )
                await session.execute(delete(Note).where(Note.title == "b"))

        as_owner(careless)
        assert _titles(a) == ["a", "c", "d", "e"]
        assert _titles(b) == ["a", "z"]
        ranks = run_sql(
            "SELECT rank FROM isolation_test_notes WHERE project_id = :p AND title = 'a'",
            p=b if POSTGRES else b.hex,
        )
        assert ranks[0][0] == 0

    def test_fails_closed_without_a_project(
        self, projects: tuple[uuid.UUID, uuid.UUID]
    ) -> None:
        async def careless(session: AsyncSession) -> Any:
            return (await session.scalars(select(Note))).all()

        with pytest.raises(TenantContextMissing):
            as_owner(careless)

        async def write(session: AsyncSession) -> None:
            session.add(Note(project_id=projects[0], title="x"))
            await session.flush()

        with pytest.raises(TenantContextMissing):
            as_owner(write)

    def test_inserts_take_the_current_project_and_refuse_another(
        self, projects: tuple[uuid.UUID, uuid.UUID]
    ) -> None:
        a, b = projects

        async def insert_without_project(session: AsyncSession) -> None:
            with project_context(a):
                session.add(Note(title="new"))
                await session.flush()

        as_owner(insert_without_project)
        assert "new" in _titles(a)

        async def insert_into_other(session: AsyncSession) -> None:
            with project_context(a):
                session.add(Note(project_id=b, title="smuggled"))
                await session.flush()

        with pytest.raises(TenantMismatch):
            as_owner(insert_into_other)
        assert "smuggled" not in _titles(b)

    def test_the_escape_hatch_sees_everything(
        self, projects: tuple[uuid.UUID, uuid.UUID]
    ) -> None:
        a, b = projects

        async def admin(session: AsyncSession) -> int:
            with unscoped():
                query = (
                    select(func.count())
                    .select_from(Note)
                    .where(Note.project_id.in_([a, b]))
                )
                return int(await session.scalar(query) or 0)

        assert as_owner(admin) == 7


@postgres_only
class TestRowLevelSecurityAlone:
    """Layer 3: raw SQL through the application's role, with the guard off."""

    COUNT = "SELECT count(*) FROM isolation_test_notes WHERE project_id IN (:a, :b)"

    def _count(
        self, session: AsyncSession, a: uuid.UUID, b: uuid.UUID
    ) -> Awaitable[Any]:
        return session.scalar(text(self.COUNT), {"a": a, "b": b})

    def test_no_project_sees_nothing_and_a_project_sees_only_itself(
        self, projects: tuple[uuid.UUID, uuid.UUID]
    ) -> None:
        a, b = projects

        async def scenario(session: AsyncSession) -> tuple[int, int]:
            with unscoped():
                nothing = await self._count(session, a, b)
                await choose_project(session, a)
                only_a = await self._count(session, a, b)
            return nothing, only_a

        assert as_app(scenario) == (0, 5)

    def test_writing_into_another_project_is_refused(
        self, projects: tuple[uuid.UUID, uuid.UUID]
    ) -> None:
        a, b = projects

        async def smuggle(session: AsyncSession) -> None:
            with unscoped():
                await choose_project(session, a)
                await session.execute(
                    text(
                        "INSERT INTO isolation_test_notes (project_id, id, title, rank) "
                        "VALUES (:b, :id, 'smuggled', 0)"
                    ),
                    {"b": b, "id": uuid.uuid4()},
                )

        with pytest.raises(DBAPIError, match="row-level security"):
            as_app(smuggle)
        assert "smuggled" not in _titles(b)

    def test_a_single_pooled_connection_never_carries_a_project_over(
        self, projects: tuple[uuid.UUID, uuid.UUID]
    ) -> None:
        a, b = projects

        async def interleave() -> list[int]:
            engine = create_async_engine(
                Settings(database_url=APP_URL).database_url, pool_size=1, max_overflow=0
            )
            seen: list[int] = []
            try:
                for project_id in (a, b, a, None):
                    async with engine.connect() as connection:
                        if project_id is not None:
                            await choose_project(connection, project_id)
                        count = await connection.scalar(
                            text(self.COUNT), {"a": a, "b": b}
                        )
                        seen.append(int(count or 0))
                        if project_id == a:
                            with pytest.raises(DBAPIError):
                                await connection.execute(text("SELECT 1/0"))
                        await connection.rollback()
            finally:
                await engine.dispose()
            return seen

        assert asyncio.run(interleave()) == [5, 2, 5, 0]

    def test_the_request_path_never_carries_a_project_over(
        self, projects: tuple[uuid.UUID, uuid.UUID]
    ) -> None:
        a, b = projects
        with unscoped():  # SQL text over a tenant table: row-level security alone
            count = Query(text(self.COUNT))
        fail = Query(text("SELECT 1/0"))

        async def interleave() -> list[int]:
            engine = create_async_engine(
                Settings(database_url=APP_URL).database_url, pool_size=1, max_overflow=0
            )
            seen: list[int] = []
            try:
                for project_id in (a, b, a, None):
                    try:
                        async with transaction(engine) as db:
                            if project_id is not None:
                                await choose_project(db, project_id)
                            rows = await db.fetch(count, {"a": a, "b": b})
                            seen.append(int(next(iter(rows[0].values()))))
                            if project_id == a:
                                await db.fetch(fail, {})
                    except asyncpg.DivisionByZeroError:
                        pass
            finally:
                await engine.dispose()
            return seen

        assert asyncio.run(interleave()) == [5, 2, 5, 0]


class TestKeysAlone:
    """Layer 4: even a privileged insert cannot point into another project."""

    def test_a_reference_into_another_project_is_refused(
        self, projects: tuple[uuid.UUID, uuid.UUID]
    ) -> None:
        a, b = projects
        b_note = run_sql(
            "SELECT id FROM isolation_test_notes WHERE project_id = :b AND title = 'z'",
            b=b if POSTGRES else b.hex,
        )[0][0]
        with pytest.raises(IntegrityError):
            run_sql(
                "INSERT INTO isolation_test_notes "
                "(project_id, id, title, rank, parent_id, created_at, updated_at) "
                "VALUES (:a, :id, 'child', 0, :parent, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
                a=a if POSTGRES else a.hex,
                id=uuid.uuid4() if POSTGRES else uuid.uuid4().hex,
                parent=b_note,
            )


def _tenant_tables() -> list[Any]:
    tables = [table for table in Base.metadata.sorted_tables if "project_id" in table.c]
    return [*tables, Note.__table__]


@pytest.mark.parametrize("table", _tenant_tables(), ids=lambda table: table.name)
def test_every_tenant_table_is_distributable_by_project(table: Any) -> None:
    """Citus needs the distribution column in every key and unique constraint."""
    assert "project_id" in table.primary_key.columns
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint):
            assert "project_id" in constraint.columns, constraint.name
    for key in table.foreign_key_constraints:
        if "project_id" in key.referred_table.c:
            assert "project_id" in key.column_keys, key.name


@postgres_only
def test_every_project_scoped_table_has_row_level_security() -> None:
    scoped = [
        mapper.local_table.name
        for mapper in Base.registry.mappers
        if issubclass(mapper.class_, ProjectScoped)
    ]
    for table in [*scoped, Note.__table__.name]:
        rows = run_sql(
            "SELECT relrowsecurity, relforcerowsecurity, "
            "(SELECT count(*) FROM pg_policies WHERE tablename = :t) "
            "FROM pg_class WHERE relname = :t",
            t=table,
        )
        assert rows == [(True, True, 1)], table


# The tenancy directory is not under row-level security: what the app role may do to it.
DIRECTORY_TABLES = ("users", "projects", "memberships", "refresh_tokens")


@postgres_only
def test_the_app_role_uses_the_directory_and_only_reads_the_migration_state() -> None:
    rows = run_sql(
        "SELECT table_name, privilege_type FROM information_schema.role_table_grants "
        "WHERE grantee = :role AND table_name = ANY(:tables)",
        role=make_url(APP_URL).username,
        tables=[*DIRECTORY_TABLES, "alembic_version"],
    )
    expected = {
        (table, privilege)
        for table in DIRECTORY_TABLES
        for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE")
    }
    assert set(rows) == expected | {("alembic_version", "SELECT")}
    with pytest.raises(DBAPIError, match="permission denied"):
        run_sql("UPDATE alembic_version SET version_num = version_num", url=APP_URL)
