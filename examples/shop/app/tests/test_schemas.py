"""The shared input types refuse what a lax parser would silently accept."""

from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from app.schemas.base import IsoDate, IsoDateTime, QueryBool, QueryInt


@pytest.mark.parametrize(
    ("annotation", "value", "expected"),
    [
        (IsoDate, "2030-01-31", date(2030, 1, 31)),
        (IsoDateTime, "2030-01-31T12:00:00Z", datetime(2030, 1, 31, 12, tzinfo=UTC)),
        (QueryInt, "42", 42),
        (QueryInt, "-7", -7),
        (QueryBool, "true", True),
        (QueryBool, "FALSE", False),
        (QueryBool, True, True),
    ],
)
def test_accepts(annotation: Any, value: Any, expected: Any) -> None:
    assert TypeAdapter(annotation).validate_python(value) == expected


@pytest.mark.parametrize(
    ("annotation", "value"),
    [
        (IsoDate, 0),
        (IsoDate, "0"),
        (IsoDateTime, 1_700_000_000),
        (IsoDateTime, "1700000000"),
        (QueryInt, "1.0"),
        (QueryInt, "1e3"),
        (QueryInt, " 1"),
        (QueryBool, "1"),
        (QueryBool, "yes"),
    ],
)
def test_refuses(annotation: Any, value: Any) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(annotation).validate_python(value)
