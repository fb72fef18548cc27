"""The shared input types refuse what a lax parser would silently accept."""

from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from app.schemas.base import (
    JSON_MAX_BYTES,
    JSON_MAX_DEPTH,
    IsoDate,
    IsoDateTime,
    JsonObject,
    QueryBool,
    QueryInt,
    check_text,
)


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
        (QueryInt, "-7.00", -7),
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
        (QueryInt, "1.5"),
        (QueryInt, "1e3"),
        (QueryInt, " 1"),
        (QueryBool, "1"),
        (QueryBool, "yes"),
    ],
)
def test_refuses(annotation: Any, value: Any) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(annotation).validate_python(value)


def _nested(depth: int) -> dict[str, Any]:
    """Objects and, innermost, an array: `depth` levels in all."""
    value: dict[str, Any] = {"leaf": [1, "two", None]}
    for _ in range(depth - 2):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    "value",
    [
        {},
        {
            "text": "é ✓ 𝄞",
            "n": [1, 2.5, True, None],
            "deep": _nested(JSON_MAX_DEPTH - 1),
        },
        _nested(JSON_MAX_DEPTH),
        {"big": "x" * (JSON_MAX_BYTES - 12)},
    ],
)
def test_json_objects_within_bounds_are_kept(value: dict[str, Any]) -> None:
    assert TypeAdapter(JsonObject).validate_python(value) == value


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (_nested(JSON_MAX_DEPTH + 1), "levels deep"),
        ({"deep": _nested(JSON_MAX_DEPTH)}, "levels deep"),
        (
            {
                "list": [
                    [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]
                ]
            },
            "levels deep",
        ),
        ({"big": "x" * JSON_MAX_BYTES}, "bytes"),
        ({"n": float("nan")}, "NaN"),
        ({"n": [float("-inf")]}, "NaN"),
        ({"s": "\ud800"}, "surrogates"),
        ({"\udfff": 1}, "surrogates"),
        ({"s": "nul \x00"}, "NUL"),
    ],
)
def test_json_objects_out_of_bounds_are_refused(
    value: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        TypeAdapter(JsonObject).validate_python(value)


@pytest.mark.parametrize("text", ["\ud800", "a\udfffb", "nul\x00"])
def test_text_a_database_cannot_store_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"NUL|surrogates"):
        check_text(text)
