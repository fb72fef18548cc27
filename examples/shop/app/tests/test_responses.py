"""JSON bodies: orjson writes plain schemas exactly as pydantic would, and only those."""

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field, computed_field, field_serializer
from starlette.requests import Request

from app.api import responses
from app.api.responses import (
    SerializationMismatch,
    json_response,
    next_page_link,
    plain_output,
)
from app.schemas.base import OutputSchema


class Colour(StrEnum):
    """An enum field."""

    RED = "red"


class Plain(OutputSchema):
    """A response schema as the generator writes them: fields of every kind."""

    id: uuid.UUID
    label: str
    note: str | None
    count: int
    price: Decimal
    ratio: float
    day: date
    at: datetime
    colour: Colour
    meta: dict[str, Any] | None


class Computed(Plain):
    """A schema with a computed field."""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def upper(self) -> str:
        """The label in capitals."""
        return self.label.upper()


class Serialized(Plain):
    """A schema with a serializer of its own."""

    @field_serializer("count")
    def _count(self, count: int) -> str:
        return str(count)


class Aliased(Plain):
    """A schema whose JSON names a field otherwise."""

    label: str = Field(serialization_alias="title")


class Configured(Plain):
    """A schema with an output setting."""

    model_config = ConfigDict(from_attributes=True, ser_json_inf_nan="strings")


def _plain(**changes: Any) -> dict[str, Any]:
    values = {
        "id": uuid.uuid4(),
        "label": 'Ünïcode \u2028 "quoted"',
        "note": None,
        "count": -(2**63),
        "price": Decimal("1234.5600"),
        "ratio": 0.1,
        "day": date(2030, 1, 31),
        "at": datetime(2030, 1, 31, 12, 0, 0, 123456, tzinfo=UTC),
        "colour": "red",
        "meta": {"a": [1, 2.5, None, True, {"b": "c"}]},
    }
    return values | changes


def _body(content: Any) -> bytes:
    return bytes(json_response(content).body)


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"at": datetime(2030, 1, 31, 12, tzinfo=UTC), "price": Decimal("1E+3")},
        {"ratio": float("inf"), "meta": None, "note": "x"},
    ],
)
def test_a_plain_schema_is_written_by_orjson_as_pydantic_would(
    changes: dict[str, Any],
) -> None:
    assert plain_output(Plain)
    one = Plain.model_validate(_plain(**changes))
    many = [one, Plain.model_validate(_plain())]
    assert _body(one) == one.model_dump_json().encode()
    expected = b"[" + b",".join(item.model_dump_json().encode() for item in many) + b"]"
    assert _body(many) == expected


@pytest.mark.parametrize("schema", [Computed, Serialized, Aliased, Configured])
def test_a_schema_that_shapes_its_output_is_written_by_pydantic(
    schema: type[BaseModel],
) -> None:
    assert not plain_output(schema)
    item = schema.model_validate(_plain(ratio=float("inf")))
    assert _body(item) == item.model_dump_json().encode()
    assert _body([item]) == b"[" + item.model_dump_json().encode() + b"]"


def test_what_orjson_cannot_write_is_written_by_pydantic() -> None:
    item = Plain.model_validate(_plain(meta={"big": 2**70}))
    assert _body(item) == item.model_dump_json().encode()
    assert b'"big":1180591620717411303424' in _body(item)


def test_in_tests_a_difference_between_the_two_is_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(responses, "_pydantic_json", lambda _content: b"{}")
    with pytest.raises(SerializationMismatch):
        json_response(Plain.model_validate(_plain()))


def test_an_empty_list_is_an_empty_array() -> None:
    assert _body([]) == b"[]"


def _request(path: str, query: bytes) -> Request:
    return Request({"type": "http", "path": path, "query_string": query, "headers": []})


def test_the_next_page_link_keeps_the_query_and_replaces_the_cursor() -> None:
    request = _request("/api/v1/things/", b"limit=5&cursor=old&sort=-name&name=a+b")
    assert next_page_link(request, "new.signature") == {
        "Link": "</api/v1/things/?limit=5&sort=-name&name=a+b&cursor=new.signature>; "
        'rel="next"'
    }


def test_the_last_page_has_no_next_page_link() -> None:
    assert next_page_link(_request("/api/v1/things/", b"limit=5"), None) is None
