"""What the database decides, reported as values: unique keys, foreign keys, bounds.

Under concurrent requests a check made in Python can be overtaken; these are the
answers the repositories give when the database refuses a write (raced for real in
`test_races.py`), and the bounds a cursor value must keep to reach a query.
"""

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from pydantic import ValidationError
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    Numeric,
    String,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import SessionLocal
from app.models.membership import Role
from app.repositories.base import cursor_adapter
from app.repositories.tenant_repo import ProjectGone, TenantRepository
from app.repositories.user_repo import UserRepository
from app.tests.conftest import run_async

T = TypeVar("T")


def in_session(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in an ORM session whose writes are rolled back."""

    async def main() -> T:
        async with SessionLocal() as session:
            try:
                return await work(session)
            finally:
                await session.rollback()

    return run_async(main())


def test_a_taken_email_is_reported_not_raised() -> None:
    async def work(session: AsyncSession) -> tuple[bool, bool]:
        users = UserRepository(session)
        email = f"taken-{uuid.uuid4().hex[:12]}@example.com"
        first = await users.create(email, "hash")
        second = await UserRepository(session).create(email.upper(), "hash")
        return first is not None, second is None

    assert in_session(work) == (True, True)


def test_a_second_membership_is_reported_not_raised() -> None:
    async def work(session: AsyncSession) -> tuple[bool, bool]:
        user = await UserRepository(session).create(
            f"{uuid.uuid4().hex}@example.com", "h"
        )
        assert user is not None
        tenants = TenantRepository(session)
        project = await tenants.create_project("P", owner_id=user.id)
        again = await tenants.add_member(project.id, user.id, Role.ADMIN)
        return project is not None, again is None

    assert in_session(work) == (True, True)


def test_a_membership_of_a_project_deleted_meanwhile_is_no_duplicate() -> None:
    async def work(session: AsyncSession) -> None:
        user = await UserRepository(session).create(
            f"{uuid.uuid4().hex}@example.com", "h"
        )
        assert user is not None
        with pytest.raises(ProjectGone):
            await TenantRepository(session).add_member(
                uuid.uuid4(), user.id, Role.MEMBER
            )

    in_session(work)


def test_a_current_project_that_no_longer_exists_is_reported_not_raised() -> None:
    async def work(session: AsyncSession) -> bool:
        user = await UserRepository(session).create(
            f"{uuid.uuid4().hex}@example.com", "h"
        )
        assert user is not None
        return await TenantRepository(session).set_current_project(user, uuid.uuid4())

    assert in_session(work) is False


@pytest.mark.parametrize(
    ("column", "good", "bad"),
    [
        (Column("n", Integer), 2**31 - 1, [2**31, -(2**31) - 1, "1", 1.5, True]),
        (Column("n", BigInteger), 2**63 - 1, [2**63, "1", None]),
        (Column("n", Float), 1.5, [float("nan"), float("inf"), "x"]),
        (
            Column("n", Numeric(6, 2)),
            Decimal("1234.56"),
            [Decimal("12345.6"), "1e400", []],
        ),
        (Column("n", Boolean), True, ["true", 1, None]),
        (Column("n", String(5)), "abcde", ["abcdef", 5, {}]),
        (
            Column("n", DateTime(timezone=True)),
            datetime(2030, 1, 31, tzinfo=UTC),
            ["2030-01-31T12:00:00", "x", 2**70],
        ),
    ],
)
def test_cursor_values_keep_to_their_column(
    column: Column[Any], good: Any, bad: list[Any]
) -> None:
    adapter = cursor_adapter(column)
    assert adapter.validate_python(adapter.dump_python(good, mode="json")) == good
    for value in bad:
        with pytest.raises(ValidationError):
            adapter.validate_python(value)
