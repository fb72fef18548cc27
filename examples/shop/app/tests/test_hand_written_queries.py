"""Hand-written queries: the seam of a repository, checked the same on every database.

Code you add to a repository builds its statements once with `scoped_query` and runs
them with `ProjectRepository.fetch`, which supplies the project. Two throw-away
tenant models, `Tag` and `Doc` (a doc names its tag, without a key), hold rows of
projects A and B. The queries run as the table owner, whom row-level security does
not bind on PostgreSQL: what keeps the projects apart here is the helper alone,
as on SQLite. The suite runs on SQLite, and on PostgreSQL with TEST_DATABASE_URL.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, TypeVar

import pytest
from sqlalchemy import (
    MetaData,
    String,
    and_,
    any_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import NullPool
from sqlalchemy.schema import CreateTable
from sqlalchemy.sql.expression import Executable

from app.core.config import Settings, settings
from app.core.db import engine, transaction
from app.core.sql import Connection, MissingParameter, Query, UnportableQuery
from app.core.tenancy import UnscopedStatement, in_project, unscoped
from app.models.base import NAMING_CONVENTION, ProjectScoped, UTCDateTime
from app.models.project import Project
from app.repositories.base import ProjectRepository, scoped_query
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


class _TestBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime}


Project.__table__.to_metadata(_TestBase.metadata)


class Tag(ProjectScoped, _TestBase):
    """A throw-away tenant model: a tag with a color."""

    __tablename__ = "seam_test_tags"

    name: Mapped[str] = mapped_column(String(20))
    color: Mapped[str] = mapped_column(String(20))


class Doc(ProjectScoped, _TestBase):
    """A throw-away tenant model: a doc names its tag (joined by name, not by key)."""

    __tablename__ = "seam_test_docs"

    title: Mapped[str] = mapped_column(String(20))
    tag: Mapped[str] = mapped_column(String(20))
    done: Mapped[bool] = mapped_column(default=False)


class TagRepository(ProjectRepository):
    """Tags of one project."""

    model = Tag


class DocRepository(ProjectRepository):
    """Docs of one project, with the hand-written queries below."""

    model = Doc


tags, docs = Tag.__table__, Doc.__table__

# Hand-written queries, as a repository module would hold them: built once.
TITLES = scoped_query(select(docs.c.title).order_by(docs.c.title))
FINISH = scoped_query(
    update(docs)
    .where(docs.c.tag == bindparam("b_tag"))
    .values(done=True)
    .returning(docs.c.title)
)
REMOVE = scoped_query(
    delete(docs).where(docs.c.tag == bindparam("tag")).returning(docs.c.title)
)
# Joined on a name, not on a key: unscoped, it would pair docs and tags of two projects.
COLORS = scoped_query(
    select(docs.c.title, tags.c.color)
    .join_from(docs, tags, tags.c.name == docs.c.tag)
    .order_by(docs.c.title)
)
# The optional side of an outer join is confined in the join's ON clause.
TAG_USES = scoped_query(
    select(tags.c.name, docs.c.title)
    .outerjoin_from(tags, docs, and_(docs.c.tag == tags.c.name, in_project(docs)))
    .order_by(tags.c.name, docs.c.title)
)
TAG_COUNTS = scoped_query(
    select(
        tags.c.name,
        select(func.count())
        .where(docs.c.tag == tags.c.name)
        .scalar_subquery()
        .label("uses"),
    ).order_by(tags.c.name)
)
BY_IDS = scoped_query(
    select(docs.c.title)
    .where(docs.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(docs.c.title)
)
EXCEPT_TITLES = scoped_query(
    select(docs.c.title)
    .where(docs.c.title.not_in(bindparam("titles", expanding=True)))
    .order_by(docs.c.title)
)
OF_TAGS = scoped_query(
    select(docs.c.title)
    .where(docs.c.tag.in_(["urgent", "later"]), docs.c.done.is_(False))
    .order_by(docs.c.title)
)
NEW_PROJECT = Query(insert(Project.__table__).values(id=bindparam("id"), name="p"))


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


def run(work: Callable[[Connection], Awaitable[T]], url: str = OWNER_URL) -> T:
    """Run `work` on a connection (the table owner's by default), in one transaction."""

    async def main() -> T:
        async with _engine(url) as bind, transaction(bind) as db:
            return await work(db)

    return asyncio.run(main())


def _stored(project_id: uuid.UUID) -> list[tuple[str, bool]]:
    """The docs of a project as the database holds them: (title, done), by title."""
    rows = run_sql(
        "SELECT title, done FROM seam_test_docs WHERE project_id = :p ORDER BY title",
        p=project_id if POSTGRES else project_id.hex,
    )
    return [(row[0], bool(row[1])) for row in rows]


@pytest.fixture(scope="module", autouse=True)
def seam_tables() -> Iterator[None]:
    """Create the two tables (with row-level security on PostgreSQL), then drop them."""
    prepare_database()
    for table in (tags, docs):
        run_sql(str(CreateTable(table).compile(dialect=engine.dialect)))
        if POSTGRES:
            run_sql(*tenant_table_statements(table.name))
    yield
    run_sql(*(f"DROP TABLE {table.name}" for table in (docs, tags)))


@dataclass(frozen=True)
class Projects:
    """Projects A and B, and the ids of their docs by title."""

    a: uuid.UUID
    b: uuid.UUID
    docs: dict[str, uuid.UUID]


@pytest.fixture
def projects() -> Projects:
    """A: tags urgent (red), later, spare; docs a1, a3 (urgent), a2 (later).

    B: tag urgent (blue); docs b1 (urgent), b2 (spare).
    """

    async def create(db: Connection) -> Projects:
        a, b = uuid.uuid4(), uuid.uuid4()
        ids: dict[str, uuid.UUID] = {}
        a_tags = {"urgent": "red", "later": "grey", "spare": "white"}
        a_docs = {"a1": "urgent", "a2": "later", "a3": "urgent"}
        b_tags, b_docs = {"urgent": "blue"}, {"b1": "urgent", "b2": "spare"}
        for project_id, project_tags, project_docs in (
            (a, a_tags, a_docs),
            (b, b_tags, b_docs),
        ):
            await db.fetch(NEW_PROJECT, {"id": project_id})
            for name, color in project_tags.items():
                await TagRepository(db, project_id).create(
                    {"name": name, "color": color}
                )
            for title, tag in project_docs.items():
                row = await DocRepository(db, project_id).create(
                    {"title": title, "tag": tag}
                )
                ids[title] = row["id"]
        return Projects(a, b, ids)

    return run(create)


def fetch(
    project_id: uuid.UUID, query: Query, params: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Run a hand-written query through the docs repository of a project."""

    async def work(db: Connection) -> list[dict[str, Any]]:
        return await DocRepository(db, project_id).fetch(query, params)

    return run(work)


class TestThroughTheHelper:
    """What `scoped_query` builds reads and changes the repository's project only."""

    def test_a_select_sees_only_the_project(self, projects: Projects) -> None:
        assert [row["title"] for row in fetch(projects.a, TITLES)] == ["a1", "a2", "a3"]
        assert [row["title"] for row in fetch(projects.b, TITLES)] == ["b1", "b2"]

    def test_an_update_changes_only_the_project(self, projects: Projects) -> None:
        changed = fetch(projects.a, FINISH, {"b_tag": "urgent"})
        assert sorted(row["title"] for row in changed) == ["a1", "a3"]
        assert _stored(projects.a) == [("a1", True), ("a2", False), ("a3", True)]
        assert _stored(projects.b) == [("b1", False), ("b2", False)]

    def test_a_delete_removes_only_from_the_project(self, projects: Projects) -> None:
        removed = fetch(projects.a, REMOVE, {"tag": "urgent"})
        assert sorted(row["title"] for row in removed) == ["a1", "a3"]
        assert _stored(projects.a) == [("a2", False)]
        assert _stored(projects.b) == [("b1", False), ("b2", False)]

    def test_a_join_confines_both_tables(self, projects: Projects) -> None:
        rows = [(row["title"], row["color"]) for row in fetch(projects.a, COLORS)]
        assert rows == [("a1", "red"), ("a2", "grey"), ("a3", "red")]
        rows = [(row["title"], row["color"]) for row in fetch(projects.b, COLORS)]
        assert rows == [("b1", "blue")]

    def test_an_outer_join_keeps_rows_without_a_match_in_the_project(
        self, projects: Projects
    ) -> None:
        rows = [(row["name"], row["title"]) for row in fetch(projects.a, TAG_USES)]
        assert rows == [
            ("later", "a2"),
            ("spare", None),
            ("urgent", "a1"),
            ("urgent", "a3"),
        ]

    def test_a_subquery_is_confined_too(self, projects: Projects) -> None:
        rows = [(row["name"], row["uses"]) for row in fetch(projects.a, TAG_COUNTS)]
        assert rows == [("later", 1), ("spare", 0), ("urgent", 2)]

    def test_the_project_is_the_repository_s_whatever_the_parameters_say(
        self, projects: Projects
    ) -> None:
        rows = fetch(projects.a, TITLES, {"scope_project_id": projects.b})
        assert [row["title"] for row in rows] == ["a1", "a2", "a3"]

    def test_under_row_level_security_as_the_application_runs_it(
        self, projects: Projects
    ) -> None:
        async def as_app(db: Connection) -> list[dict[str, Any]]:
            if POSTGRES:
                await choose_project(db, projects.a)
            return await DocRepository(db, projects.a).fetch(COLORS)

        rows = [(row["title"], row["color"]) for row in run(as_app, APP_URL)]
        assert rows == [("a1", "red"), ("a2", "grey"), ("a3", "red")]


class TestInLists:
    """`column.in_(bindparam(..., expanding=True))` runs, with the same rows, on both."""

    def test_a_list_of_ids(self, projects: Projects) -> None:
        ids = [projects.docs["a1"], projects.docs["a3"], projects.docs["b1"]]
        assert [row["title"] for row in fetch(projects.a, BY_IDS, {"ids": ids})] == [
            "a1",
            "a3",
        ]
        assert [row["title"] for row in fetch(projects.b, BY_IDS, {"ids": ids})] == [
            "b1"
        ]

    def test_an_empty_list_matches_nothing(self, projects: Projects) -> None:
        assert fetch(projects.a, BY_IDS, {"ids": []}) == []

    def test_not_in(self, projects: Projects) -> None:
        rows = fetch(projects.a, EXCEPT_TITLES, {"titles": ["a1", "b1"]})
        assert [row["title"] for row in rows] == ["a2", "a3"]
        rows = fetch(projects.a, EXCEPT_TITLES, {"titles": []})
        assert [row["title"] for row in rows] == ["a1", "a2", "a3"]

    @pytest.mark.parametrize(
        ("query", "params", "condition"),
        [
            (
                BY_IDS,
                {"ids": [uuid.uuid4(), uuid.uuid4()]},
                "seam_test_docs.id = ANY ($1::UUID[])",
            ),
            (
                EXCEPT_TITLES,
                {"titles": ["a1"]},
                "seam_test_docs.title != ALL ($1::VARCHAR(20)[])",
            ),
        ],
    )
    def test_on_postgresql_a_list_is_one_array_parameter(
        self, query: Query, params: dict[str, Any], condition: str
    ) -> None:
        """One statement to prepare and one value to bind, whatever the list's length
        (compiled only: no database needed)."""
        project_id = uuid.uuid4()
        compiled = query.compile(postgresql.asyncpg.dialect())
        assert condition in compiled.sql
        assert compiled.arguments({**params, "scope_project_id": project_id}) == [
            *params.values(),
            project_id,
        ]

    def test_a_list_written_into_the_statement(self, projects: Projects) -> None:
        assert [row["title"] for row in fetch(projects.a, OF_TAGS)] == [
            "a1",
            "a2",
            "a3",
        ]
        assert [row["title"] for row in fetch(projects.b, OF_TAGS)] == ["b1"]

    @pytest.mark.parametrize(
        ("statement", "message"),
        [
            (
                select(docs.c.title).where(docs.c.id == any_(bindparam("ids"))),
                "only run on PostgreSQL",
            ),
            (
                select(docs.c.title).where(
                    tuple_(docs.c.tag, docs.c.title).in_(
                        bindparam("pairs", expanding=True)
                    )
                ),
                "cannot compare tuples",
            ),
            (
                update(docs).where(docs.c.tag == bindparam("tag")).values(done=True),
                "named after a column",
            ),
        ],
        ids=["any", "tuples", "update-parameter-named-after-a-column"],
    )
    def test_what_only_one_database_runs_is_refused_on_both(
        self, statement: Executable, message: str
    ) -> None:
        with pytest.raises(UnportableQuery, match=message):
            scoped_query(statement)


UNSCOPED = "without confining it to the current project"


class TestRefused:
    """A statement that could reach another project is refused when it is built."""

    @pytest.mark.parametrize(
        ("statement", "message"),
        [
            (select(docs.c.title), f"'seam_test_docs' {UNSCOPED}"),
            (update(docs).values(done=True), f"'seam_test_docs' {UNSCOPED}"),
            (delete(docs), f"'seam_test_docs' {UNSCOPED}"),
            (
                select(docs.c.title, tags.c.color)
                .join_from(docs, tags, tags.c.name == docs.c.tag)
                .where(in_project(docs)),
                f"'seam_test_tags' {UNSCOPED}",
            ),
            (
                select(tags.c.name)
                .where(in_project(tags))
                .where(tags.c.name.in_(select(docs.c.tag))),
                f"'seam_test_docs' {UNSCOPED}",
            ),
            (
                select(docs.c.title).where(docs.c.project_id == uuid.uuid4()),
                f"'seam_test_docs' {UNSCOPED}",
            ),
            (
                select(docs.c.title).where(or_(in_project(docs), docs.c.done)),
                f"'seam_test_docs' {UNSCOPED}",
            ),
            (
                select(tags.c.name)
                .outerjoin_from(tags, docs, docs.c.tag == tags.c.name)
                .where(in_project(tags)),
                "optional side of an outer join",
            ),
            (
                insert(docs).values(project_id=uuid.uuid4(), title="x", tag="x"),
                "must set project_id",
            ),
            (
                text("SELECT title FROM seam_test_docs"),
                "SQL text names the tenant table",
            ),
        ],
        ids=[
            "select",
            "update",
            "delete",
            "one-side-of-a-join",
            "subquery",
            "a-fixed-project",
            "or",
            "outer-join",
            "insert",
            "text",
        ],
    )
    def test_an_unscoped_statement(self, statement: Executable, message: str) -> None:
        with pytest.raises(UnscopedStatement, match=message):
            Query(statement)

    def test_moving_a_row_to_another_project(self) -> None:
        statement = update(docs).values(project_id=bindparam("other"))
        with pytest.raises(UnscopedStatement, match="never moves to another project"):
            scoped_query(statement)

    def test_a_scoped_query_without_its_project(self, projects: Projects) -> None:
        async def bypass(db: Connection) -> list[dict[str, Any]]:
            return await db.fetch(TITLES, {})  # not through the repository

        with pytest.raises(MissingParameter, match="scope_project_id"):
            run(bypass)

    def test_an_admin_job_builds_it_inside_unscoped(self, projects: Projects) -> None:
        with unscoped():
            every_doc = Query(select(docs.c.title).order_by(docs.c.title))

        async def admin(db: Connection) -> list[dict[str, Any]]:
            return await db.fetch(every_doc, {})

        titles = [row["title"] for row in run(admin)]
        assert {"a1", "a2", "a3", "b1", "b2"} <= set(titles)
