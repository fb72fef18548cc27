"""The shared input types refuse what a lax parser would silently accept, and the
helpers of every resource's schemas say in OpenAPI what the API accepts."""

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

import pytest
from pydantic import Field, Strict, TypeAdapter, ValidationError

from app.schemas.base import (
    JSON_MAX_BYTES,
    JSON_MAX_DEPTH,
    IsoDate,
    IsoDateTime,
    JsonObject,
    ListParams,
    OutputSchema,
    QueryBool,
    QueryInt,
    RefersTo,
    UpdateSchema,
    WholeNumber,
    check_text,
    decimal_schema,
    sort_order,
)

Count = Annotated[int, Strict(), Field(ge=-(2**31), lt=2**31), WholeNumber]
"""An int field of a request body, as the generator writes it."""


@pytest.mark.parametrize(
    ("annotation", "value", "expected"),
    [
        (IsoDate, "2030-01-31", date(2030, 1, 31)),
        (IsoDateTime, "2030-01-31T12:00:00Z", datetime(2030, 1, 31, 12, tzinfo=UTC)),
        (IsoDate, "0001-01-02", date(1, 1, 2)),
        (IsoDate, "9999-12-30", date(9999, 12, 30)),
        (IsoDateTime, "0001-01-01T00:00:01Z", datetime(1, 1, 1, 0, 0, 1, tzinfo=UTC)),
        (
            IsoDateTime,
            "9999-12-31T09:59:59-14:00",
            datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
        ),
        (QueryInt, "42", 42),
        (QueryInt, "-7", -7),
        (QueryBool, "true", True),
        (QueryBool, "FALSE", False),
        (QueryBool, True, True),
        (QueryInt, "-7.00", -7),
        (QueryInt, 5, 5),
        (Count, 3, 3),
        (Count, 3.0, 3),
    ],
)
def test_accepts(annotation: Any, value: Any, expected: Any) -> None:
    assert TypeAdapter(annotation).validate_python(value) == expected


@pytest.mark.parametrize(
    ("annotation", "value"),
    [
        (IsoDate, 0),
        (IsoDate, "0"),
        (IsoDate, "2030-01-31T00:00:00"),  # a date-time is no date, even at midnight
        (IsoDateTime, 1_700_000_000),
        (IsoDateTime, "1700000000"),
        # PostgreSQL's driver would store the first and last as -infinity and infinity;
        # the others are outside the calendar once in UTC
        (IsoDate, "0001-01-01"),
        (IsoDate, "9999-12-31"),
        (IsoDateTime, "0001-01-01T00:00:00Z"),
        (IsoDateTime, "9999-12-31T23:59:59.999999Z"),
        (IsoDateTime, "0001-01-01T00:00:00+14:00"),
        (IsoDateTime, "9999-12-31T23:59:59-14:00"),
        (QueryInt, "1.5"),
        (QueryInt, "1e3"),
        (QueryInt, " 1"),
        (QueryBool, "1"),
        (QueryBool, "yes"),
        (Count, 3.5),
        (Count, "3"),
        (Count, 2**31),
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


@pytest.mark.parametrize(
    ("digits", "places", "bound", "step", "pattern"),
    [
        (6, 2, 10_000, 0.01, r"^-?[0-9]{1,4}(\.[0-9]{1,2})?$"),
        (3, 3, 1, 0.001, r"^-?0(\.[0-9]{1,3})?$"),
        (4, 0, 10_000, 1.0, r"^-?[0-9]{1,4}$"),
    ],
)
def test_a_decimal_is_a_number_or_text_within_its_digits(
    digits: int, places: int, bound: int, step: float, pattern: str
) -> None:
    field = Annotated[
        Decimal,
        Field(max_digits=digits, decimal_places=places),
        decimal_schema(digits, places),
    ]
    assert TypeAdapter(field).json_schema() == {
        "anyOf": [
            {
                "type": "number",
                "exclusiveMinimum": -bound,
                "exclusiveMaximum": bound,
                "multipleOf": step,
            },
            {"type": "string", "pattern": pattern},
        ]
    }


class Thing(OutputSchema):
    """A response schema, as the generator writes them."""

    id: uuid.UUID
    name: str


class ThingUpdate(UpdateSchema):
    """A partial update: the database requires a name, not a note or an owner."""

    non_nullable = frozenset({"name"})

    name: str | None = None
    note: str | None = None
    owner_id: Annotated[uuid.UUID, RefersTo("a user")] | None = None


class ThingListParams(ListParams):
    """A list's query parameters: its sort orders and a filter."""

    sort: Literal["id", "-id", "name", "-name"] = sort_order()
    name: str | None = None


def test_a_required_field_may_be_left_out_of_an_update_but_not_set_to_null() -> None:
    assert ThingUpdate.model_validate({"note": None}).model_fields_set == {"note"}
    with pytest.raises(ValidationError, match="name cannot be null"):
        ThingUpdate.model_validate({"name": None})


def test_a_reference_says_what_it_refers_to() -> None:
    owner = ThingUpdate.model_json_schema()["properties"]["owner_id"]["anyOf"][0]
    assert owner["x-reference"] == "a user"
    assert owner["description"] == "The id of a user in the current project"


def test_rows_are_validated_in_one_call() -> None:
    rows = [{"id": uuid.uuid4(), "name": "one"}, {"id": uuid.uuid4(), "name": "two"}]
    assert Thing.from_rows(rows) == [Thing.model_validate(row) for row in rows]


def test_sort_orders_are_named_for_client_generators() -> None:
    sort = ThingListParams.model_json_schema()["properties"]["sort"]
    assert sort["enum"] == ["id", "-id", "name", "-name"]
    assert sort["x-enum-varnames"] == ["ID", "ID_DESC", "NAME", "NAME_DESC"]


def test_a_list_s_filters_are_the_ones_given() -> None:
    assert ThingListParams.model_validate({"limit": "5"}).filters() == {}
    params = ThingListParams.model_validate({"name": "one", "sort": "-name"})
    assert params.filters() == {"name": "one"}
    with pytest.raises(ValidationError, match="nmae"):
        ThingListParams.model_validate({"nmae": "one"})
